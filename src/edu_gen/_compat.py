"""The one place that imports torchvision.

Why this module exists: the torchvision wheel on PyPI is built against CUDA torch. Next to a
CPU-only torch (the build this project pins for its own CPU machines), its compiled operator
library ``torchvision/_C.so`` cannot load. torchvision notices that and disables its detection
operators (``nms``, ``roi_align``, ...), but two lines of ``torchvision/_meta_registrations.py``
still register fake kernels for ``torchvision::nms`` and ``torchvision::qnms`` unconditionally,
and ``import torchvision`` dies with ``RuntimeError: operator torchvision::nms does not exist``.

The fix: when (and only when) that happens, declare the missing operator *schemas* so those
registrations succeed, then import again. Nothing gets a kernel: the detection operators stay
unavailable, and calling one raises torchvision's own "Couldn't load custom C++ ops" error.
Everything this book uses — datasets, ``transforms.v2`` and ``utils.make_grid`` — is pure
Python on top of torch and works. Where torch and torchvision match (Google Colab, a CUDA
machine, a CPU build of both) this is a plain ``import torchvision``.

Everything else in edu_gen imports torchvision objects from here::

    from edu_gen._compat import torchvision, datasets, transforms, make_grid
"""

from __future__ import annotations

import re
import sys

import torch

# Schemas of the operators that torchvision registers without checking that its library loaded.
# Copied from torchvision's C++ sources (csrc/ops/nms.cpp); both take boxes, scores, threshold.
_UNGUARDED_OPERATOR_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}

# Kept alive for the whole process: dropping a torch.library.Library deletes its definitions.
_placeholder_library = None

#: True when torchvision's compiled operators are missing and placeholders were declared.
OPERATORS_MISSING = False


def _forget_partial_import() -> None:
    """Remove the half-imported torchvision modules so that the next import starts afresh."""
    for name in list(sys.modules):
        if name == "torchvision" or name.startswith("torchvision."):
            del sys.modules[name]


def _declare_placeholders(missing: str) -> None:
    global _placeholder_library, OPERATORS_MISSING
    if missing not in _UNGUARDED_OPERATOR_SCHEMAS:
        raise ImportError(
            f"torchvision failed to import because operator torchvision::{missing} is missing, "
            "and edu_gen._compat only knows how to stand in for "
            f"{sorted(_UNGUARDED_OPERATOR_SCHEMAS)}. Install a torchvision that matches torch "
            f"{torch.__version__} (for example the pair that `pip install -r requirements.txt` picks)."
        )
    _placeholder_library = torch.library.Library("torchvision", "DEF")
    for schema in _UNGUARDED_OPERATOR_SCHEMAS.values():
        _placeholder_library.define(schema)
    OPERATORS_MISSING = True


def _import_torchvision():
    try:
        import torchvision

        return torchvision
    except RuntimeError as error:
        found = re.search(r"operator torchvision::(\w+) does not exist", str(error))
        if found is None:
            raise
        _forget_partial_import()
        _declare_placeholders(found.group(1))
    import torchvision

    return torchvision


torchvision = _import_torchvision()

from torchvision import datasets  # noqa: E402
from torchvision.transforms import v2 as transforms  # noqa: E402
from torchvision.utils import make_grid  # noqa: E402

__all__ = ["torchvision", "datasets", "transforms", "make_grid", "OPERATORS_MISSING"]
