"""Checkpoints refuse a model of another config, and `fit` refuses a run that cannot train.

(Issue 12: `train.load` compared the class and the parameter shapes only, so a beta = 4 VAE's
weights loaded silently into a beta = 1 VAE; `fit(max_steps=0)` took a step; `fit` on empty data
did nothing and said nothing.)
"""

import numpy as np
import pytest
import torch
from torch import nn

from edu_gen import autoencoders, train, vae


def test_a_vae_checkpoint_of_another_beta_is_refused(tmp_path):
    path = train.save(tmp_path / "beta4.pt", vae.VAE(vae.VAEConfig(latent_dim=2, hidden_dim=8, beta=4.0)))
    with pytest.raises(train.CheckpointMismatchError, match=r"beta: saved 4\.0, expected 1\.0"):
        train.load(path, vae.VAE(vae.VAEConfig(latent_dim=2, hidden_dim=8, beta=1.0)))
    same = vae.VAE(vae.VAEConfig(latent_dim=2, hidden_dim=8, beta=4.0))
    train.load(path, same)  # the same config loads, and the weights are the saved ones
    saved = torch.load(path, weights_only=True)["state_dict"]
    assert all(torch.equal(saved[k], v) for k, v in same.state_dict().items())


def test_an_autoencoder_of_another_likelihood_is_refused(tmp_path):
    config = autoencoders.AEConfig(input_shape=(4,), code_dim=2, likelihood="bernoulli")
    path = train.save(tmp_path / "ae.pt", autoencoders.Autoencoder(config))
    gaussian = autoencoders.AEConfig(input_shape=(4,), code_dim=2, likelihood="gaussian")
    with pytest.raises(train.CheckpointMismatchError, match="likelihood: saved 'bernoulli', expected 'gaussian'"):
        train.load(path, autoencoders.Autoencoder(gaussian))


def test_the_callers_config_is_checked_when_given(tmp_path):
    path = train.save(tmp_path / "tiny.pt", nn.Linear(3, 1), config={"steps": 100})
    train.load(path, nn.Linear(3, 1), config={"steps": 100})
    with pytest.raises(train.CheckpointMismatchError, match="steps: saved 100, expected 200"):
        train.load(path, nn.Linear(3, 1), config={"steps": 200})


def test_load_or_train_retrains_a_checkpoint_of_another_config(tmp_path, monkeypatch):
    monkeypatch.setenv("EDU_GEN_CACHE", str(tmp_path))
    config = vae.VAEConfig(latent_dim=2, hidden_dim=8, beta=4.0)
    calls = []

    def train_fn(model):
        calls.append(model.config.beta)
        return train.History()

    train.load_or_train("v", vae.VAE(config), train_fn, config=config)
    train.load_or_train("v", vae.VAE(config), train_fn, config=config)
    assert calls == [4.0]  # the second call loaded the cache
    # A stale file at the same path (here: written by hand) holding another beta is not loaded.
    path = train.checkpoint_path("v", config)
    train.save(path, vae.VAE(vae.VAEConfig(latent_dim=2, hidden_dim=8, beta=1.0)), config)
    train.load_or_train("v", vae.VAE(config), train_fn, config=config)
    assert calls == [4.0, 4.0]


def _tiny_data(n):
    """Batches of two random 3-vectors, as a list (any iterable of batches works)."""
    x = torch.randn(n, 3)
    return [(x[i : i + 2],) for i in range(0, n, 2)]


def _loss(model, batch):
    return model(batch[0]).pow(2).mean()


@pytest.mark.parametrize("max_steps", [0, -1, 1.5, True])
def test_fit_refuses_a_max_steps_that_is_not_a_positive_integer(max_steps):
    model = nn.Linear(3, 1)
    before = model.weight.detach().clone()
    with pytest.raises(ValueError, match="max_steps must be an integer >= 1"):
        train.fit(model, _loss, _tiny_data(4), max_steps=max_steps, device="cpu", progress=False)
    assert torch.equal(model.weight, before)  # no step was taken


def test_fit_counts_steps_of_any_integer_type():
    history = train.fit(nn.Linear(3, 1), _loss, _tiny_data(8), epochs=np.int64(2), max_steps=np.int32(3),
                        device="cpu", progress=False)
    assert history.steps["loss"] == [0, 1, 2]


def test_fit_on_data_without_batches_is_an_error():
    with pytest.raises(ValueError, match="data yielded no batches"):
        train.fit(nn.Linear(3, 1), _loss, [], device="cpu", progress=False)


def test_a_checkpoint_is_never_seen_half_written(tmp_path, monkeypatch):
    """save() writes a temporary file and renames it: a save that dies midway leaves the old checkpoint whole."""
    path = tmp_path / "model.pt"
    model = nn.Linear(3, 2)
    train.save(path, model, {"seed": 0})
    before = path.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]          # no temporary file left behind

    real_save = torch.save

    def dies_midway(obj, f, *args, **kwargs):
        with open(f, "wb") as handle:                                      # half a file, then the process "dies"
            handle.write(b"PK\x03\x04 half")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", dies_midway)
    with pytest.raises(OSError, match="disk full"):
        train.save(path, nn.Linear(3, 2), {"seed": 1})
    monkeypatch.setattr(torch, "save", real_save)
    assert path.read_bytes() == before                                     # a reader still finds the whole old file
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]          # and the half-written file is gone
    train.load(path, nn.Linear(3, 2), config={"seed": 0})


def test_data_digest_tells_data_sets_of_one_size_apart():
    # the cache keys of main_dae, book_classifier and load_or_train_m2 hold it: other digits of the same number,
    # the same values as another dtype, or the same values in another shape must each get a key of their own
    from edu_gen.train import data_digest

    x = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(5)
    assert data_digest(x, labels) == data_digest(x.clone(), labels.clone()) and len(data_digest(x)) == 16
    other = x.clone()
    other[4, 0, 27, 27] += 1e-3
    assert data_digest(other, labels) != data_digest(x, labels)                       # one pixel
    assert data_digest(x, labels.flip(0)) != data_digest(x, labels)                   # the labels enter
    assert data_digest(x.double()) != data_digest(x)                                  # the dtype enters
    assert data_digest(x.reshape(5, 784)) != data_digest(x)                           # the shape enters
    with pytest.raises(TypeError, match="data_digest takes tensors"):
        data_digest(x.numpy())
