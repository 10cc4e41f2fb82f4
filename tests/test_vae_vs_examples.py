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


def test_the_book_recipe_with_warmup_and_average_trains_exactly_train_vaes_weights():
    """kl_warmup and ema are VAEConfig's kl_warmup and weight_average: the same weights as vae.train_vae with them."""
    from dataclasses import replace

    images = _images()
    kept = bench.train_until(bench.book_recipe(images, kl_warmup=3, ema=0.9), max_steps=7)
    torch.manual_seed(0)
    model = vae.VAE(replace(vae.MAIN_MODEL_CONFIG, kl_warmup=3, weight_average=0.9))
    vae.train_vae(model, images, steps=7, progress=False)
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


def _linears(part):
    return [m for m in part if isinstance(m, torch.nn.Linear)]


def test_the_architecture_changes_are_applied():
    one = bench.book_recipe(_images(), hidden_layers=1)
    assert [(m.in_features, m.out_features) for m in _linears(one.model.encoder)] == [(784, 400), (400, 40)]
    assert [(m.in_features, m.out_features) for m in _linears(one.model.decoder)] == [(20, 400), (400, 784)]
    example = bench.ExampleVAE()           # the example's depth: the same number of weights
    assert sum(p.numel() for p in one.model.parameters()) == sum(p.numel() for p in example.parameters())
    assert one.model.decode(torch.zeros(2, 20)).shape == (2, 1, 28, 28)
    for name, kind in (("elu", torch.nn.ELU), ("softplus", torch.nn.Softplus), ("tanh", torch.nn.Tanh)):
        model = bench.book_recipe(_images(), activation=name).model
        acts = [m for part in (model.encoder, model.decoder) for m in part if not isinstance(
            m, (torch.nn.Linear, torch.nn.Flatten, torch.nn.Unflatten))]
        assert len(acts) == 4 and all(isinstance(m, kind) for m in acts), (name, acts)
    with pytest.raises(ValueError, match="activation"):
        bench.book_recipe(_images(), activation="gelu")
    with pytest.raises(ValueError, match="hidden_layers"):
        bench.book_recipe(_images(), hidden_layers=3)


def test_kaiming_init_redraws_the_hidden_layers_only():
    default = bench.book_recipe(_images(), init="default").model
    model = bench.book_recipe(_images()).model                       # the chapter's config: init "kaiming"
    assert vae.MAIN_MODEL_CONFIG.init == "kaiming"
    for part, part0 in ((model.encoder, default.encoder), (model.decoder, default.decoder)):
        *hidden, last = _linears(part)
        assert torch.equal(last.weight, _linears(part0)[-1].weight)   # the output layer keeps PyTorch's draw
        for m in hidden:
            assert torch.count_nonzero(m.bias) == 0
            # He et al. (2015): std sqrt(2 / fan_in); PyTorch's default has std 1 / sqrt(3 fan_in), 2.45 times less.
            # 8,000 draws or more: the sample std's relative error is about 1 / sqrt(2 n) < 0.8%
            assert m.weight.std().item() == pytest.approx(math.sqrt(2 / m.in_features), rel=0.02)
    with pytest.raises(ValueError, match="init"):
        bench.book_recipe(_images(), init="xavier")


def test_the_optimiser_changes_are_applied():
    recipe = bench.book_recipe(_images(), adam_beta1=0.8, adam_beta2=0.99, adam_eps=1e-6, batch_size=50)
    group = recipe.optimizer.param_groups[0]
    assert group["betas"] == (0.8, 0.99) and group["eps"] == 1e-6
    assert len(next(iter(recipe.loader))[0]) == 50
    warm = bench.book_recipe(_images(), lr=2e-3, lr_warmup=4)
    assert warm.optimizer.param_groups[0]["lr"] == pytest.approx(2e-3 / 4)     # step 0: a quarter
    bench.train_until(warm, max_steps=3)
    assert warm.optimizer.param_groups[0]["lr"] == pytest.approx(2e-3)           # step 3: the full rate
    floor = bench.book_recipe(_images(), lr=3e-3, lr_half_life=10, lr_end=1e-3)
    bench.train_until(floor, max_steps=10)       # half of the way from 3e-3 to 1e-3 after one half-life
    assert floor.optimizer.param_groups[0]["lr"] == pytest.approx(2e-3)


def test_ema_scores_the_moving_average_of_the_weights():
    """ema = a: the copy kept is avg_1 = w_1, avg_t = a_t avg_(t-1) + (1 - a_t) w_t, a_t = min(a, t / (t + 9)), over the
    weights after each step (train.moving_average), recomputed here from the raw weights of a second run with the same
    seed (a = 0.9: a_t = t / (t + 9) throughout the 4 steps, the warm start); the raw run's weights are not it."""
    raw = bench.book_recipe(_images())
    states = []                                 # the raw weights after each of steps 1..4
    raw.optimizer.register_step_post_hook(
        lambda *_: states.append({k: v.clone() for k, v in raw.model.state_dict().items()}))
    bench.train_until(raw, max_steps=4)
    averaged = bench.train_until(bench.book_recipe(_images(), ema=0.9), max_steps=4)[-1]["state"]
    for name in averaged:
        expected = states[0][name]
        for t, w in enumerate(states[1:], start=2):
            a_t = min(0.9, t / (t + 9))
            expected = a_t * expected + (1 - a_t) * w[name]
        assert torch.allclose(averaged[name], expected, atol=1e-6), name       # float32 rounding of 4 updates
        assert not torch.allclose(averaged[name], states[-1][name], atol=1e-6), name


def test_the_loss_changes_are_applied():
    model = bench.book_recipe(_images()).model
    x = _images(20)
    torch.manual_seed(3)
    plain = bench.BookLoss()(model, (x,))
    torch.manual_seed(3)                         # without changes it is the chapter's loss, noise for noise
    assert plain["loss"].item() == pytest.approx(vae.binarized_loss(model, (x,))["loss"].item(), rel=1e-6)
    warm = bench.BookLoss(kl_warmup=4, kl_start=0.5)
    weights = []
    for _ in range(6):
        weights.append(warm.kl_weight())
        terms = warm(model, (x,))
        assert terms["loss"].item() == pytest.approx((terms["recon"] + weights[-1] * terms["kl"]).item(), rel=1e-6)
    assert weights == [0.5, 0.625, 0.75, 0.875, 1.0, 1.0]
    # free bits above every dimension's KL: the KL term is the constant d * free_bits (20 dimensions of 50 nats)
    terms = bench.BookLoss(free_bits=50.0)(model, (x,))
    assert terms["kl"].item() < 50.0
    assert (terms["loss"] - terms["recon"]).item() == pytest.approx(20 * 50.0)
    recipe = bench.book_recipe(_images(), kl_warmup=100, free_bits=0.1)
    assert isinstance(recipe.loss, bench.BookLoss) and (recipe.loss.kl_warmup, recipe.loss.free_bits) == (100, 0.1)
    assert bench.parse_changes(["activation=elu", "init=kaiming", "kl_start=2"]) == \
        {"activation": "elu", "init": "kaiming", "kl_start": 2}


def test_the_data_decoder_bias_starts_the_decoder_at_the_pixels_marginals():
    images = _images() ** 3                  # pixel means near 1/4, far from PyTorch's start at sigm(~0) = 1/2
    model = bench.book_recipe(images, hidden_layers=1).model       # the chapter's config: decoder_bias "data"
    mean = images.mean(0).flatten()          # grey levels in (0, 1): no clipping at work here
    assert torch.allclose(torch.sigmoid(_linears(model.decoder)[-1].bias), mean, atol=1e-6)
    plain = bench.book_recipe(images, hidden_layers=1, decoder_bias="default").model
    assert not torch.allclose(torch.sigmoid(_linears(plain.decoder)[-1].bias), mean, atol=0.1)
    with pytest.raises(ValueError, match="decoder_bias"):
        bench.book_recipe(images, decoder_bias="zeros")
