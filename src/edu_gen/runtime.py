"""Where the code runs and how big the run is: device, seeds, scale profiles, one-call setup.

Introduced in the introduction ("How to use this book") and used by every chapter::

    rt = runtime.setup(seed=0)                 # prints device, scale, seed, torch version
    EPOCHS = runtime.pick(ci=1, book=15, full=100)
    model.to(rt.device)

Nothing here reads a notebook's globals; `setup` returns what it set up.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

SCALES = ("ci", "book", "full")
SCALE_VARIABLE = "EDU_GEN_SCALE"
DATA_VARIABLE = "EDU_GEN_DATA"
CACHE_VARIABLE = "EDU_GEN_CACHE"
THREADS_VARIABLE = "EDU_GEN_THREADS"
DEFAULT_SCALE = "book"


def device() -> torch.device:
    """The best available accelerator: CUDA, then Apple's MPS, then the CPU.

    Returns:
        A torch.device: ``cuda``, ``mps`` or ``cpu``.
    """
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's, NumPy's and torch's (CPU and CUDA) random number generators.

    Args:
        seed: a non-negative integer.

    Returns:
        A fresh CPU `torch.Generator` seeded with `seed`, for code that wants its own stream
        (``torch.randn(..., generator=g)``) instead of the global one.

    Raises:
        ValueError: seed is not a non-negative integer (a bool is refused).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # NumPy's legacy seed accepts 32 bits only
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


def scale() -> str:
    """The scale profile, from the environment variable EDU_GEN_SCALE (default ``book``).

    ``ci``: tests, each notebook under a minute on 2 CPU cores; ``book``: the book build and
    students, each chapter under 6 minutes on 2 CPU cores; ``full``: paper-sized runs on a GPU.

    Returns:
        ``"ci"``, ``"book"`` or ``"full"``.

    Raises:
        ValueError: EDU_GEN_SCALE names no scale.
    """
    value = os.environ.get(SCALE_VARIABLE, DEFAULT_SCALE).strip().lower() or DEFAULT_SCALE
    if value not in SCALES:
        raise ValueError(
            f"{SCALE_VARIABLE}={os.environ[SCALE_VARIABLE]!r} is not a scale; expected one of {', '.join(SCALES)}"
        )
    return value


def pick(*, ci, book, full):
    """Return the argument named after the current scale, e.g. ``pick(ci=1, book=15, full=100)``.

    Args:
        ci, book, full: the values for each scale (any objects).

    Raises:
        ValueError: EDU_GEN_SCALE names no scale (see `scale`).
    """
    return at_scale({"ci": ci, "book": book, "full": full})


def at_scale(values: dict, which: str | None = None):
    """``values[which]`` for a table ``{"ci": ..., "book": ..., "full": ...}``; `which` None means the current scale.

    The library's recipes (each chapter's `main_model_recipe`, `vae.main_model_steps`) are such tables; a caller may
    ask for another scale's entry than the one it runs at (a benchmark printing the book recipe from a ci run).

    Args:
        values: a dict with the keys ``"ci"``, ``"book"`` and ``"full"``.
        which: one of those three, or None for `scale()`.

    Raises:
        ValueError: `which` (or EDU_GEN_SCALE when `which` is None) names none of the three.
    """
    name = scale() if which is None else which
    if name not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, got {name!r}")
    return values[name]


def benchmark_result(name: str) -> dict | None:
    """The JSON object a benchmark printed last, read from ``benchmarks/results/<name>`` of this repository.

    Chapters quote another chapter's book-scale run (which they cannot afford to recompute) from the file its
    benchmark wrote, so the number is never typed by hand; the file's header says when and how it was measured.

    Args:
        name: the result file's name, e.g. ``"semi_supervised_mnist.txt"``.

    Returns:
        The parsed last line, or None when the package is installed without the repository (Colab, pip) or the
        benchmark has not been run yet.

    Raises:
        ValueError: the file exists but its last line is not a JSON object.
    """
    import json

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / name
    if not path.is_file():
        return None
    lines = path.read_text(encoding="utf-8").strip().splitlines()
    try:
        record = json.loads(lines[-1]) if lines else None
    except ValueError:
        record = None
    if not isinstance(record, dict):
        raise ValueError(f"{path}: the last line is not a JSON object (a benchmark prints one last)")
    return record


def data_root() -> Path:
    """The data folder: EDU_GEN_DATA if set, else ``~/.cache/edu_gen`` (torchvision's layout).

    Returns:
        A Path (not checked to exist).
    """
    value = os.environ.get(DATA_VARIABLE, "").strip()
    return Path(value).expanduser() if value else Path.home() / ".cache" / "edu_gen"


def cache_root() -> Path:
    """Where trained models are cached: EDU_GEN_CACHE if set, else ``~/.cache/edu_gen``.

    Kept apart from `data_root`, which may be a read-only shared folder.

    Returns:
        A Path (not checked to exist; created by whoever writes there).
    """
    value = os.environ.get(CACHE_VARIABLE, "").strip()
    return Path(value).expanduser() if value else Path.home() / ".cache" / "edu_gen"


def library_digest(package: Path | None = None) -> str:
    """A SHA-256 of the library's source: every ``.py`` file of `edu_gen` but the grader.

    What a chapter computes depends on this code, so caches of trained models
    (`train.checkpoint_path`) and of executed notebooks (the book build) key on it: a change
    anywhere in the library re-runs what used it instead of publishing stale outputs.
    `edu_gen.grading` and the command line are left out, since no chapter output depends on them.

    Args:
        package: the package folder to hash; default this installed `edu_gen`.

    Returns:
        64 hexadecimal characters.

    Raises:
        OSError: a source file cannot be read.
    """
    package = Path(__file__).resolve().parent if package is None else Path(package)
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if relative.startswith("grading/") or relative == "cli.py":
            continue
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def tune_glibc_allocator() -> bool:
    """Keep freed tensor memory in glibc's heap instead of returning it to the kernel.

    By default glibc serves allocations above a dynamic threshold (128 KiB at first) with
    fresh ``mmap`` pages and gives them back on ``free``; a training step that allocates and
    frees the same activation buffers every iteration then pays page faults and zeroing for
    every step. Raising ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` makes glibc reuse that
    memory instead. `benchmarks/allocator.py` measures the effect on this machine; the ratio
    is in `benchmarks/results/allocator.txt`. Linux with glibc only; elsewhere it does nothing.

    Returns:
        True if the setting was applied.
    """
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # from glibc's <malloc.h>
    one_gib = 1 << 30
    # mallopt returns 1 on success. 1 GiB: larger than any single activation buffer here.
    return bool(libc.mallopt(M_MMAP_THRESHOLD, one_gib)) and bool(libc.mallopt(M_TRIM_THRESHOLD, one_gib))


def set_threads() -> int:
    """Choose torch's CPU thread count; returns the count in use.

    By default torch, and NumPy's BLAS, use one thread per core. When pytest-xdist runs tests
    in parallel workers (PYTEST_XDIST_WORKER is set, and the notebooks nbval runs inherit it),
    each worker doing that oversubscribes the cores: threads that wait for a descheduled
    sibling spin, and small models train several times slower (measured 6-15x here). So each
    worker gets one thread, for torch and for the BLAS/OpenMP pools behind NumPy and SciPy
    (through threadpoolctl). EDU_GEN_THREADS=N overrides both.

    Returns:
        The thread count in use.

    Raises:
        ValueError: EDU_GEN_THREADS is set but is not a positive integer.
    """
    requested = os.environ.get(THREADS_VARIABLE, "").strip()
    if requested:
        if not requested.isdigit() or int(requested) < 1:
            raise ValueError(f"{THREADS_VARIABLE}={requested!r} must be a positive integer")
        count = int(requested)
    elif os.environ.get("PYTEST_XDIST_WORKER"):
        count = 1
    else:
        return torch.get_num_threads()
    torch.set_num_threads(count)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=count)  # NumPy/SciPy's BLAS and OpenMP pools, for this process
    return count


@dataclass(frozen=True)
class Runtime:
    """What `setup` chose: pass these on explicitly instead of reading globals.

    Attributes:
        device: where models run. scale: the scale profile. seed: the seed used.
        generator: a CPU generator seeded with `seed`.
    """

    device: torch.device
    scale: str
    seed: int
    generator: torch.Generator


def _use_vector_figures() -> None:
    """Inline figures as SVG in Jupyter (sharp at any zoom); no effect outside IPython."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    if get_ipython() is not None:
        set_matplotlib_formats("svg")


def setup(seed: int = 0, *, quiet: bool = False) -> Runtime:
    """Prepare a notebook or script: seeds, threads, allocator, figure format; print one line.

    Args:
        seed: seed for every random number generator (see `seed_everything`).
        quiet: skip the status line.

    Returns:
        A `Runtime` with the device, the scale, the seed and a seeded CPU generator.

    Raises:
        ValueError: a bad seed (see `seed_everything`), EDU_GEN_SCALE or EDU_GEN_THREADS.
    """
    import edu_gen

    current_scale = scale()  # fail early on a bad EDU_GEN_SCALE
    generator = seed_everything(seed)
    set_threads()
    tune_glibc_allocator()
    _use_vector_figures()
    rt = Runtime(device=device(), scale=current_scale, seed=seed, generator=generator)
    if not quiet:
        print(
            f"edu_gen {edu_gen.__version__} | torch {torch.__version__} | device {rt.device} | "
            f"scale {rt.scale} | seed {rt.seed}"
        )
    return rt
