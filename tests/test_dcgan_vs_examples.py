"""The pure parts of benchmarks/dcgan_vs_examples.py: the book's recipe is the chapter's, the example's networks are
the published ones, the resizing is the example's, and the comparison reads the Fréchet curves."""

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))   # the script imports its siblings _models and vae_vs_examples
spec = importlib.util.spec_from_file_location("dcgan_vs_examples_for_tests", ROOT / "benchmarks" / "dcgan_vs_examples.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

from _models import train_to_budgets  # noqa: E402

from edu_gen import gan  # noqa: E402


def _images(n=200, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def test_the_book_recipe_trains_exactly_the_weights_of_gan_train_gan():
    images = _images()
    recipe = bench.book_recipe(images)
    kept = train_to_budgets(recipe.step, recipe.model, max_steps=5)
    torch.manual_seed(0)                              # as gan.load_or_train_gan builds the chapter's model
    model = gan.GAN(gan.main_model_recipe("book")["config"])
    gan.train_gan(model, images, steps=5, batch_size=64, seed=0, device="cpu", progress=False)
    assert kept[-1]["steps"] == 5
    compared = 0
    for name, value in model.state_dict().items():
        if name != "snapshots":                       # train_gan's sample grids, not weights (train_to_budgets keeps none)
            assert torch.equal(kept[-1]["state"][name], value), name
            compared += 1
    assert compared > 10


def test_the_example_networks_have_the_published_layers_and_sizes():
    model = bench.ExampleDCGAN()
    sizes, hooks = [], [m.register_forward_hook(lambda m, i, o: sizes.append(tuple(o.shape[1:])))
                        for m in model.generator if isinstance(m, nn.ConvTranspose2d)]
    model.eval()
    with torch.no_grad():
        x = model.generator(torch.randn(3, 100, 1, 1))
        d = model.discriminator(x)
    for h in hooks:
        h.remove()
    assert sizes == [(512, 4, 4), (256, 8, 8), (128, 16, 16), (64, 32, 32), (1, 64, 64)]
    assert x.shape == (3, 1, 64, 64) and x.abs().max() <= 1          # tanh
    assert d.shape == (3,) and bool(((d > 0) & (d < 1)).all())       # sigmoid
    # G: 4x4 kernels 100*512 + 512*256 + 256*128 + 128*64 + 64*1, times 16, plus 2 * (512 + 256 + 128 + 64) batch norm
    assert sum(p.numel() for p in model.generator.parameters()) == \
        16 * (100 * 512 + 512 * 256 + 256 * 128 + 128 * 64 + 64) + 2 * (512 + 256 + 128 + 64) == 3_574_656
    # D: 16 * (1*64 + 64*128 + 128*256 + 256*512 + 512*1) plus 2 * (128 + 256 + 512); no biases anywhere
    assert sum(p.numel() for p in model.discriminator.parameters()) == \
        16 * (64 + 64 * 128 + 128 * 256 + 256 * 512 + 512) + 2 * (128 + 256 + 512) == 2_763_520
    assert all(m.bias is None for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))


def test_the_example_initialisation_is_n_0_002_and_batch_norm_n_1_002():
    torch.manual_seed(0)
    model = bench.ExampleDCGAN()
    conv = torch.cat([m.weight.flatten() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    scales = torch.cat([m.weight for m in model.modules() if isinstance(m, nn.BatchNorm2d)])
    shifts = torch.cat([m.bias for m in model.modules() if isinstance(m, nn.BatchNorm2d)])
    # 6.3 million weights: the sample std is within 1e-4 of 0.02; PyTorch's default init would give ~0.01 or less
    assert conv.std().item() == pytest.approx(0.02, abs=2e-4) and abs(conv.mean().item()) < 1e-4
    # 1,920 batch-norm scales: mean within 3 standard errors (0.02 / sqrt(1920) = 5e-4) of 1
    assert scales.mean().item() == pytest.approx(1.0, abs=1.5e-3) and scales.std().item() == pytest.approx(0.02, abs=2e-3)
    assert torch.equal(shifts, torch.zeros_like(shifts))


def test_the_example_sees_its_resize_and_normalisation_and_is_read_back_at_28():
    x = _images(4)
    up = bench.to_example_input(x)
    assert up.shape == (4, 1, 64, 64) and up.min() >= -1 and up.max() <= 1
    # Resize(64)'s bilinear interpolation written out (half-pixel centres, edges clamped), then Normalize(0.5, 0.5)
    centres = ((torch.arange(64, dtype=torch.float64) + 0.5) * 28 / 64 - 0.5).clamp(0, 27)
    low = centres.floor().long()
    high, w = (low + 1).clamp(max=27), centres - low
    img = x[0, 0].double()
    rows = img[low] * (1 - w)[:, None] + img[high] * w[:, None]                 # (64, 28)
    expected = rows[:, low] * (1 - w) + rows[:, high] * w                        # (64, 64)
    # float32 against float64: measured differences of 1e-7
    assert torch.allclose(up[0, 0].double(), expected * 2 - 1, atol=1e-5), (up[0, 0].double() - (expected * 2 - 1)).abs().max()
    for value in (0.0, 0.3, 1.0):                     # a constant image comes back as itself, in [0, 1]
        back = bench.from_example_output(bench.to_example_input(torch.full((1, 1, 28, 28), value)))
        assert back.shape == (1, 1, 28, 28) and torch.allclose(back, torch.full_like(back, value), atol=1e-6)
    # a random image's round trip is a smoothed copy: the mean is kept to 1 % (measured 0.1 %)
    back = bench.from_example_output(up)
    assert back.mean().item() == pytest.approx(x.mean().item(), rel=1e-2)


def test_the_example_samples_use_batch_statistics_without_changing_the_model():
    torch.manual_seed(1)
    model = bench.ExampleDCGAN()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train_mode = bench.sample_example(model, 70, torch.Generator().manual_seed(3), "train")
    eval_mode = bench.sample_example(model, 70, torch.Generator().manual_seed(3), "eval")
    assert train_mode.shape == eval_mode.shape == (70, 1, 28, 28)
    assert train_mode.min() >= 0 and train_mode.max() <= 1
    assert not torch.allclose(train_mode, eval_mode)  # batch statistics of fresh noise, not the running ones
    for k, v in model.state_dict().items():           # drawn from a copy: the running statistics are unchanged
        assert torch.equal(v, before[k]), k


def test_one_example_step_moves_both_networks_and_the_loop_counts_steps():
    torch.manual_seed(0)
    recipe = bench.example_recipe(_images(130))
    # parameters only: the batch-norm buffers move in any forward pass in training mode, even without a step
    before = {k: v.detach().clone() for k, v in recipe.model.named_parameters()}
    kept = train_to_budgets(recipe.step, recipe.model, max_steps=3)   # batches 64, 64, 2: a new pass at the third
    assert kept[-1]["steps"] == 3
    for part in ("generator", "discriminator"):
        names = [k for k in before if k.startswith(part)]
        unchanged = [k for k in names if torch.equal(before[k], kept[-1]["state"][k])]
        assert names and not unchanged, (part, unchanged)   # Adam moves every weight of both networks


def test_compare_reads_the_frechet_curves_and_names_its_keys_for_them():
    result = bench.compare({"examples": {"cpu": [60, 120, 240], "frechet": [300.0, 200.0, 100.0]},
                            "book": {"cpu": [60, 120, 240], "frechet": [250.0, 150.0, 50.0]}})
    assert result["examples_best_frechet"] == 100.0 and result["examples_cpu_seconds_to_best"] == 240
    assert result["book_ahead_frechet"] == [50.0, 50.0, 50.0] and result["book_ahead_min_frechet"] == 50.0
    # the book reaches 100 halfway (in log time) between 120 s (150) and 240 s (50): 120 * sqrt(2) s
    assert result["book_cpu_seconds_to_examples_best"] == pytest.approx(120 * math.sqrt(2), abs=0.05)
    assert result["cpu_time_ratio"] == pytest.approx(math.sqrt(2) / 2, abs=1e-3)
    assert not any("nats" in key for key in result)
