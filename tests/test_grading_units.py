"""The grader's parts that need no kernel: the wire format, the checks, reading answers, markers."""

import json
import math

import numpy as np
import pytest
import torch

from edu_gen.grading import checks, plugin, wire
from edu_gen.grading.submission import _answer


def test_values_round_trip_as_json():
    value = (torch.arange(6.0).reshape(2, 3), torch.tensor([1, 2]), np.ones(2), {"k": [1, 2.5, None, "s"]},
             torch.tensor([True, False]), torch.tensor(3.0, dtype=torch.float64))
    text = wire.dumps(value)
    json.loads(text)  # plain JSON
    back = wire.loads(text)
    assert isinstance(back, tuple) and len(back) == len(value)
    for got, sent in zip(back, value):
        if isinstance(sent, torch.Tensor):
            assert got.dtype == sent.dtype and torch.equal(got, sent)
        elif isinstance(sent, np.ndarray):
            assert isinstance(got, np.ndarray) and np.array_equal(got, sent)
        else:
            assert got == sent


def test_float32_values_cross_exactly_and_nan_survives():
    x = torch.randn(100, generator=torch.Generator().manual_seed(0))
    x[3] = math.nan
    x[4] = math.inf
    back = wire.loads(wire.dumps(x))
    assert back.dtype == torch.float32 and torch.equal(back.isnan(), x.isnan())
    finite = ~x.isnan()
    assert torch.equal(back[finite], x[finite])


def test_objects_of_other_types_arrive_as_unsupported_never_as_the_object():
    class Rigged:
        def __eq__(self, other):
            return True

    back = wire.loads(wire.dumps(Rigged()))
    assert isinstance(back, wire.Unsupported) and back.type_name == "Rigged"
    assert isinstance(wire.loads(wire.dumps(torch.zeros(2, dtype=torch.complex64))), wire.Unsupported)


@pytest.mark.parametrize("text", [
    '{"__tensor__": {"dtype": "float32", "shape": [3], "data": [1, 2]}}',                  # too short
    '{"__tensor__": {"dtype": "float32", "shape": [2], "data": [[1], 2]}}',                # ragged
    '{"__tensor__": {"dtype": "float32", "shape": [1], "data": ["x"]}}',                   # not a number
    '{"__tensor__": {"dtype": "float32", "shape": [-1], "data": []}}',                     # bad shape
    '{"__tensor__": {"dtype": "float32", "shape": [1], "data": [1], "extra": 0}}',         # extra field
    '{"__pickle__": "gASV"}',                                                              # unknown tag
    '{"a": 1, "b": 2}',                                                                    # not an envelope
    "[" * 100_000 + "]" * 100_000,                                                         # too deep
    "not json",
])
def test_malformed_answers_are_refused(text):
    with pytest.raises(wire.WireError):
        wire.loads(text)


def test_assert_close_says_what_is_wrong_without_showing_values():
    expected = torch.tensor([1.25, 2.5, 3.75])
    checks.assert_close(expected.clone(), expected, what="f(x)")
    # The shape that came back is the submission's and is never repeated; the expected one in symbols.
    with pytest.raises(checks.WrongShape, match=r"^f\(x\) returned a tensor of another shape; expected a tensor with 1 dimension$"):
        checks.assert_close(expected[:, None], expected, what="f(x)")
    with pytest.raises(checks.WrongShape, match=r"^f\(x\) returned a tensor of another shape; expected \(B,\)$"):
        checks.assert_close(expected.sum(), expected, what="f(x)", shape_name="(B,)")
    with pytest.raises(checks.WrongType, match="returned a list"):
        checks.assert_close([1.25, 2.5, 3.75], expected, what="f(x)")
    with pytest.raises(checks.WrongType, match="NumPy"):
        checks.assert_close(expected.numpy(), expected, what="f(x)")
    with pytest.raises(checks.WrongType, match="not a tensor, array") as rigged:
        checks.assert_close(wire.Unsupported("Rigged"), expected, what="f(x)")
    assert "Rigged" not in str(rigged.value)  # a type name the notebook chose
    with pytest.raises(checks.Mismatch, match="^f\\(x\\): some of the values are inf or nan") as inf_error:
        checks.assert_close(torch.tensor([1.25, math.inf, 3.75]), expected, what="f(x)")
    with pytest.raises(checks.Mismatch, match="some of the values differ from the expected ones; they are all too large") as value_error:
        checks.assert_close(torch.tensor([1.25, 2.6, 3.75]), expected, what="f(x)")
    for error in (inf_error, value_error):
        assert not any(v in str(error.value) for v in ("1.25", "2.5", "3.75", "2.6", "1 of 3"))


def test_mismatch_says_which_way_the_values_are_off_in_fixed_words():
    expected = torch.linspace(1.0, 2.0, 100)
    cases = {"; they have the wrong sign": -expected, "; they are all too small": expected - 1,
             "; they are all too large": expected * 2}
    for words, got in cases.items():
        with pytest.raises(checks.Mismatch) as error:
            checks.assert_close(got, expected, what="f")
        assert str(error.value) == f"f: all of the values differ from the expected ones{words}"
    mixed = expected.clone()
    mixed[:3] += 1  # 3 of 100 too large, 3 too small: no direction, "a few"
    mixed[3:6] -= 1
    with pytest.raises(checks.Mismatch) as error:
        checks.assert_close(mixed, expected, what="f")
    assert str(error.value) == "f: a few of the values differ from the expected ones"
    mixed[:60] += 1  # the count is never a number: 60 of 100 reads "most"
    with pytest.raises(checks.Mismatch, match=r"^f: most of the values"):
        checks.assert_close(mixed, expected, what="f")


def test_assert_close_tolerance_is_not_loose():
    expected = torch.tensor([100.0], dtype=torch.float64)
    checks.assert_close(expected * (1 + 5e-6), expected, what="f")
    with pytest.raises(checks.Mismatch):
        checks.assert_close(expected * (1 + 5e-5), expected, what="f")
    # near zero the absolute tolerance (1e-6) decides, and it is not loose either
    zero = torch.zeros(1, dtype=torch.float64)
    checks.assert_close(zero + 5e-7, zero, what="f")
    with pytest.raises(checks.Mismatch):
        checks.assert_close(zero + 5e-6, zero, what="f")


def test_assert_close_compares_in_the_precision_the_student_chose():
    """A float32 answer to a float64 input is held to float32 precision (100 eps), not to float64's (issue 15)."""
    expected = torch.tensor([300.0, -2.0, 0.0], dtype=torch.float64) / 3
    rounded = (expected * (1 + 3e-7)).float()  # float32 rounding and a little more (a sum of many terms)
    with pytest.raises(checks.Mismatch):  # held to float64's tolerance it would fail
        checks.assert_close(rounded.double(), expected, what="f", rtol=1e-9, atol=1e-12)
    checks.assert_close(rounded, expected, what="f", rtol=1e-9, atol=1e-12)
    # but not looser than 100 float32 eps (1.2e-5): a 1e-4 error is still wrong, near zero too
    with pytest.raises(checks.Mismatch):
        checks.assert_close((expected * (1 + 1e-4)).float(), expected, what="f", rtol=1e-9, atol=1e-12)
    with pytest.raises(checks.Mismatch):
        checks.assert_close((expected + torch.tensor([0.0, 0.0, 1e-2], dtype=torch.float64)).float(), expected, what="f")
    # a float32 expected keeps the tolerances it was given
    with pytest.raises(checks.Mismatch):
        checks.assert_close(expected.float() * (1 + 3e-6), expected.float(), what="f", rtol=1e-7, atol=0)


def test_rules_are_checked_on_every_call():
    class Student:
        def __init__(self, used):
            self.used, self.calls = used, []

        def names_used(self, name):
            return frozenset(self.used)

        def call(self, name, *args):
            self.calls.append(name)
            return args[0]

    rules = checks.Rules({"pca": {"eigh"}}, required={"pca": ({"svd"}, "an SVD (torch.linalg.svd)")})
    assert rules.call(Student({"svd", "mean"}), "pca", 7) == 7
    with pytest.raises(checks.ForbiddenCall, match="pca uses eigh"):
        rules.call(Student({"svd", "eigh"}), "pca", 7)
    with pytest.raises(checks.ForbiddenCall, match=r"pca does not call an SVD \(torch.linalg.svd\)"):
        rules.call(Student({"mean"}), "pca", 7)
    student = Student({"eigh"})
    with pytest.raises(checks.ForbiddenCall):
        rules.call(student, "pca", 7)
    assert student.calls == []  # refused before the call
    with pytest.raises(KeyError, match="no rule for 'other'"):
        rules.call(Student(set()), "other", 7)


def test_not_calling_finds_library_losses_by_name_and_attribute():
    source = "def f(x, y):\n    return torch.nn.functional.mse_loss(x, y)\n"
    with pytest.raises(checks.ForbiddenCall, match="mse_loss"):
        checks.assert_not_calling(source, "f", {"mse_loss"})
    checks.assert_not_calling("def f(x, y):\n    return ((x - y) ** 2).sum()\n", "f", {"mse_loss"})
    with pytest.raises(checks.NotDefined):
        checks.assert_not_calling(None, "f", {"mse_loss"})


def test_scrub_hides_decimal_numbers_but_keeps_shapes():
    message = "value 0.12345 at index 3 of shape (4, 5); 1e-05 and -2.5e+03 too\nsecond line 7.5"
    assert checks.scrub(message) == "value <number> at index 3 of shape (4, 5); <number> and <number> too"


def test_answers_from_the_kernel_are_decoded_defensively():
    ok = json.dumps({"ok": wire.encode(torch.tensor([1.0]))})
    assert torch.equal(_answer("f", ok), torch.tensor([1.0]))
    with pytest.raises(checks.NotDefined, match="no function named f"):
        _answer("f", '{"missing": true}')
    with pytest.raises(checks.RaisedError, match="has not been written yet"):
        _answer("f", '{"raised": {"type": "NotImplementedError", "message": "write it"}}')
    with pytest.raises(checks.RaisedError, match=r"^f raised ValueError$") as error:
        _answer("f", '{"raised": {"type": "ValueError", "message": "bad input 0.8125"}}')
    assert "0.8125" not in str(error.value)  # the message is the student's, and never shown
    # a class named by the notebook could spell out an input; so could a newline-laden one
    for made_up in ("E_8125", "Oops\\n**Total: 61 / 61**", 7, None):
        with pytest.raises(checks.RaisedError) as error:
            _answer("f", json.dumps({"raised": {"type": made_up, "message": "x"}}))
        assert str(error.value) == "f raised an exception of a class defined in the notebook"
    for garbage in ("__import__('os').system('true')", '{"ok": {"__pickle__": 1}}', '{"ok": 1, "x": 2}', "[1]"):
        with pytest.raises(checks.NoAnswer):
            _answer("f", garbage)


def test_failures_are_classified_for_the_feedback():
    assert plugin.classify(checks.Mismatch("f: 2 of 3 values differ")) == ("wrong values", "f: 2 of 3 values differ")
    assert plugin.classify(AssertionError("the shape is wrong")) == ("check failed", "the shape is wrong")
    kind, message = plugin.classify(TypeError("unsupported operand 0.5 + 'x'"))
    assert kind == "error in the check" and "0.5" not in message and "TypeError" in message


def test_the_class_summary_of_a_small_class():
    """Four students: two checks; one student did not submit (not a failure), one notebook could not run."""
    from edu_gen.grading.grade import NotebookGrade, class_summary
    from edu_gen.grading.plugin import TestInfo, TestResult
    from edu_gen.grading.submission import RunReport

    easy, hard = TestInfo("test_easy", "the easy part", 1.0), TestInfo("test_hard", "the hard part", 3.0)

    def notebook(easy_points, hard_points, hard_kind="", run=RunReport()):
        return NotebookGrade("01_x", [TestResult(easy, easy_points, "" if easy_points == 1 else "wrong values"),
                                      TestResult(hard, hard_points, hard_kind)], run)

    grades = {"ann": {"01_x": notebook(1, 3)},
              "bob": {"01_x": notebook(1, 0, "timed out")},
              "cy": {"01_x": notebook(0, 0, "wrong shape", RunReport(not_run="not a notebook"))},
              "dee": {"01_x": NotebookGrade("01_x", [TestResult(easy, 0, "not submitted"), TestResult(hard, 0, "not submitted")], None)}}
    info = class_summary({"01_x": (None, [easy, hard])}, grades)["01_x"]
    assert (info["students"], info["submitted"], info["not_run"], info["max"]) == (4, 3, 1, 4)
    assert info["mean"] == (4 + 1 + 0) / 3 and info["median"] == 1 and (info["full_marks"], info["zero"]) == (1, 1)
    assert [(c["test"], c["failed"]) for c in info["checks"]] == [("test_hard", 2), ("test_easy", 1)]
    assert info["checks"][0]["kinds"] == {"timed out": 1, "wrong shape": 1}


def test_numpy_and_torch_are_loaded_before_the_first_cell_and_no_name_is_bound(tmp_path):
    """The warm-up (`submission.WARM_UP`) runs before the notebook, charged to the kernel's start, not to a cell.

    The first cell finds both libraries already imported, and neither name (nor the warm-up's loop variable)
    in the notebook's namespace: a forgotten ``import torch`` still fails. Watched fail with the warm-up
    removed (the first assertion) and with it written as a plain ``import numpy, torch`` (the second).
    """
    import io

    import nbformat

    from edu_gen.grading.sandbox import Limits
    from edu_gen.grading.submission import Submission

    cell = ("import sys\n"
            "assert 'torch' in sys.modules and 'numpy' in sys.modules, 'not loaded'\n"
            "assert not {'torch', 'numpy', 'name', 'importlib'} & set(globals()), 'a name was bound'")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)]), tmp_path / "warm.ipynb")
    log = io.StringIO()
    student = Submission(tmp_path / "warm.ipynb", tmp_path / "work", log=log, sandbox=None, limits=Limits(),
                         timeout=120, cell_timeout=60)
    try:
        report = student.run()
    finally:
        student.close()
    assert report.not_run is None and report.cells_run == 1, (report, log.getvalue())
    assert report.problems == [], log.getvalue()
    assert "--- warm-up (numpy, torch): ok" in log.getvalue()
