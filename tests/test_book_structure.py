"""The book's structure: chapters mirror their lecture notes, notebooks follow the conventions."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p for p in (ROOT / "book").glob("[0-9][0-9]_*.ipynb") if not p.name.startswith("00_"))
NOTEBOOKS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
LECTURES = sorted((ROOT / "lectures").glob("[0-9][0-9]_*.md"))
LABEL = re.compile(r"^\(([A-Za-z0-9_.:-]+)\)=\s*$")  # a MyST target line, e.g. (ch-vae)=


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def headings(lines: list[str], level: int) -> list[str]:
    """Markdown headings of one level, outside fenced code blocks."""
    found, fenced = [], False
    for line in lines:
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and re.match(rf"^#{{{level}}}\s", line):
            found.append(line[level:].strip())
    return found


def notebook_headings(path: Path, level: int) -> list[str]:
    lines = [line for c in cells(path) if c["cell_type"] == "markdown" for line in source(c).splitlines()]
    return headings(lines, level)


def page_text(path: Path) -> str:
    """The Markdown of a page: a .md file, or the markdown cells of a notebook."""
    if path.suffix == ".md":
        return path.read_text()
    return "\n".join(source(c) for c in cells(path) if c["cell_type"] == "markdown")


def title_label(text: str) -> str | None:
    """The MyST label on the line right before the page's first title (``(ch-vae)=`` then ``# 5. ...``)."""
    lines = [line for line in text.lstrip().splitlines()]
    if len(lines) >= 2 and LABEL.match(lines[0]) and lines[1].startswith("# "):
        return LABEL.match(lines[0]).group(1)
    return None


def test_there_is_at_least_one_chapter():
    assert CHAPTERS, "no chapter notebooks found in book/"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_sections_mirror_the_lecture_note(chapter):
    note = ROOT / "lectures" / f"{chapter.stem}.md"
    assert note.is_file(), f"{chapter.name} has no lecture note {note.relative_to(ROOT)}"
    note_lines = note.read_text().splitlines()
    assert notebook_headings(chapter, 1) == headings(note_lines, 1), "the chapter and its note need the same title"
    chapter_sections, note_sections = notebook_headings(chapter, 2), headings(note_lines, 2)
    assert len(chapter_sections) >= 3
    assert chapter_sections == note_sections


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_clean_and_starts_with_the_conventions(notebook):
    all_cells = cells(notebook)
    assert not any(c.get("outputs") or c.get("execution_count") for c in all_cells if c["cell_type"] == "code"), (
        "notebooks are committed without outputs"
    )
    opening = source(all_cells[0]).lstrip()
    if LABEL.match(opening.splitlines()[0] if opening else ""):  # the title's label, (ch-...)=, may come first
        opening = opening.split("\n", 1)[1] if "\n" in opening else ""
    assert all_cells[0]["cell_type"] == "markdown" and opening.startswith("# "), "the page opens with its title"
    code = [c for c in all_cells if c["cell_type"] == "code"]
    bootstrap, setup = code[0], code[1]
    assert "import edu_gen" in source(bootstrap) and "%pip install" in source(bootstrap)
    assert "remove-input" in bootstrap.get("metadata", {}).get("tags", [])
    assert "runtime.setup(" in source(setup)


def test_every_chapter_and_lecture_note_title_has_its_label():
    """Cross-references point at labels (`{ref}`ch-vae``), never at a typed chapter number."""
    for page, prefix in [*[(p, "ch-") for p in NOTEBOOKS], *[(p, "lec-") for p in LECTURES]]:
        label = title_label(page_text(page))
        assert label is not None and label.startswith(prefix), f"{page.name}: no ({prefix}...)= label before its title"


REFERENCE = re.compile(r"\{(ref|numref|eq|doc)\}`(?:[^`<]*<([^`>]+)>|([^`]+))`")


def test_every_cross_reference_points_at_something_that_exists():
    """A fast version of the book build's check: every {ref}/{numref}/{eq} label is defined, every {doc} exists."""
    pages = [*NOTEBOOKS, *LECTURES, *sorted((ROOT / "book").glob("*.md")), *sorted((ROOT / "solutions").glob("*.ipynb"))]
    labels = set()
    for page in pages:
        for line in page_text(page).splitlines():
            if LABEL.match(line.strip()):
                labels.add(LABEL.match(line.strip()).group(1))
            option = re.match(r"^\s*:(?:label|name):\s*(\S+)", line)
            if option:
                labels.add(option.group(1))
    dangling = []
    for page in pages:
        for role, bracketed, plain in REFERENCE.findall(page_text(page)):
            target = (bracketed or plain).strip()
            if role == "doc":
                base = ROOT if target.startswith("/") else page.parent
                found = any((base / target.lstrip("/")).with_suffix(s).is_file() for s in (".ipynb", ".md"))
            else:
                found = target in labels
            if not found:
                dangling.append(f"{page.relative_to(ROOT)}: {{{role}}}`{target}`")
    assert dangling == [], f"references to nothing: {dangling}"


def test_the_table_of_contents_lists_every_page_and_only_existing_ones():
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [ch["file"] for part in toc["parts"] for ch in part["chapters"]]
    missing = [f for f in files if not any((ROOT / f).with_suffix(s).is_file() for s in (".ipynb", ".md"))]
    assert missing == []
    pages = {str(p.relative_to(ROOT).with_suffix("")) for p in NOTEBOOKS}
    pages |= {str(p.relative_to(ROOT).with_suffix("")) for p in (ROOT / "lectures").glob("*.md")}
    pages |= {str(p.relative_to(ROOT).with_suffix("")) for p in (ROOT / "exercises").glob("[0-9][0-9]_*.ipynb")}
    pages |= {str(p.relative_to(ROOT).with_suffix("")) for p in (ROOT / "book").glob("*.md")}
    assert pages - set(files) == set(), "every chapter, lecture note, exercise and back-matter page belongs in _toc.yml"
    assert len(files) == len(set(files)), "a page listed twice"


def test_citations_exist_in_the_bibliography():
    keys = set(re.findall(r"@\w+\{([^,]+),", (ROOT / "references.bib").read_text()))
    pages = list(NOTEBOOKS) + list((ROOT / "lectures").glob("*.md")) + list((ROOT / "book").glob("*.md"))
    cited = set()
    for page in pages:
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", page.read_text()):
            cited |= {k.strip() for k in group.split(",")}
    assert cited - keys == set(), f"cited but not in references.bib: {sorted(cited - keys)}"


def test_every_glossary_entry_is_linked_from_its_first_use():
    """Issue 22: an entry whose words occur in a chapter is linked where they first occur (scripts/link_glossary.py).

    Watched fail with one link of chapter 2 removed (the script then offers to link it again).
    """
    check = subprocess.run([sys.executable, str(ROOT / "scripts" / "link_glossary.py"), "--check"],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-2000:]
    linked = re.findall(r"\{term\}`(?:[^`<]*<)?([^`>]+)>?`", "".join(page_text(p) for p in NOTEBOOKS))
    entries = set(re.findall(r"^(\S[^\n]*\))$", (ROOT / "book" / "glossary.md").read_text(), flags=re.M))
    assert set(linked) <= entries, set(linked) - entries  # every link names an entry (Sphinx would only warn)


def test_no_page_refers_to_the_root_pages_title_by_its_label():
    """The PDF (LaTeX) drops the root page's own title and its label, so {ref} to it is undefined there: use {doc}.

    The HTML build resolves such a reference, so only the optional PDF build (scripts/check_pdf.py) saw it, twice
    (notation.md in session 8, chapter 11 in session 9). Watched fail with chapter 11's {doc}`00_introduction`
    turned back into {ref}`ch-introduction`.
    """
    root = re.search(r"^root:\s*(\S+)", (ROOT / "_toc.yml").read_text(), re.M).group(1)
    root_page = next(ROOT.glob(root + ".*"))
    title_label = next(LABEL.match(line.strip()).group(1) for line in page_text(root_page).splitlines() if LABEL.match(line.strip()))
    pages = [*NOTEBOOKS, *LECTURES, *sorted((ROOT / "book").glob("*.md")), *sorted((ROOT / "solutions").glob("*.ipynb")),
             *sorted((ROOT / "exercises").glob("*.ipynb"))]
    offending = [f"{page.relative_to(ROOT)}: {{{role}}}`{(bracketed or plain).strip()}`"
                 for page in pages for role, bracketed, plain in REFERENCE.findall(page_text(page))
                 if role in ("ref", "numref") and (bracketed or plain).strip() == title_label]
    assert offending == [], f"use {{doc}}`{Path(root).name}` instead: {offending}"
