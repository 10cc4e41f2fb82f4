"""The pure parts of benchmarks/vae_vs_examples.py: the book's recipe is the chapter's, the example's loss is
the example's, and the time to reach a value is read off a curve as documented."""

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))   # the script imports its sibling _models
spec = importlib.util.spec_from_file_location("vae_vs_examples_for_tests", ROOT / "benchmarks" / "vae_vs_examples.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

from edu_gen import vae  # noqa: E402


def _images(n=300, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def test_the_book_recipe_trains_exactly_the_weights_of_vae_train_vae():
    images = _images()                       # 3 batches of 100 per pass: 7 steps cross two passes
    recipe = bench.book_recipe(images)
    kept = bench.train_until(recipe, max_steps=7)
    torch.manual_seed(0)                     # as vae.load_or_train_vae builds the chapter's model
    model = vae.VAE(vae.MAIN_MODEL_CONFIG)
    vae.train_vae(model, images, steps=7, progress=False)
    assert kept[-1]["steps"] == 7
    for name, value in model.state_dict().items():
        assert torch.equal(kept[-1]["state"][name], value), name


def test_a_change_of_the_book_recipe_is_applied_and_an_unknown_one_refused():
    recipe = bench.book_recipe(_images(), lr=3e-3, hidden_dim=16, lr_half_life=10)
    assert recipe.optimizer.param_groups[0]["lr"] == pytest.approx(3e-3)
    assert recipe.model.config.hidden_dim == 16
    bench.train_until(recipe, max_steps=10)   # ten steps of a half-life of ten: half the learning rate
    assert recipe.optimizer.param_groups[0]["lr"] == pytest.approx(1.5e-3)
    with pytest.raises(ValueError, match="unknown change"):
        bench.book_recipe(_images(), width=3)
    assert bench.parse_changes(["lr=2e-3", "batch_size=64", "lr_half_life=none", "binarize=false"]) == \
        {"lr": 2e-3, "batch_size": 64, "lr_half_life": None, "binarize": False}


def test_the_example_loss_is_sigmoid_bce_summed_plus_the_analytic_kl():
    torch.manual_seed(1)
    model = bench.ExampleVAE()
    x = _images(5)
    torch.manual_seed(2)
    loss = bench.example_loss(model, (x,))
    torch.manual_seed(2)                     # the same noise, the example's formulas written out
    h = torch.relu(model.hidden(x.view(-1, 784)))
    mu, log_var = model.mu(h), model.log_var(h)
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)
    recon = torch.sigmoid(model.decoder(z))
    expected = F.binary_cross_entropy(recon, x.view(-1, 784), reduction="sum") \
        - 0.5 * torch.sum(1 + log_var - mu.pow(2) - log_var.exp())
    # float32 sums of 5 x 784 terms near 0.7 nats: measured differences of 1e-3 nats in ~2,700
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert vae.iwae_log_likelihood(model, torch.bernoulli(x), 3).shape == (5,)   # the library scores it


def test_time_to_reach_interpolates_in_log_time_and_says_when_it_cannot():
    t, kind = bench.time_to_reach([30, 60, 120], [100.0, 96.0, 94.0], 95.0)
    assert kind == "interpolated" and t == pytest.approx(60 * math.sqrt(2))   # halfway between 60 and 120 in log time
    assert bench.time_to_reach([30, 60], [90.0, 89.0], 95.0) == (30.0, "at most")
    assert bench.time_to_reach([30, 60], [100.0, 99.0], 95.0) == (60.0, "more than")
    with pytest.raises(ValueError, match="one length"):
        bench.time_to_reach([30, 60], [100.0], 95.0)
    result = bench.compare({"examples": {"cpu": [30, 60, 120], "nats": [100.0, 96.0, 95.0]},
                            "book": {"cpu": [30, 60, 120], "nats": [98.0, 95.0, 93.0]}})
    assert result["book_ahead_nats"] == [2.0, 1.0, 2.0] and result["book_ahead_min_nats"] == 1.0
    # the book reaches 95.0 at its second budget (60 s), the example at its third (120 s)
    assert result["cpu_time_ratio"] == pytest.approx(0.5) and result["book_time_kind"] == "interpolated"
