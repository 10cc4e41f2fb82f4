"""The first cell of every page installs `edu_gen` the way Colab needs, without touching its PyTorch (issue 22).

Colab already holds a CUDA build of torch and torchvision; `%pip install edu-gen` must add the
book's library and what it needs, and leave that torch alone (a reinstalled torch is gigabytes and
a restarted runtime). This test builds the situation here: a fresh virtual environment holding
only this machine's torch and torchvision (as Colab holds its own) and a kernel, runs chapter 1 in
it with ``EDU_GEN_INSTALL_SOURCE`` pointing the first cell's install at this checkout instead of
the public repository, and checks that the chapter ran at ``ci`` scale, that `edu_gen` came from
the install (not from the checkout on a path), and that torch's files were not touched.
It needs the package registry (CI has it); without it the test is skipped with the reason.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "01_losses_as_likelihood.ipynb"
_RUN = """
import json, sys, nbformat
from nbclient import NotebookClient
notebook = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
print(json.dumps({"cells": len(notebook.cells), "first_cell_output": [o.get("text", "") for o in notebook.cells[1].outputs]}))
"""
# versions and file times of the preinstalled packages (torchvision read from its metadata: the PyPI build
# is a CUDA one whose direct import fails on a CPU torch; edu_gen._compat handles that)
_TORCH = ("import json, os, importlib.metadata as m, torch; print(json.dumps([torch.__version__, m.version('torchvision'), "
          "os.stat(torch.__file__).st_mtime_ns, os.stat(m.distribution('torchvision').locate_file('torchvision/__init__.py')).st_mtime_ns]))")


def _bootstrap_sources() -> dict[str, str]:
    found = {}
    for folder in ("book", "exercises", "solutions"):
        for path in sorted((ROOT / folder).glob("[0-9][0-9]_*.ipynb")):
            code = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
            found[f"{folder}/{path.name}"] = "".join(code[0]["source"])
    return found


def test_every_page_starts_with_the_same_install_cell():
    """The cell tested below is the first code cell of every chapter, exercise and solution."""
    sources = _bootstrap_sources()
    first = sources["book/01_losses_as_likelihood.ipynb"]
    assert "EDU_GEN_INSTALL_SOURCE" in first and "git+https://github.com/edu-gen/edu-gen.git" in first
    assert {name for name, text in sources.items() if text != first} == set()


def test_the_first_cell_installs_the_library_and_keeps_the_preinstalled_torch(tmp_path):
    from importlib.metadata import version

    import torch

    env_dir = tmp_path / "colab"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    torch_version = torch.__version__.split("+")[0]
    preinstall = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"torch=={torch_version}", f"torchvision=={version('torchvision').split('+')[0]}",
         "ipykernel", "nbclient", "nbformat"], capture_output=True, text=True, timeout=1200)
    if preinstall.returncode != 0:
        pytest.skip("could not install torch into a fresh environment (no package registry?): " + preinstall.stderr[-500:])
    before = json.loads(subprocess.run([str(python), "-c", _TORCH], capture_output=True, text=True, check=True).stdout)
    importable = subprocess.run([str(python), "-c", "import edu_gen"], capture_output=True, cwd=tmp_path)
    assert importable.returncode != 0, "edu_gen is importable before the first cell ran: the test would prove nothing"

    source = tmp_path / "edu-gen"  # the package as the public repository holds it: no build files left in the checkout
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    work = tmp_path / "book"
    work.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(EDU_GEN_INSTALL_SOURCE=str(source), EDU_GEN_SCALE="ci", EDU_GEN_DATA=str(tmp_path / "no-data"),
               EDU_GEN_CACHE=str(tmp_path / "cache"), PATH=f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}",
               MPLBACKEND="Agg")
    ran = subprocess.run([str(python), "-c", _RUN, str(CHAPTER), str(work)], capture_output=True, text=True, env=env,
                         cwd=work, timeout=1800)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]

    after = json.loads(subprocess.run([str(python), "-c", _TORCH], capture_output=True, text=True, check=True).stdout)
    assert after == before, f"the first cell replaced torch/torchvision: {before} -> {after}"
    where = subprocess.run([str(python), "-c", "import edu_gen; print(edu_gen.__file__)"], capture_output=True, text=True,
                           cwd=tmp_path, check=True).stdout.strip()
    assert Path(where).is_relative_to(env_dir), where  # installed by the cell, not found on a path into the checkout
