"""The pure parts of benchmarks/pixelcnn_vs_examples.py: the book's recipe is train_pixelcnn's, the example's network
is the published one with a Bernoulli head, its masks are causal, and its loss is the exact NLL per pixel."""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))   # the script imports its siblings _models and vae_vs_examples
spec = importlib.util.spec_from_file_location("pixelcnn_vs_examples_for_tests",
                                              ROOT / "benchmarks" / "pixelcnn_vs_examples.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

from _models import train_to_budgets  # noqa: E402

from edu_gen import pixelcnn  # noqa: E402


def _images(n=200, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def test_the_book_recipe_trains_exactly_the_weights_of_train_pixelcnn():
    images = _images()                        # 6 batches of 32 per pass; 7 steps: the switch at step 5, a new pass at 6
    recipe = bench.book_recipe(images, steps=7)
    kept = train_to_budgets(recipe.step, recipe.model, max_steps=7)
    r = pixelcnn.main_model_recipe("book")
    torch.manual_seed(0)                      # as pixelcnn.load_or_train_pixelcnn builds the chapter's model
    model = pixelcnn.GatedPixelCNN(r["config"])
    pixelcnn.train_pixelcnn(model, images, steps=7, batch_size=r["batch_size"], lr=r["lr"], seed=0, progress=False)
    assert kept[-1]["steps"] == 7
    for name, value in model.state_dict().items():
        assert torch.equal(kept[-1]["state"][name], value), name
    assert recipe.optimizer.param_groups[0]["lr"] == pytest.approx(r["lr"] / 5)


def test_the_book_recipe_switches_at_70_percent_of_the_budget_and_wants_one_length():
    recipe = bench.book_recipe(_images(64), budget=10.0)
    recipe.step(0, 0.0)
    assert recipe.optimizer.param_groups[0]["lr"] == pytest.approx(6e-3)
    recipe.step(1, 6.9)
    assert recipe.optimizer.param_groups[0]["lr"] == pytest.approx(6e-3)
    recipe.step(2, 7.0)
    assert recipe.optimizer.param_groups[0]["lr"] == pytest.approx(6e-3 / 5)
    for kwargs in ({}, {"budget": 10.0, "steps": 5}):
        with pytest.raises(ValueError, match="exactly one of budget"):
            bench.book_recipe(_images(64), **kwargs)


def test_the_example_network_has_the_published_layers_with_one_logit_per_pixel():
    model = bench.ExamplePixelCNN()
    convs = [m for m in model if isinstance(m, bench.ExampleMaskedConv2d)]
    assert len(convs) == 8 and all(c.kernel_size == (7, 7) and c.bias is None for c in convs)
    assert [int(c.mask[0, 0].sum()) for c in convs] == [24] + [25] * 7   # 'A': 3 rows + 3; 'B': and the centre
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model) == 8
    # 49 * (1 * 64 + 7 * 64 * 64) masked-conv weights, 8 * 128 batch-norm parameters, a 1x1 conv 64 -> 1 with bias
    assert sum(p.numel() for p in model.parameters()) == 49 * (64 + 7 * 64 * 64) + 8 * 128 + 65 == 1_409_153
    model.eval()
    with torch.no_grad():
        assert model(torch.bernoulli(_images(2))).shape == (2, 1, 28, 28)


def test_the_example_is_causal_in_eval_mode_and_sees_its_neighbours():
    torch.manual_seed(0)
    model = bench.ExamplePixelCNN()
    found = pixelcnn.dependencies(model, shape=(6, 6))      # (36, 36): output j depends on input k
    assert not torch.triu(found).any()                       # nothing on or after its own pixel, in raster order
    j = 2 * 6 + 3                                            # pixel (2, 3): its left neighbour and the one above
    assert found[j, j - 1] and found[j, j - 6] and found.sum() > 100


def test_the_in_place_mask_keeps_the_cut_weights_at_zero_after_a_step():
    torch.manual_seed(0)
    recipe = bench.example_recipe(_images(128))
    train_to_budgets(recipe.step, recipe.model, max_steps=2)
    with torch.no_grad():
        recipe.model.eval()(torch.bernoulli(_images(1)))   # the next forward pass masks the weights Adam moved
    for conv in (m for m in recipe.model if isinstance(m, bench.ExampleMaskedConv2d)):
        assert torch.equal(conv.weight * (1 - conv.mask), torch.zeros_like(conv.weight))


def test_the_example_loss_is_the_exact_nll_per_pixel():
    torch.manual_seed(0)
    model = bench.ExamplePixelCNN().eval()
    x = torch.bernoulli(_images(3))
    with torch.no_grad():
        per_pixel = bench.example_loss(model, x).item()
        nll = -pixelcnn.log_likelihood(model, x).mean().item()
    # float32 means over 2,352 terms near 0.7 nats: measured agreement to 1e-7 relative
    assert per_pixel * 784 == pytest.approx(nll, rel=1e-5)
