"""benchmarks/grading_batch.py's bookkeeping (the grading itself is tested in test_grading_batch.py and run by the benchmark)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _benchmark():
    spec = importlib.util.spec_from_file_location("grading_batch", ROOT / "benchmarks" / "grading_batch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_partly_correct_students_hand_in_identical_notebooks(tmp_path):
    """The premise of `partly_disagreements`: watched fail with the student's index written into the broken cell."""
    students, expected = _benchmark().a_class(tmp_path / "out", tmp_path / "spill.txt", size=10)
    partly = [s for s, kind in expected.items() if kind == "partly"]
    assert len(partly) == 2
    first, second = (students[s] for s in partly)
    assert first.keys() == second.keys()
    # the same cells, in order (their random cell ids aside)
    assert all([c.source for c in first[e].cells] == [c.source for c in second[e].cells] for e in first)


def test_partly_disagreements_names_the_tests_whose_points_differ():
    batch = _benchmark()
    same = {"01 a": "2", "01 b": "0"}
    agree = {"no sandbox": {"partly_columns": {"p6": dict(same), "p7": dict(same)}},
             "--sandbox-user": {"partly_columns": {"p6": dict(same), "p7": dict(same)}}}
    assert batch.partly_disagreements(agree) == []
    between_students = {"no sandbox": {"partly_columns": {"p6": dict(same), "p7": {**same, "01 b": "1"}}}}
    assert batch.partly_disagreements(between_students) == ["01 b"]
    between_modes = {**agree, "--sandbox-user": {"partly_columns": {"p6": {**same, "01 a": "0"}, "p7": {**same, "01 a": "0"}}}}
    assert batch.partly_disagreements(between_modes) == ["01 a"]
