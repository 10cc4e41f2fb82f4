import itertools

import pytest
import torch

from edu_gen import contractive
from edu_gen import rbm
from edu_gen.rbm import RBM


def all_binary(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)))


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    rbm = RBM(visible=4, hidden=3)
    with torch.no_grad():  # large enough weights that a wrong sign or transpose shows
        rbm.weight.normal_(0, 1.0)
        rbm.hidden_bias.normal_(0, 0.5)
        rbm.visible_bias.normal_(0, 0.5)
    return rbm


def test_free_energy_sums_out_the_hidden_units(tiny):
    v, h = all_binary(4), all_binary(3)
    energies = torch.stack([tiny.energy(v, hh.expand(len(v), 3)) for hh in h], 1)  # (16, 8)
    exact = -torch.logsumexp(-energies, 1)
    assert (tiny.free_energy(v) - exact).abs().max() < 5e-6  # measured 4.8e-7 (float32)


def test_hidden_probability_is_the_exact_conditional(tiny):
    v, h = all_binary(4), all_binary(3)
    joint = torch.stack([-tiny.energy(v, hh.expand(len(v), 3)) for hh in h], 1).softmax(1)  # p(h | v), (16, 8)
    marginal = joint @ h  # p(h_j = 1 | v)
    assert (tiny.hidden_probability(v) - marginal).abs().max() < 1e-6  # measured 1.2e-7 (float32)


def test_cd_with_many_gibbs_steps_follows_the_exact_likelihood_gradient(tiny):
    v_all = all_binary(4)
    data = v_all[[1, 6, 6, 11, 15]]

    def exact_nll():
        log_z = torch.logsumexp(-tiny.free_energy(v_all), 0)
        return (tiny.free_energy(data) + log_z).mean()

    exact = torch.autograd.grad(exact_nll(), tiny.weight)[0]
    g = torch.Generator().manual_seed(0)
    chains = data.repeat(4000, 1)  # many chains, long runs: the CD sample approaches the model
    estimate = torch.autograd.grad(tiny.cd_loss(chains, k=50, generator=g), tiny.weight)[0]
    assert (estimate - exact).norm() < 0.05 * exact.norm()  # measured 0.048 (Monte Carlo, 20000 chains); CD-1: 0.34
    cd1 = torch.autograd.grad(tiny.cd_loss(chains, k=1, generator=g), tiny.weight)[0]
    assert (cd1 - exact).norm() > (estimate - exact).norm()  # CD-1 is biased; the check can tell them apart


def test_the_encoder_is_a_sigmoid_layer_like_the_autoencoders():
    rbm = RBM(visible=784, hidden=20)
    x = torch.rand(5, 1, 28, 28)
    assert contractive.contractive_penalty(rbm.encoder, x).shape == (5,)
    assert rbm.reconstruct(x).shape == (5, 784)


def test_bad_input_is_named():
    rbm = RBM(visible=784, hidden=20)
    with pytest.raises(ValueError, match=r"shape \(B, 784\)"):
        rbm.free_energy(torch.rand(5, 100))
    with pytest.raises(ValueError, match="k >= 1"):
        rbm.cd_loss(torch.rand(5, 784), k=0)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        rbm.cd_loss(torch.rand(5, 784) * 3)
    with pytest.raises(TypeError, match="floating-point"):
        rbm.free_energy(torch.ones(5, 784, dtype=torch.long))
    with pytest.raises(ValueError, match="at least one"):
        RBM(visible=0)


def test_rbm_sizes_and_k_of_the_wrong_kind_are_refused_and_an_empty_batch_works():
    import numpy as np

    with pytest.raises(TypeError, match="visible must be an int >= 1 .*got True"):
        rbm.RBM(visible=True, hidden=3)
    with pytest.raises(ValueError, match="hidden must be an int >= 1"):
        rbm.RBM(visible=4, hidden=0)
    model = rbm.RBM(visible=np.int64(4), hidden=torch.tensor(3))
    assert model.weight.shape == (3, 4)
    with pytest.raises(TypeError, match="k must be an int >= 1"):
        model.cd_loss(torch.rand(2, 4), k=1.0)
    assert model.free_energy(torch.zeros(0, 4)).shape == (0,)          # it was a reshape error
    assert model.hidden_probability(torch.zeros(0, 1, 2, 2)).shape == (0, 3)
