"""Training recipes of the PixelCNN chapter compared at an equal number of steps: CPU seconds and test NLL.

Each recipe (a `GatedPixelCNNConfig`, a learning rate and a batch) trains a gated PixelCNN from seed 0 with
`pixelcnn.train_pixelcnn` on all 60,000 MNIST training digits (dynamic binarisation) and is scored exactly on
the first 500 of the VAE chapter's binarised test digits (seed 0). CPU seconds (process time, one thread) are
reported beside the wall time, because on a shared machine the wall time says more about the other jobs than
about the recipe. Used to choose the chapter's `book` recipe (issue 18); the chapter's own number comes from
`benchmarks/pixelcnn_mnist.py --scale book`.

    EDU_GEN_DATA=... python benchmarks/probes/pixelcnn_recipes.py 400 R0,R1,R2,R3     # 400 steps of batch 32 each
    EDU_GEN_DATA=... python benchmarks/probes/pixelcnn_recipes.py 1500 R3

Prints one JSON line per recipe: steps, cpu_s, wall_s, cpu_ms_per_image, nll (nats), se, load (1-minute load
average at the end).
"""

import json
import math
import os
import sys
import time

import torch

from edu_gen import data, pixelcnn as pc

RECIPES = {
    "R0": dict(channels=16, layers=4, kernel_size=3, first_kernel=3, lr=3e-3, batch=32),   # the recipe before issue 18's review
    "R1": dict(channels=16, layers=4, kernel_size=3, first_kernel=7, lr=3e-3, batch=32),
    "R2": dict(channels=16, layers=3, kernel_size=3, first_kernel=7, lr=3e-3, batch=32),
    "R3": dict(channels=16, layers=4, kernel_size=3, first_kernel=7, lr=6e-3, batch=32),   # the chapter's book recipe
    "R4": dict(channels=16, layers=4, kernel_size=3, first_kernel=7, lr=6e-3, batch=64),
}


def main() -> None:
    torch.set_num_threads(1)
    steps_at_32, names = int(sys.argv[1]), sys.argv[2].split(",")
    train_x, _ = data.images("mnist", "train")
    test_bin, _ = data.images("mnist", "test", n=500, binarize="stochastic", seed=0)
    for name in names:
        r = RECIPES[name]
        config = pc.GatedPixelCNNConfig(channels=r["channels"], layers=r["layers"], kernel_size=r["kernel_size"],
                                        first_kernel=r["first_kernel"])
        torch.manual_seed(0)
        model = pc.GatedPixelCNN(config)
        steps = steps_at_32 * 32 // r["batch"]                 # the same number of training images
        cpu, wall = time.process_time(), time.perf_counter()
        pc.train_pixelcnn(model, train_x, steps=steps, batch_size=r["batch"], lr=r["lr"], progress=False)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        model.eval()
        with torch.no_grad():
            log_px = torch.cat([pc.log_likelihood(model, xb) for xb in test_bin.split(100)])
        print(json.dumps(dict(name=name, **r, steps=steps, cpu_s=round(cpu, 1), wall_s=round(wall, 1),
                              cpu_ms_per_image=round(1000 * cpu / (steps * r["batch"]), 2), nll=round(-log_px.mean().item(), 2),
                              se=round(log_px.std().item() / math.sqrt(len(log_px)), 2), load=os.getloadavg()[0])), flush=True)


if __name__ == "__main__":
    main()
