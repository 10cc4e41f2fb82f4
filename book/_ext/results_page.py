"""The Results page: every measured number of the book, generated at build time, nothing typed.

Two directives, used in ``book/results.md``:

``{results-benchmarks}``
    One section per file in ``benchmarks/results/``: the file's header comments (what was
    measured, the date, the machine, the command, the load average while it ran) and the fields
    of the JSON object on its last line (the benchmark's contract), or its table when it has no
    JSON line. A benchmark script with no result file is listed as *missing*; a result file
    whose script's code (docstrings and comments aside), or a file the script reads (``INPUTS``),
    changed since the commit that wrote the result as *stale*.

``{results-execution}``
    One row per chapter: the seconds its notebook took to execute for this build (from myst-nb's
    execution cache), when it ran, and the scale and data source of the build (the execution
    cache's key), so the chapters' time budgets can be read off the book itself.

Both are filled in after every page has been read (``doctree-resolved``), and the page is
rebuilt on every build (``env-get-outdated``), so it never shows an earlier build's figures.
Registered in _config.yml under ``sphinx: local_extensions:``.
"""

from __future__ import annotations

import ast
import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

PAGE = "book/results"
NOT_BENCHMARKS = {"exercise_mistakes"}  # a catalogue that exercise_mutants.py reads, not a benchmark
# Files a benchmark reads besides its own code: a change in one makes its results stale too.
INPUTS = {"exercise_mutants": ("benchmarks/exercise_mistakes.py",),
          "vae_vs_examples": ("src/edu_gen/vae.py",),  # the book's recipe is read from edu_gen.vae
          # the VAE chapter's main model (recipe and budget in edu_gen.vae) is trained or loaded by each of these
          "vae_mnist": ("src/edu_gen/vae.py",),
          "semi_supervised_mnist": ("src/edu_gen/vae.py", "src/edu_gen/semi_supervised.py"),  # M1's recipe and loader
          "compare_families": ("src/edu_gen/vae.py",),
          "latent_layout_stability": ("src/edu_gen/vae.py",),   # the VAE chapter's compared models, from any seed
          "pixelcnn_mnist": ("benchmarks/results/vae_mnist.txt",),  # its VAE row is read from that result
          "autoencoder_variants": ("src/edu_gen/autoencoders.py", "src/edu_gen/contractive.py"),  # its models and losses
          # the book's recipes are read from the library (H48's suggestion)
          "dcgan_vs_examples": ("src/edu_gen/gan_train.py", "src/edu_gen/gan_model.py"),
          "pixelcnn_vs_examples": ("src/edu_gen/pixelcnn.py", "src/edu_gen/pixelcnn_gated.py"),
          # the grader it times: a change in how it runs a notebook changes the times and may change the scores
          "grading_batch": tuple(f"src/edu_gen/grading/{name}.py" for name in ("grade", "submission", "kernel", "sandbox",
                                                                                "plugin", "processes", "wire"))}


class _Placeholder(nodes.General, nodes.Element):
    """Replaced at doctree-resolved by the table it names (``kind``)."""


class _BenchmarksDirective(SphinxDirective):
    def run(self):
        return [_Placeholder(kind="benchmarks")]


class _ExecutionDirective(SphinxDirective):
    def run(self):
        return [_Placeholder(kind="execution")]


# ---------------------------------------------------------------------------------------------
# reading the result files


def _git(root: Path, *args: str) -> str | None:
    """Output of a git command in `root`, or None (no git, not a repository, or an error)."""
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def _code_of(source: str) -> str | None:
    """The script's code without its docstrings and comments (an AST dump), or None if it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def _changed_since(root: Path, commit: str, path: Path) -> bool:
    """Whether `path` differs from its state at `commit`: for a Python file its code (docstrings and comments
    aside), for any other file (another benchmark's result) its text."""
    then = _git(root, "show", f"{commit}:{path.relative_to(root).as_posix()}")
    if then is None:
        return True  # the file did not exist when the result was written
    now = path.read_text(encoding="utf-8")
    if path.suffix != ".py":
        return then != now
    return _code_of(then) != _code_of(now)


def is_stale(root: Path, script: Path, result: Path) -> bool | None:
    """Whether the script's code, or a file it reads (`INPUTS`), changed since the commit that last wrote `result`.

    Docstrings and comments do not count; each file as it is now (working tree) is compared
    with the same file at that commit. None when it cannot be told (no git history for the result).
    """
    commit = (_git(root, "log", "-1", "--format=%H", "--", str(result.relative_to(root))) or "").strip()
    if not commit:
        return None
    inputs = [script] + [root / name for name in INPUTS.get(script.stem, ())]
    return any(_changed_since(root, commit, path) for path in inputs)


def read_result(path: Path) -> dict:
    """A result file as {'header': [comment lines], 'json': dict or None, 'table': [other lines]}."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    header = [line.lstrip("# ").rstrip() for line in lines if line.startswith("#")]
    body = [line for line in lines if line.strip() and not line.startswith("#")]
    record = None
    if body:
        try:
            record = json.loads(body[-1])
            body = body[:-1]
        except ValueError:
            record = None
    return {"header": header, "json": record if isinstance(record, dict) else None, "table": body}


def benchmark_status(root: Path) -> list[dict]:
    """One entry per benchmark script and per result file, with its status: ok, stale or missing."""
    scripts = {p.stem: p for p in sorted((root / "benchmarks").glob("*.py"))
               if not p.name.startswith("_") and p.stem not in NOT_BENCHMARKS}
    results = sorted((root / "benchmarks" / "results").glob("*.txt"))
    entries = []
    for stem, script in scripts.items():
        # a script's results are NAME.txt and NAME_<variant>.txt (e.g. vae_mnist_k5000_n_test10000.txt)
        own = [r for r in results if r.stem == stem or r.stem.startswith(stem + "_")]
        if not own:
            entries.append({"name": stem, "script": script, "result": None, "status": "missing"})
        for result in own:
            stale = is_stale(root, script, result)
            status = {True: "stale", False: "ok", None: "uncommitted"}[stale]
            entries.append({"name": result.stem, "script": script, "result": result, "status": status,
                            **read_result(result)})
    claimed = {e["result"] for e in entries if e["result"] is not None}
    for result in results:  # a result file whose script is gone
        if result not in claimed:
            entries.append({"name": result.stem, "script": None, "result": result, "status": "no script",
                            **read_result(result)})
    return entries


# ---------------------------------------------------------------------------------------------
# building the tables


def _table(head: list[str], rows: list[list[str]], widths: list[int]) -> nodes.table:
    table = nodes.table(classes=["colwidths-auto"])
    group = nodes.tgroup(cols=len(head))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    thead, tbody = nodes.thead(), nodes.tbody()
    group += thead
    group += tbody
    for cells, parent in [(head, thead)] + [(r, tbody) for r in rows]:
        row = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            entry += nodes.paragraph(text=str(cell))
            row += entry
        parent += row
    return table


def _value(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
        text = json.dumps(value)
        return text if len(text) <= 160 else text[:157] + "..."
    return str(value)


def benchmarks_nodes(root: Path) -> list[nodes.Node]:
    out: list[nodes.Node] = []
    entries = benchmark_status(root)
    summary = {s: sum(e["status"] == s for e in entries) for s in ("ok", "stale", "missing", "uncommitted", "no script")}
    out.append(nodes.paragraph(text=f"{len(entries)} result entries: " + ", ".join(f"{n} {s}" for s, n in summary.items() if n)))
    for entry in entries:
        section = nodes.section(ids=[f"result-{entry['name'].replace('_', '-')}"])
        section += nodes.title(text=entry["name"])
        status = {"ok": "up to date with its script",
                  "stale": "STALE: the script's code, or a file it reads, changed after this result was committed; rerun it",
                  "uncommitted": "not yet in the repository's history, so its age cannot be told",
                  "missing": "MISSING: this benchmark has no result file; run it",
                  "no script": "no benchmark script of this name"}[entry["status"]]
        where = f"benchmarks/{entry['script'].name}" if entry["script"] else "no script"
        section += nodes.paragraph(text=f"{where} → "
                                   + (f"benchmarks/results/{entry['result'].name}" if entry["result"] else "(no file)")
                                   + f": {status}")
        if entry.get("header"):
            section += nodes.literal_block(text="\n".join(entry["header"]))
        if entry.get("json"):
            section += _table(["field", "value"], [[k, _value(v)] for k, v in entry["json"].items()], [30, 70])
        elif entry.get("table"):
            section += nodes.literal_block(text="\n".join(entry["table"][:40]))
        out.append(section)
    return out


def execution_nodes(app: Sphinx) -> list[nodes.Node]:
    from myst_nb.sphinx_ import NbMetadataCollector

    key = Path(str(app.config.nb_execution_cache_path or "")).name.replace(".jupyter_cache-", "")
    scale, _, rest = key.partition("-")
    budget = {"ci": 60, "book": 360}.get(scale)  # seconds per chapter on 2 CPU cores (DESIGN.md, section 4)
    rows = []
    for docname in sorted(app.env.found_docs):
        if not docname.startswith("book/"):
            continue
        data = NbMetadataCollector.get_exec_data(app.env, docname)
        if not data:
            continue
        runtime = data.get("runtime")
        when = datetime.fromtimestamp(data["mtime"], tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if data.get("mtime") else "-"
        rows.append([docname.split("/")[-1], f"{runtime:.1f}" if runtime is not None else "-",
                     "-" if budget is None or runtime is None else ("OVER" if runtime > budget else "within") + f" {budget} s",
                     when, data.get("method", "-")])
    intro = nodes.paragraph(text=f"Execution cache of this build: scale {scale or '?'}, data and library {rest or '?'}. "
                                 "Seconds are wall-clock time on the machine that executed the notebook, "
                                 "taken when it last ran (a cached notebook keeps the time of its run).")
    return [intro, _table(["chapter", "seconds", "budget", "executed", "how"], rows, [30, 12, 14, 28, 16])]


def _fill(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    root = Path(app.srcdir)
    for node in list(doctree.findall(_Placeholder)):
        node.replace_self(benchmarks_nodes(root) if node["kind"] == "benchmarks" else execution_nodes(app))


def _always_outdated(app, env, added, changed, removed) -> list[str]:
    return [PAGE] if PAGE in env.found_docs else []


def setup(app: Sphinx) -> dict:
    app.add_node(_Placeholder)
    app.add_directive("results-benchmarks", _BenchmarksDirective)
    app.add_directive("results-execution", _ExecutionDirective)
    app.connect("doctree-resolved", _fill)
    app.connect("env-get-outdated", _always_outdated)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
