"""The contract inventory of edu_gen (issue 12): every public function and class, and what covers it.

For each public callable of the library (not `edu_gen.grading`, not `edu_gen.cli`; module-level
functions and classes defined in the module, and the public methods a class defines itself) it
records three things:

* contract: its docstring states one, by this checkable rule: a function or method that takes
  arguments has an ``Args:`` section and a ``Raises:`` section (what is refused); one without
  arguments has a ``Returns:`` section; a class has an ``Args:`` or ``Attributes:`` section, or
  a `__init__` whose docstring has one; an error type (an Exception subclass) has a docstring.
* property: `tests/test_properties.py` names it (``module.name``, or for a method
  ``.method(`` together with its class).
* device: `tests/test_devices.py` runs it (a key of ``CASES`` naming it).

Run ``python tests/test_contracts.py`` for the table and the counts. The test below keeps the
counts from going down: the modules in `COMPLETE` must state every contract.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path

HERE = Path(__file__).parent
MODULES = ("autoencoders", "contractive", "data", "likelihood", "manifold", "metrics", "parzen", "plot", "rbm",
           "runtime", "train", "vae", "widgets")
# modules whose every public callable states its contract (grow this list, never shrink it)
COMPLETE = ("autoencoders", "contractive", "likelihood", "manifold", "metrics", "parzen", "plot", "rbm", "runtime", "train",
            "vae", "widgets")


def _has(doc: str, *sections: str) -> bool:
    return any(re.search(rf"^\s*{section}:", doc, re.M) for section in sections)


def _takes_arguments(fn) -> bool:
    try:
        parameters = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return True
    return bool([p for p in parameters if p not in ("self", "cls")])


def states_contract(obj) -> bool:
    doc = inspect.getdoc(obj) or ""
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return bool(doc)                         # an error type: its docstring says when it is raised
    if inspect.isclass(obj):
        init = obj.__dict__.get("__init__")
        init_doc = (inspect.getdoc(init) or "") if init is not None else ""
        return _has(doc, "Args", "Attributes") or _has(init_doc, "Args")
    if not doc:
        return False
    if _takes_arguments(obj):
        return _has(doc, "Args") and _has(doc, "Raises")
    return _has(doc, "Returns")


def inventory() -> list[dict]:
    """One row per public callable: name, kind, contract, property, device."""
    properties = (HERE / "test_properties.py").read_text()
    devices = (HERE / "test_devices.py").read_text()
    case_names = re.findall(r'^\s*"([\w.]+)[^"]*": lambda', devices, re.M)
    rows = []
    for module_name in MODULES:
        module = importlib.import_module(f"edu_gen.{module_name}")
        for name, obj in vars(module).items():
            if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if getattr(obj, "__module__", None) != module.__name__:
                continue                                                     # imported, not defined here
            entries = [(name, obj, None)]
            if inspect.isclass(obj):
                for method_name, method in vars(obj).items():
                    if not method_name.startswith("_") and inspect.isfunction(method):
                        entries.append((f"{name}.{method_name}", method, name))
            for qualname, member, owner in entries:
                full = f"{module_name}.{qualname}"
                if owner is None:
                    in_properties = re.search(rf"\b{re.escape(full)}\b", properties) is not None
                else:
                    method = qualname.split(".")[-1]
                    in_properties = f".{method}(" in properties and f"{module_name}.{owner}" in properties
                rows.append({
                    "name": full,
                    "kind": "class" if inspect.isclass(member) else ("method" if owner else "function"),
                    "contract": states_contract(member),
                    "property": in_properties,
                    "device": full in case_names,
                })
    return rows


def counts(rows: list[dict]) -> dict[str, int]:
    return {"public": len(rows), **{key: sum(r[key] for r in rows) for key in ("contract", "property", "device")}}


def test_the_inventory_counts_and_complete_modules():
    rows = inventory()
    total = counts(rows)
    print("\ncontract inventory:", total)
    assert total["public"] > 100                  # measured 160 callables; a broken listing would find few
    missing = [r["name"] for r in rows if r["name"].split(".")[0] in COMPLETE and not r["contract"]]
    assert not missing, f"public callables without a stated contract (Args + Raises) in {COMPLETE}: {missing}"


def test_the_contract_rule_tells_a_stated_contract_from_a_missing_one():
    def stated(x):
        """Do it.

        Args:
            x: a thing.

        Raises:
            ValueError: x is bad.
        """

    def partial(x):
        """Do it.

        Args:
            x: a thing.
        """

    assert states_contract(stated) and not states_contract(partial) and not states_contract(lambda x: x)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent / "src"))
    rows = inventory()
    for r in rows:
        print(f"{r['name']:55s} {r['kind']:8s} contract {'yes' if r['contract'] else '-':3s} "
              f"property {'yes' if r['property'] else '-':3s} device {'yes' if r['device'] else '-'}")
    total = counts(rows)
    by_module = {}
    for r in rows:
        m = by_module.setdefault(r["name"].split(".")[0], [0, 0, 0, 0])
        m[0] += 1
        m[1] += r["contract"]
        m[2] += r["property"]
        m[3] += r["device"]
    print()
    for module_name, (n, c, p, d) in by_module.items():
        print(f"{module_name:14s} public {n:3d}  contract {c:3d}  property {p:3d}  device {d:3d}")
    print("total:", total)
