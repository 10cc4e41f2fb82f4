"""Caches never serve stale results: trained models and executed chapters are keyed on
everything they depend on (the scale, the data source, the library's source).

The execution-cache test builds a one-notebook book twice with the book's own extension
(book/_ext/local_assets.py), once on the digits fallback and once with MNIST on disk, and
checks that the second build re-ran the notebook instead of reusing the first one's output.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edu_gen import runtime, train

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")
EXTENSION = ROOT / "book" / "_ext" / "local_assets.py"
SHARED_MNIST = os.environ.get("EDU_GEN_DATA", "")
HAS_MNIST = bool(SHARED_MNIST) and (Path(SHARED_MNIST) / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz").is_file()
needs_mnist = pytest.mark.skipif(not HAS_MNIST, reason="MNIST is not under EDU_GEN_DATA")


def _extension():
    spec = importlib.util.spec_from_file_location("local_assets_under_test", EXTENSION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_library_digest_follows_the_chapters_code_but_not_the_grader(tmp_path):
    package = tmp_path / "edu_gen"
    shutil.copytree(Path(runtime.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    same = runtime.library_digest(package)
    assert same == runtime.library_digest()  # a faithful copy hashes alike
    (package / "grading" / "checks.py").write_text((package / "grading" / "checks.py").read_text() + "\n# x\n")
    assert runtime.library_digest(package) == same  # no chapter output depends on the grader
    (package / "vae.py").write_text((package / "vae.py").read_text().replace("def ", "def  ", 1))
    assert runtime.library_digest(package) != same  # one changed character in a chapter module


@needs_mnist
def test_checkpoint_path_changes_with_data_source_scale_and_library(monkeypatch, tmp_path):
    monkeypatch.setenv("EDU_GEN_SCALE", "ci")
    monkeypatch.setenv("EDU_GEN_DATA", SHARED_MNIST)
    with_mnist = train.checkpoint_path("vae", {"latent_dim": 2})
    monkeypatch.setenv("EDU_GEN_DATA", str(tmp_path))  # an empty folder: the digits fallback
    on_digits = train.checkpoint_path("vae", {"latent_dim": 2})
    assert on_digits != with_mnist
    monkeypatch.setenv("EDU_GEN_SCALE", "book")
    assert train.checkpoint_path("vae", {"latent_dim": 2}) != on_digits
    monkeypatch.setattr(runtime, "library_digest", lambda package=None: "0" * 64)
    assert train.checkpoint_path("vae", {"latent_dim": 2}) != with_mnist
    monkeypatch.undo()  # the same inputs give the same path again
    monkeypatch.setenv("EDU_GEN_SCALE", "ci")
    monkeypatch.setenv("EDU_GEN_DATA", SHARED_MNIST)
    assert train.checkpoint_path("vae", {"latent_dim": 2}) == with_mnist


@needs_mnist
def test_execution_cache_key_names_scale_data_source_and_library(monkeypatch, tmp_path):
    key = _extension().execution_cache_key
    monkeypatch.setenv("EDU_GEN_SCALE", "ci")
    monkeypatch.setenv("EDU_GEN_DATA", SHARED_MNIST)
    mnist_ci = key()
    assert mnist_ci.startswith("ci-") and "mnist" in mnist_ci
    monkeypatch.setenv("EDU_GEN_DATA", str(tmp_path))
    assert key() == f"ci-digits-{runtime.library_digest()[:12]}"
    monkeypatch.setenv("EDU_GEN_DATA", SHARED_MNIST)
    monkeypatch.setenv("EDU_GEN_SCALE", "book")
    assert key() == "book" + mnist_ci[2:]
    monkeypatch.setattr(runtime, "library_digest", lambda package=None: "f" * 64)
    assert key().endswith("-ffffffffffff")


NOTEBOOK = {
    "cells": [
        {
            "cell_type": "markdown", "id": "title", "metadata": {},
            "source": ["# Which data\n"],
        },
        {
            "cell_type": "code", "execution_count": None, "id": "source", "metadata": {}, "outputs": [],
            "source": ["from edu_gen import data\n", "print('DATA SOURCE:', data.source('mnist'))\n"],
        },
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def _tiny_book(folder: Path, index_text: str = "# Index\n\n{doc}`which`\n") -> Path:
    import json

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "_config.yml").write_text(
        "title: tiny\nexecute:\n  execute_notebooks: cache\n  timeout: 300\n"
        f"sphinx:\n  local_extensions:\n    local_assets: {EXTENSION.parent}\n"
    )
    (folder / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n  - file: which\n")
    (folder / "index.md").write_text(index_text)
    (folder / "which.ipynb").write_text(json.dumps(NOTEBOOK))
    return folder


def _build(folder: Path, **env) -> subprocess.CompletedProcess:
    environment = {**os.environ, "EDU_GEN_BOOK_CDN": "1", **env}
    environment.pop("MPLBACKEND", None)
    return subprocess.run([str(JUPYTER_BOOK), "build", str(folder)], capture_output=True, text=True,
                          env=environment, timeout=600)


@needs_mnist
def test_a_book_built_offline_is_rebuilt_when_mnist_appears(tmp_path):
    book = _tiny_book(tmp_path / "book")
    page = book / "_build" / "html" / "which.html"
    offline = _build(book, EDU_GEN_DATA=str(tmp_path / "empty"), EDU_GEN_SCALE="ci")
    assert offline.returncode == 0, offline.stdout[-3000:] + offline.stderr[-3000:]
    assert "DATA SOURCE: digits" in page.read_text()
    online = _build(book, EDU_GEN_DATA=SHARED_MNIST, EDU_GEN_SCALE="ci")
    assert online.returncode == 0, online.stdout[-3000:] + online.stderr[-3000:]
    assert "DATA SOURCE: mnist" in page.read_text()  # re-executed, not the cached fallback output


def test_an_unresolved_reference_fails_the_build(tmp_path):
    broken = _tiny_book(tmp_path / "broken", "(top)=\n# Index\n\n{ref}`top`, {ref}`nowhere`, {doc}`missing`, [x](gone.md)\n")
    (broken / "which.ipynb").unlink()
    (broken / "_toc.yml").write_text("format: jb-book\nroot: index\n")
    failed = _build(broken, EDU_GEN_DATA=str(tmp_path / "empty"))
    assert failed.returncode != 0
    log = failed.stdout + failed.stderr
    assert "3 cross-reference(s) resolve to nothing" in log
    for target in ("'nowhere'", "'missing'", "'gone.md'"):
        assert target in log
    (broken / "index.md").write_text("(top)=\n# Index\n\n{ref}`top`\n")  # the same book, mended, builds
    mended = _build(broken, EDU_GEN_DATA=str(tmp_path / "empty"))
    assert mended.returncode == 0, mended.stdout[-3000:] + mended.stderr[-3000:]
