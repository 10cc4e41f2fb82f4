"""edu_gen.vae: the reparameterised sample and the Monte Carlo ELBO (the ELBO chapter), the VAE, the
importance-weighted bound and the paper-protocol benchmark (the VAE chapter), against known answers.

Every statistical tolerance is a multiple of a standard error measured from the draws themselves;
every deterministic one is a small multiple of the rounding error measured in its dtype.
"""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import distributions as D

from edu_gen import likelihood, vae


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_reparameterize_has_the_right_mean_and_standard_deviation():
    n = 200_000
    mu = torch.tensor([[1.0, -2.0, 0.5]], dtype=torch.float64).expand(n, 3)
    log_var = torch.tensor([[math.log(4.0), math.log(0.25), 0.0]], dtype=torch.float64).expand(n, 3)
    sigma = torch.tensor([2.0, 0.5, 1.0], dtype=torch.float64)
    z = vae.reparameterize(mu, log_var, gen(1))
    assert z.shape == mu.shape and z.dtype == torch.float64
    # 5 standard errors: sigma / sqrt(n) for a mean (measured within 1.5), 1 / sqrt(2n) relative for a std (within 2.2)
    assert ((z.mean(0) - mu[0]).abs() < 5 * sigma / math.sqrt(n)).all()
    # sigma = (2, 0.5, 1): a sigma^2 * eps slip would give (4, 0.25, 1) and fail here
    assert ((z.std(0) / sigma - 1).abs() < 5 / math.sqrt(2 * n)).all()


def test_reparameterize_is_mu_plus_sigma_times_the_same_noise():
    mu, log_var = torch.randn(4, 5, generator=gen(2)), torch.randn(4, 5, generator=gen(3))
    z = vae.reparameterize(mu, log_var, gen(7))
    eps = torch.randn(4, 5, generator=gen(7))
    # written as sqrt(exp(log_var)) here, a different float path from exp(log_var / 2): measured 1.2e-7 in float32
    assert torch.allclose(z, mu + torch.exp(log_var).sqrt() * eps, rtol=0, atol=1e-6)
    assert torch.equal(z, vae.reparameterize(mu, log_var, gen(7)))


def test_reparameterize_passes_gradients_to_mu_and_log_var():
    mu = torch.zeros(3, 2, requires_grad=True)
    log_var = torch.zeros(3, 2, requires_grad=True)
    z = vae.reparameterize(mu, log_var, gen(0))
    z.sum().backward()
    assert torch.equal(mu.grad, torch.ones(3, 2))
    eps = torch.randn(3, 2, generator=gen(0))
    assert torch.allclose(log_var.grad, 0.5 * eps)                   # d/dlogvar of exp(logvar/2) eps


@pytest.mark.parametrize(
    "mu, log_var, error, match",
    [
        (torch.zeros(3, 2), torch.zeros(3, 4), ValueError, "log_var must have mu's shape"),
        (torch.zeros(3, 2), torch.zeros(2), ValueError, "log_var must have mu's shape"),
        (torch.zeros(3, 2, dtype=torch.long), torch.zeros(3, 2), TypeError, "floating-point"),
        (torch.zeros(3, 2), torch.zeros(3, 2, dtype=torch.float64), TypeError, "share a dtype"),
        ([0.0, 1.0], torch.zeros(2), TypeError, "must be a torch.Tensor"),
        (torch.tensor(0.0), torch.tensor(0.0), ValueError, "got a scalar"),
    ],
)
def test_reparameterize_rejects_bad_input(mu, log_var, error, match):
    with pytest.raises(error, match=match):
        vae.reparameterize(mu, log_var)


def test_elbo_with_many_samples_matches_the_exact_expectation():
    """S draws average S one-draw ELBOs of the same noise stream, and agree with the closed form within 5 SE."""
    # linear-Gaussian decoder p(x|z) = N(x; W z, I): E_q[log p(x|z)] has a closed form
    g = gen(4)
    w = 0.3 * torch.randn(6, 2, generator=g, dtype=torch.float64)
    x = torch.randn(3, 6, generator=g, dtype=torch.float64)
    mu = torch.randn(3, 2, generator=g, dtype=torch.float64)
    log_var = 0.3 * torch.randn(3, 2, generator=g, dtype=torch.float64)

    def log_lik(x, z):
        return -likelihood.gaussian_nll(x, z @ w.T)

    # E||x - W z||^2 = ||x - W mu||^2 + sum_j sigma_j^2 ||W_:j||^2
    expected_sq = ((x - mu @ w.T) ** 2).sum(1) + (log_var.exp() * (w**2).sum(0)).sum(1)
    kl = 0.5 * (mu**2 + log_var.exp() - log_var - 1).sum(1)              # written out, not the library's
    exact = -0.5 * expected_sq - 3 * math.log(2 * math.pi) - kl
    # num_samples = S averages S one-draw ELBOs of the same noise stream (float64 rounding: measured 1e-14)
    estimate = vae.elbo(x, mu, log_var, log_lik, num_samples=200, generator=gen(5))
    assert estimate.shape == (3,)
    g = gen(5)
    singles = torch.stack([vae.elbo(x, mu, log_var, log_lik, num_samples=1, generator=g) for _ in range(200)])
    assert torch.allclose(estimate, singles.mean(0), rtol=0, atol=1e-10)
    # many draws at once (the batch repeated S times) agree with the closed form within 5 standard errors
    S = 20_000
    draws = vae.elbo(x.repeat(S, 1), mu.repeat(S, 1), log_var.repeat(S, 1), log_lik, generator=gen(6)).reshape(S, 3)
    standard_error = draws.std(0) / math.sqrt(S)
    assert ((draws.mean(0) - exact).abs() < 5 * standard_error).all()   # measured within 2.5 SE


def test_elbo_is_below_the_exact_evidence_and_reaches_it_at_the_posterior():
    # z ~ N(0, 1), x | z ~ N(z, s^2): p(x) = N(0, 1 + s^2), posterior N(x / (1 + s^2), s^2 / (1 + s^2))
    s2 = 0.5
    x = torch.tensor([[0.7], [-1.2]], dtype=torch.float64)
    log_px = D.Normal(0.0, math.sqrt(1 + s2)).log_prob(x).squeeze(1)

    def log_lik(x, z):
        return -likelihood.gaussian_nll(x, z, math.log(s2))

    post_mu = x / (1 + s2)
    post_log_var = torch.full_like(x, math.log(s2 / (1 + s2)))
    S = 50_000

    def mean_and_standard_error(mean):                                   # S draws at once: the batch repeated S times
        draws = vae.elbo(x.repeat(S, 1), mean.repeat(S, 1), post_log_var.repeat(S, 1), log_lik, generator=gen(6))
        draws = draws.reshape(S, 2)
        return draws.mean(0), draws.std(0) / math.sqrt(S)

    at_posterior, se = mean_and_standard_error(post_mu)
    assert ((at_posterior - log_px).abs() < 5 * se).all()                # measured within 2 SE
    # moving q's mean by 0.8 opens the gap KL(q || posterior) = 0.8^2 / (2 * posterior variance) = 0.96 nats
    elsewhere, se = mean_and_standard_error(post_mu + 0.8)
    gap = 0.8**2 / (2 * s2 / (1 + s2))
    assert ((log_px - elsewhere - gap).abs() < 5 * se).all()


def test_elbo_rejects_bad_input():
    mu, log_var = torch.zeros(3, 2), torch.zeros(3, 2)
    ok = lambda x, z: torch.zeros(x.shape[0])  # noqa: E731
    with pytest.raises(ValueError, match="batch size"):
        vae.elbo(torch.zeros(4, 5), mu, log_var, ok)
    with pytest.raises(ValueError, match="num_samples must be a positive int"):
        vae.elbo(torch.zeros(3, 5), mu, log_var, ok, num_samples=0)
    with pytest.raises(ValueError, match="one value per example"):
        vae.elbo(torch.zeros(3, 5), mu, log_var, lambda x, z: torch.zeros(3, 5))
    with pytest.raises(ValueError, match="log_var must have mu's shape"):
        vae.elbo(torch.zeros(3, 5), mu, torch.zeros(3, 3), ok)


# ---------------------------------------------------------------- Chapter 5: the model


@pytest.mark.parametrize("architecture", ["mlp", "conv"])
def test_vae_shapes_and_loss_terms(architecture):
    torch.manual_seed(0)
    model = vae.VAE(vae.VAEConfig(latent_dim=3, hidden_dim=16, architecture=architecture, beta=2.0))
    x = torch.rand(5, 1, 28, 28, generator=gen(0)).bernoulli(generator=gen(1))
    mu, log_var = model.encode(x)
    assert mu.shape == log_var.shape == (5, 3)
    logits, mu2, _ = model(x, gen(2))
    assert logits.shape == x.shape and torch.equal(mu, mu2)
    terms = model.negative_elbo(x, gen(3))
    assert {"recon", "kl", "loss"} <= set(terms) and terms["loss"].shape == (5,)
    # the displayed equation, written out here (not with the library's functions): one draw
    # z = mu + sigma eps with the generator's noise, the Bernoulli log-probability with sigm, the
    # KL of a diagonal Gaussian to N(0, I), and the KL weighted by beta = 2
    with torch.no_grad():
        z = mu + torch.exp(0.5 * log_var) * torch.randn(5, 3, generator=gen(3))
        p = torch.sigmoid(model.decode(z)).double()
        recon = -(x * p.log() + (1 - x) * (1 - p).log()).sum(dim=(1, 2, 3))
        kl = 0.5 * (mu**2 + log_var.exp() - log_var - 1).sum(1)
    # float32 logits through log(sigm) vs the library's log-sigmoid: measured 6e-5 nats on ~550 (the ulp there)
    assert torch.allclose(terms["recon"].double(), recon, rtol=0, atol=2e-4)
    assert torch.allclose(terms["kl"], kl, rtol=1e-6, atol=1e-7)         # measured 0 (same float ops)
    assert torch.allclose(terms["loss"].double(), recon + 2.0 * kl.double(), rtol=0, atol=2e-4)
    means = model.loss((x, torch.zeros(5)), gen(3))
    assert torch.allclose(means["loss"], terms["loss"].mean(), rtol=1e-6, atol=0)
    samples = model.sample(4, gen(4))
    assert samples.shape == (4, 1, 28, 28) and 0 <= samples.min() and samples.max() <= 1
    assert torch.equal(samples, model.sample(4, gen(4)))
    assert set(model.sample(3, gen(5), mean=False).unique().tolist()) <= {0.0, 1.0}


def test_vae_samples_are_bernoulli_draws_of_the_decoder_means():
    """sample(mean=False) draws x ~ Bernoulli(sigm(g(z))) for the same z that sample(mean=True) decodes."""
    torch.manual_seed(0)
    model = vae.VAE(vae.VAEConfig(latent_dim=3, hidden_dim=16))
    n = 400
    means = model.sample(n, gen(8), mean=True).double()
    draws = model.sample(n, gen(8), mean=False).double()
    assert set(draws.unique().tolist()) <= {0.0, 1.0}
    # each pixel is one Bernoulli draw: the summed error has standard deviation sqrt(sum p(1 - p))
    standard_error = (means * (1 - means)).sum().sqrt()
    assert abs((draws - means).sum()) < 5 * standard_error               # measured 0.5 SE
    # and they are not the means: the squared error is sum p(1 - p) on average
    mean_squared = ((draws - means) ** 2).sum() / (means * (1 - means)).sum()
    assert abs(mean_squared - 1) < 0.01                                   # measured 1.5e-4; means alone give 0


def test_vae_training_lowers_the_negative_elbo():
    torch.manual_seed(0)
    x = (torch.rand(256, 1, 28, 28, generator=gen(0)) < 0.2).float()
    x[:, :, 10:18, 10:18] = 1.0                                      # a shared structure to learn
    model = vae.VAE(vae.VAEConfig(latent_dim=2, hidden_dim=32))
    before = model.loss(x)["loss"].item()
    history = vae.train_vae(model, x, steps=60, batch_size=64, lr=3e-3, progress=False)
    assert len(history["loss"]) == 60 and "kl" in history
    # 784 ln 2 ~ 543 nats at the start; measured a fall of 185 nats in 60 steps
    assert model.loss(x)["loss"].item() < before - 150


def test_iwae_bounds_are_ordered_and_k1_is_the_elbo():
    torch.manual_seed(0)
    model = vae.VAE(vae.VAEConfig(latent_dim=2, hidden_dim=16)).eval()
    x = torch.rand(6, 1, 28, 28, generator=gen(0)).bernoulli(generator=gen(1))
    # K = 1 is exactly one ELBO draw with the same noise: log p(x|z) + log p(z) - log q(z|x) by torch.distributions
    k1 = vae.iwae_log_likelihood(model, x, 1, generator=gen(2))
    mu, log_var = model.encode(x)
    eps = torch.randn(6, 2, generator=gen(2))
    with torch.no_grad():
        z = mu + torch.exp(0.5 * log_var) * eps
        log_w = (D.Bernoulli(logits=model.decode(z)).log_prob(x).sum(dim=(1, 2, 3)) + D.Normal(0, 1).log_prob(z).sum(1)
                 - D.Normal(mu, torch.exp(0.5 * log_var)).log_prob(z).sum(1))
    assert torch.allclose(k1, log_w, rtol=0, atol=1e-4)                 # measured 0; the float32 ulp at 550 is 6e-5
    # averaged over draws, ELBO <= IWAE_5 <= IWAE_50 (Burda et al., 2016, Theorem 1); a decoder
    # that depends strongly on z makes q(z|x) a poor posterior, so the gaps are large
    with torch.no_grad():
        model.decoder[0].weight.mul_(20.0)
    means = [torch.stack([vae.iwae_log_likelihood(model, x, k, generator=gen(s)) for s in range(20)]).mean()
             for k in (1, 5, 50)]
    assert means[0] + 20 < means[1] and means[1] + 20 < means[2]         # measured gaps 190 and 48 nats


def test_iwae_chunk_size_does_not_change_the_draws_or_the_estimate():
    """With one generator seed, K = 12 draws in one chunk, in chunks of 5 (5 + 5 + 2) or one at a time agree."""
    torch.manual_seed(0)
    model = vae.VAE(vae.VAEConfig(latent_dim=2, hidden_dim=16)).eval()
    with torch.no_grad():
        model.decoder[0].weight.mul_(20.0)                               # log-weights that differ a lot between draws
    x = torch.rand(3, 1, 28, 28, generator=gen(0)).bernoulli(generator=gen(1))
    whole = vae.iwae_log_likelihood(model, x, 12, generator=gen(2), chunk=12)
    assert whole.shape == (3,)
    for chunk in (5, 1):
        # decoding 3 * chunk rows instead of 36 may round differently in float32: measured 0; ulp at 600 is 6e-5
        assert torch.allclose(vae.iwae_log_likelihood(model, x, 12, generator=gen(2), chunk=chunk), whole, rtol=0, atol=1e-4)
    # another seed gives another estimate (the check above would pass for a function that ignored its noise otherwise)
    assert (vae.iwae_log_likelihood(model, x, 12, generator=gen(3), chunk=12) - whole).abs().max() > 0.1


def test_vae_rejects_bad_input():
    with pytest.raises(ValueError, match="latent_dim must be an int >= 1"):
        vae.VAEConfig(latent_dim=0)
    with pytest.raises(ValueError, match="architecture must be one of"):
        vae.VAEConfig(architecture="transformer")
    with pytest.raises(ValueError, match="beta must be a number >= 0"):
        vae.VAEConfig(beta=-1.0)
    model = vae.VAE(vae.VAEConfig(latent_dim=2, hidden_dim=8))
    with pytest.raises(ValueError, match=r"pixel values in \[0, 1\]"):
        model.loss(torch.full((2, 1, 28, 28), 2.0))
    with pytest.raises(ValueError, match=r"pixel values in \[0, 1\]"):
        model.loss(torch.full((2, 1, 28, 28), -0.5))
    with pytest.raises(ValueError, match=r"shape \(B, 1, 28, 28\)"):
        model.loss(torch.zeros(2, 784))
    with pytest.raises(ValueError, match="k .* must be an int >= 1"):
        vae.iwae_log_likelihood(model, torch.zeros(2, 1, 28, 28), 0)
    with pytest.raises(ValueError, match="chunk .* must be an int >= 1"):
        vae.iwae_log_likelihood(model, torch.zeros(2, 1, 28, 28), 3, chunk=0)
    with pytest.raises(ValueError, match="activation must be one of"):
        vae.VAEConfig(activation="gelu")
    with pytest.raises(ValueError, match=r"decode expects z of shape \(B, 2\)"):
        model.decode(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="n must be a positive int"):
        model.sample(0)


def test_vae_config_is_saved_and_restored(tmp_path):
    from edu_gen import train

    config = vae.VAEConfig(latent_dim=4, hidden_dim=8)
    model = vae.VAE(config)
    train.save(tmp_path / "m.pt", model, config)
    again = vae.VAE(vae.VAEConfig(**train.load(tmp_path / "m.pt", vae.VAE(config))["config"]))
    assert again.config == config


def test_deterministic_ae_decodes_the_mean_and_has_no_kl():
    torch.manual_seed(0)
    ae = vae.DeterministicAE(vae.VAEConfig(latent_dim=3, hidden_dim=8))
    x = torch.rand(4, 1, 28, 28, generator=gen(0))
    terms = ae.negative_elbo(x)
    mu, _ = ae.encode(x)
    # z = mu, no noise: two calls agree exactly, and recon is the cross-entropy of the decoded mean
    assert torch.equal(terms["recon"], ae.negative_elbo(x)["recon"])
    assert torch.allclose(terms["recon"], likelihood.bernoulli_nll(x, ae.decode(mu)), rtol=0, atol=0)
    assert torch.equal(terms["kl"], torch.zeros(4)) and torch.equal(terms["loss"], terms["recon"])


def test_log_normal_matches_torch_distributions_with_broadcasting():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(7, 4, 3, generator=g)  # (k, B, D)
    mu, log_var = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)  # (B, D), broadcast over k
    expected = torch.distributions.Normal(mu, (0.5 * log_var).exp()).log_prob(z).sum(-1)
    assert vae.log_normal(z, mu, log_var).shape == (7, 4)
    assert torch.allclose(vae.log_normal(z, mu, log_var), expected, rtol=0, atol=1e-5)  # float32: measured 1.9e-6
    # the broadcast must pair z[i, b] with mu[b]: shuffling the batch of mu changes the answer
    assert not torch.allclose(vae.log_normal(z, mu.flip(0), log_var), expected, rtol=0, atol=1e-2)


def test_tanh_configuration_builds_the_papers_network():
    model = vae.VAE(vae.VAEConfig(latent_dim=50, hidden_dim=200, activation="tanh"))
    kinds = {type(layer).__name__ for layer in [*model.encoder, *model.decoder]}
    assert "Tanh" in kinds and "ReLU" not in kinds
    assert model.encoder[-1].out_features == 100 and model.decoder[0].in_features == 50


@pytest.mark.parametrize("activation, gain", [("relu", math.sqrt(2)), ("tanh", 5 / 3)])
def test_kaiming_init_gives_the_hidden_layers_he_variance_and_leaves_the_output_layers(activation, gain):
    config = vae.VAEConfig(latent_dim=20, hidden_dim=400, activation=activation, init="kaiming")
    torch.manual_seed(0)
    model = vae.VAE(config)
    torch.manual_seed(0)
    default = vae.VAE(vae.VAEConfig(latent_dim=20, hidden_dim=400, activation=activation))
    for part, part0 in ((model.encoder, default.encoder), (model.decoder, default.decoder)):
        linears = [m for m in part if isinstance(m, torch.nn.Linear)]
        *hidden, last = linears
        last0 = [m for m in part0 if isinstance(m, torch.nn.Linear)][-1]
        assert torch.equal(last.weight, last0.weight) and torch.equal(last.bias, last0.bias)   # PyTorch's draw kept
        for m in hidden:
            assert torch.count_nonzero(m.bias) == 0
            # He et al. (2015), eq. 10: std = gain / sqrt(fan_in); PyTorch's default has std 1 / sqrt(3 fan_in),
            # 2.45 (relu) or 2.9 (tanh) times less. >= 8,000 draws: the sample std's relative error ~ 1/sqrt(2n) < 0.8%
            assert m.weight.std().item() == pytest.approx(gain / math.sqrt(m.in_features), rel=0.03)


def test_init_decoder_bias_puts_the_untrained_decoder_at_the_best_constant_prediction():
    """With the output weights at zero, the decoder predicts sigm(b) for every z; b = logit(pixel means) is then the
    constant prediction of least cross-entropy (its gradient, mean(sigm(b) - x), is zero): moving b in any direction
    costs, and PyTorch's default bias is worse."""
    images = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(1)) ** 3   # means ~1/4, not 1/2
    model = vae.VAE(vae.VAEConfig(latent_dim=2, hidden_dim=8, decoder_bias="data"))
    vae.init_decoder_bias(model, images)
    out = [m for m in model.decoder if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        out.weight.zero_()

    def cross_entropy():
        logits = model.decode(torch.zeros(len(images), 2))
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, images).item()

    best = cross_entropy()
    for shift in (0.1, -0.1):
        with torch.no_grad():
            out.bias += shift
        assert cross_entropy() > best + 1e-4          # ~ shift^2 * p (1 - p) / 2 ~ 1e-3: ten times the margin
        with torch.no_grad():
            out.bias -= shift
    with torch.no_grad():
        out.bias.zero_()                              # a decoder that starts at 1/2 everywhere
    assert cross_entropy() > best + 0.05
    with pytest.raises(ValueError, match="mlp architecture"):
        vae.init_decoder_bias(vae.VAE(vae.VAEConfig(architecture="conv")), images)
    with pytest.raises(ValueError, match="at least one image"):
        vae.init_decoder_bias(model, images[:0])


def test_train_vae_sets_the_data_bias_before_training_and_only_when_asked():
    images = torch.rand(100, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    for bias, expected in (("data", True), ("default", False)):
        torch.manual_seed(0)
        model = vae.VAE(vae.VAEConfig(latent_dim=2, hidden_dim=8, decoder_bias=bias))
        vae.train_vae(model, images, steps=1, lr=1e-9, progress=False)     # one step that moves nothing visible
        b = [m for m in model.decoder if isinstance(m, torch.nn.Linear)][-1].bias
        at_means = torch.allclose(torch.sigmoid(b), images.mean(0).flatten(), atol=1e-5)
        assert at_means == expected, bias


@pytest.mark.parametrize("changes, message", [
    ({"init": "xavier"}, r"init must be one of \('default', 'kaiming'\), got 'xavier'"),
    ({"decoder_bias": "zeros"}, r"decoder_bias must be one of \('default', 'data'\), got 'zeros'"),
    ({"architecture": "conv", "init": "kaiming"}, "defined for the mlp architecture only"),
    ({"architecture": "conv", "decoder_bias": "data"}, "defined for the mlp architecture only"),
])
def test_vae_config_refuses_an_unknown_init_or_bias_and_both_on_the_conv_network(changes, message):
    with pytest.raises(ValueError, match=message):
        vae.VAEConfig(**changes)


def test_kl_warmup_weighs_the_kl_term_by_min_1_t_over_steps():
    """KLWarmup's t-th call returns recon + min(1, t / steps) * beta * kl, its recon and kl unweighted."""
    torch.manual_seed(0)
    model = vae.VAE(vae.VAEConfig(latent_dim=2, hidden_dim=8, beta=2.0))
    x = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    warm = vae.KLWarmup(lambda m, b: m.loss(b, generator=torch.Generator().manual_seed(2)), 4)
    for t in range(6):
        terms = warm(model, x)
        plain = model.loss(x, generator=torch.Generator().manual_seed(2))
        assert torch.equal(terms["kl"], plain["kl"]) and torch.equal(terms["recon"], plain["recon"])
        assert torch.allclose(terms["loss"], plain["recon"] + min(1.0, t / 4) * 2.0 * plain["kl"]), t
    assert warm.weight() == 1.0
    with pytest.raises(ValueError, match="steps must be an int >= 1"):
        vae.KLWarmup(vae.binarized_loss, 0)


def test_train_vae_applies_the_configs_warmup_and_weight_average():
    """train_vae with kl_warmup and weight_average = train.fit on KLWarmup(binarized_loss) with that average."""
    from dataclasses import replace

    from edu_gen import data, train

    images = torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    config = vae.VAEConfig(latent_dim=2, hidden_dim=8, kl_warmup=3, weight_average=0.7)
    torch.manual_seed(0)
    model = vae.VAE(config)
    twin = vae.VAE(replace(config, kl_warmup=0, weight_average=None))
    twin.load_state_dict(model.state_dict())
    vae.train_vae(model, images, steps=5, progress=False)
    torch.manual_seed(0)
    loader = data.loader(images, batch_size=100, shuffle=True, seed=0, drop_last=True)
    train.fit(twin, vae.KLWarmup(vae.binarized_loss, 3), loader, epochs=3, max_steps=5, progress=False, average=0.7)
    for (name, got), want in zip(model.state_dict().items(), twin.state_dict().values()):
        assert torch.equal(got, want), name
    torch.manual_seed(0)
    plain = vae.VAE(replace(config, kl_warmup=0, weight_average=None))
    vae.train_vae(plain, images, steps=5, progress=False)                 # neither: other weights
    assert not torch.equal(plain.decoder[-2].weight, model.decoder[-2].weight)


@pytest.mark.parametrize("changes, error, message", [
    ({"kl_warmup": -1}, ValueError, r"kl_warmup must be an int >= 0"),
    ({"kl_warmup": 2.0}, TypeError, r"kl_warmup must be an int >= 0"),
    ({"weight_average": 1.0}, ValueError, r"weight_average must be None or a decay in \[0, 1\)"),
    ({"weight_average": -0.5}, ValueError, r"weight_average must be None or a decay in \[0, 1\)"),
])
def test_vae_config_refuses_a_negative_warmup_and_an_average_outside_0_1(changes, error, message):
    with pytest.raises(error, match=message):
        vae.VAEConfig(**changes)


# ---------------------------------------------------------------- benchmarks/vae_mnist.py: the paper's protocol


def _benchmark():
    path = Path(__file__).parents[1] / "benchmarks" / "vae_mnist.py"
    spec = importlib.util.spec_from_file_location("vae_mnist_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_full_scale_uses_the_papers_model_and_schedule():
    bench = _benchmark()
    schedule = bench.paper_schedule()
    # Burda et al. (2016), section 5: 3^i passes at 1e-3 * 10^(-i/7), i = 0..7, 3280 passes in all
    assert [passes for passes, _ in schedule] == [1, 3, 9, 27, 81, 243, 729, 2187]
    assert sum(passes for passes, _ in schedule) == 3280
    assert schedule[0][1] == pytest.approx(1e-3, rel=1e-12) and schedule[-1][1] == pytest.approx(1e-4, rel=1e-12)
    assert schedule[3][1] == pytest.approx(1e-3 * 10 ** (-3 / 7), rel=1e-12)
    config = bench.PAPER_CONFIG
    assert (config.latent_dim, config.hidden_dim, config.activation, config.architecture) == (50, 200, "tanh", "mlp")
    assert bench.PAPER_BATCH == 20 and bench.PAPER_ADAM == {"betas": (0.9, 0.999), "eps": 1e-4}


def test_full_scale_training_follows_the_schedule(monkeypatch):
    """train_paper runs each stage at its learning rate with one Adam, and stops at max_steps."""
    bench = _benchmark()
    calls = []

    def fake_fit(model, loss_fn, loader, *, epochs, max_steps, optimizer, progress, history):
        assert isinstance(optimizer, torch.optim.Adam) and optimizer.defaults["eps"] == 1e-4
        assert loss_fn is vae.binarized_loss and loader.batch_size == 20
        calls.append((epochs, max_steps, optimizer.param_groups[0]["lr"], id(optimizer)))
        return history or bench.train.History()

    monkeypatch.setattr(bench.train, "fit", fake_fit)
    images = torch.rand(60, 1, 28, 28, generator=gen(0))                # 3 batches of 20 per pass
    model = vae.VAE(bench.PAPER_CONFIG)
    full = bench.train_paper(model, images)
    assert [(e, s) for e, s, _, _ in calls] == [(3**i, 3 * 3**i) for i in range(8)]
    assert [lr for _, _, lr, _ in calls] == pytest.approx([1e-3 * 10 ** (-i / 7) for i in range(8)], rel=1e-12)
    assert len({opt for *_, opt in calls}) == 1 and full.steps_done == 3 * 3280
    calls.clear()
    short = bench.train_paper(model, images, max_steps=10)               # stage 0 (3 steps), then 7 of stage 1
    assert [(e, s) for e, s, _, _ in calls] == [(1, 3), (3, 7)] and short.steps_done == 10


def test_full_scale_benchmark_starts_and_reports_its_protocol(monkeypatch, tmp_path, capsys):
    """A few steps of the full scale on the offline digits: the JSON keeps its fields and adds the protocol."""
    import json
    import sys

    bench = _benchmark()
    monkeypatch.setenv("EDU_GEN_DATA", str(tmp_path))                   # no MNIST there: the digits fallback
    monkeypatch.setenv("EDU_GEN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(sys, "argv", ["vae_mnist.py", "--scale", "full", "--max-steps", "5", "--k", "3", "--n-test", "20"])
    bench.main()
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for field in ("scale", "nll_nats", "elbo_nats", "k", "n_test", "train_steps", "train_seconds", "train_cpu_seconds",
                  "eval_seconds", "device", "threads", "reference_nll_nats"):
        assert field in result, field
    assert result["train_steps"] == 5 and result["k"] == 3 and result["n_test"] == 20
    assert result["protocol"]["latent_dim"] == 50 and result["protocol"]["activation"] == "tanh"
    assert result["protocol"]["batch_size"] == 20 and result["protocol"]["data"] == "digits"
    assert result["reference"]["nll_nats"] == 86.76 and "k = 5000" in result["reference"]["evaluation"]
    assert result["nll_nats"] <= -result["elbo_nats"] + 5                  # ELBO_3 vs one ELBO draw, 20 digits


def test_nan_images_are_refused_by_every_function_that_takes_images():
    """Every comparison with NaN is false, so a check written as `x < 0 or x > 1` lets NaN through."""
    model = vae.VAE(vae.VAEConfig(latent_dim=2, hidden_dim=8))
    x = torch.rand(3, 1, 28, 28, generator=gen(0))
    x[1, 0, 5, 5] = float("nan")
    for call in (lambda: vae.iwae_log_likelihood(model, x, 3), lambda: model.loss(x), lambda: vae.binarized_loss(model, x),
                 lambda: vae.check_unit_interval(x, "here")):
        with pytest.raises(ValueError, match=r"pixel values in \[0, 1\], got 1 NaN entries"):
            call()


def test_iwae_refuses_models_without_a_gaussian_encoder():
    from edu_gen import autoencoders

    x = torch.rand(2, 1, 28, 28, generator=gen(0))
    for model in (vae.DeterministicAE(vae.VAEConfig(latent_dim=2, hidden_dim=8)), autoencoders.Autoencoder()):
        with pytest.raises(TypeError, match=f"model must be a VAE .*got {type(model).__name__}"):
            vae.iwae_log_likelihood(model, x, 3)


def test_deterministic_ae_has_no_variance_head():
    config = vae.VAEConfig(latent_dim=3, hidden_dim=8)
    torch.manual_seed(5)
    ae = vae.DeterministicAE(config)
    after_ae = torch.rand(1)
    torch.manual_seed(5)
    full = vae.VAE(config)
    assert torch.equal(torch.rand(1), after_ae)            # the AE draws what the VAE draws, no more
    assert ae.encoder[-1].out_features == 3 and full.encoder[-1].out_features == 6
    # 8 * 3 + 3 fewer parameters than the VAE: the log-variance head's weights and biases
    assert sum(p.numel() for p in full.parameters()) - sum(p.numel() for p in ae.parameters()) == 8 * 3 + 3
    # from one seed, every weight the AE has starts where the VAE's does (the chapter compares them so)
    full_state = full.state_dict()
    for name, value in ae.state_dict().items():
        assert torch.equal(value, full_state[name][: len(value)]), name
    conv = vae.DeterministicAE(vae.VAEConfig(latent_dim=3, architecture="conv"))
    mu, log_var = conv.encode(torch.rand(2, 1, 28, 28, generator=gen(0)))
    assert mu.shape == (2, 3) and log_var is None


def test_old_deterministic_ae_checkpoints_are_refused(tmp_path):
    """A checkpoint saved with the unused variance head no longer fits: train.load says so (and
    load_or_train trains anew) rather than loading half of it."""
    from edu_gen import train

    config = vae.VAEConfig(latent_dim=2, hidden_dim=8)
    old = vae.DeterministicAE(config)
    old.encoder[-1] = torch.nn.Linear(8, 4)   # the old DeterministicAE had the VAE's encoder, 2 * d outputs
    train.save(tmp_path / "old.pt", old, config)
    with pytest.raises(train.CheckpointMismatchError, match="another architecture"):
        train.load(tmp_path / "old.pt", vae.DeterministicAE(config), config=config)


@pytest.mark.parametrize("value", [np.float32(2.0), np.int64(3), torch.tensor(2.0), torch.tensor(4), 2, 2.5])
def test_vae_config_accepts_numbers_of_any_kind_as_python_numbers(value):
    config = vae.VAEConfig(latent_dim=np.int64(3), hidden_dim=torch.tensor(8), beta=value)
    assert type(config.beta) is float and config.beta == float(value)
    assert type(config.latent_dim) is int and config.latent_dim == 3 and type(config.hidden_dim) is int
    assert config == vae.VAEConfig(latent_dim=3, hidden_dim=8, beta=float(value))


@pytest.mark.parametrize("field, value, error, message", [
    ("beta", True, TypeError, r"beta must be a number >= 0 .*got True \(bool\)"),
    ("beta", float("inf"), ValueError, r"beta must be a number >= 0 \(the KL weight; finite\), got inf"),
    ("beta", float("nan"), ValueError, "beta must be .*got nan"),
    ("beta", "1.0", TypeError, r"beta must be .*got '1.0' \(str\)"),
    ("beta", torch.tensor([1.0, 2.0]), TypeError, r"beta must be .*got a tensor of shape \(2,\)"),
    ("beta", torch.tensor(True), TypeError, "beta must be .*torch.bool"),
    ("latent_dim", True, TypeError, r"latent_dim must be an int >= 1 .*got True \(bool\)"),
    ("latent_dim", 2.0, TypeError, r"latent_dim must be an int >= 1 .*got 2.0 \(float\)"),
    ("latent_dim", np.int64(0), ValueError, "latent_dim must be an int >= 1"),
    ("hidden_dim", torch.tensor(-1), ValueError, "hidden_dim must be an int >= 1"),
])
def test_vae_config_refuses_bools_non_finite_and_non_numbers(field, value, error, message):
    with pytest.raises(error, match=message):
        vae.VAEConfig(**{field: value})


def test_main_model_steps_per_scale_and_a_bad_scale(monkeypatch):
    """The benchmark asks for its --scale's budget without changing the process's scale."""
    monkeypatch.setenv("EDU_GEN_SCALE", "ci")
    assert vae.main_model_steps() == 300 and vae.main_model_steps("book") == 9_000 and vae.main_model_steps("full") == 300_000
    with pytest.raises(ValueError, match="scale must be one of ci, book, full, got 'huge'"):
        vae.main_model_steps("huge")
