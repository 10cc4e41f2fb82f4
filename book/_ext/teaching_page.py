"""The "Teaching with this book" page: the exercises' graded checks and the measured grading time, read at build time.

One directive, used in ``book/teaching.md``:

``{grading-overview}``
    A table with one row per exercise that has grading tests (``grading/tests/test_NN_name.py``):
    the exercise (linked to its page), how many graded checks it has, their points in total, and
    its checks with their points, in the words the feedback uses. The checks are collected the
    way ``edu-gen grade`` collects them (``edu_gen.grading.grade.find_exercises``, in a separate
    process, since it runs pytest's collection), so the table is the grader's own view. Below it,
    the grading time per notebook from ``benchmarks/results/grading_batch.txt`` (the JSON object on
    its last line) with the file's header, or a line saying that no result exists yet.

The page is rebuilt when a grading test file or the grading result changes (``note_dependency``).
Registered in _config.yml under ``sphinx: local_extensions:``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

_COLLECT = """
import json, sys
from pathlib import Path
from edu_gen.grading.grade import find_exercises
found = find_exercises(Path(sys.argv[1]))
print(json.dumps({name: [[t.name, t.description, t.points] for t in tests] for name, (_, tests) in found.items()}))
"""


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def collect_checks(tests: Path) -> dict[str, list[tuple[str, str, float]]]:
    """exercise -> [(test name, description, points)], as the grader collects them.

    Raises:
        RuntimeError: the collection failed (its output is in the message): a broken grading test
            must stop the build rather than show an empty table.
    """
    done = subprocess.run([sys.executable, "-c", _COLLECT, str(tests)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"could not collect the grading tests in {tests}:\n{done.stderr[-3000:]}")
    return {name: [tuple(t) for t in tests_] for name, tests_ in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def grading_time(result: Path) -> tuple[list[str], dict | None]:
    """(header lines, the JSON object of the last line) of a grading_batch result; ([], None) if absent."""
    if not result.exists():
        return [], None
    lines = result.read_text(encoding="utf-8").splitlines()
    header = [line.lstrip("# ").rstrip() for line in lines if line.startswith("#")]
    try:
        last = json.loads(lines[-1]) if lines else None
    except ValueError:
        last = None
    return header, last if isinstance(last, dict) else None


def _with_code(text: str) -> nodes.paragraph:
    """A paragraph in which `...` (as the checks' descriptions write names) is shown as code."""
    paragraph = nodes.paragraph()
    for index, part in enumerate(text.split("`")):
        if part:
            paragraph += nodes.literal(text=part) if index % 2 else nodes.Text(part)
    return paragraph


class _GradingOverview(SphinxDirective):
    def run(self):
        root = Path(self.env.srcdir)
        tests, result = root / "grading" / "tests", root / "benchmarks" / "results" / "grading_batch.txt"
        for path in sorted(tests.glob("test_*.py")) + [result]:
            self.env.note_dependency(str(path))
        checks = collect_checks(tests)
        table = nodes.table()
        group = nodes.tgroup(cols=4)
        table += group
        for width in (18, 8, 8, 66):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        head += self._row(["Exercise", "Checks", "Points", "Graded checks (points)"])
        body = nodes.tbody()
        group += body
        for exercise, tests_ in checks.items():
            row = nodes.row()
            link = nodes.entry()
            paragraph = nodes.paragraph()
            # a cross-reference that every builder resolves (a relative link in HTML, an internal link in the PDF,
            # where the LaTeX builder has no URI for a page of its single document)
            reference = addnodes.pending_xref("", refdomain="std", reftype="doc", reftarget=f"/exercises/{exercise}",
                                              refexplicit=True, refwarn=True, refdoc=self.env.docname)
            reference += nodes.inline("", exercise)
            paragraph += reference
            link += paragraph
            row += link
            row += self._entry(str(len(tests_)))
            row += self._entry(_number(sum(points for _, _, points in tests_)))
            listing = nodes.entry()
            items = nodes.bullet_list()
            for _, description, points in tests_:
                items += nodes.list_item("", _with_code(f"{description} ({_number(points)})"))
            listing += items
            row += listing
            body += row
        header, measured = grading_time(result)
        if measured and "modes" in measured:
            words = [f"{mode}: {info['per_notebook_s']:.1f} s per notebook" for mode, info in measured["modes"].items()
                     if isinstance(info, dict) and "per_notebook_s" in info]
            timing = nodes.paragraph(text=f"Measured grading time ({measured.get('notebooks', '?')} notebooks; "
                                          + "; ".join(words) + "). " + " | ".join(header))
        else:
            timing = nodes.paragraph(text="Grading time: benchmarks/results/grading_batch.txt holds no result in the "
                                          "current format yet; run `python benchmarks/grading_batch.py`.")
        return [table, timing]

    @staticmethod
    def _entry(text: str) -> nodes.entry:
        entry = nodes.entry()
        entry += nodes.paragraph(text=text)
        return entry

    def _row(self, cells: list[str]) -> nodes.row:
        row = nodes.row()
        for cell in cells:
            row += self._entry(cell)
        return row


def setup(app: Sphinx) -> dict:
    app.add_directive("grading-overview", _GradingOverview)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
