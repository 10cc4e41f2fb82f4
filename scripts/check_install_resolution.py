"""What `pip install` would do with our requirements, checked with `pip install --dry-run --report`.

1. A bare environment (this repository's CPU machines): requirements.txt must resolve to
   torch 2.13.0 (+cpu) and torchvision 0.28.0, with no nvidia-* package.
2. A fake Google Colab environment: Colab's Python (3.12) with a CUDA torch/torchvision already
   installed (dist-info metadata only, as pip sees an installed package). Neither
   requirements.txt nor the package itself (what the chapters' Colab cell installs) may replace
   them, whatever their version.

Run:  python scripts/check_install_resolution.py [--colab-python python3.12]
          [--colab-torch 2.9.0+cu126 --colab-torchvision 0.24.0+cu126]
It needs the package registry (it resolves, it downloads only metadata) and takes a minute or two.
"""

import argparse
import json
import subprocess
import sys
import sysconfig
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fake_installed(site_packages: Path, name: str, version: str, requires: list[str]) -> None:
    """Write the dist-info that pip reads to decide that `name==version` is installed."""
    info = site_packages / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    metadata = [f"Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"] + [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(metadata) + "\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text("")


def dry_run(python: Path, *args: str) -> dict[str, str]:
    report = subprocess.run(
        [str(python), "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-", *args],
        capture_output=True, text=True, cwd=ROOT,
    )
    if report.returncode != 0:
        sys.exit(f"pip failed:\n{report.stderr[-3000:]}")
    return {item["metadata"]["name"].lower(): item["metadata"]["version"] for item in json.loads(report.stdout)["install"]}


def environment(folder: Path, interpreter: str | None = None) -> tuple[Path, Path]:
    if interpreter is None:
        venv.create(folder, with_pip=True)
    else:
        subprocess.run([interpreter, "-m", "venv", str(folder)], check=True)
    python = folder / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, check=True)
    return python, Path(purelib.stdout.strip())


def find_python(version: str) -> str | None:
    """A working `pythonX.Y` on PATH (a pyenv shim without that version installed does not count)."""
    import shutil

    found = shutil.which(f"python{version}")
    if found and subprocess.run([found, "-c", "pass"], capture_output=True).returncode == 0:
        return found
    print(f"no working python{version} on PATH: the fake Colab uses this Python, so the markers for Colab's Python are not exercised")
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--colab-python", default=None, help="the interpreter of the fake Colab (default: a Python 3.12, as on Colab)")
    parser.add_argument("--colab-torch", default="2.9.0+cu126")
    parser.add_argument("--colab-torchvision", default="0.24.0+cu126")
    args = parser.parse_args()
    args.colab_python = args.colab_python or find_python("3.12")
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        python, _ = environment(Path(tmp) / "bare")
        plan = dry_run(python, "-r", "requirements.txt")
        print(f"bare environment, requirements.txt: torch {plan.get('torch')}, torchvision {plan.get('torchvision')}, "
              f"{len(plan)} packages, nvidia-*: {sorted(n for n in plan if n.startswith('nvidia'))}")
        if plan.get("torch") != "2.13.0+cpu" or plan.get("torchvision") != "0.28.0":
            problems.append(f"bare environment resolves to torch {plan.get('torch')}, torchvision {plan.get('torchvision')}")
        if any(n.startswith("nvidia") for n in plan):
            problems.append("bare environment would install nvidia-* packages")

        python, site = environment(Path(tmp) / "colab", args.colab_python)
        torch_version = args.colab_torch.split("+")[0]
        fake_installed(site, "torch", args.colab_torch, ["filelock", "typing-extensions>=4.10.0", "sympy>=1.13.3", "networkx", "jinja2", "fsspec"])
        fake_installed(site, "torchvision", args.colab_torchvision, ["numpy", f"torch=={torch_version}", "pillow!=8.3.*,>=5.3.0"])
        for label, install in (("requirements.txt", ["-r", "requirements.txt"]), ("the package (Colab cell)", ["."])):
            plan = dry_run(python, *install)
            touched = {n: v for n, v in plan.items() if n in ("torch", "torchvision") or n.startswith("nvidia")}
            print(f"fake Colab ({args.colab_python}) torch {args.colab_torch} / torchvision {args.colab_torchvision}, {label}: "
                  f"would change {touched or 'nothing of torch'}")
            if touched:
                problems.append(f"{label} would replace Colab's {touched}")
    for problem in problems:
        print("PROBLEM:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
