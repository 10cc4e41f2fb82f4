"""Shared argument checks: one message form for every config field and numeric argument.

`number` accepts a number of any numeric kind (a Python int or float, a NumPy scalar, a 0-d NumPy
array or a 0-d torch tensor) and returns a plain Python ``int`` or ``float``; it refuses ``bool``
(not a number, though Python counts it as an int), strings and tensors with more than one value
with a TypeError, and NaN, infinities and values outside the stated range with a ValueError. Each
message names the argument, what was expected and what came.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"{value!r} ({type(value).__name__})"


def number(
    value,
    name: str,
    expected: str,
    *,
    integer: bool | None = False,
    minimum: float | None = None,
    strict: bool = False,
    maximum: float | None = None,
    finite: bool = True,
) -> int | float:
    """`value` as a Python int (``integer=True``) or float, or a clear error.

    Args:
        value: the number given.
        name: the argument's name, for the message.
        expected: what the argument must be, in words, e.g. ``"an int >= 1 (the size of z)"``; the
            message reads "{name} must be {expected}, got ...".
        integer: True requires an integer kind (int, NumPy integer, integer tensor); floats are
            refused even when whole, as a float where a count is meant is most likely a slip.
            False converts to float. None keeps the kind: an int for integer kinds, else a float.
        minimum: the smallest allowed value (excluded when ``strict``); None for no bound.
        strict: whether `minimum` itself is refused.
        maximum: the largest allowed value (included); None for no bound.
        finite: refuse NaN and infinities.

    Returns:
        int or float.

    Raises:
        TypeError: a bool, a non-number, or a tensor/array with other than one value (0-d).
        ValueError: NaN or an infinity (with ``finite``), or outside [minimum, maximum].
    """
    def fail(error=ValueError):
        raise error(f"{name} must be {expected}, got {_describe(value)}")

    item = value
    if isinstance(value, (torch.Tensor, np.ndarray)):
        if value.ndim != 0:
            fail(TypeError)
        if value.dtype in (torch.bool, np.bool_):
            fail(TypeError)
        item = value.item()
    if isinstance(item, (bool, np.bool_)) or not isinstance(item, numbers.Real):
        fail(TypeError)
    if integer is None:
        integer = isinstance(item, numbers.Integral)
    if integer:
        if not isinstance(item, numbers.Integral):
            fail(TypeError)
        item = int(item)
    else:
        item = float(item)
        if finite and not math.isfinite(item):
            fail(ValueError)
    if minimum is not None and (item < minimum or (strict and item == minimum)):
        fail(ValueError)
    if maximum is not None and item > maximum:
        fail(ValueError)
    return item


def unit_interval(x: torch.Tensor, requirement: str) -> None:
    """Refuse a tensor with a value outside [0, 1], or a NaN (every comparison with NaN is false).

    Args:
        x: any tensor; an empty one, or one on the ``meta`` device (no values), passes.
        requirement: the start of the message, e.g. ``"bernoulli_nll: x must hold values"``; it
            reads "{requirement} in [0, 1], got ...".

    Raises:
        ValueError: with the range found, or the number of NaN entries.
    """
    if x.numel() == 0 or x.device.type == "meta":
        return
    if x.is_floating_point():
        lo, hi = torch.aminmax(x)            # one pass over x, no boolean temporaries
        if bool((lo >= 0) & (hi <= 1)):      # one sync; False when x holds a NaN: aminmax propagates it
            return
    elif bool(((x >= 0) & (x <= 1)).all()):  # integers and bools: aminmax has no bool kernel
        return
    nan = int(torch.isnan(x).sum())
    if nan:
        raise ValueError(f"{requirement} in [0, 1], got {nan} NaN entries (of {x.numel()})")
    lo, hi = x.min().item(), x.max().item()
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"{requirement} in [0, 1], got values in [{lo:.3g}, {hi:.3g}]")
