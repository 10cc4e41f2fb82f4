"""What grading tests assert with, and the kinds of problem a student is told about.

A grading test computes the expected value itself (usually with `edu_gen.likelihood` or
autograd, the same oracles the library's own tests use), gets the student's value through
``student.call(...)``, and compares the two here, in the grader's process.

Every failure a student sees is a `Problem`: its class names the *kind* of error ("wrong
values", "wrong shape", "your function raised ValueError") and its message is written to be
shown as is.

**The feedback's closed vocabulary.** A message is built only from the grader's own words: the
name of the function the test calls, the expected shape in symbols (``(B,)``), a kind, and
a few fixed categories. Nothing the submission controls enters it: not a returned shape, not a
count of wrong entries, not the name or message of an exception it raised, not a type name it
made up. Each of those can carry a hidden input's digits (an exception class named after
``x[0, 0]``, a tensor of ``int(1e6 * x[0, 0])`` entries), and tests reuse their hidden inputs,
so a student who saw them could hard-code the answers. The instructor's log keeps everything.

Anything else a test raises (a bare ``assert``, a bug in the test) is reported only by its kind,
or by the test author's own assertion message (the grader runs pytest with ``--assert=plain``,
so pytest adds no values to it; authors must not format values into it).
"""

from __future__ import annotations

import ast
import builtins
import re

import numpy as np
import torch

from edu_gen.grading.wire import Unsupported


class Problem(Exception):
    """A failed check, with a message that is safe to show to the student."""

    kind = "problem"


class Mismatch(Problem):
    kind = "wrong values"


class WrongShape(Problem):
    kind = "wrong shape"


class WrongType(Problem):
    kind = "wrong type"


class ForbiddenCall(Problem):
    kind = "not written from the formula"


class NotDefined(Problem):
    kind = "not defined"


class RaisedError(Problem):
    kind = "raised an error"


class TimedOut(Problem):
    kind = "timed out"


class KernelDied(Problem):
    kind = "kernel stopped"


class NotRun(Problem):
    kind = "notebook not run"


class NoAnswer(Problem):
    kind = "no answer"


_FLOAT = re.compile(r"[-+]?(\d+\.\d*|\.\d+|\d+[eE][-+]?\d+)([eE][-+]?\d+)?")


def hidden(seed: int) -> torch.Generator:
    """The generator of a grading test's hidden inputs.

    Seeded, so a grade can be reproduced; the seed lives only in the grading test, which the
    student's kernel never sees.
    """
    return torch.Generator().manual_seed(seed)


def scrub(message: str, limit: int = 160) -> str:
    """One line of an error message with its decimal numbers replaced by ``<number>``.

    The student's own exception messages are shown to them, but a function that puts its
    (hidden) inputs into its exception message must not leak them through the feedback.
    Integers stay: they are shapes and indices, which are not secret.
    """
    first_line = (message.strip().splitlines() or [""])[0]
    scrubbed = _FLOAT.sub("<number>", first_line)
    return scrubbed if len(scrubbed) <= limit else scrubbed[: limit - 1] + "…"


# Exception names a student's function may raise that the feedback repeats: Python's own, which
# the student did not choose freely. Any other class name (one defined in the notebook) could
# spell out a hidden input, so it is reported as "an exception of a class defined in the notebook".
BUILTIN_EXCEPTIONS = frozenset(
    name for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
)


def exception_name(name) -> str:
    """A raised exception's class name as the feedback may show it (closed vocabulary)."""
    return name if isinstance(name, str) and name in BUILTIN_EXCEPTIONS else "an exception of a class defined in the notebook"


def describe_type(value) -> str:
    """What came back instead of the expected type, in the grader's own words."""
    if isinstance(value, Unsupported):
        return "an object of a type that is not a tensor, array, number, string, list, tuple or dict"
    if isinstance(value, np.ndarray):
        return "a NumPy array"
    for kind, words in ((bool, "a bool"), (int, "an int"), (float, "a float"), (str, "a string"), (list, "a list"),
                        (tuple, "a tuple"), (dict, "a dict"), (type(None), "None"), (torch.Tensor, "a tensor")):
        if isinstance(value, kind):
            return words
    return "an object of another type"


def _how_many(wrong: int, total: int) -> str:
    """A count the submission controls, as one of four words (it cannot spell out a number)."""
    if wrong == total:
        return "all"
    return "most" if wrong > total / 2 else ("some" if wrong > total / 10 else "a few")


def _which_way(got: torch.Tensor, expected: torch.Tensor, wrong: torch.Tensor) -> str:
    """Where the wrong entries err, if they all err alike: a fixed phrase, or nothing."""
    g, e = got[wrong], expected[wrong]
    if torch.isclose(g, -e, rtol=1e-5, atol=1e-6).all() and (e != 0).any():
        return "; they have the wrong sign"
    if (g > e).all():
        return "; they are all too large"
    if (g < e).all():
        return "; they are all too small"
    return ""


def as_tensor(value, what: str) -> torch.Tensor:
    """The student's answer as a tensor, or a `WrongType` naming what came back instead."""
    if not isinstance(value, torch.Tensor):
        raise WrongType(f"{what} returned {describe_type(value)}; expected a torch tensor")
    return value


def assert_close(got, expected: torch.Tensor, *, what: str, rtol: float = 1e-5, atol: float = 1e-6,
                 shape_name: str | None = None) -> None:
    """Compare the student's answer with the expected tensor (computed by the test, in the grader).

    Checks the type, the shape, that the values are finite where the expected ones are, then
    ``|got - expected| <= atol + rtol |expected|`` elementwise, in float64. When the student returns a
    lower precision (float32) than the float64 expected, the tolerances grow to that precision
    (rtol and atol/max|expected| at least 100 eps of the student's dtype): the grader compares in the
    dtype the student chose. The message is in the
    grader's closed vocabulary (module docstring): the expected shape in symbols, how many
    entries are wrong in one of four words (a few, some, most, all) and, when they all err the
    same way, which way (too large, too small, wrong sign); never a value, a count or the
    shape that came back.

    Args:
        got: what ``student.call`` returned.
        expected: the right answer, any shape.
        what: how to name the call in the message, e.g. ``"gaussian_nll(x, mean)"``.
        shape_name: the expected shape in symbols, for the message, e.g. ``"(B,)"`` or ``"a scalar"``.
    """
    got = as_tensor(got, what)
    if tuple(got.shape) != tuple(expected.shape):
        dims = expected.dim()
        expected_shape = shape_name or (f"a tensor with {dims} dimension{'s' if dims != 1 else ''}" if dims else "a scalar")
        raise WrongShape(f"{what} returned a tensor of another shape; expected {expected_shape}")
    if got.is_complex() or got.dtype == torch.bool:
        raise WrongType(f"{what} returned a tensor of complex or boolean values; expected real numbers")
    got64, expected64 = got.to(torch.float64), expected.detach().to(torch.float64)
    if got.is_floating_point() and torch.finfo(got.dtype).eps > torch.finfo(expected64.dtype).eps and expected.dtype == torch.float64:
        # The student chose a lower precision (float32, the default of torch.tensor and torch.linspace) for a
        # float64 input: compare in that precision, not in float64 (issue 15). 100 eps: float32 rounding in
        # sums of ~1000 terms (a 784-pixel image) stays below it; the catalogue's float32 variants pass
        # (benchmarks/exercise_mutants.py), and no catalogued mistake is that small.
        eps = 100 * torch.finfo(got.dtype).eps
        finite = expected64[torch.isfinite(expected64)]
        scale = float(finite.abs().max()) if finite.numel() else 1.0
        rtol, atol = max(rtol, eps), max(atol, eps * scale)
    not_finite = ~torch.isfinite(got64) & torch.isfinite(expected64)
    if not_finite.any():
        how_many = _how_many(int(not_finite.sum()), got.numel())
        raise Mismatch(f"{what}: {how_many} of the values are inf or nan (is it numerically stable?)")
    wrong = ~torch.isclose(got64, expected64, rtol=rtol, atol=atol, equal_nan=True)
    if wrong.any():
        how_many = _how_many(int(wrong.sum()), got.numel())
        raise Mismatch(f"{what}: {how_many} of the values differ from the expected ones{_which_way(got64, expected64, wrong)}")


def assert_not_calling(used, function: str, forbidden: set[str]) -> None:
    """Fail if the student's `function` uses one of the `forbidden` names.

    Args:
        used: what ``student.names_used(function)`` returned: the names the function the kernel
            calls really uses, transitively through the notebook's own helpers (a frozenset).
            A string is read as the function's source (``student.source_of``, the older check
            of the ``def`` as written), and None as "no such def".
        function: the function's name, for the message.
        forbidden: names that must not appear, e.g. ``{"mse_loss", "likelihood"}``.

    Attribute names count as well as plain names: ``F.mse_loss`` and
    ``torch.nn.functional.mse_loss`` both use ``mse_loss``; a local variable named like a
    forbidden function does not (with `names_used`).
    """
    if used is None:
        raise NotDefined(f"found no `def {function}(...)` in the notebook's code cells")
    if isinstance(used, str):
        names = set()
        for node in ast.walk(ast.parse(used)):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
        used = names
    hits = set(used) & set(forbidden)
    if hits:  # names from the grader's own forbidden set: closed vocabulary
        raise ForbiddenCall(f"{function} uses {', '.join(sorted(hits))}; write it from the formula instead")


def assert_calls(used, function: str, required: set[str], what: str) -> None:
    """Fail if the student's `function` uses none of the `required` names (the exercise asks for one).

    Args:
        used: what ``student.names_used(function)`` returned (see `assert_not_calling`).
        function: the function's name, for the message.
        required: names of which at least one must be used, e.g. ``{"svd"}``.
        what: how the message names what is asked for, e.g. ``"an SVD (torch.linalg.svd)"``
            (the grader's own words: closed vocabulary).
    """
    if used is None:
        raise NotDefined(f"found no `def {function}(...)` in the notebook's code cells")
    if not set(used) & set(required):
        raise ForbiddenCall(f"{function} does not call {what}; the exercise asks for it")


class Rules:
    """What an exercise's text forbids (and requires) in each function, checked in EVERY graded test.

    A grading file makes one ``RULES = Rules({...})`` and calls the student's functions through
    ``RULES.call(student, name, *args)``: the rule is then enforced in every test of the function,
    not only in the test that happens to check it (issue 15: a submission that calls the library
    must not earn the stability point).

    Args:
        forbidden: function name -> names it must not use (`assert_not_calling`).
        required: function name -> (names of which one must be used, how to name them).
    """

    def __init__(self, forbidden: dict[str, set[str]], required: dict[str, tuple[set[str], str]] | None = None):
        self.forbidden = forbidden
        self.required = required or {}

    def check(self, student, name: str) -> None:
        if name not in self.forbidden:
            raise KeyError(f"no rule for {name!r}: every graded function needs one (an empty set if nothing is forbidden)")
        used = student.names_used(name)
        assert_not_calling(used, name, self.forbidden[name])
        if name in self.required:
            names, what = self.required[name]
            assert_calls(used, name, names, what)

    def call(self, student, name: str, *args, **kwargs):
        """``student.call(name, *args, **kwargs)`` after checking the rule for `name`."""
        self.check(student, name)
        return student.call(name, *args, **kwargs)
