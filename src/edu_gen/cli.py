"""The `edu-gen` command.

    edu-gen info                 versions, device, scale, where data and checkpoints live
    edu-gen data [--name mnist]  check that a data set loads (and whether it falls back)

Exercise generation and grading (`assign`, `grade`) arrive with the exercises (DESIGN.md section 7).
"""

from __future__ import annotations

import argparse
import sys


def _info(args) -> int:
    import platform

    import torch

    import edu_gen
    from edu_gen import _compat, runtime

    print(f"edu_gen      {edu_gen.__version__}")
    print(f"python       {platform.python_version()}")
    print(f"torch        {torch.__version__}")
    print(f"torchvision  {_compat.torchvision.__version__}" + (" (compiled operators missing; datasets, transforms and make_grid work)" if _compat.OPERATORS_MISSING else ""))
    print(f"device       {runtime.device()}")
    print(f"scale        {runtime.scale()}  (EDU_GEN_SCALE)")
    print(f"data         {runtime.data_root()}  (EDU_GEN_DATA)")
    print(f"checkpoints  {runtime.cache_root() / 'checkpoints'}  (EDU_GEN_CACHE)")
    return 0


def _data(args) -> int:
    from edu_gen import data

    for split in ("train", "test"):
        x, y = data.images(args.name, split)
        print(f"{args.name} {split}: images {tuple(x.shape)} {x.dtype} in [{x.min():.1f}, {x.max():.1f}], labels {tuple(y.shape)} {y.dtype}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="edu-gen", description="Tools of the edu-gen book.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="versions, device, scale and folders").set_defaults(run=_info)
    data_parser = commands.add_parser("data", help="load a data set and describe it")
    data_parser.add_argument("--name", default="mnist", choices=["mnist", "fashion_mnist", "digits"])
    data_parser.set_defaults(run=_data)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
