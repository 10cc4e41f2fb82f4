"""Link each glossary term from its first use in the chapters (issue 22): ``{term}`text <entry>```.

Reads the entries of ``book/glossary.md`` and the chapters' Markdown cells in the order of
``_toc.yml``; for each entry not yet linked from any chapter, finds the first place where its
English words appear in running text (not in a heading, math, code, a link or a role; a plural
``s``/``es`` allowed) and turns that occurrence into a glossary link. Entries whose words never
appear in a chapter are listed, to be linked by hand where the idea first comes up. Idempotent:
an entry already linked is left alone.

    python scripts/link_glossary.py            # edit the chapters in place, print what it did
    python scripts/link_glossary.py --check    # edit nothing; exit 1 if an entry could be linked but is not
    python scripts/link_glossary.py --skip book/07_aae.ipynb ...   # leave these notebooks alone
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# spans where a term must not be linked: display and inline math, code, roles and directives, links, HTML
_PROTECTED = re.compile(
    r"\$\$.*?\$\$|\$[^$\n]+\$|```.*?```|`[^`\n]*`|\{[a-z-]+\}`[^`]*`|\[[^\]\n]*\]\([^)\n]*\)|<[^>\n]+>"
    r"|^#[^\n]*$|^:::?[^\n]*$|^\([\w-]+\)=[^\n]*$",
    flags=re.S | re.M)


def glossary_entries(path: Path = ROOT / "book" / "glossary.md") -> list[str]:
    """The glossary's entries as written (``English (Korean)``), in file order."""
    block = path.read_text(encoding="utf-8").split("```{glossary}", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line and not line[0].isspace() and not line.startswith(":")]


def english(entry: str) -> str:
    return entry.split(" (", 1)[0]


def chapters() -> list[Path]:
    """The chapter notebooks, in the order of the table of contents."""
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    files = re.findall(r"(?:root|file):\s*(book/\d\d_\w+)", toc)
    return [ROOT / f"{name}.ipynb" for name in files if (ROOT / f"{name}.ipynb").exists()]


def pattern(entry: str) -> re.Pattern:
    words = re.escape(english(entry)).replace(r"\ ", r"\s+").replace(r"\-", r"[- ]")
    return re.compile(rf"(?<![\w-])({words})(s|es)?(?![\w-])", flags=re.I)


def first_free_match(text: str, regex: re.Pattern) -> re.Match | None:
    """The first match of `regex` in `text` outside every protected span."""
    protected = [m.span() for m in _PROTECTED.finditer(text)]
    for match in regex.finditer(text):
        if not any(start < match.end() and match.start() < end for start, end in protected):
            return match
    return None


def linked_entries(sources: list[str]) -> set[str]:
    found = set()
    for source in sources:
        for text in re.findall(r"\{term\}`([^`]*)`", source):
            found.add(text.rsplit("<", 1)[1].rstrip(">").strip() if "<" in text else text.strip())
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--skip", nargs="*", default=[])
    args = parser.parse_args(argv)
    skip = {(ROOT / s).resolve() for s in args.skip}
    # plain JSON, written back as read (key order, indent 1): a link must not reformat the notebook
    notebooks = {path: json.loads(path.read_text(encoding="utf-8")) for path in chapters()}
    for notebook in notebooks.values():
        for cell in notebook["cells"]:
            cell["source"] = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    every_source = [c["source"] for nb in notebooks.values() for c in nb["cells"] if c["cell_type"] == "markdown"]
    already = linked_entries(every_source)
    changed, missing, todo = set(), [], []
    for entry in glossary_entries():
        if entry in already:
            continue
        regex = pattern(entry)
        for path, notebook in notebooks.items():
            cell = next((c for c in notebook["cells"] if c["cell_type"] == "markdown" and first_free_match(c["source"], regex)), None)
            if cell is None:
                continue
            match = first_free_match(cell["source"], regex)
            todo.append(f"{path.relative_to(ROOT)}: {match.group(0)!r} -> {entry}")
            if path.resolve() not in skip and not args.check:
                shown = " ".join(match.group(0).split())  # a role cannot span a line break
                cell["source"] = cell["source"][:match.start()] + f"{{term}}`{shown} <{entry}>`" + cell["source"][match.end():]
                changed.add(path)
            break
        else:
            missing.append(entry)
    for path in changed:
        for cell in notebooks[path]["cells"]:  # back to nbformat's list of lines
            cell["source"] = cell["source"].splitlines(keepends=True)
        path.write_text(json.dumps(notebooks[path], indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print("\n".join(todo) or "every entry that occurs in a chapter is linked")
    if missing:
        print("not found in any chapter's running text (link by hand where the idea comes up):\n  " + "\n  ".join(missing))
    return 1 if args.check and todo else 0


if __name__ == "__main__":
    sys.exit(main())
