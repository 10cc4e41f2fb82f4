"""The main job: `jupyter-book build .` succeeds, and the pages pass the browser check.

Builds a copy of the book at the `ci` scale into a temporary folder (fresh execution cache, so
every chapter really runs), then runs scripts/check_book.py on it in headless Chromium: math
typeset, images and links resolved, nothing fetched from outside. Without Chromium the browser
half is skipped with a reason; .ci/run installs it.

The build runs on the OFFLINE path: EDU_GEN_DATA is an empty folder, so every chapter falls back
to scikit-learn's digits, while nbval (the rest of `pytest`) runs the same chapters on MNIST.
Together the two cover both data paths in one CI run, at the cost of one book build.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    empty = tmp_path_factory.mktemp("no-data")  # no MNIST here: the digits fallback (see above)
    env = {**os.environ, "EDU_GEN_SCALE": "ci", "EDU_GEN_DATA": str(empty),
           "EDU_GEN_CACHE": str(tmp_path_factory.mktemp("model-cache"))}
    env.pop("MPLBACKEND", None)  # conftest.py sets Agg for the tests; the book needs inline figures
    build = subprocess.run(
        [str(JUPYTER_BOOK), "build", str(ROOT), "--path-output", str(out)],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    return out / "_build" / "html", build.stdout + build.stderr


def test_the_book_builds_without_warnings(built_book):
    html, log = built_book
    for page in ("book/00_introduction", "book/01_losses_as_likelihood", "lectures/01_losses_as_likelihood", "book/glossary", "book/references"):
        assert (html / f"{page}.html").is_file(), page
    warnings = [line for line in log.splitlines() if "WARNING" in line and "Kernel is running over TCP" not in line]
    assert warnings == []


def test_the_book_was_built_on_the_digits_fallback(built_book):
    html, _ = built_book
    for chapter in sorted((html / "book").glob("0[0-9]_*.html")):  # every chapter that loads images
        assert "falling back to scikit-learn digits" in chapter.read_text(), chapter.name


def test_chapter_pages_have_figures_and_colab_buttons(built_book):
    html, _ = built_book
    chapter = (html / "book" / "01_losses_as_likelihood.html").read_text()
    assert chapter.count("<img") >= 5
    assert "colab.research.google.com/github/edu-gen/edu-gen/blob/main/book/01_losses_as_likelihood.ipynb" in chapter
    assert "_static/edu_gen.css" in chapter and (html / "_static" / "edu_gen.css").is_file()  # code lines wrap


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_pages_pass_the_browser_check(built_book):
    html, _ = built_book
    if not (ROOT / "node_modules" / "mathjax").is_dir():
        pytest.skip("node_modules/mathjax is missing (npm ci): offline math cannot render")
    check = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_book.py"), str(html)], capture_output=True, text=True, timeout=600
    )
    assert check.returncode == 0, check.stdout[-4000:] + check.stderr[-2000:]


def test_the_book_builds_with_python_alone(built_book, tmp_path):
    """The README's first command needs no Node.js (issue 22): a copy of the repository without
    node_modules/ builds, and its pages load MathJax from the CDN instead of a local copy.

    The copy reuses the first build's execution cache (same notebooks, same library), so only
    the Sphinx half runs again."""
    html, _ = built_book
    source = tmp_path / "repo"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns("node_modules", "_build", ".git", ".venv*", "__pycache__"))
    assert not (source / "node_modules").exists()
    out = tmp_path / "out"
    for cache in html.parent.glob(".jupyter_cache*"):            # the first build's executed notebooks
        shutil.copytree(cache, out / "_build" / cache.name)
    env = {**os.environ, "EDU_GEN_SCALE": "ci", "EDU_GEN_DATA": str(tmp_path / "no-data"),
           "EDU_GEN_CACHE": str(tmp_path / "model-cache")}
    (tmp_path / "no-data").mkdir()
    env.pop("MPLBACKEND", None)
    env.pop("EDU_GEN_BOOK_CDN", None)
    build = subprocess.run([str(JUPYTER_BOOK), "build", str(source), "--path-output", str(out)],
                           capture_output=True, text=True, env=env, timeout=900)
    log = build.stdout + build.stderr
    assert build.returncode == 0, log[-4000:]
    assert "node_modules/mathjax missing: MathJax from CDN" in log
    page = (out / "_build" / "html" / "book" / "01_losses_as_likelihood.html").read_text()
    assert "cdn.jsdelivr.net/npm/mathjax" in page and "_static/npm/" not in page
    assert not (out / "_build" / "html" / "_static" / "npm").exists()


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_the_browser_check_sees_korean_boxes_and_wide_displays(built_book, tmp_path):
    """The check can fail (issue 22): without its Korean web font (an offline copy whose CSS
    points at a missing file) the glossary's Korean terms are reported as boxes, and a display
    equation made wider than the column is reported too."""
    html, _ = built_book
    broken = tmp_path / "html"
    shutil.copytree(html, broken, ignore=shutil.ignore_patterns("*.ipynb", "_sources", "jupyter_execute"))
    font = broken / "_static" / "npm" / "noto-sans-kr" / "files"
    if not font.is_dir():
        pytest.skip("the build has no offline Korean font (npm ci): nothing to break")
    shutil.rmtree(font)                                        # every woff2 piece now answers 404
    notation = broken / "book" / "notation.html"
    page = notation.read_text()
    wide = r"\[" + " + ".join(f"x_{{{i}}}" for i in range(150)) + r"\]"
    notation.write_text(page.replace("</main>", f'<div class="math notranslate nohighlight">{wide}</div></main>', 1))
    toc = tmp_path / "_toc.yml"
    toc.write_text("format: jb-book\nroot: book/glossary\nchapters:\n  - file: book/notation\n")
    check = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_book.py"), str(broken), "--toc", str(toc)],
                           capture_output=True, text=True, timeout=600)
    assert check.returncode == 1, check.stdout[-3000:]
    assert "book/glossary.html: Korean text falls back to boxes" in check.stdout
    assert "book/notation.html: display equation wider than its column" in check.stdout


def test_the_teaching_page_lists_every_graded_exercise_with_its_checks(built_book):
    """book/teaching.md's table is built from grading/tests: a row per test file, linked, points adding up."""
    import re

    html, _ = built_book
    page = (html / "book" / "teaching.html").read_text()
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", page, flags=re.S)[1:]  # the header row first
    exercises = sorted(p.stem.removeprefix("test_") for p in (ROOT / "grading" / "tests").glob("test_*.py"))
    found = {}
    for row in rows:
        link = re.search(r'href="([^"]+)"[^>]*>(?:<[^>]+>)*([0-9]{2}_\w+)<', row)
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        items = [float(p) for p in re.findall(r"\((\d+(?:\.\d+)?)\)</p>", cells[3])]
        assert link and (html / "book" / link.group(1).split("#")[0]).resolve().is_file(), row[:300]
        assert int(re.sub(r"<[^>]+>", "", cells[1])) == len(items) > 0
        assert float(re.sub(r"<[^>]+>", "", cells[2])) == sum(items)
        found[link.group(2)] = len(items)
    assert sorted(found) == exercises
