"""edu_gen.cvae, edu_gen.semi_supervised and data.labelled_subset: the conditional VAE and M2 against brute force.

A model small enough to integrate: 3 binary pixels, a 1-D latent z and C = 3 labels. Its log p(x, y)
and log p(x) are computed by quadrature over z on a fine grid (and a sum over y), written here from
the networks' outputs without the library's loss code; the library's bounds are Monte Carlo
estimates compared with the exact bounds within 5 standard errors measured from their own draws.
"""

import math

import pytest
import torch

from edu_gen import cvae, data, semi_supervised

C = 3


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = cvae.M2(cvae.CVAEConfig(input_shape=(3,), latent_dim=1, hidden_dim=8, num_classes=C)).double()
    with torch.no_grad():                      # larger weights: a posterior far from the prior, labels that matter
        for p in model.parameters():
            p.mul_(2.0)
    return model.eval()


X = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
GRID = torch.linspace(-12.0, 12.0, 6001, dtype=torch.float64)          # z grid; the integrands vanish at its ends
DZ = float(GRID[1] - GRID[0])


def log_bernoulli(x, logits):
    """log prod_j p^x (1 - p)^(1 - x), written out, (G, D) -> (G,)."""
    return (x * torch.nn.functional.logsigmoid(logits) + (1 - x) * torch.nn.functional.logsigmoid(-logits)).sum(-1)


def exact(model, x, y):
    """By quadrature: log p(x, y), the bound -L(x, y) = E_q[log p(x|y,z)] + log p(y) - KL(q || p(z)), and KL(q || p(z|x,y))."""
    e = torch.nn.functional.one_hot(torch.tensor(y), C).double()
    with torch.no_grad():
        log_px_z = log_bernoulli(x, model.decoder.forward(GRID[:, None], e.expand(len(GRID), C)))   # (G,)
        mu, log_var = model.encoder(x[None], e[None])[0].chunk(2)
    log_pz = -0.5 * GRID**2 - 0.5 * math.log(2 * math.pi)
    log_q = -0.5 * (GRID - mu) ** 2 / log_var.exp() - 0.5 * log_var - 0.5 * math.log(2 * math.pi)
    q = log_q.exp() * DZ                                                 # quadrature weights of q(z|x, y)
    log_py = -math.log(C)
    log_pxy = log_py + torch.logsumexp(log_px_z + log_pz, 0) + math.log(DZ)
    bound = (q * (log_px_z + log_pz - log_q)).sum() + log_py
    kl_posterior = (q * (log_q - (log_px_z + log_pz + log_py - log_pxy))).sum()
    return log_pxy.item(), bound.item(), kl_posterior.item()


def test_quadrature_is_normalised(tiny):
    # sum over the 8 binary images and 3 labels of p(x, y) = 1: measured 1 - 1.1e-13 (grid of 6001 points)
    images = torch.tensor([[a, b, c] for a in (0.0, 1.0) for b in (0.0, 1.0) for c in (0.0, 1.0)], dtype=torch.float64)
    total = sum(math.exp(exact(tiny, x, y)[0]) for x in images for y in range(C))
    assert abs(total - 1) < 1e-9


def test_the_labelled_bound_is_log_p_xy_minus_the_posterior_kl(tiny):
    for y in range(C):
        log_pxy, bound, kl_post = exact(tiny, X, y)
        assert bound < log_pxy and kl_post > 1e-3                      # a strict bound on this model (KL measured 0.017-0.32)
        assert abs(bound + kl_post - log_pxy) < 1e-9                   # the derivation's identity, measured 1.4e-13


def test_negative_elbo_estimates_the_exact_bound(tiny):
    n = 20_000
    for y in range(C):
        terms = tiny.negative_elbo(X.expand(n, 3), torch.full((n,), y), generator=gen(y))
        estimate, se = terms["loss"].mean().item(), terms["loss"].std().item() / math.sqrt(n)
        _, bound, _ = exact(tiny, X, y)
        # 5 standard errors of ~0.001 (measured within 2.4); dropping log p(y) (1.1 nats) or the KL (0.02-0.26 nats) fails
        assert abs(estimate + bound) < 5 * se, (y, estimate, -bound, se)
        assert se < 0.005                                                 # measured 0.0009-0.0015


def test_unlabelled_bound_enumerates_y_and_matches_brute_force(tiny):
    n = 20_000
    with torch.no_grad():
        q = torch.softmax(tiny.classifier(X[None]), 1)[0]               # q(y|x), (C,)
    exact_y = [exact(tiny, X, y) for y in range(C)]
    entropy = -(q * q.log()).sum().item()
    minus_u = sum(q[y].item() * exact_y[y][1] for y in range(C)) + entropy
    log_px = torch.logsumexp(torch.tensor([e[0] for e in exact_y]), 0).item()
    # -U(x) <= log p(x); the gap is KL(q(y, z|x) || p(y, z|x)) = sum_y q(y) [log q(y) - log p(y|x) + KL_y]
    gap = sum(q[y].item() * (math.log(q[y]) - (exact_y[y][0] - log_px) + exact_y[y][2]) for y in range(C))
    assert minus_u < log_px and abs(log_px - minus_u - gap) < 1e-9    # measured ~1e-13

    with torch.no_grad():
        terms = tiny.unlabelled_terms(X.expand(n, 3), generator=gen(5))
    u, se = terms["loss"].mean().item(), terms["loss"].std().item() / math.sqrt(n)
    assert abs(u + minus_u) < 5 * se and se < 0.02                   # flipping the entropy's sign moves U by 2H = 1.4
    assert abs(terms["entropy"][0].item() - entropy) < 1e-12

    # the same bound by a plain loop over the labels with the labelled loss
    with torch.no_grad():
        loop = [tiny.negative_elbo(X.expand(n, 3), torch.full((n,), y), generator=gen(10 + y))["loss"] for y in range(C)]
    by_hand = sum(q[y] * loop[y] for y in range(C)) - entropy         # (n,)
    se_both = math.hypot(se, by_hand.std().item() / math.sqrt(n))
    assert abs(by_hand.mean().item() - u) < 5 * se_both


def test_sampled_y_is_unbiased_for_u_and_its_gradient(tiny):
    with torch.no_grad():
        q = torch.softmax(tiny.classifier(X[None]), 1)[0]
    L = torch.tensor([-exact(tiny, X, y)[1] for y in range(C)], dtype=torch.float64)
    # exact U and its gradient with respect to the classifier's output bias (L does not depend on it)
    bias = tiny.classifier[2].bias
    logits = tiny.classifier(X[None])[0]
    log_q = torch.log_softmax(logits, 0)
    u_exact = (log_q.exp() * (L + log_q)).sum()
    grad_exact = torch.autograd.grad(u_exact, bias)[0]

    values, grads = [], []
    g = gen(20)
    for _ in range(200):
        out = tiny.sampled_unlabelled_loss(X.expand(500, 3), generator=g)
        assert torch.allclose(out["surrogate"], out["loss"])            # the surrogate has the estimate's value
        values.append(out["loss"].detach())
        grads.append(torch.autograd.grad(out["surrogate"].mean(), bias)[0])
    values, grads = torch.cat(values), torch.stack(grads)              # (100000,), (200, C)
    assert abs(values.mean() - u_exact.item()) < 5 * values.std() / math.sqrt(len(values))
    se = grads.std(0) / math.sqrt(len(grads))
    # 5 standard errors per coordinate; without the score-function term the mean gradient is 0 and fails
    assert ((grads.mean(0) - grad_exact).abs() < 5 * se).all(), (grads.mean(0), grad_exact, se)
    assert grad_exact.abs().max() > 10 * se.max()                      # the check can tell 0 from the gradient


def test_one_hot_conditioning_is_a_linear_layer_on_the_concatenation():
    torch.manual_seed(1)
    net = cvae.ConditionedMLP(in_dim=5, num_classes=4, hidden_dim=7, out_dim=2)
    v, y = torch.randn(6, 5), torch.tensor([0, 3, 1, 2, 3, 0])
    e = torch.zeros(6, 4)
    e[torch.arange(6), y] = 1.0                                         # e_y written out
    W = torch.cat([net.input.weight, net.label.weight], dim=1)          # (7, 5 + 4): one layer on [v, e_y]
    h = torch.relu(torch.cat([v, e], 1) @ W.T + net.input.bias)
    # measured 6e-8 in float32 (a different summation order); about 10x margin
    assert torch.allclose(net(v, cvae.one_hot(y, 4)), net.output(h), atol=1e-6)
    # broadcasting over an extra leading label axis gives the same rows
    stacked = net(v, cvae.one_hot(y, 4)[None].expand(3, 6, 4))
    assert torch.allclose(stacked[2], net(v, cvae.one_hot(y, 4)))


def test_labels_change_the_decoder_and_analogy_keeps_rows_and_columns(tiny):
    z = torch.zeros(1, 1, dtype=torch.float64)
    means = torch.cat([tiny.decode_mean(z, torch.tensor([y])) for y in range(C)])
    assert (means[1:] - means[0]).abs().max() > 0.05                   # the label moves the pixels (measured 0.089)
    x = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], dtype=torch.float64)
    y, targets = torch.tensor([0, 2]), torch.tensor([2, 1, 0, 1])
    out = tiny.analogy(x, y, targets)
    assert out.shape == (2, 4, 3)
    mu = tiny.encode(x, y)[0]
    for b in range(2):
        for t in range(4):
            assert torch.allclose(out[b, t], tiny.decode_mean(mu[b:b + 1], targets[t:t + 1])[0])


def test_classification_loss_and_classify():
    torch.manual_seed(2)
    model = cvae.M2(cvae.CVAEConfig(input_shape=(4,), latent_dim=2, hidden_dim=6, num_classes=5, likelihood="gaussian"))
    x, y = torch.randn(8, 4), torch.tensor([0, 1, 2, 3, 4, 0, 1, 2])
    logits = model.classifier(x)
    by_hand = -(logits[torch.arange(8), y] - logits.exp().sum(1).log())
    assert torch.allclose(model.classification_loss(x, y), by_hand, atol=1e-6)   # measured 1.2e-7 in float32; ~10x margin
    labels = model.classify(x)
    assert labels.dtype == torch.int64 and (logits.gather(1, labels[:, None]).squeeze(1) == logits.max(1).values).all()


def test_semi_supervised_loss_weights_only_the_classification_term_by_alpha():
    torch.manual_seed(5)
    config = cvae.CVAEConfig(input_shape=(4,), latent_dim=2, hidden_dim=6, num_classes=3, likelihood="gaussian", alpha=7.0)
    model = cvae.M2(config).double()
    x_l, y_l, x_u = torch.randn(5, 4, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1]), torch.randn(8, 4, dtype=torch.float64)
    out = model.semi_supervised_loss(x_l, y_l, x_u, generator=gen(1))
    g = gen(1)                                                         # the same draws of z, in the same order
    labelled = model.negative_elbo(x_l, y_l, g)["loss"].mean()        # (checked against quadrature above)
    unlabelled = model.unlabelled_terms(x_u, g)["loss"].mean()
    logits = model.classifier(x_l)
    classification = (torch.logsumexp(logits, 1) - logits[torch.arange(5), y_l]).mean()   # -log q(y|x), written out
    for name, value in {"labelled": labelled, "unlabelled": unlabelled, "classification": classification}.items():
        assert torch.allclose(out[name], value, atol=1e-12), name     # float64: exact up to summation order
    # alpha = 7 on the classification term only: alpha on another term, or alpha left out, moves the loss by 6 terms' worth
    assert torch.allclose(out["loss"], labelled + unlabelled + 7.0 * classification, atol=1e-12)
    assert min(labelled.abs(), unlabelled.abs(), classification.abs()) > 0.1   # each term moves the sum (measured 1.0-11)


def test_gaussian_decoder_log_likelihood():
    torch.manual_seed(3)
    model = cvae.CVAE(cvae.CVAEConfig(input_shape=(4,), latent_dim=2, hidden_dim=6, num_classes=3, likelihood="gaussian"))
    x, z, y = torch.randn(5, 4), torch.randn(5, 2), torch.tensor([0, 1, 2, 0, 1])
    out = model.decoder(z, cvae.one_hot(y, 3))
    mean, log_var = out[:, :4], out[:, 4:]
    by_hand = torch.distributions.Normal(mean, (0.5 * log_var).exp()).log_prob(x).sum(1)
    assert torch.allclose(model._log_likelihood(x, z, cvae.one_hot(y, 3)), by_hand, atol=5e-6)   # measured 4.8e-7 in float32; 10x margin
    assert torch.allclose(model.decode(z, y), mean)


@pytest.mark.parametrize(
    "y, error, words",
    [
        (torch.tensor([0.0, 1.0]), TypeError, "integer"),
        (torch.tensor([True, False]), TypeError, "integer"),
        (torch.tensor([0, 10]), ValueError, "0..9"),
        (torch.tensor([-1, 0]), ValueError, "0..9"),
        (torch.tensor([0, 1, 2]), ValueError, "batch size 2"),
        (torch.tensor([[0, 1]]), ValueError, "(B,)"),
        ([0, 1], TypeError, "tensor"),
    ],
)
def test_bad_labels_are_refused(y, error, words):
    model = cvae.M2(cvae.CVAEConfig(hidden_dim=8))
    x = torch.rand(2, 1, 28, 28)
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        model.negative_elbo(x, y)


def test_bad_images_are_refused():
    model = cvae.M2(cvae.CVAEConfig(hidden_dim=8))
    y = torch.tensor([0, 1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.negative_elbo(torch.rand(2, 1, 28, 28) * 2, y)
    with pytest.raises(ValueError, match="shape"):
        model.unlabelled_terms(torch.rand(2, 784))
    with pytest.raises(TypeError, match="floating"):
        model.classify(torch.ones(2, 1, 28, 28, dtype=torch.int64))
    with pytest.raises(ValueError, match="alpha"):
        cvae.CVAEConfig(alpha=-1.0)


def test_training_reduces_the_loss_and_batches_are_as_documented():
    torch.manual_seed(4)
    x_u = torch.rand(300, 1, 28, 28)
    x_l, y_l = torch.rand(6, 1, 28, 28), torch.tensor([0, 1, 2, 0, 1, 2])
    batches = semi_supervised.SemiSupervisedBatches(x_l, y_l, x_u, batch_size=100, labelled_batch_size=4, seed=0)
    seen = []
    for xl, yl, xu in batches:
        assert xl.shape == (4, 1, 28, 28) and yl.shape == (4,) and xu.shape == (100, 1, 28, 28)
        # each labelled example comes with its own label
        index = [(x_l == a).flatten(1).all(1).nonzero().item() for a in xl]
        assert (y_l[index] == yl).all()
        seen.append(xu)
    seen = torch.cat(seen).flatten(1)
    assert len(seen) == 300 and len(torch.unique(seen, dim=0)) == 300   # one pass: every unlabelled image once
    model = cvae.M2(cvae.CVAEConfig(hidden_dim=16, num_classes=3, alpha=1.0))
    history = semi_supervised.train_m2(model, x_l, y_l, x_u, steps=12, seed=0, progress=False)
    losses = history["loss"]
    assert len(losses) == 12 and all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]


def test_m1_and_the_main_vae_each_have_one_definition(tmp_path, monkeypatch):
    """Chapter 8 loads chapter 5's main model through vae.main_model, which chapter 5 calls too; chapter 6 and its
    benchmark load M1 through semi_supervised.m1_model; no notebook of the book writes a cache name by hand."""
    import json
    from pathlib import Path

    from edu_gen import vae

    root = Path(__file__).resolve().parents[1]
    sources = {name: "".join("".join(c["source"]) for c in json.loads((root / "book" / name).read_text())["cells"]
                             if c["cell_type"] == "code") for name in ("05_vae.ipynb", "06_cvae.ipynb", "08_pixelcnn.ipynb")}
    sources["semi_supervised_mnist.py"] = (root / "benchmarks" / "semi_supervised_mnist.py").read_text()
    for name, source in sources.items():
        one_definition = "semi_supervised.m1_model(train_x)" if name in ("06_cvae.ipynb", "semi_supervised_mnist.py") \
            else "vae.main_model(train_x)"
        assert one_definition in source, name
        assert '"ch06_m1"' not in source, name
        assert '"ch05_vae_z20"' not in source and "15_000" not in source, name   # no hand-copied name or budget
    for notebook in sorted((root / "book").glob("[0-9][0-9]_*.ipynb")):   # every later chapter's code
        code = "".join("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code")
        if notebook.name[:2] > "05":
            assert "ch05_vae_z20" not in code, notebook.name   # chapter 8 copied it until session 5
    # the shared loader caches under one key: the second call loads the first call's weights instead of training
    monkeypatch.setenv("EDU_GEN_CACHE", str(tmp_path))
    images = torch.rand(8, 1, 28, 28, generator=gen(0))
    config = vae.VAEConfig(latent_dim=2, hidden_dim=8)
    first, _ = vae.load_or_train_vae("tiny", config, images, 2, batch_size=4)
    second, _ = vae.load_or_train_vae("tiny", config, images, 2, batch_size=4, seed=1)   # another seed: another key
    third, _ = vae.load_or_train_vae("tiny", config, images, 2, batch_size=4)
    assert len(list((tmp_path / "checkpoints").glob("tiny-*.pt"))) == 2
    same = [torch.equal(a, b) for a, b in zip(first.state_dict().values(), third.state_dict().values())]
    other = [torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values())]
    assert all(same) and not all(other)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_runs_on_cuda():
    model = cvae.M2(cvae.CVAEConfig(hidden_dim=16, alpha=1.0)).cuda()
    x, y = torch.rand(4, 1, 28, 28, device="cuda"), torch.tensor([0, 1, 2, 3], device="cuda")
    out = model.semi_supervised_loss(x, y, x, generator=gen(0))
    out["loss"].backward()
    assert out["loss"].device.type == "cuda" and math.isfinite(out["loss"].item())
    assert model.sampled_unlabelled_loss(x, generator=gen(1))["loss"].device.type == "cuda"
    assert model.sample(torch.tensor([1, 2]), generator=gen(2)).device.type == "cuda"
    assert model.analogy(x, y, torch.tensor([5, 6])).shape == (4, 2, 1, 28, 28)
    assert model.classify(x).device.type == "cuda"


# --------------------------------------------------------------------------------------------
# data.labelled_subset
# --------------------------------------------------------------------------------------------


def test_labelled_subset_is_balanced_seeded_and_valid():
    labels = torch.randint(0, 10, (2000,), generator=gen(0))
    index = data.labelled_subset(labels, 10, seed=3)
    assert index.shape == (100,) and index.dtype == torch.int64
    assert len(torch.unique(index)) == 100
    assert (torch.bincount(labels[index], minlength=10) == 10).all()
    assert torch.equal(index, data.labelled_subset(labels, 10, seed=3))       # same seed, same labels
    other = data.labelled_subset(labels, 10, seed=4)
    assert len(set(index.tolist()) & set(other.tolist())) < 50              # another draw (overlap measured 4)
    # draws are spread over each class, not its first members
    assert index.float().mean() > 500


def test_labelled_subset_refuses_what_does_not_exist():
    labels = torch.tensor([0] * 20 + [1] * 5 + [2] * 20)
    with pytest.raises(ValueError, match="class 1 has only 5"):
        data.labelled_subset(labels, 6)
    with pytest.raises(ValueError, match="class 3 has only 0"):
        data.labelled_subset(labels, 2, num_classes=4)
    with pytest.raises(TypeError, match="integer"):
        data.labelled_subset(labels.float(), 2)
    with pytest.raises(ValueError, match="per_class"):
        data.labelled_subset(labels, 0)
    with pytest.raises(ValueError, match=r"0\.\.1"):
        data.labelled_subset(labels, 2, num_classes=2)


def test_config_numbers_of_any_kind_are_accepted_and_bool_inf_refused():
    import numpy as np

    config = cvae.CVAEConfig(latent_dim=np.int64(3), hidden_dim=torch.tensor(8), alpha=np.float32(0.5))
    assert (config.latent_dim, config.hidden_dim, config.alpha) == (3, 8, 0.5)
    assert type(config.latent_dim) is int and type(config.alpha) is float   # saved and compared as plain numbers
    with pytest.raises(TypeError, match="num_classes"):
        cvae.CVAEConfig(num_classes=True)
    with pytest.raises(ValueError, match="alpha"):
        cvae.CVAEConfig(alpha=float("inf"))
    with pytest.raises(ValueError, match="num_classes"):
        cvae.CVAEConfig(num_classes=1)


# --------------------------------------------------------------------------- issue 12: contracts, bad input, properties


def test_more_bad_inputs_are_refused_naming_the_argument():
    model = cvae.M2(cvae.CVAEConfig(input_shape=(4,), latent_dim=2, hidden_dim=8, num_classes=C))
    x, y = torch.rand(2, 4), torch.tensor([0, 2])
    nan = x.clone()
    nan[0, 1] = float("nan")
    cases = [
        (lambda: model.negative_elbo(nan, y), ValueError, "x: a Bernoulli decoder needs values in \\[0, 1\\], got 1 NaN"),
        (lambda: model.decode(torch.zeros(2, 2, dtype=torch.int64), y), TypeError, "z must be a floating-point tensor"),
        (lambda: model.decode(torch.zeros(2, 3), y), ValueError, r"z must have shape \(B, 2\)"),
        (lambda: model.decoder(torch.zeros(2, 3), torch.zeros(2, C)), ValueError, r"v must have shape \(\.\.\., B, 2\)"),
        (lambda: model.encoder(torch.zeros(2, 4), torch.zeros(2, 5)), ValueError, r"e_y must have shape \(\.\.\., B, 3\)"),
        (lambda: model.encoder(torch.zeros(2, 4), torch.zeros(2, C, dtype=torch.int64)), TypeError, "e_y must be a floating-point"),
        (lambda: cvae.ConditionedMLP(4, 0, 8, 2), ValueError, "num_classes must be an int >= 1"),
        (lambda: cvae.CVAE({"input_shape": (4,)}), TypeError, "config must be a CVAEConfig, got dict"),
        (lambda: model.loss((x, y)), TypeError, r"batch must be a triple \(x_labelled, y_labelled, x_unlabelled\), got tuple of length 2"),
        (lambda: cvae.CVAE.loss(model, x), TypeError, r"batch must be a pair \(x, y\)"),
        (lambda: model.analogy(x, y, torch.tensor([3])), ValueError, "targets: labels must lie in 0..2"),
        (lambda: model.sample(torch.tensor([0.0])), TypeError, "y must hold integer class labels"),
        (lambda: semi_supervised.train_cvae(model, x, y, steps=1, batch_size=3, progress=False), ValueError,
         "images holds 2 examples, fewer than one batch of 3"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()


def test_a_checkpoint_of_another_cvae_config_is_refused(tmp_path):
    """Same parameter shapes, another loss weight: train.load compares the saved config."""
    from edu_gen import train
    config = cvae.CVAEConfig(input_shape=(4,), latent_dim=2, hidden_dim=8, num_classes=C, alpha=0.1)
    train.save(tmp_path / "m2.pt", cvae.M2(config))
    train.load(tmp_path / "m2.pt", cvae.M2(config))
    with pytest.raises(ValueError, match="alpha"):
        train.load(tmp_path / "m2.pt", cvae.M2(cvae.CVAEConfig(input_shape=(4,), latent_dim=2, hidden_dim=8, num_classes=C, alpha=1.0)))


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch import distributions as TD  # noqa: E402


@settings(deadline=None, max_examples=30)
@given(batch=st.integers(1, 4), seed=st.integers(0, 2**16), dtype=st.sampled_from([torch.float32, torch.float64]),
       scale=st.sampled_from([0.5, 3.0]))
def test_the_labelled_bound_and_the_classifier_against_torch_distributions(batch, seed, dtype, scale):
    """negative_elbo's recon and kl against torch.distributions with the same z (the draw reproduced from the same
    seeded generator, as `vae.reparameterize` makes it), classification_loss and the unlabelled bound's entropy and
    probabilities against Categorical; one_hot against the identity's rows. Binary and grey x, weights scaled up to
    push logits out. Tolerance: 1e-4 relative in float32 (sums of 5 terms of size <= ~50), 1e-10 in float64."""
    torch.manual_seed(seed)
    model = cvae.M2(cvae.CVAEConfig(input_shape=(5,), latent_dim=2, hidden_dim=6, num_classes=C)).to(dtype)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(scale)
    g = gen(seed)
    x = torch.rand(batch, 5, generator=g, dtype=dtype)
    x[0] = x[0].round()                                                   # one binary example
    y = torch.randint(C, (batch,), generator=g)
    terms = model.negative_elbo(x, y, generator=gen(seed + 1))
    mu, log_var = model.encode(x, y)
    z = mu + (0.5 * log_var).exp() * torch.randn(mu.shape, generator=gen(seed + 1), dtype=dtype)
    recon = -TD.Bernoulli(logits=model.decode(z, y).double(), validate_args=False).log_prob(x.double()).sum(1)   # grey x too
    kl = TD.kl_divergence(TD.Normal(mu.double(), (0.5 * log_var.double()).exp()), TD.Normal(0.0, 1.0)).sum(1)
    rtol = 1e-4 if dtype == torch.float32 else 1e-10
    close = lambda a, b: torch.allclose(a.double(), b, rtol=rtol, atol=rtol)
    assert close(terms["recon"], recon) and close(terms["kl"], kl)
    assert close(terms["loss"], recon + kl + math.log(C))
    logits = model.classifier_logits(x).double()
    assert close(model.classification_loss(x, y), -TD.Categorical(logits=logits).log_prob(y))
    u = model.unlabelled_terms(x, generator=gen(seed))
    assert close(u["entropy"], TD.Categorical(logits=logits).entropy()) and close(u["probs"], logits.softmax(1))
    assert torch.equal(cvae.one_hot(y, C), torch.eye(C)[y])


def test_the_semi_supervised_recipes_per_scale_and_bad_input():
    """The chapter's M1+M2 and M2-on-pixels recipes, written once in semi_supervised (the notebook and the benchmark read them)."""
    book = semi_supervised.m1m2_recipe(60_000, "book")
    assert book["config"] == cvae.CVAEConfig(input_shape=(20,), latent_dim=10, hidden_dim=500, likelihood="gaussian",
                                             alpha=60.0)                     # alpha = 0.1 N / N_l with N_l = 100
    assert (book["steps"], book["batch_size"], book["lr"]) == (2_000, 100, 2e-3)
    assert [semi_supervised.m1m2_recipe(5_000, s)["steps"] for s in ("ci", "book", "full")] == [200, 2_000, 50_000]
    assert semi_supervised.m1m2_recipe(5_000, "ci")["config"].alpha == pytest.approx(5.0)
    pixels = [semi_supervised.m2_pixels_recipe(60_000, s) for s in ("ci", "book", "full")]
    assert [(r["steps"], r["config"].hidden_dim) for r in pixels] == [(30, 200), (600, 300), (50_000, 500)]
    assert all(r["config"].latent_dim == 50 and r["config"].likelihood == "bernoulli" and r["lr"] == 1e-3 for r in pixels)
    for recipe in (semi_supervised.m1m2_recipe, semi_supervised.m2_pixels_recipe):
        with pytest.raises(ValueError, match="scale"):
            recipe(60_000, "huge")
        for bad in (0, 2.5, True):
            with pytest.raises((TypeError, ValueError), match="n_train"):
                recipe(bad, "book")


def test_load_or_train_m2_loads_its_weights_again_and_keys_on_the_data(tmp_path, monkeypatch):
    """A second call loads the first call's weights; other inputs (another M1's codes) or other labels train anew."""
    monkeypatch.setenv("EDU_GEN_CACHE", str(tmp_path))
    config = cvae.CVAEConfig(input_shape=(4,), latent_dim=2, hidden_dim=8, likelihood="gaussian", alpha=1.0)
    inputs, labels = torch.randn(50, 4, generator=gen(0)), torch.arange(50) % 10
    index = data.labelled_subset(labels, 2, seed=0)
    run = lambda x, y, i=index: semi_supervised.load_or_train_m2("tiny_m2", config, x, y, i, steps=2, batch_size=10)
    first, history = run(inputs, labels)
    assert len(history["loss"]) == 2 and not first.training and next(first.parameters()).device.type == "cpu"
    again, _ = run(inputs.clone(), labels.clone())
    files = lambda: len(list((tmp_path / "checkpoints").glob("tiny_m2-*.pt")))
    assert files() == 1 and all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))
    run(inputs + 1.0, labels)                                   # the codes of another M1
    other = labels.clone()
    other[index[[0, -1]]] = other[index[[-1, 0]]]               # a labelled 0 and a labelled 9 swap their labels
    run(inputs, other)
    assert files() == 3
    with pytest.raises(TypeError, match="index"):
        run(inputs, labels, index.float())
    with pytest.raises(ValueError, match="index"):
        run(inputs, labels, torch.tensor([0, 50]))
    with pytest.raises(TypeError, match="config"):
        semi_supervised.load_or_train_m2("bad", object(), inputs, labels, index, steps=2)
    with pytest.raises(ValueError, match="labels"):
        run(inputs, labels[:-1])


def test_the_chapter_and_the_benchmark_read_the_one_semi_supervised_recipe():
    """No pasted M2 config or budget in the notebook or the benchmark: both call the recipes and the loader."""
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    chapter = "".join("".join(c["source"]) for c in json.loads((root / "book" / "06_cvae.ipynb").read_text())["cells"]
                      if c["cell_type"] == "code")
    benchmark = (root / "benchmarks" / "semi_supervised_mnist.py").read_text()
    for call in ("semi_supervised.m1m2_recipe(len(train_x))", "semi_supervised.m2_pixels_recipe(len(train_x))",
                 "semi_supervised.load_or_train_m2("):
        assert call in chapter, call
    for call in ("semi_supervised.m1m2_recipe(len(train_x), args.scale)",
                 "semi_supervised.m2_pixels_recipe(len(train_x), args.scale)"):
        assert call in benchmark, call
    for source in (chapter, benchmark):
        assert 'likelihood="gaussian"' not in source and "latent_dim=50" not in source and "M1M2_STEPS = runtime" not in source


def test_m1_keeps_pytorchs_initial_weights_and_its_own_budget(tmp_path, monkeypatch):
    """M1 is the VAE chapter's network with init and decoder bias 'default' (its codes served M1+M2 better than the
    main model's, see semi_supervised.M1_NAME's comment), under its own cache name, 15,000 steps at book."""
    from edu_gen import semi_supervised, vae

    assert [semi_supervised.m1_steps(s) for s in ("ci", "book", "full")] == [300, 15_000, 300_000]
    monkeypatch.setenv("EDU_GEN_CACHE", str(tmp_path))
    monkeypatch.setattr(semi_supervised, "m1_steps", lambda scale=None: 2)
    m1, history = semi_supervised.m1_model(torch.rand(100, 1, 28, 28, generator=gen(0)))
    assert (m1.config.latent_dim, m1.config.init, m1.config.decoder_bias) == (20, "default", "default")
    assert m1.config != vae.MAIN_MODEL_CONFIG
    assert len(history["loss"]) == 2                    # trained for m1_steps() steps, the budget patched above
    assert [p.name.split("-")[0] for p in (tmp_path / "checkpoints").glob("*.pt")] == [semi_supervised.M1_NAME]
