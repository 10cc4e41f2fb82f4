"""Tests of edu_gen.autoencoders and edu_gen.contractive: shapes, the corruptions' statistics,
the analytic contractive penalty against autograd, principal angles, and the bad-input errors."""

import math

import pytest
import torch
from torch import nn

from edu_gen import autoencoders as ae
from edu_gen import contractive, train


def test_autoencoder_shapes_and_loss():
    model = ae.Autoencoder(ae.AEConfig(hidden_dims=(16,), code_dim=4))
    x = torch.rand(5, 1, 28, 28)
    assert model.encode(x).shape == (5, 4)
    assert model(x).shape == (5, 1, 28, 28)
    assert model.loss(x)["loss"].shape == ()


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
    if kind == "gaussian":
        assert abs((xt - x).std().item() - 0.3) < 0.01
    else:
        assert abs(changed - 0.3) < 0.01  # each entry corrupted with probability 0.3
    if kind == "salt_and_pepper":
        assert abs((xt[xt != x] == 1).float().mean().item() - 0.5) < 0.02
    if kind == "mask":
        assert (xt[xt != x] == 0).all()


def test_corruption_level_and_kind_are_checked():
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        ae.corrupt(torch.rand(2, 3), "mask", 1.5)
    with pytest.raises(ValueError, match="mask"):
        ae.corrupt(torch.rand(2, 3), "blur", 0.1)


def test_dae_loss_averages_over_samples():
    model = ae.Autoencoder(ae.AEConfig(input_shape=(5,), code_dim=2))
    x = torch.rand(3, 5)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    loss = ae.dae_loss(model, x, "mask", 0.5, num_samples=4, generator=g1)
    xt = ae.corrupt(x.repeat(4, 1), "mask", 0.5, generator=g2)
    expected = ae.reconstruction_nll(x.repeat(4, 1), model(xt)).mean()
    assert torch.allclose(loss, expected)
    assert torch.allclose(ae.dae_loss(model, x, "mask", 0.0), model.loss(x)["loss"])


def test_dae_loss_takes_the_likelihood_of_a_model_without_a_config():
    tied = ae.TiedAutoencoder(5, 3)
    x = torch.randn(4, 5)
    g1, g2 = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
    loss = ae.dae_loss(tied, x, "gaussian", 0.5, generator=g1, likelihood_name="gaussian")
    expected = ae.reconstruction_nll(x, tied(ae.corrupt(x, "gaussian", 0.5, generator=g2)), "gaussian").mean()
    assert torch.allclose(loss, expected)
    with pytest.raises(ValueError, match="likelihood must be one of"):
        ae.dae_loss(tied, x, "gaussian", 0.5, likelihood_name="poisson")


def test_analytic_penalty_equals_autograd():
    torch.manual_seed(0)
    model = ae.Autoencoder(ae.AEConfig(hidden_dims=(), code_dim=30))
    x = torch.rand(8, 1, 28, 28)
    analytic = contractive.contractive_penalty(model.encoder, x)
    assert analytic.shape == (8,)
    assert torch.allclose(analytic, contractive.jacobian_penalty(model.encoder, x), rtol=1e-5)


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
    assert torch.allclose(angles, torch.tensor([0.0, math.pi / 4], dtype=torch.float64), atol=1e-6)
    with pytest.raises(ValueError, match="rows"):
        ae.principal_angles(a, torch.eye(3))


def test_linear_autoencoder_finds_the_pca_subspace():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 6, generator=g) * torch.tensor([3.0, 2.0, 0.3, 0.2, 0.1, 0.1])
    model = ae.Autoencoder(ae.AEConfig(input_shape=(6,), code_dim=2, activation="linear", likelihood="gaussian"))
    train.fit(model, lambda m, b: m.loss(b[0]), [(x,)], epochs=400, lr=3e-2, progress=False)
    angles = ae.principal_angles(model.decoder[0].weight.detach(), torch.eye(6)[:, :2])
    assert angles.max() < 0.05


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
