"""One check shared by the tests of the library's split modules: a facade module (``edu_gen.gan``,
``edu_gen.translation``) must re-export every public name of the modules its code was split into."""

from __future__ import annotations

import inspect
from types import ModuleType


def public_names(module: ModuleType) -> list[str]:
    """The public constants (UPPER_CASE, not modules) and the functions and classes `module` defines itself."""
    return [name for name, obj in vars(module).items() if not name.startswith("_") and (
        (name.isupper() and not inspect.ismodule(obj)) or
        ((inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__))]


def missing_reexports(facade: ModuleType, module: ModuleType, at_least: int) -> list[str]:
    """The public names of `module` that `facade` does not carry as the same object; fails when `module` has fewer
    than `at_least` public names (a listing that finds nothing would make every facade look complete)."""
    public = public_names(module)
    assert len(public) >= at_least, f"{module.__name__}: only {public} found public"
    return [name for name in public if getattr(facade, name, None) is not getattr(module, name)]
