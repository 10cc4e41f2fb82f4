"""The Results page marks a result stale when its script, or a file the script reads, changed after it was written."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _results_page():
    pytest.importorskip("sphinx")
    spec = importlib.util.spec_from_file_location("results_page", ROOT / "book" / "_ext" / "results_page.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["results_page"] = module
    spec.loader.exec_module(module)
    return module


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True,
                   capture_output=True)


@pytest.fixture
def repo(tmp_path):
    """A repository with a benchmark, the catalogue it reads and its committed result."""
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "benchmarks" / "exercise_mutants.py").write_text('"""Doc."""\nimport json\nprint(json.dumps({}))\n')
    (tmp_path / "benchmarks" / "exercise_mistakes.py").write_text('MISTAKES = ["a"]\n')
    (tmp_path / "benchmarks" / "other.py").write_text('print(1)\n')
    (tmp_path / "benchmarks" / "results" / "exercise_mutants.txt").write_text('# header\n{"mistakes": 1}\n')
    (tmp_path / "benchmarks" / "results" / "other.txt").write_text('{"x": 1}\n')
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "results")
    return tmp_path


def _status(page, root):
    return {e["name"]: e["status"] for e in page.benchmark_status(root)}


def test_a_result_is_ok_until_its_script_or_an_input_changes(repo):
    page = _results_page()
    assert _status(page, repo) == {"exercise_mutants": "ok", "other": "ok"}

    # a comment or a docstring is not code: still ok
    script = repo / "benchmarks" / "exercise_mutants.py"
    script.write_text('"""Another doc."""\nimport json  # why\nprint(json.dumps({}))\n')
    assert _status(page, repo)["exercise_mutants"] == "ok"

    # the catalogue the script reads changed: the result no longer says what the script would print
    (repo / "benchmarks" / "exercise_mistakes.py").write_text('MISTAKES = ["a", "b"]\n')
    assert _status(page, repo) == {"exercise_mutants": "stale", "other": "ok"}


def test_a_change_of_the_script_itself_makes_its_result_stale(repo):
    page = _results_page()
    (repo / "benchmarks" / "other.py").write_text('print(2)\n')
    assert _status(page, repo) == {"exercise_mutants": "ok", "other": "stale"}


def test_a_result_read_by_another_benchmark_makes_it_stale_when_rewritten(repo, monkeypatch):
    """pixelcnn_mnist copies its VAE row from vae_mnist's result: a new vae_mnist result makes the copy old."""
    page = _results_page()
    monkeypatch.setitem(page.INPUTS, "other", ("benchmarks/results/exercise_mutants.txt",))
    assert _status(page, repo)["other"] == "ok"
    # only a '#' line changes (result files keep their tables there): a Python-code comparison would not see it
    (repo / "benchmarks" / "results" / "exercise_mutants.txt").write_text('# header, rerun\n{"mistakes": 1}\n')
    assert _status(page, repo)["other"] == "stale"
