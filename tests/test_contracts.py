"""The contract inventory of edu_gen (issue 12): every public function and class, and what covers it.

For each public callable of the library (not `edu_gen.grading`, not `edu_gen.cli`; module-level
functions and classes defined in the module, and the public methods a class defines itself) it
records three things:

* contract: its docstring states one, by this checkable rule: a function or method that takes
  arguments has an ``Args:`` section and a ``Raises:`` section (what is refused); one without
  arguments has a ``Returns:`` section; a class has an ``Args:`` or ``Attributes:`` section, or
  a `__init__` whose docstring has one; an error type (an Exception subclass) has a docstring.
* property: a Hypothesis test uses it: a test function decorated with ``@given`` in any
  ``tests/test_*.py``, or a module-level helper of that file which such a test calls (transitively),
  names it (``module.name`` through the file's ``edu_gen`` imports, or a name imported from its
  module; for a method, ``.method`` together with its class). Read from the files' syntax trees
  (`property_tested_names`), so a name that appears only in an ordinary test does not count.
* device: `tests/test_devices.py` runs it (a key of ``CASES`` naming it).

Every module of src/edu_gen is inventoried as soon as it exists (found on disk, `_library_modules`).
Run ``python tests/test_contracts.py`` for the table, the counts and, per module, the callables that
lack a contract and which section each lacks. The test below keeps the counts from going down: the
modules in `COMPLETE` must state every contract (its failure names each callable and what it
lacks); for the others it prints the same list (``pytest -s`` or ``-rP``) without failing.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import sys
from pathlib import Path

HERE = Path(__file__).parent


def _library_modules() -> tuple[str, ...]:
    """Every module of edu_gen, found on disk (a new module is inventoried as soon as it exists): all but
    the private ones (``_checks``, ``_compat``), the command line (``cli``) and the `grading` package."""
    import pkgutil

    folder = HERE.parent / "src" / "edu_gen"
    return tuple(sorted(m.name for m in pkgutil.iter_modules([str(folder)])
                        if not m.ispkg and not m.name.startswith("_") and m.name != "cli"))


MODULES = _library_modules()
# modules whose every public callable states its contract (grow this list, never shrink it)
COMPLETE = ("aae", "aae_model", "aae_priors", "aae_semi", "autoencoders", "contractive", "cvae", "data", "gan", "gan_model", "gan_train", "likelihood", "manifold",
            "metrics", "nonlocal_parzen", "parzen", "pixelcnn", "pixelcnn_gated", "pixelcnn_masks", "pixelcnn_sampling", "plot", "rbm", "runtime", "sample_quality", "semi_supervised", "train", "translation", "translation_train", "vae", "widgets",
            "applications", "ood_data", "translation_cgan", "translation_cycle", "translation_pix2pix", "translation_tasks")


def _has(doc: str, *sections: str) -> bool:
    return any(re.search(rf"^\s*{section}:", doc, re.M) for section in sections)


def _takes_arguments(fn) -> bool:
    try:
        parameters = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return True
    return bool([p for p in parameters if p not in ("self", "cls")])


def missing_sections(obj) -> list[str]:
    """What `obj`'s docstring lacks to state a contract by the rule above; empty when it states one."""
    doc = inspect.getdoc(obj) or ""
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return [] if doc else ["a docstring"]     # an error type: its docstring says when it is raised
    if inspect.isclass(obj):
        init = obj.__dict__.get("__init__")
        init_doc = (inspect.getdoc(init) or "") if init is not None else ""
        stated = _has(doc, "Args", "Attributes") or _has(init_doc, "Args")
        return [] if stated else ["Args or Attributes (in the class or __init__ docstring)"]
    if not doc:
        return ["a docstring"]
    if _takes_arguments(obj):
        return [section for section in ("Args", "Raises") if not _has(doc, section)]
    return [] if _has(doc, "Returns") else ["Returns"]


def states_contract(obj) -> bool:
    return not missing_sections(obj)


def _is_given(decorator: ast.expr) -> bool:
    """``@given(...)`` or ``@hypothesis.given(...)``."""
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return (isinstance(target, ast.Name) and target.id == "given") or (
        isinstance(target, ast.Attribute) and target.attr == "given")


def _edu_gen_imports(tree: ast.Module) -> tuple[dict[str, str], dict[str, str]]:
    """(local name -> edu_gen module, local name -> "module.name") from a file's imports: ``from edu_gen
    import vae as V``, ``import edu_gen.data`` (local name "edu_gen.data"), ``from edu_gen.vae import elbo``."""
    modules: dict[str, str] = {}
    objects: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "edu_gen":
            for alias in node.names:
                modules[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("edu_gen."):
            module_name = node.module.split(".", 1)[1]
            for alias in node.names:
                objects[alias.asname or alias.name] = f"{module_name}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("edu_gen.") and alias.name.count(".") == 1:
                    modules[alias.asname or alias.name] = alias.name.split(".", 1)[1]
    return modules, objects


def _dotted(node: ast.expr) -> list[str] | None:
    """``a.b.c`` -> ["a", "b", "c"]; None for anything that is not a chain of names."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def property_tested_names(folder: Path = HERE) -> set[str]:
    """What the Hypothesis tests of `folder`'s ``test_*.py`` files use: ``"module.name"`` and
    ``"module.Class.attribute"`` for the library names they reach through their imports, and
    ``".attribute"`` for every attribute they access (a method called on an instance: its type is not
    known from the source). The tests read are the ``@given`` functions and the module-level helpers they
    call, transitively."""
    found: set[str] = set()
    for path in sorted(folder.glob("test_*.py")):
        source = path.read_text()
        if "given" not in source:
            continue
        tree = ast.parse(source)
        modules, objects = _edu_gen_imports(tree)
        helpers = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
        todo = [node for node in ast.walk(tree)
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(map(_is_given, node.decorator_list))]
        read: set[int] = set()
        while todo:
            function = todo.pop()
            if id(function) in read:
                continue
            read.add(id(function))
            for node in ast.walk(function):
                if isinstance(node, ast.Name) and node.id in helpers:
                    todo.append(helpers[node.id])
                if isinstance(node, ast.Attribute):
                    found.add(f".{node.attr}")
                chain = _dotted(node) if isinstance(node, (ast.Attribute, ast.Name)) else None
                if not chain:
                    continue
                if chain[0] == "edu_gen" and len(chain) >= 3:          # import edu_gen.data; edu_gen.data.f
                    chain = [f"edu_gen.{chain[1]}", *chain[2:]]
                if chain[0] in modules and len(chain) >= 2:
                    found.update(".".join([modules[chain[0]], *chain[1:k]]) for k in (2, 3) if k <= len(chain))
                elif chain[0] in objects:
                    found.update(".".join([objects[chain[0]], *chain[1:k]]) for k in (1, 2) if k <= len(chain))
    return found


UNIMPORTABLE: dict[str, str] = {}  # module -> why it did not import (filled by `inventory`)


def inventory() -> list[dict]:
    """One row per public callable: name, kind, contract, missing, property, device (modules that fail to
    import are left out and named in `UNIMPORTABLE`)."""
    tested = property_tested_names()
    devices = (HERE / "test_devices.py").read_text()
    case_names = re.findall(r'^\s*"([\w.]+)[^"]*": lambda', devices, re.M)
    rows = []
    for module_name in MODULES:
        try:
            module = importlib.import_module(f"edu_gen.{module_name}")
        except Exception as error:  # noqa: BLE001 - reported by the test, with the reason
            UNIMPORTABLE[module_name] = f"{type(error).__name__}: {error}"
            continue
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
                    in_properties = full in tested
                else:
                    method = qualname.split(".")[-1]
                    in_properties = f"{module_name}.{owner}" in tested and f".{method}" in tested
                rows.append({
                    "name": full,
                    "kind": "class" if inspect.isclass(member) else ("method" if owner else "function"),
                    "contract": states_contract(member),
                    "missing": missing_sections(member),
                    "property": in_properties,
                    "device": full in case_names,
                })
    return rows


def counts(rows: list[dict]) -> dict[str, int]:
    return {"public": len(rows), **{key: sum(r[key] for r in rows) for key in ("contract", "property", "device")}}


def lacking(rows: list[dict], modules) -> dict[str, list[str]]:
    """module -> ["name (lacks Args, Raises)", ...] for the callables of `modules` without a stated contract."""
    report: dict[str, list[str]] = {}
    for r in rows:
        module_name = r["name"].split(".")[0]
        if module_name in modules and r["missing"]:
            report.setdefault(module_name, []).append(f"{r['name']} (lacks {', '.join(r['missing'])})")
    return report


def test_the_inventory_counts_and_complete_modules():
    rows = inventory()
    total = counts(rows)
    print("\ncontract inventory:", total)
    assert not UNIMPORTABLE, f"modules of edu_gen that do not import: {UNIMPORTABLE}"
    assert total["public"] > 100                  # measured 160 callables; a broken listing would find few
    incomplete = lacking(rows, [m for m in MODULES if m not in COMPLETE])
    for module_name, names in incomplete.items():   # not yet complete: reported (pytest -s or -rP), not failed
        print(f"module {module_name} is not in COMPLETE; {len(names)} callables lack a contract: {'; '.join(names)}")
    missing = lacking(rows, COMPLETE)
    assert not missing, "modules listed in COMPLETE with public callables that do not state a contract:\n" + "\n".join(
        f"  {module_name}: {'; '.join(names)}" for module_name, names in missing.items())


def test_complete_lists_only_inventoried_modules():
    assert set(COMPLETE) <= set(MODULES), f"COMPLETE names modules that do not exist: {sorted(set(COMPLETE) - set(MODULES))}"
    assert {"data", "vae", "likelihood"} <= set(MODULES) and "cli" not in MODULES   # the listing finds the library


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
    assert missing_sections(partial) == ["Raises"] and missing_sections(lambda x: x) == ["a docstring"]


def test_the_property_column_reads_only_hypothesis_tests_and_their_helpers(tmp_path):
    (tmp_path / "test_example.py").write_text(
        "from hypothesis import given, strategies as st\n"
        "from edu_gen import vae as V\n"
        "from edu_gen.likelihood import bernoulli_nll as nll\n"
        "import edu_gen.data\n"
        "def helper(x):\n"
        "    return V.elbo(x)\n"
        "def unused_helper(x):\n"
        "    return V.iwae_log_likelihood(x)\n"
        "@given(st.integers())\n"
        "def test_a(x):\n"
        "    helper(x), nll(x), edu_gen.data.shapes(), V.VAE(x).negative_elbo(x)\n"
        "def test_plain():\n"
        "    V.reparameterize(1)\n")
    found = property_tested_names(tmp_path)
    assert {"vae.elbo", "likelihood.bernoulli_nll", "data.shapes", "vae.VAE", ".negative_elbo"} <= found, found
    # named only in an ordinary test, or in a helper no Hypothesis test calls: not property-tested
    assert "vae.reparameterize" not in found and "vae.iwae_log_likelihood" not in found, found


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
    for module_name, names in lacking(rows, MODULES).items():
        print(f"\n{module_name}: {len(names)} without a contract" + (" (in COMPLETE!)" if module_name in COMPLETE else ""))
        for line in names:
            print("  ", line)
