"""scripts/check_pdf.py on small made-up LaTeX builds: a clean one passes, and each defect it promises to find fails
its own check (the PDF itself needs TeX Live, which CI does not have; these files stand in for one build's outputs)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "check_pdf.py"
spec = importlib.util.spec_from_file_location("check_pdf", SCRIPT)
check_pdf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_pdf)

CLEAN_TEX = ("\\chapter{Glossary (용어집)}\n"
             "\\noindent\\sphinxincludegraphics{{0a1b}.png}\n"
             "\\sphinxincludegraphics[width=3cm]{{0c2d}.png}\n")
CLEAN_LOG = "Output written on edu-gen.pdf (420 pages, 7553789 bytes).\n"


def _build(folder: Path, tex: str = CLEAN_TEX, log: str = CLEAN_LOG, images=("0a1b.png", "0c2d.png")) -> Path:
    folder.mkdir()
    (folder / "edu-gen.pdf").write_bytes(b"%PDF-1.5")
    (folder / "edu-gen.tex").write_text(tex)
    (folder / "edu-gen.log").write_text(log)
    for name in images:
        (folder / name).write_bytes(b"")
    return folder


def _failed(folder: Path) -> list[str]:
    return [message for passed, message in check_pdf.check(folder) if not passed]


def test_a_clean_build_passes_every_check(tmp_path):
    assert _failed(_build(tmp_path / "latex")) == []


@pytest.mark.parametrize("defect, build, expected", [
    ("a figure printed as its text form", dict(tex=CLEAN_TEX + "<Figure size 1000x440 with 2 Axes>\n"), "figures printed"),
    ("an included image that is not there", dict(images=("0a1b.png",)), "images included 2"),
    ("a glyph the font lacks", dict(log=CLEAN_LOG + "Missing character: There is no ℓ (U+2113) in font DejaVu Sans Mono!\n"),
     "missing glyphs: 1"),
    ("a reference to a label LaTeX dropped",
     dict(log=CLEAN_LOG + "LaTeX Warning: Hyper reference `book/00_introduction:ch-introduction' on page 3\n41 undefined on input line 2.\n"),
     "undefined references and citations: 1"),
    ("a citation that is not in the bibliography", dict(log=CLEAN_LOG + "LaTeX Warning: Citation `nobody2020' on page 4 undefined.\n"),
     "undefined references and citations: 1"),
    ("no Korean text", dict(tex=CLEAN_TEX.replace("(용어집)", "")), "Korean text"),
    ("no pages", dict(log="No pages of output.\n"), "no pages"),
])
def test_each_defect_fails_its_check(tmp_path, defect, build, expected):
    failed = _failed(_build(tmp_path / "latex", **build))
    assert len(failed) == 1 and expected in failed[0], (defect, failed)


def test_no_pdf_is_a_failure_that_says_how_to_build_it(tmp_path):
    (tmp_path / "latex").mkdir()
    [(passed, message)] = check_pdf.check(tmp_path / "latex")
    assert not passed and "--builder pdflatex" in message
