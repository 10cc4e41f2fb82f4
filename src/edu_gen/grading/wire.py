"""How values cross between the grader and a student's kernel: JSON, tensors as nested lists.

The grader sends the *inputs* of a call (never an expected value) and gets the return value back
as JSON text, which it parses itself. Nothing the kernel sends back is executed or unpickled, so
a submission cannot hand the grader an object with a rigged ``__eq__`` or a patched comparison:
whatever comes back is numbers, strings and lists, rebuilt into fresh tensors by the grader.

Encoding (both directions)::

    torch.Tensor    {"__tensor__":  {"dtype": "float32", "shape": [2, 3], "data": [[...], [...]]}}
    numpy.ndarray   {"__ndarray__": {...same fields...}}
    tuple           {"__tuple__": [...]}
    dict            {"__dict__": {"key": ...}}      (string keys only)
    None, bool, int, float, str, list   as themselves (NaN and infinities as JSON's NaN/Infinity)
    anything else   {"__unsupported__": "TypeName"}   (the grader reports it as a wrong type)

`kernel_call` is the one function that runs inside the student's kernel: it decodes the
arguments, calls the student's function and publishes the encoded result as a display message
of type `MIME`.
"""

from __future__ import annotations

import json

import numpy as np
import torch

MIME = "application/vnd.edu-gen.result+json"
DTYPES = {
    "float64": torch.float64,
    "float32": torch.float32,
    "float16": torch.float16,
    "int64": torch.int64,
    "int32": torch.int32,
    "int16": torch.int16,
    "uint8": torch.uint8,
    "bool": torch.bool,
}
MAX_DEPTH = 32  # nesting of lists/dicts; a tensor's own nesting is checked against its shape


class WireError(ValueError):
    """The JSON does not follow the encoding above (a malformed or hostile answer)."""


def encode(value, _depth: int = 0):
    """A Python value -> a JSON-able structure (see the module docstring)."""
    if _depth > MAX_DEPTH:
        return {"__unsupported__": "nesting too deep"}
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu()
        return {"__tensor__": _array_fields(str(tensor.dtype).removeprefix("torch."), list(tensor.shape), tensor)}
    if isinstance(value, np.ndarray):
        return {"__ndarray__": _array_fields(str(value.dtype), list(value.shape), value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):  # a NumPy scalar such as np.float64(1.5)
        return value.item()
    if isinstance(value, list):
        return [encode(v, _depth + 1) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, _depth + 1) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: encode(v, _depth + 1) for k, v in value.items()}}
    return {"__unsupported__": type(value).__name__}


def _array_fields(dtype: str, shape: list[int], array) -> dict:
    if dtype not in DTYPES:  # bfloat16, complex, object arrays: reported as unsupported
        return {"dtype": dtype, "shape": shape, "data": None}
    return {"dtype": dtype, "shape": shape, "data": array.tolist()}


def decode(obj, _depth: int = 0):
    """The reverse of `encode`, done defensively: the input may come from a hostile kernel.

    Raises:
        WireError: for anything that does not follow the encoding.
    """
    if _depth > MAX_DEPTH:
        raise WireError("nesting too deep")
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, list):
        return [decode(v, _depth + 1) for v in obj]
    if not isinstance(obj, dict) or len(obj) != 1:
        raise WireError("expected a one-key object")
    (tag, body), = obj.items()
    if tag in ("__tensor__", "__ndarray__"):
        tensor = _decode_array(body)
        return tensor.numpy() if tag == "__ndarray__" and isinstance(tensor, torch.Tensor) else tensor
    if tag == "__tuple__" and isinstance(body, list):
        return tuple(decode(v, _depth + 1) for v in body)
    if tag == "__dict__" and isinstance(body, dict):
        return {str(k): decode(v, _depth + 1) for k, v in body.items()}
    if tag == "__unsupported__":
        return Unsupported(str(body)[:80])
    raise WireError(f"unknown tag {tag[:40]!r}")


def _decode_array(body) -> "torch.Tensor | Unsupported":
    if not isinstance(body, dict) or set(body) != {"dtype", "shape", "data"}:
        raise WireError("an array needs exactly dtype, shape and data")
    dtype, shape, data = body["dtype"], body["shape"], body["data"]
    if not isinstance(shape, list) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise WireError("the shape must be a list of non-negative integers")
    if dtype not in DTYPES or data is None:
        return Unsupported(f"array of dtype {str(dtype)[:20]}")
    _check_nesting(data, shape)
    tensor = torch.tensor(data, dtype=DTYPES[dtype])
    return tensor.reshape(shape)


def _check_nesting(data, shape: list[int]) -> None:
    """Refuse ragged or mistyped nested lists before torch sees them."""
    if not shape:
        if isinstance(data, list) or not isinstance(data, (int, float, bool)):
            raise WireError("an array element must be a number")
        return
    if not isinstance(data, list) or len(data) != shape[0]:
        raise WireError("the nested lists do not match the shape")
    for item in data:
        _check_nesting(item, shape[1:])


class Unsupported:
    """Stands in for a value the kernel could not encode (an object of some other type)."""

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<unsupported {self.type_name}>"


def dumps(value) -> str:
    """Encode and serialise; NaN and infinities are allowed (JSON's NaN/Infinity tokens)."""
    return json.dumps(encode(value), allow_nan=True)


def loads(text: str):
    """Parse and decode a JSON text (Python's parser: no code is run)."""
    try:
        return decode(json.loads(text))
    except (json.JSONDecodeError, RecursionError, TypeError, ValueError) as error:
        raise WireError(str(error)[:200]) from None


def kernel_call(name: str, payload: str) -> None:
    """Runs INSIDE the student's kernel: call ``name(*args, **kwargs)`` and publish the result.

    Publishes exactly one display message of type `MIME` whose text is JSON, one of
    ``{"ok": <encoded value>}``, ``{"raised": {"type": ..., "message": ...}}`` or
    ``{"missing": true}``. The student can tamper with all of this; the grader treats it as
    untrusted data either way.
    """
    from IPython import get_ipython
    from IPython.display import display

    namespace = get_ipython().user_ns
    if not callable(namespace.get(name)):
        answer = {"missing": True}
    else:
        try:
            call = loads(payload)
            value = namespace[name](*call["args"], **call["kwargs"])
            answer = {"ok": encode(value)}
        except BaseException as error:  # noqa: BLE001 - a KeyboardInterrupt from a timeout, too
            answer = {"raised": {"type": type(error).__name__, "message": str(error)[:500]}}
    try:
        text = json.dumps(answer, allow_nan=True)
    except (TypeError, ValueError) as error:
        text = json.dumps({"raised": {"type": "EncodingError", "message": str(error)[:200]}})
    display({MIME: text}, raw=True)



def names_used(function, namespace: dict, limit: int = 2000) -> list[str]:
    """Every name `function` may call, following what it really calls, not what its source says.

    Runs INSIDE the student's kernel (through `kernel_names`), on the object the grader would
    call. It reads code objects, so a ``def`` rebound later, a decorator, a ``def`` inside
    ``if True:``, a swapped ``__code__`` or a cell that starts with ``%%time`` are all seen as
    they run. Collected:

    - the global and attribute names each code object loads (``co_names``: ``F.mse_loss`` gives
      ``F`` and ``mse_loss``; ``from edu_gen import likelihood as L`` gives ``edu_gen`` and
      ``likelihood``); local variables (``co_varnames``) are not calls and do not count;
    - for a global name bound to something callable or a module: its ``__name__`` too (so
      ``mse = F.mse_loss`` at the top of the notebook shows as ``mse_loss`` where ``mse`` is used);
    - transitively, the same for every function, class (its methods), instance of such a class
      and closure cell defined in the notebook (``__module__ == "__main__"``) that it reaches.

    Returns:
        The names, sorted; at most `limit` of them.
    """
    import types

    found: set[str] = set()
    seen: set[int] = set()
    stack = [function]
    while stack and len(found) < limit:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, type):
            if getattr(item, "__module__", None) == "__main__":
                stack.extend(v for v in vars(item).values())
            continue
        if isinstance(item, (staticmethod, classmethod)):
            stack.append(item.__func__)
            continue
        if isinstance(item, property):
            stack.extend(f for f in (item.fget, item.fset, item.fdel) if f is not None)
            continue
        code = getattr(item, "__code__", None)
        if not isinstance(code, types.CodeType):
            continue
        globals_ = getattr(item, "__globals__", namespace)
        for cell in getattr(item, "__closure__", None) or ():
            try:
                stack.append(cell.cell_contents)
            except ValueError:  # an empty cell
                pass
        codes = [code]
        while codes:
            current = codes.pop()
            for name in current.co_names:
                found.add(name)
                target = globals_.get(name)
                if target is None:
                    continue
                if isinstance(target, (types.FunctionType, type)) and getattr(target, "__module__", None) == "__main__":
                    stack.append(target)
                elif getattr(type(target), "__module__", None) == "__main__":  # an instance of a notebook class
                    stack.append(type(target))
                elif callable(target) or isinstance(target, types.ModuleType):
                    real = getattr(target, "__name__", None)
                    if isinstance(real, str):
                        found.add(real.rsplit(".", 1)[-1])
            codes.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    return sorted(found)[:limit]


def kernel_names(name: str) -> None:
    """Runs INSIDE the student's kernel: publish `names_used` of the function ``name``.

    Publishes one display message of type `MIME`: ``{"ok": [names]}``, ``{"missing": true}``, or
    ``{"raised": ...}`` if the inspection itself failed. Like every answer, untrusted.
    """
    from IPython import get_ipython
    from IPython.display import display

    namespace = get_ipython().user_ns
    if not callable(namespace.get(name)):
        answer = {"missing": True}
    else:
        try:
            answer = {"ok": names_used(namespace[name], namespace)}
        except BaseException as error:  # noqa: BLE001
            answer = {"raised": {"type": type(error).__name__, "message": ""}}
    display({MIME: json.dumps(answer)}, raw=True)
