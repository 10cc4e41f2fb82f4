"""Tests of edu_gen.autoencoders and edu_gen.contractive: shapes, the reconstruction error against
its formula, the corruptions' statistics, the denoising loss against a hand-written one, tied weights,
the analytic contractive penalty against autograd, principal angles, and the bad-input errors.

Each tolerance is a small multiple of what was measured (in a comment), and each check was broken
once (a sign, a swapped argument, a factor) and seen to fail."""

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from edu_gen import autoencoders as ae
from edu_gen import contractive, train


def test_autoencoder_shapes_and_loss():
    model = ae.Autoencoder(ae.AEConfig(hidden_dims=(16,), code_dim=4))
    x = torch.rand(5, 1, 28, 28)
    assert model.encode(x).shape == (5, 4)
    assert model(x).shape == (5, 1, 28, 28)
    assert model.loss(x)["loss"].shape == ()


def test_reconstruction_error_matches_its_formulas():
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(4, 10, generator=g, dtype=torch.float64), 3 * torch.randn(4, 10, generator=g, dtype=torch.float64)
    p = 1 / (1 + torch.exp(-y))  # sigm(y), written out
    bernoulli = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(1)
    gaussian = 0.5 * ((x - y) ** 2 + math.log(2 * math.pi)).sum(1)
    # measured 4e-16 and 0 in float64
    assert (ae.reconstruction_error(x, y) - bernoulli).abs().max() < 1e-12
    assert (ae.reconstruction_error(x, y, "gaussian") - gaussian).abs().max() < 1e-12
    with pytest.raises(ValueError, match="likelihood must be one of"):
        ae.reconstruction_error(x, y, "poisson")


def test_conv_and_tied_shapes():
    assert ae.ConvAutoencoder(code_dim=3)(torch.rand(2, 1, 28, 28)).shape == (2, 1, 28, 28)
    tied = ae.TiedAutoencoder(6, 3)
    x = torch.rand(4, 6)
    expected = torch.sigmoid(x @ tied.weight.T + tied.bias) @ tied.weight + tied.output_bias
    assert torch.allclose(tied(x), expected)


def test_wrong_image_shape_is_refused():
    model = ae.Autoencoder()
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        model(torch.rand(3, 784))
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        ae.ConvAutoencoder()(torch.rand(3, 1, 14, 14))
    with pytest.raises(ValueError, match=r"\(B, 6\)"):
        ae.TiedAutoencoder(6, 2)(torch.rand(3, 5))


@pytest.mark.parametrize("kind", ae.CORRUPTIONS)
def test_corruption_statistics(kind):
    g = torch.Generator().manual_seed(0)
    x = torch.full((200, 500), 0.5)
    xt = ae.corrupt(x, kind, 0.3, generator=g)
    changed = (xt != x).float().mean().item()
    # tolerances: about 4 standard deviations of each estimate over these 100000 entries
    if kind == "gaussian":
        assert abs((xt - x).std().item() - 0.3) < 0.003  # sd of a sample std: 0.3 / sqrt(2e5) = 0.0007; measured 0.0004
    else:
        assert abs(changed - 0.3) < 0.006  # each entry corrupted with probability 0.3; sd 0.0015, measured 0.0015
    if kind == "salt_and_pepper":
        assert abs((xt[xt != x] == 1).float().mean().item() - 0.5) < 0.012  # sd over 30000 entries 0.003; measured 0.003
    if kind == "mask":
        assert (xt[xt != x] == 0).all()


def test_corruption_level_and_kind_are_checked():
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        ae.corrupt(torch.rand(2, 3), "mask", 1.5)
    with pytest.raises(ValueError, match="mask"):
        ae.corrupt(torch.rand(2, 3), "blur", 0.1)


def test_dae_loss_averages_over_samples():
    """dae_loss against the formula written out: S masked copies, the CLEAN target, the mean over S and B."""
    model = ae.Autoencoder(ae.AEConfig(input_shape=(5,), code_dim=2))
    x = torch.rand(3, 5)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    loss = ae.dae_loss(model, x, "mask", 0.5, num_samples=4, generator=g1)
    u = torch.rand(4 * 3, 5, generator=g2)  # the uniforms corrupt() draws: copy s of example i is row s * B + i
    per_copy = []
    for s in range(4):
        x_tilde = torch.where(u[3 * s:3 * s + 3] < 0.5, 0.0, x)  # zero-masking with probability 0.5
        y = model(x_tilde)
        per_copy.append(-(x * F.logsigmoid(y) + (1 - x) * F.logsigmoid(-y)).sum(1))  # cross-entropy to the clean x
    expected = torch.stack(per_copy).mean()
    assert (loss - expected).abs() < 1e-5 * expected  # measured 0 to 2e-8 relative (float32)
    with torch.no_grad():  # level 0 corrupts nothing: the plain autoencoder's loss
        y0 = model(x)
        plain = -(x * F.logsigmoid(y0) + (1 - x) * F.logsigmoid(-y0)).sum(1).mean()
    assert (ae.dae_loss(model, x, "mask", 0.0) - plain).abs() < 1e-5 * plain


def test_dae_loss_takes_the_likelihood_of_a_model_without_a_config():
    tied = ae.TiedAutoencoder(5, 3)
    x = torch.randn(4, 5)
    g1, g2 = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
    loss = ae.dae_loss(tied, x, "gaussian", 0.5, generator=g1, likelihood_name="gaussian")
    y = tied(x + 0.5 * torch.randn(4, 5, generator=g2))  # additive Gaussian noise, standard deviation 0.5
    expected = (0.5 * (x - y) ** 2 + 0.5 * math.log(2 * math.pi)).sum(1).mean()  # unit-variance Gaussian NLL
    assert (loss - expected).abs() < 1e-5 * expected.abs()  # measured 0 to 5e-8 relative
    with pytest.raises(ValueError, match="likelihood must be one of"):
        ae.dae_loss(tied, x, "gaussian", 0.5, likelihood_name="poisson")


def test_analytic_penalty_equals_autograd():
    torch.manual_seed(0)
    model = ae.Autoencoder(ae.AEConfig(hidden_dims=(), code_dim=30))
    x = torch.rand(8, 1, 28, 28)
    analytic = contractive.contractive_penalty(model.encoder, x)
    assert analytic.shape == (8,)
    autograd = contractive.jacobian_penalty(model.encoder, x)
    assert ((analytic - autograd).abs() / autograd).max() < 1e-6  # measured 1e-7 (float32)


def test_analytic_penalty_refuses_other_encoders():
    deep = ae.Autoencoder(ae.AEConfig(hidden_dims=(8,), code_dim=4)).encoder
    with pytest.raises(ValueError, match="single sigmoid layer"):
        contractive.contractive_penalty(deep, torch.rand(2, 1, 28, 28))
    relu = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    with pytest.raises(ValueError, match="single sigmoid layer"):
        contractive.contractive_penalty(relu, torch.rand(2, 4))


def test_principal_angles():
    a = torch.eye(4)[:, :2]
    b = torch.stack([torch.tensor([1.0, 0, 0, 0]), torch.tensor([0, 1.0, 1.0, 0]) / math.sqrt(2)], 1)
    angles = ae.principal_angles(a, b * 3)
    # float64; measured 1e-16 here (near 0, arccos turns a rounding error e of the cosine into sqrt(2e) ~ 1e-8)
    assert (angles - torch.tensor([0.0, math.pi / 4], dtype=torch.float64)).abs().max() < 1e-7
    with pytest.raises(ValueError, match="rows"):
        ae.principal_angles(a, torch.eye(3))


def test_linear_autoencoder_finds_the_pca_subspace():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 6, generator=g) * torch.tensor([3.0, 2.0, 0.3, 0.2, 0.1, 0.1])
    model = ae.Autoencoder(ae.AEConfig(input_shape=(6,), code_dim=2, activation="linear", likelihood="gaussian"))
    train.fit(model, lambda m, b: m.loss(b[0]), [(x,)], epochs=400, lr=3e-2, progress=False)
    angles = ae.principal_angles(model.decoder[0].weight.detach(), torch.eye(6)[:, :2])
    assert angles.max() < 0.05  # radians; measured 0.015 (about 3x)


def test_tied_config_shares_one_weight_matrix():
    torch.manual_seed(0)
    tied = ae.Autoencoder(ae.AEConfig(input_shape=(6,), hidden_dims=(), code_dim=3, tied=True))
    untied = ae.Autoencoder(ae.AEConfig(input_shape=(6,), hidden_dims=(), code_dim=3))
    count = lambda m: sum(p.numel() for p in m.parameters())
    assert count(untied) - count(tied) == 3 * 6  # one (d, D) matrix fewer
    reference = ae.TiedAutoencoder(6, 3)  # the flat-input version, written separately
    with torch.no_grad():
        tied.encoder[1].bias.normal_()
        tied.decoder[0].bias.normal_()
        reference.weight.copy_(tied.encoder[1].weight)
        reference.bias.copy_(tied.encoder[1].bias)
        reference.output_bias.copy_(tied.decoder[0].bias)
    x = torch.rand(5, 6)
    assert (tied(x) - reference(x)).abs().max() < 1e-6  # measured 0 to 1e-7
    # W gets gradient through both uses: the sum of the encoder's and the decoder's parts
    tied.loss(x)["loss"].backward()
    w = tied.encoder[1].weight.detach().clone().requires_grad_()
    b, c = tied.encoder[1].bias.detach(), tied.decoder[0].bias.detach()
    w_decoder = w.detach().clone().requires_grad_()
    h = torch.sigmoid(x @ w.T + b)
    y = h @ w_decoder + c
    (-(x * F.logsigmoid(y) + (1 - x) * F.logsigmoid(-y)).sum(1).mean()).backward()
    both = w.grad + w_decoder.grad
    assert (tied.encoder[1].weight.grad - both).abs().max() < 1e-6 * both.abs().max()  # measured 0 to 1e-7 relative
    assert (w.grad - both).abs().max() > 1e-3 * both.abs().max()  # the decoder's part is not negligible
    with pytest.raises(ValueError, match="tied=True needs a one-layer"):
        ae.AEConfig(hidden_dims=(8,), tied=True)


def test_stack_composes_the_layers_it_was_built_from():
    torch.manual_seed(0)
    first = ae.Autoencoder(ae.AEConfig(hidden_dims=(), code_dim=20))
    second = ae.Autoencoder(ae.AEConfig(input_shape=(20,), hidden_dims=(), code_dim=5))
    deep = ae.stack([first, second])
    x = torch.rand(6, 1, 28, 28)
    assert torch.allclose(deep.encode(x), second.encode(first.encode(x)), atol=1e-6)
    inner = torch.sigmoid(second(first.encode(x)))  # layer 2's mean reconstruction of layer 1's code
    assert torch.allclose(deep(x), first.decode(inner), atol=1e-5)
    with torch.no_grad():
        deep.encoder[1].weight.add_(1.0)
    assert not torch.allclose(deep.encoder[1].weight, first.encoder[1].weight)  # a copy, not shared
    tied = ae.Autoencoder(ae.AEConfig(hidden_dims=(), code_dim=20, tied=True))
    deep_tied = ae.stack([tied, second])  # a tied layer's decoder becomes an ordinary W^T in the stack
    last = [m for m in deep_tied.decoder if isinstance(m, nn.Linear)][-1]
    assert (last.weight - tied.encoder[1].weight.T).abs().max() == 0


def test_stack_refuses_layers_that_do_not_fit():
    first = ae.Autoencoder(ae.AEConfig(hidden_dims=(), code_dim=20))
    with pytest.raises(ValueError, match="takes 30 inputs but layer 0 makes codes of size 20"):
        ae.stack([first, ae.Autoencoder(ae.AEConfig(input_shape=(30,), hidden_dims=(), code_dim=5))])
    with pytest.raises(ValueError, match="one-layer"):
        ae.stack([ae.Autoencoder(ae.AEConfig(hidden_dims=(64,), code_dim=20))])
    with pytest.raises(ValueError, match="one activation"):
        ae.stack([first, ae.Autoencoder(ae.AEConfig(input_shape=(20,), hidden_dims=(), code_dim=5, activation="relu"))])
    with pytest.raises(ValueError, match="at least one"):
        ae.stack([])


def test_ae_config_accepts_integer_kinds_and_refuses_bools_and_floats():
    import numpy as np

    config = ae.AEConfig(input_shape=(np.int64(2),), hidden_dims=[torch.tensor(4)], code_dim=np.int32(1), activation="relu",
                      likelihood="gaussian")
    assert config.input_shape == (2,) and config.hidden_dims == (4,) and type(config.code_dim) is int
    assert config == ae.AEConfig(input_shape=(2,), hidden_dims=(4,), code_dim=1, activation="relu", likelihood="gaussian")
    with pytest.raises(TypeError, match=r"code_dim must be an int >= 1 .*got True \(bool\)"):
        ae.AEConfig(code_dim=True)
    with pytest.raises(TypeError, match=r"hidden_dims\[1\] must be an int >= 1, got 2.5"):
        ae.AEConfig(hidden_dims=(4, 2.5))
    with pytest.raises(ValueError, match=r"code_dim must be an int >= 1 .*got 0"):
        ae.AEConfig(code_dim=0)
    with pytest.raises(TypeError, match="tied must be a bool"):
        ae.AEConfig(tied=1)


def test_sizes_and_codes_of_the_wrong_kind_are_refused_with_the_argument_named():
    with pytest.raises(TypeError, match=r"code_dim must be an int >= 1, got 2.0"):
        ae.ConvAutoencoder(code_dim=2.0)
    with pytest.raises(ValueError, match=r"input_dim must be an int >= 1, got 0"):
        ae.TiedAutoencoder(0, 3)
    with pytest.raises(TypeError, match="config must be an AEConfig, got dict"):
        ae.Autoencoder({"code_dim": 2})
    model = ae.Autoencoder(ae.AEConfig(input_shape=(5,), code_dim=2))
    with pytest.raises(ValueError, match=r"decode expects codes of shape \(B, 2\), got \(3, 4\)"):
        model.decode(torch.zeros(3, 4))
    with pytest.raises(ValueError, match=r"corruption level must be in \[0, 1\].*got nan"):
        ae.corrupt(torch.rand(2, 3), "mask", float("nan"))
    with pytest.raises(TypeError, match="corruption level must be .*got True"):
        ae.corrupt(torch.rand(2, 3), "mask", True)
    with pytest.raises(ValueError, match=r"margin must be a number in \[0, 0.5\]"):
        contractive.saturation(torch.rand(2, 3), margin=0.7)
    # an empty batch gives an empty penalty, not a reshape error
    layer = ae.Autoencoder(ae.AEConfig(input_shape=(5,), code_dim=2))
    assert contractive.contractive_penalty(layer.encoder, torch.zeros(0, 5)).shape == (0,)
