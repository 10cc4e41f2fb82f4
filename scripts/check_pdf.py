"""Check the PDF of the book after `jupyter-book build . --builder pdflatex` (the optional PDF, README "PDF").

    python scripts/check_pdf.py [_build/latex]

What it checks, each a reason the PDF would silently read worse than the HTML book:

* the PDF exists and has pages;
* every figure of every executed chapter reached it: no figure fell back to its text form
  (``<Figure size ...>`` in the LaTeX source, which is what a chapter's SVG figure becomes when nothing
  converts it: each matplotlib figure carries that text beside its image), images are included, and
  every image the LaTeX source includes is in the build folder;
* no glyph is missing (XeLaTeX's "Missing character" lines: a symbol printed as nothing);
* no cross-reference or citation is undefined (printed as "??" or a bare label);
* the Korean terms are there (Hangul in the LaTeX source, and no Hangul character among the missing).

Prints one line per check and exits 1 when any fails.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HANGUL = re.compile("[\uac00-\ud7a3]")
UNDEFINED = re.compile(r"(?:Reference|Hyper reference|Citation) `([^']*)' .*?undefined", re.S)


def check(latex: Path) -> list[tuple[bool, str]]:
    """(passed, message) for each check of the module docstring, on the LaTeX build folder `latex`."""
    pdfs = sorted(latex.glob("*.pdf"))
    if not pdfs:
        return [(False, f"no PDF in {latex}: build it first (jupyter-book build . --builder pdflatex)")]
    pdf, tex, log = pdfs[0], pdfs[0].with_suffix(".tex"), pdfs[0].with_suffix(".log")
    source, transcript = tex.read_text(errors="replace"), log.read_text(errors="replace")
    pages = re.search(r"Output written on .*?\((\d+) pages?", transcript.replace("\n", ""))
    missing = re.findall(r"Missing character: There is no (.) ", transcript)
    undefined = sorted(set(UNDEFINED.findall(transcript.replace("\n", ""))))
    included = sorted(set(re.findall(r"\\sphinxincludegraphics(?:\[[^]]*\])?\{\{([^}]*)\}(\.\w+)\}", source)))
    absent = [stem + suffix for stem, suffix in included if not (latex / (stem + suffix)).is_file()]
    fallbacks = source.count("<Figure size")
    return [
        (pages is not None and int(pages.group(1)) > 0, f"{pdf.name}: {pages.group(1) if pages else 'no'} pages"),
        (fallbacks == 0, f"figures printed as text instead of drawn: {fallbacks}"),
        (bool(included) and not absent, f"images included {len(included)}, of which not in {latex.name}/: {absent[:5]}"),
        (not missing, f"missing glyphs: {len(missing)} {sorted(set(missing))[:10]}"),
        (not undefined, f"undefined references and citations: {len(undefined)} {undefined[:5]}"),
        (bool(HANGUL.search(source)) and not any(HANGUL.match(c) for c in missing),
         f"Korean text in the source: {len(HANGUL.findall(source))} Hangul characters, none missing in the PDF"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("latex", nargs="?", type=Path, default=ROOT / "_build" / "latex")
    args = parser.parse_args()
    results = check(args.latex)
    for passed, message in results:
        print(("ok   " if passed else "FAIL ") + message)
    sys.exit(0 if all(passed for passed, _ in results) else 1)


if __name__ == "__main__":
    main()
