"""Naive against fast PixelCNN sampling, side by side in one run: same model, same uniforms, same images.

The naive sampler runs the whole network once per pixel (H * W passes); the fast one
(`edu_gen.pixelcnn_sampling`) runs the vertical stack once per row and only the horizontal stack and
head, on one row, per pixel. Both draw x_j = 1 when u_j < sigm(l_j) with the uniforms u drawn up front
from one seeded generator, so the images must be identical; the script checks it and reports the
ratio of wall times. The model is the PixelCNN chapter's book-scale architecture (its weights do not
change the work done; a freshly initialised model is timed, seeded).

    python benchmarks/pixelcnn_sampling.py            # 64 samples of 28x28; writes results/pixelcnn_sampling.txt
    python benchmarks/pixelcnn_sampling.py --n 4      # a quick check that it runs (prints only)

Run it on an otherwise idle machine: the ratio is meaningful only when both samplers get the same CPU.
The last printed line is one JSON object: naive_seconds, fast_seconds, speedup, identical, n.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _models import record  # noqa: E402
from pixelcnn_mnist import SETTINGS  # noqa: E402

from edu_gen import pixelcnn, runtime  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="samples per sampler (64: the recorded measurement)")
    parser.add_argument("--size", type=int, default=28, help="image side")
    args = parser.parse_args()
    rt = runtime.setup(seed=0)
    s = SETTINGS["book"]
    config = pixelcnn.GatedPixelCNNConfig(channels=s["channels"], layers=s["layers"], first_kernel=s["first_kernel"])
    torch.manual_seed(0)
    model = pixelcnn.GatedPixelCNN(config).to(rt.device).eval()
    shape = (args.size, args.size)
    seconds, images = {}, {}
    for method in ("fast", "naive"):
        start = time.perf_counter()
        images[method] = pixelcnn.sample(model, args.n, shape, generator=torch.Generator().manual_seed(0), method=method)
        seconds[method] = time.perf_counter() - start
    identical = bool(torch.equal(images["naive"], images["fast"]))
    result = {
        "n": args.n, "shape": list(shape),
        "naive_seconds": round(seconds["naive"], 2), "fast_seconds": round(seconds["fast"], 2),
        "speedup": round(seconds["naive"] / seconds["fast"], 2), "identical": identical,
        "model": f"gated PixelCNN, {config.layers + 1} layers of {config.channels} channels (the chapter's book model)",
        "device": str(rt.device), "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
    }
    lines = [
        "# PixelCNN sampling, naive (one full pass per pixel) against fast (vertical stack once per row), one run",
        f"# {time.strftime('%Y-%m-%d')} | {platform.machine()} | {result['threads']} threads | torch {torch.__version__} | "
        f"device {result['device']}",
        f"# command: python benchmarks/pixelcnn_sampling.py --n {args.n} --size {args.size}",
        f"{args.n} samples of {shape}: naive {result['naive_seconds']} s, fast {result['fast_seconds']} s, "
        f"speed-up {result['speedup']}x, identical images: {identical}",
        json.dumps(result),
    ]
    if not identical:
        print("\n".join(lines))
        raise SystemExit("the two samplers disagree: the fast sampler is not exact")
    if args.n == 64 and args.size == 28:
        record("pixelcnn_sampling", lines)
    else:
        print("\n".join(lines))


if __name__ == "__main__":
    main()
