import copy
import math
import time

import pytest
import torch
from torch import nn

from edu_gen import data, likelihood, train


def regression(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.1 * torch.randn(n, 1, generator=g)
    return x, y


def mse_loss(model, batch):
    x, y = batch
    return likelihood.gaussian_nll(y, model(x)).mean()


def test_fit_learns_a_linear_map_and_records_history():
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    x, y = regression()
    history = train.fit(model, mse_loss, data.loader(x, y, batch_size=32), epochs=30, lr=0.05, device="cpu", progress=False)
    assert len(history["loss"]) == 30 * 8 and history.steps["loss"] == list(range(240))
    # the oracle: least squares, the exact minimiser of the unit-variance Gaussian NLL. Adam at lr 0.05 ends
    # within 1.5e-3 of it (measured) and its full-batch loss within 2.2e-6 of the minimum; 3x and 45x margins
    design = torch.cat([x, torch.ones(len(x), 1)], dim=1)
    best = torch.linalg.lstsq(design, y).solution.flatten()
    found = torch.cat([model.weight.flatten(), model.bias]).detach()
    assert (found - best).abs().max() < 5e-3
    minimum = likelihood.gaussian_nll(y, design @ best[:, None]).mean()
    with torch.no_grad():
        assert mse_loss(model, (x, y)) - minimum < 1e-4
    assert history.seconds > 0


def test_fit_records_named_terms_and_evaluations():
    model = nn.Linear(3, 1)
    x, y = regression()

    def loss_with_terms(model, batch):
        x, y = batch
        recon = ((model(x) - y) ** 2).mean()
        penalty = 1e-3 * model.weight.pow(2).sum()
        return {"loss": recon + penalty, "recon": recon, "penalty": penalty}

    evaluations, training_modes = [], []

    def evaluate(model):
        evaluations.append((model.training, torch.is_grad_enabled()))
        return {"val_mse": ((model(x) - y) ** 2).mean().item()}

    def recording(model, batch):
        training_modes.append(model.training)
        return loss_with_terms(model, batch)

    history = train.fit(model, recording, data.loader(x, y, batch_size=64), epochs=3, eval_fn=evaluate, eval_every=5, progress=False)
    assert set(history.keys()) == {"loss", "recon", "penalty", "val_mse"}
    assert history.steps["val_mse"] == [4, 9, 11]  # every 5 steps, and once at the end (12 steps)
    assert evaluations == [(False, False)] * 3  # evaluation runs in eval mode, without gradients
    assert training_modes == [True] * 12  # and training goes back to train mode after it
    # each term is recorded as returned: the recon recorded at step 0 is that of the initial model
    assert history["recon"][0] != history["recon"][1] and history["penalty"][0] > 0
    assert history["loss"][0] == pytest.approx(history["recon"][0] + history["penalty"][0], rel=1e-6)
    assert history["val_mse"][-1] == pytest.approx(((model(x) - y) ** 2).mean().item(), rel=1e-6)  # the final model
    # when the last step is an evaluation step, the final model is evaluated once, not twice
    again = train.fit(model, loss_with_terms, data.loader(x, y, batch_size=64), epochs=3, eval_fn=evaluate, eval_every=4, progress=False)
    assert again.steps["val_mse"] == [3, 7, 11]


def test_max_steps_stops_inside_an_epoch_and_history_continues():
    model = nn.Linear(3, 1)
    x, y = regression()
    history = train.fit(model, mse_loss, data.loader(x, y, batch_size=16), epochs=5, max_steps=7, progress=False)
    assert len(history["loss"]) == 7
    history = train.fit(model, mse_loss, data.loader(x, y, batch_size=16), max_steps=3, progress=False, history=history)
    assert history.steps["loss"] == list(range(10))


def test_a_nan_loss_stops_training_naming_the_step():
    model = nn.Linear(3, 1)
    x, y = regression(64)
    calls = {"n": 0}

    def loss_that_breaks(model, batch):
        calls["n"] += 1
        loss = mse_loss(model, batch)
        return loss * float("nan") if calls["n"] == 4 else loss

    with pytest.raises(train.NonFiniteLossError, match=r"the loss is nan at step 3 \(epoch 0\)"):
        train.fit(model, loss_that_breaks, data.loader(x, y, batch_size=8), epochs=2, progress=False)


def test_an_infinite_loss_stops_training_too():
    with pytest.raises(train.NonFiniteLossError, match=r"the loss is inf at step 0"):
        train.fit(nn.Linear(3, 1), lambda m, b: mse_loss(m, b) * float("inf"), data.loader(*regression(16)), progress=False)


@pytest.mark.parametrize("epochs", [0, 1.5, True])
def test_fit_refuses_epochs_that_are_not_positive_integers(epochs):
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        train.fit(nn.Linear(3, 1), mse_loss, data.loader(*regression(16)), epochs=epochs, progress=False)


def test_to_device_moves_every_tensor_of_a_nested_batch():
    batch = {"x": torch.zeros(2), "pair": [torch.ones(1), 3], "t": (torch.ones(1),)}
    moved = train.to_device(batch, torch.device("meta"))  # a device with no data: works without a GPU
    assert moved["x"].is_meta and moved["pair"][0].is_meta and moved["t"][0].is_meta
    assert moved["pair"][1] == 3 and type(moved["pair"]) is list and type(moved["t"]) is tuple


def test_an_exploding_learning_rate_is_caught():
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    x, y = regression()
    with pytest.raises(train.NonFiniteLossError, match="learning rate"):
        train.fit(model, mse_loss, data.loader(x, y, batch_size=32), epochs=50, lr=1e6, optimizer=torch.optim.SGD(model.parameters(), lr=1e6), progress=False)


@pytest.mark.parametrize(
    "bad_output, message",
    [
        (lambda l: l.repeat(2), "scalar tensor"),
        (lambda l: {"recon": l}, "must include the key 'loss'"),
        (lambda l: {"loss": l, "kl": 3.0}, "'kl' must be a scalar tensor"),
    ],
)
def test_loss_functions_with_the_wrong_output_are_named(bad_output, message):
    model = nn.Linear(3, 1)
    x, y = regression(16)
    with pytest.raises(ValueError, match=message):
        train.fit(model, lambda m, b: bad_output(mse_loss(m, b)), data.loader(x, y), progress=False)


def test_clip_grad_bounds_the_update():
    torch.manual_seed(0)
    model = nn.Linear(3, 1, bias=False)
    before = model.weight.detach().clone()
    x, y = regression(32)
    sgd = torch.optim.SGD(model.parameters(), lr=1.0)
    train.fit(model, lambda m, b: 1e4 * mse_loss(m, b), data.loader(x, y, batch_size=32), optimizer=sgd, clip_grad=0.1, progress=False)
    assert (model.weight - before).norm().item() == pytest.approx(0.1, rel=1e-4)


class Tiny(nn.Module):
    def __init__(self, hidden=4):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x)


class Other(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))


def test_save_and_load_round_trip(tmp_path):
    model = Tiny()
    history = train.History()
    history.log(0, loss=1.5)
    train.save(tmp_path / "tiny.pt", model, config={"hidden": 4}, history=history)
    fresh = Tiny()
    found = train.load(tmp_path / "tiny.pt", fresh)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), fresh.state_dict().values()))
    assert found["config"] == {"hidden": 4} and found["history"]["loss"] == [1.5]


def test_load_refuses_another_architecture(tmp_path):
    train.save(tmp_path / "tiny.pt", Tiny(hidden=4))
    with pytest.raises(train.CheckpointMismatchError, match=r"net.0.weight: saved \[4, 3\], model \[8, 3\]"):
        train.load(tmp_path / "tiny.pt", Tiny(hidden=8))
    with pytest.raises(train.CheckpointMismatchError, match="it holds a Tiny, not a Other"):
        train.load(tmp_path / "tiny.pt", Other())
    with pytest.raises(train.CheckpointMismatchError, match="missing parameters"):
        train.load(tmp_path / "tiny.pt", nn.Linear(3, 1))


def test_load_refuses_files_that_are_not_checkpoints(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "plain.pt")
    with pytest.raises(train.CheckpointMismatchError, match="not an edu_gen checkpoint"):
        train.load(tmp_path / "plain.pt", Tiny())
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(train.CheckpointMismatchError, match="not a readable checkpoint"):
        train.load(tmp_path / "text.pt", Tiny())
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        train.load(tmp_path / "absent.pt", Tiny())


def test_load_or_train_trains_once_then_loads(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("EDU_GEN_CACHE", str(tmp_path))
    x, y = regression()
    calls = []

    def train_fn(model):
        calls.append(1)
        return train.fit(model, mse_loss, data.loader(x, y), epochs=2, progress=False)

    first = Tiny()
    train.load_or_train("tiny", first, train_fn, config={"hidden": 4})
    second = Tiny()
    history = train.load_or_train("tiny", second, train_fn, config={"hidden": 4})
    assert calls == [1] and "loaded tiny" in capsys.readouterr().out
    assert torch.equal(first.net[0].weight, second.net[0].weight) and len(history["loss"]) == 4
    train.load_or_train("tiny", Tiny(), train_fn, config={"hidden": 4, "epochs": 3})  # new config: new key
    assert calls == [1, 1]
    with pytest.raises(TypeError, match="must return a History"):
        train.load_or_train("broken", Tiny(), lambda m: None)


def test_load_or_train_keeps_the_model_when_the_cache_cannot_be_written(monkeypatch, tmp_path, capsys):
    (tmp_path / "file").write_text("a file where the cache folder should be")
    monkeypatch.setenv("EDU_GEN_CACHE", str(tmp_path / "file"))
    x, y = regression()
    model = Tiny()
    history = train.load_or_train("tiny", model, lambda m: train.fit(m, mse_loss, data.loader(x, y), max_steps=2, progress=False))
    assert len(history["loss"]) == 2 and "could not cache tiny" in capsys.readouterr().out


def test_summary_names_steps_and_last_values():
    history = train.History()
    history.log(0, loss=2.0, kl=0.5)
    history.log(1, loss=1.25, kl=0.75)
    history.seconds = 3.0
    assert train.summary(history) == "2 steps in 3.0 s; last loss 1.25, kl 0.75"


def test_history_errors_name_what_exists():
    history = train.History()
    history.log(0, loss=1.0)
    with pytest.raises(KeyError, match=r"no values named 'kl'; recorded: \['loss'\]"):
        history["kl"]


def test_no_progress_bars_while_the_book_is_built(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("EDU_GEN_SCALE", "book")
    monkeypatch.delenv(train.BOOK_BUILD_VARIABLE, raising=False)
    assert train._show_progress(None)
    monkeypatch.setenv(train.BOOK_BUILD_VARIABLE, "1")
    assert not train._show_progress(None)
    assert train._show_progress(True)  # an explicit request still wins
    monkeypatch.delenv(train.BOOK_BUILD_VARIABLE)
    monkeypatch.setenv("EDU_GEN_SCALE", "ci")  # short logs at the ci scale
    assert not train._show_progress(None)
    monkeypatch.setenv("EDU_GEN_SCALE", "book")
    monkeypatch.setenv("CI", "true")
    assert not train._show_progress(None)


def plain_loop(model, loss_fn, loader, *, max_steps, lr, clip_grad=None):
    """fit's work written as the plainest loop: forward, backward, (clip), Adam's step; the losses it saw."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses, terms_seen = [], []
    model.train()
    while len(losses) < max_steps:
        for batch in loader:
            terms = loss_fn(model, batch)
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            if clip_grad is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip_grad)
            optimizer.step()
            losses.append(terms["loss"].item())
            terms_seen.append(terms["noise"].item())
            if len(losses) == max_steps:
                break
    return losses, terms_seen


@pytest.mark.parametrize("clip_grad", [None, 0.5])
def test_fit_gives_the_plain_loops_weights_bit_for_bit(clip_grad):
    # Whatever fit does around the model's own work (checks, history, progress) must not change what is learned:
    # the same weights to the last bit as a bare loop, from the same seed. The loss draws from the global random
    # state (dropout and Gaussian noise), so a fit that consumed random numbers of its own would fail too, as would
    # another optimiser implementation (Adam with fused=True: watched fail), a missed or extra step, or
    # clipping applied elsewhere.
    x, y = regression(200)

    def noisy_loss(model, batch):
        noise = 0.1 * torch.randn_like(batch[0])
        nll = likelihood.gaussian_nll(batch[1], model(batch[0] + noise)).mean()
        return {"loss": nll, "noise": noise.abs().mean()}

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 16), nn.Dropout(0.2), nn.Tanh(), nn.Linear(16, 1))
    twin = copy.deepcopy(model)
    torch.manual_seed(1)
    history = train.fit(model, noisy_loss, data.loader(x, y, batch_size=32, seed=5), epochs=4, max_steps=25, lr=0.01,
                        clip_grad=clip_grad, device="cpu", progress=False)
    torch.manual_seed(1)
    losses, noise = plain_loop(twin, noisy_loss, data.loader(x, y, batch_size=32, seed=5), max_steps=25, lr=0.01,
                               clip_grad=clip_grad)
    for (name, trained), expected in zip(model.state_dict().items(), twin.state_dict().values()):
        assert torch.equal(trained, expected), name
    assert history["loss"] == losses and history["noise"] == noise  # exactly the floats .item() gave
    assert history.steps["loss"] == list(range(25))


@pytest.mark.parametrize("decay", [0.2, 0.9])
def test_average_leaves_the_exponential_moving_average_of_the_weights_in_the_model(decay):
    # avg_1 = theta_1, avg_t = a_t avg_(t-1) + (1 - a_t) theta_t, a_t = min(a, t / (t + 9)), recomputed from a second
    # run's weights after each step (a = 0.2: a_2 = 2/11 is the warm start, a_t = 0.2 from t = 3 on; a = 0.9: the warm
    # start throughout the 6 steps, a_t = t / (t + 9), far from 0.9); the averaged run
    # must end with it, not with its own last weights (the run is the same: fit's average draws nothing)
    x, y = regression(96)
    runs = []
    for average in (None, decay):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
        seen = []
        optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
        optimizer.register_step_post_hook(lambda *_: seen.append([p.detach().clone() for p in model.parameters()]))
        train.fit(model, mse_loss, data.loader(x, y, batch_size=32, seed=1), epochs=2, optimizer=optimizer,
                  device="cpu", progress=False, average=average)
        runs.append((model, seen))
    (raw, raw_seen), (averaged, averaged_seen) = runs
    assert len(raw_seen) == 6 and all(torch.equal(a, b) for s, t in zip(raw_seen, averaged_seen) for a, b in zip(s, t))
    expected = raw_seen[0]
    for t, weights in enumerate(raw_seen[1:], start=2):
        a_t = min(decay, t / (t + 9))
        expected = [a_t * e + (1 - a_t) * w for e, w in zip(expected, weights)]
    for got, want, last in zip(averaged.parameters(), expected, raw.parameters()):
        assert torch.allclose(got, want, atol=1e-6)          # float32 rounding of 5 updates
        assert not torch.allclose(got, last, atol=1e-3)


@pytest.mark.parametrize("average", [1.0, -0.1, True, "0.9"])
def test_fit_refuses_an_average_outside_0_1(average):
    x, y = regression(32)
    with pytest.raises(ValueError, match=r"average must be None or a decay in \[0, 1\), got"):
        train.fit(nn.Linear(3, 1), mse_loss, data.loader(x, y, batch_size=32), device="cpu", progress=False,
                  average=average)
