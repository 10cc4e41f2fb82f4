"""The "written from the formula" check inspects the function the kernel really calls (issue 13, part 4).

One notebook holds each way the old source-reading check was fooled (a name rebound after its
``def``, a decorator, a ``def`` inside ``if True:``, a swapped ``__code__``, an import inside the
``def``, a helper that calls the library) and each way it took points from correct code (a
local variable named like a forbidden function, a ``%%time`` cell). `Submission.names_used`
must see every forbidden call and none of the false ones.
"""

from pathlib import Path

import nbformat
import pytest

from edu_gen.grading import checks
from edu_gen.grading.sandbox import Limits
from edu_gen.grading.submission import Submission

FORBIDDEN = {"mse_loss", "gaussian_nll", "likelihood", "binary_cross_entropy", "elbo", "jacobian"}

CELLS = [
    "import torch\nimport torch.nn.functional as F\nmse = F.mse_loss",
    # cheats: each returns a right answer through a forbidden call
    "def rebound(x, y):\n    return ((x - y) ** 2).mean()\nrebound = F.mse_loss",
    "def via_helper(x, y):\n    return _helper(x, y)\n\ndef _helper(a, b):\n    return mse(a, b)",
    "import functools\ndef deco(fn):\n    @functools.wraps(fn)\n    def wrapper(*args):\n        return F.mse_loss(*args)\n    return wrapper\n\n"
    "@deco\ndef decorated(x, y):\n    return ((x - y) ** 2).mean()",
    "if True:\n    def hidden_def(x, y):\n        return F.mse_loss(x, y)",
    "def swapped(x, y):\n    return ((x - y) ** 2).mean()\ndef _lib(x, y):\n    return F.mse_loss(x, y)\nswapped.__code__ = _lib.__code__",
    "def imports_inside(x, mean):\n    from edu_gen import likelihood as L\n    return L.gaussian_nll(x, mean)",
    "class _Loss:\n    def __call__(self, x, y):\n        return F.binary_cross_entropy(x, y)\n_loss = _Loss()\n\ndef via_instance(x, y):\n    return _loss(x, y)",
    # honest code the old check punished
    "def local_names(x, y):\n    elbo = ((x - y) ** 2).mean()\n    jacobian = 1.0\n    return elbo * jacobian",
    "%%time\ndef under_time_magic(x, y):\n    return ((x - y) ** 2).mean()",
]
CHEATS = ["rebound", "via_helper", "decorated", "hidden_def", "swapped", "imports_inside", "via_instance"]
HONEST = ["local_names", "under_time_magic"]


@pytest.fixture(scope="module")
def submission(tmp_path_factory):
    folder = tmp_path_factory.mktemp("names")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nbformat.write(notebook, folder / "names.ipynb")
    log = open(folder / "log.txt", "w")
    student = Submission(folder / "names.ipynb", folder / "work", log=log, sandbox=None, limits=Limits(),
                         timeout=120, cell_timeout=60)
    report = student.run()
    assert not report.problems, report.problems
    yield student
    student.close()
    log.close()


@pytest.mark.parametrize("name", CHEATS)
def test_a_forbidden_call_is_seen_however_it_is_hidden(submission, name):
    with pytest.raises(checks.ForbiddenCall):
        checks.assert_not_calling(submission.names_used(name), name, FORBIDDEN)
    # the old check, reading the notebook's def, missed it (that is what this test guards against)
    source = submission.source_of(name)
    if source is not None and name not in ("via_instance",):
        try:
            checks.assert_not_calling(source, name, FORBIDDEN)
            missed = True
        except checks.ForbiddenCall:
            missed = False
        assert missed or name == "hidden_def" or name == "imports_inside", name


@pytest.mark.parametrize("name", HONEST)
def test_correct_code_is_not_taken_for_a_forbidden_call(submission, name):
    checks.assert_not_calling(submission.names_used(name), name, FORBIDDEN)


def test_a_missing_function_is_reported_as_not_defined(submission):
    with pytest.raises(checks.NotDefined):
        submission.names_used("nowhere")
