"""What grading tests assert with, and the kinds of problem a student is told about.

A grading test computes the expected value itself (usually with `edu_gen.likelihood` or
autograd, the same oracles the library's own tests use), gets the student's value through
``student.call(...)``, and compares the two here, in the grader's process.

Every failure a student sees is a `Problem`: its class names the *kind* of error ("wrong
values", "wrong shape", "your function raised ValueError") and its message is written to be
shown as is. A message may describe shapes and counts but never an input or an expected value:
tests reuse their hidden inputs, and a student who saw them could hard-code the answers.

Anything else a test raises (a bare ``assert``, a bug in the test) is reported only by its type,
or by the test author's own assertion message (the grader runs pytest with ``--assert=plain``,
so pytest adds no values to it).
"""

from __future__ import annotations

import ast
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


def describe_type(value) -> str:
    if isinstance(value, Unsupported):
        return f"an object of type {value.type_name}"
    if isinstance(value, np.ndarray):
        return "a NumPy array"
    return f"a {type(value).__name__}"


def as_tensor(value, what: str) -> torch.Tensor:
    """The student's answer as a tensor, or a `WrongType` naming what came back instead."""
    if not isinstance(value, torch.Tensor):
        raise WrongType(f"{what} returned {describe_type(value)}; expected a torch tensor")
    return value


def assert_close(got, expected: torch.Tensor, *, what: str, rtol: float = 1e-5, atol: float = 1e-6,
                 shape_name: str | None = None) -> None:
    """Compare the student's answer with the expected tensor (computed by the test, in the grader).

    Checks the type, the shape, that the values are finite where the expected ones are, then
    ``|got - expected| <= atol + rtol |expected|`` elementwise, in float64. The message says how
    many entries are wrong, never which values were expected.

    Args:
        got: what ``student.call`` returned.
        expected: the right answer, any shape.
        what: how to name the call in the message, e.g. ``"gaussian_nll(x, mean)"``.
        shape_name: the expected shape in symbols, for the message, e.g. ``"(B,)"`` or ``"a scalar"``.
    """
    got = as_tensor(got, what)
    if tuple(got.shape) != tuple(expected.shape):
        expected_shape = f"{shape_name} = {tuple(expected.shape)}" if shape_name else str(tuple(expected.shape))
        raise WrongShape(f"{what} returned shape {tuple(got.shape)}; expected {expected_shape}")
    if got.is_complex() or got.dtype == torch.bool:
        raise WrongType(f"{what} returned a tensor of dtype {got.dtype}; expected real numbers")
    got64, expected64 = got.to(torch.float64), expected.detach().to(torch.float64)
    not_finite = ~torch.isfinite(got64) & torch.isfinite(expected64)
    if not_finite.any():
        raise Mismatch(f"{what}: {int(not_finite.sum())} of {got.numel()} values are inf or nan (is it numerically stable?)")
    wrong = ~torch.isclose(got64, expected64, rtol=rtol, atol=atol, equal_nan=True)
    if wrong.any():
        raise Mismatch(f"{what}: {int(wrong.sum())} of {got.numel()} values differ from the expected ones")


def assert_not_calling(source: str | None, function: str, forbidden: set[str]) -> None:
    """Fail if the student's ``def function`` uses one of the `forbidden` names.

    `source` is the function's source as written in the notebook (``student.source_of``),
    read by the grader, not by the kernel. Attribute names count too: ``F.mse_loss`` and
    ``torch.nn.functional.mse_loss`` both use ``mse_loss``.
    """
    if source is None:
        raise NotDefined(f"found no `def {function}(...)` in the notebook's code cells")
    used = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.Attribute):
            used.add(node.attr)
    if used & forbidden:
        names = ", ".join(sorted(used & forbidden))
        raise ForbiddenCall(f"{function} uses {names}; write it from the formula instead")
