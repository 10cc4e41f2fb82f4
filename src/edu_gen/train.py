"""One training loop for the whole book, and checkpoints that know which model they belong to.

`fit` is a plain loop you can read top to bottom (``train.fit??`` in Jupyter): forward, loss,
a check that the loss is finite, backward, optional clipping, step. What changes from model to
model is the loss function, which the chapter writes::

    def loss_fn(model, batch):
        x, _ = batch
        return likelihood.gaussian_nll(x, model(x)).mean()

    history = train.fit(model, loss_fn, data.loader(x, y), epochs=5, lr=1e-3)

A loss function may also return a dict with the key ``"loss"`` (what is minimised) and other
named scalar terms (``"recon"``, ``"kl"``, ...); every term is recorded in the `History`.

Introduced in Chapter 1 (Losses as maximum likelihood).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from edu_gen import runtime

CHECKPOINT_FORMAT = "edu_gen.checkpoint/1"


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; training stopped at that step."""


class CheckpointMismatchError(ValueError):
    """A checkpoint was saved from a different model than the one it is loaded into."""


class History:
    """The numbers a training run produced: for each name, the values and the steps they belong to.

    ``history["loss"]`` is the list of per-step losses; ``history.steps["loss"]`` the step of each.

    Args:
        values: name -> list of values, to start from (e.g. a saved run's).
        steps: name -> list of steps, matching `values`.
    """

    def __init__(self, values: dict | None = None, steps: dict | None = None):
        self.values: dict[str, list[float]] = defaultdict(list, values or {})
        self.steps: dict[str, list[int]] = defaultdict(list, steps or {})

    def log(self, step: int, **values: float) -> None:
        """Record values (numbers or 0-d tensors) at `step`.

        Args:
            step: the training step. **values: name -> value.

        Raises:
            TypeError, ValueError: a value that float() cannot convert, or a step int() cannot.
        """
        for name, value in values.items():
            self.values[name].append(float(value))
            self.steps[name].append(int(step))

    def __getitem__(self, name: str) -> list[float]:
        if name not in self.values:
            raise KeyError(f"no values named {name!r}; recorded: {sorted(self.values)}")
        return self.values[name]

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def keys(self):
        """The recorded names.

        Returns:
            A view of the names, in the order first logged.
        """
        return self.values.keys()

    def last(self, name: str) -> float:
        """The last value recorded under `name`.

        Args:
            name: a recorded name.

        Raises:
            KeyError: nothing recorded under `name`.
            IndexError: the name was created but holds no value.
        """
        return self[name][-1]

    def to_dict(self) -> dict:
        """A plain dict ``{"values": ..., "steps": ...}`` for saving; `from_dict` reads it back.

        Returns:
            The dict (lists shared with the History, not copies).
        """
        return {"values": dict(self.values), "steps": dict(self.steps)}

    @classmethod
    def from_dict(cls, state: dict) -> "History":
        return cls(state["values"], state["steps"])

    def __repr__(self) -> str:
        summary = ", ".join(f"{k}: {len(v)} values, last {v[-1]:.4g}" for k, v in self.values.items() if v)
        return f"History({summary})"


def to_device(batch, device: torch.device):
    """Move a tensor, or a tuple/list/dict of tensors, to `device` (other values pass through).

    Args:
        batch: a tensor, or a (nested) tuple/list/dict of them.
        device: the target device.

    Raises:
        RuntimeError: the device is not available (torch's error).
    """
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def _as_terms(output) -> dict[str, torch.Tensor]:
    """A loss function's result as a dict of scalar tensors with the key 'loss'."""
    terms = output if isinstance(output, dict) else {"loss": output}
    if "loss" not in terms:
        raise ValueError(f"a loss function that returns a dict must include the key 'loss'; got keys {sorted(terms)}")
    for name, value in terms.items():
        if not isinstance(value, torch.Tensor) or value.dim() != 0:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(f"loss term {name!r} must be a scalar tensor (reduce it, e.g. with .mean()), got {shape}")
    return terms


BOOK_BUILD_VARIABLE = "EDU_GEN_BOOK_BUILD"  # set by the book's Sphinx extension for the kernels it starts


def _show_progress(progress: bool | None) -> bool:
    """Progress bars by default, except in CI, at the `ci` scale (logs stay short) and while the book
    is built (a finished, closed bar would leave an empty widget band on the static page)."""
    if progress is not None:
        return progress
    return not os.environ.get("CI") and not os.environ.get(BOOK_BUILD_VARIABLE) and runtime.scale() != "ci"


def moving_average(model: nn.Module, decay: float):
    """A copy of `model` that keeps the exponential moving average of its parameters, for `fit`'s ``average``.

    Call ``.update_parameters(model)`` after every optimiser step t = 1, 2, ...: the first call copies the
    parameters, then avg_t = a_t avg_(t-1) + (1 - a_t) theta_t with a_t = min(decay, t / (t + 9)), a decay
    that starts small and reaches `decay` after 9 decay / (1 - decay) steps (iterate averaging, Polyak and
    Juditsky, 1992; the warm start as in TensorFlow's ExponentialMovingAverage with num_updates). The
    averaged parameters are ``.module``'s; buffers are not averaged.

    Args:
        model: the network being trained. decay: a in [0, 1).

    Returns:
        A `torch.optim.swa_utils.AveragedModel`.

    Raises:
        ValueError: decay not a number in [0, 1).
    """
    from torch.optim.swa_utils import AveragedModel

    if isinstance(decay, bool) or not isinstance(decay, numbers.Real) or not 0.0 <= decay < 1.0:
        raise ValueError(f"average must be None or a decay in [0, 1), got {decay!r}")

    def warm_decay(averages, current, n_averaged):          # n_averaged = t - 1 at step t >= 2
        t = int(n_averaged) + 1
        weight = 1.0 - min(decay, t / (t + 9))               # avg <- a_t avg + (1 - a_t) theta
        for average, value in zip(averages, current):
            average.lerp_(value, weight)

    return AveragedModel(model, multi_avg_fn=warm_decay, use_buffers=False)


def fit(
    model: nn.Module,
    loss_fn: Callable,
    data,
    *,
    epochs: int = 1,
    max_steps: int | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    device: torch.device | str | None = None,
    eval_fn: Callable[[nn.Module], dict] | None = None,
    eval_every: int | None = None,
    clip_grad: float | None = None,
    progress: bool | None = None,
    history: History | None = None,
    average: float | None = None,
) -> History:
    """Train `model` by minimising `loss_fn` over mini-batches of `data`.

    Args:
        model: the network; moved to `device`.
        loss_fn: ``loss_fn(model, batch)`` -> a scalar tensor, or a dict of scalar tensors with
            the key ``"loss"``. `batch` is what `data` yields, already on `device`.
        data: an iterable of batches, usually a DataLoader (see `edu_gen.data.loader`).
        epochs: passes over `data`.
        max_steps: stop after this many optimiser steps (>= 1), even within an epoch.
        optimizer: defaults to Adam(model.parameters(), lr) (Kingma and Ba, 2015).
        lr: learning rate of the default optimiser.
        device: defaults to `runtime.device()`.
        eval_fn: ``eval_fn(model)`` -> dict of floats, run in eval mode without gradients every
            `eval_every` steps and at the end; recorded in the history under its keys.
        eval_every: steps between evaluations (None: only at the end).
        clip_grad: clip the gradient norm to this value (None: no clipping).
        progress: show a progress bar (None: yes, except in CI or at the `ci` scale).
        history: continue an earlier History (steps count on from its last step).
        average: a decay a in [0, 1): keep the exponential moving average of the parameters,
            avg_1 = theta_1, avg_t = a_t avg_(t-1) + (1 - a_t) theta_t after optimiser step t = 1, 2, ...,
            with a_t = min(a, t / (t + 9)): the decay starts small, so that a short run is not averaged
            with its first, poor weights, and reaches a after 9a / (1 - a) steps (891 for a = 0.99)
            (iterate averaging, Polyak and Juditsky, 1992; the warm start as TensorFlow's
            ExponentialMovingAverage with num_updates; `torch.optim.swa_utils.AveragedModel`), and
            copy it into `model` at the end, before the last evaluation; evaluations during training see
            the current weights. None: the model keeps its last weights.

    Returns:
        The History of every loss term per step and every evaluation.

    Raises:
        NonFiniteLossError: the loss is NaN or infinite; the message names the step and terms.
        ValueError: `epochs` or `max_steps` is not an integer >= 1, `average` is not None or in [0, 1),
            or `data` yields no batch.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, numbers.Integral) or max_steps < 1):
        raise ValueError(f"max_steps must be an integer >= 1 or None, got {max_steps!r}")
    device = torch.device(device) if device is not None else runtime.device()
    model.to(device)
    averaged = moving_average(model, average) if average is not None else None   # on the device; refuses a bad decay
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = history if history is not None else History()
    first_step = (max(history.steps["loss"]) + 1) if history.steps.get("loss") else 0

    try:
        steps_per_epoch = len(data)
    except TypeError:
        steps_per_epoch = None
    total = steps_per_epoch * epochs if steps_per_epoch is not None else None
    if max_steps is not None:
        total = min(total, max_steps) if total is not None else max_steps

    def evaluate(step: int) -> None:
        model.eval()
        with torch.no_grad():
            history.log(step, **eval_fn(model))
        model.train()

    from tqdm.auto import tqdm

    bar = tqdm(total=total, disable=not _show_progress(progress), leave=False, desc="training")
    started, step, done = time.perf_counter(), first_step, 0
    model.train()
    for epoch in range(epochs):
        for batch in data:
            batch = to_device(batch, device)
            # forward: the loss and its named terms
            terms = _as_terms(loss_fn(model, batch))
            loss = terms["loss"]
            loss_value = loss.item()  # read once: for the NaN guard and for the history
            if not math.isfinite(loss_value):
                values = ", ".join(f"{k}={v.item():.4g}" for k, v in terms.items())
                bar.close()
                raise NonFiniteLossError(
                    f"the loss is {loss_value} at step {step} (epoch {epoch}); terms: {values}. "
                    "Common causes: a learning rate that is too high, log of 0, or exp overflow "
                    "in a predicted variance."
                )
            # backward: gradients of the loss with respect to every parameter
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip_grad is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip_grad)
            # step: theta <- theta - lr * (the optimiser's update direction)
            optimizer.step()
            if averaged is not None:
                averaged.update_parameters(model)

            # the other terms are read after the step, as always: a term may be a parameter, which the step moves
            history.log(step, **{k: loss_value if k == "loss" else v.item() for k, v in terms.items()})
            step, done = step + 1, done + 1
            bar.update(1)
            if eval_fn is not None and eval_every and done % eval_every == 0:
                evaluate(step - 1)
            if max_steps is not None and done >= max_steps:
                break
        if max_steps is not None and done >= max_steps:
            break
        if done == 0:
            bar.close()
            raise ValueError("data yielded no batches: nothing to train on (an empty data set, or "
                             "a DataLoader with drop_last=True and fewer examples than batch_size?)")
    bar.close()
    if averaged is not None:                       # the model leaves with the average of its weights
        with torch.no_grad():
            for p, a in zip(model.parameters(), averaged.module.parameters()):
                p.copy_(a)
    if eval_fn is not None and not (eval_every and done % eval_every == 0):
        evaluate(step - 1)
    model.eval()
    history.seconds = time.perf_counter() - started
    return history


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------


def _architecture(model: nn.Module) -> dict[str, list[int]]:
    """The model's signature: every parameter and buffer name with its shape."""
    return {name: list(t.shape) for name, t in model.state_dict().items()}


def _config_dict(config) -> dict | None:
    if config is None:
        return None
    if dataclasses.is_dataclass(config):
        return dataclasses.asdict(config)
    if isinstance(config, dict):
        return dict(config)
    raise TypeError(f"config must be a dataclass or a dict, got {type(config).__name__}")


def _model_config(model: nn.Module) -> dict | None:
    """The model's own config (``model.config``, a dataclass such as `VAEConfig`) as a dict, or None."""
    config = getattr(model, "config", None)
    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) and not isinstance(config, type) else None


def save(path: str | Path, model: nn.Module, config=None, history: History | None = None) -> Path:
    """Save the model's weights with its class name, its shapes, its configs and its history.

    Args:
        path: the file to write (its folder is created).
        model: the trained model. Its own ``model.config`` (a dataclass, e.g. `VAEConfig`), if
            it has one, is saved too, so that `load` can refuse it for a model of another config.
        config: what the caller wants recorded with the weights (a dataclass or a dict: the
            model's config, or everything the training depended on); returned by `load`.
        history: the training run's History.

    Returns:
        `path`.

    Raises:
        TypeError: config is neither a dataclass nor a dict.
        OSError: the file cannot be written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written to a temporary file, then renamed: another process (a second test worker, a later chapter loading
    # this model) sees either no file or the whole file, never half of one.
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        torch.save(
            {
                "format": CHECKPOINT_FORMAT,
                "model_class": type(model).__qualname__,
                "architecture": _architecture(model),
                "config": _config_dict(config),
                "model_config": _model_config(model),
                "history": history.to_dict() if history is not None else None,
                "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            },
            partial,
        )
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)   # nothing half-written is left in the cache
        raise
    return path


def _config_differences(saved: dict, expected: dict) -> list[str]:
    names = sorted(set(saved) | set(expected))
    return [f"{n}: saved {saved.get(n, '(absent)')!r}, expected {expected.get(n, '(absent)')!r}"
            for n in names if saved.get(n, "(absent)") != expected.get(n, "(absent)")]


def load(path: str | Path, model: nn.Module, map_location: str | torch.device = "cpu", config=None) -> dict:
    """Load weights saved by `save` into `model`, refusing a checkpoint of another model.

    Two models with the same parameter shapes can still differ: a beta = 4 VAE and a beta = 1
    VAE, or a Bernoulli and a Gaussian autoencoder. So besides the class and every parameter's
    name and shape, the model's own config (``model.config``) must equal the one saved with
    the weights, and, when `config` is given, so must the caller's config.

    Args:
        path: a file written by `save`.
        model: a freshly built model of the saved class and config; its weights are replaced.
        map_location: where the tensors are loaded (then copied into `model`'s parameters).
        config: the caller's config (dataclass or dict) the checkpoint must have been saved
            with; None skips this check.

    Returns:
        A dict with the saved ``config`` (or None) and ``history`` (a History, or None).

    Raises:
        FileNotFoundError: no file at `path`.
        CheckpointMismatchError: the file is not an edu_gen checkpoint, or it was saved from
            another model class, from parameters of other names or shapes, from a model of
            another config, or with another caller's config; the message names the differences.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        saved = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        raise CheckpointMismatchError(f"{path} is not a readable checkpoint ({type(error).__name__}: {error})") from None
    if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointMismatchError(f"{path} is not an edu_gen checkpoint (expected format {CHECKPOINT_FORMAT!r})")

    problems = []
    if saved["model_class"] != type(model).__qualname__:
        problems.append(f"it holds a {saved['model_class']}, not a {type(model).__qualname__}")
    expected, found = _architecture(model), saved["architecture"]
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    reshaped = [f"{k}: saved {found[k]}, model {expected[k]}" for k in expected if k in found and found[k] != expected[k]]
    if missing:
        problems.append(f"missing parameters {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    if extra:
        problems.append(f"unexpected parameters {extra[:5]}{' ...' if len(extra) > 5 else ''}")
    if reshaped:
        problems.append(f"different shapes ({'; '.join(reshaped[:5])})")
    if problems:
        raise CheckpointMismatchError(f"{path} was saved from another architecture: " + "; ".join(problems))

    expected_model_config = _model_config(model)
    if expected_model_config is not None:
        if saved.get("model_config") is None:
            raise CheckpointMismatchError(
                f"{path} records no model config, so it cannot be checked against this "
                f"{type(model).__qualname__}'s config {expected_model_config}"
            )
        differences = _config_differences(saved["model_config"], expected_model_config)
        if differences:
            raise CheckpointMismatchError(f"{path} was saved from a model of another config: " + "; ".join(differences))
    if config is not None:
        expected_config = _config_dict(config)
        differences = _config_differences(saved.get("config") or {}, expected_config)
        if differences:
            raise CheckpointMismatchError(f"{path} was saved with another config: " + "; ".join(differences))

    model.load_state_dict(saved["state_dict"])
    history = History.from_dict(saved["history"]) if saved["history"] is not None else None
    return {"config": saved["config"], "history": history}


def checkpoint_path(name: str, config) -> Path:
    """Where a trained model is cached: ``runtime.cache_root()/checkpoints/NAME-HASH.pt``.

    The hash covers everything the trained weights depend on: the config, the scale, the data
    source (MNIST and Fashion-MNIST on disk, or the digits fallback: `data.source`) and the
    library's source code (`runtime.library_digest`). Changing any of them trains anew instead
    of loading a stale model.

    Args:
        name: the model's short name. config: a dataclass or a dict (part of the hash).

    Returns:
        The Path (not checked to exist).

    Raises:
        TypeError: config is neither a dataclass nor a dict (nor None).
    """
    from edu_gen import data

    key = json.dumps(
        {
            "config": _config_dict(config),
            "scale": runtime.scale(),
            "data": {name: data.source(name) for name in ("mnist", "fashion_mnist")},
            "library": runtime.library_digest(),
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return runtime.cache_root() / "checkpoints" / f"{name}-{digest}.pt"


def data_digest(*tensors: torch.Tensor) -> str:
    """A short SHA-256 digest of the exact data a model is trained on, for its cache key: two data sets of the
    same size but other values (other digits, another M1's codes, other labels) get other keys.

    Args:
        tensors: the tensors trained on (any shape, dtype or device); their values, dtypes and shapes all enter.

    Returns:
        16 hexadecimal characters.

    Raises:
        TypeError: an argument is not a tensor.
    """
    digest = hashlib.sha256()
    for tensor in tensors:
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"data_digest takes tensors, got {type(tensor).__name__}")
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()[:16]


def load_or_train(name: str, model: nn.Module, train_fn: Callable[[nn.Module], History], config=None) -> History:
    """Load `model` from the cache if it was trained with this config before, else train and cache it.

    Args:
        name: a short name for the model (the file name's prefix).
        model: a freshly built model; its weights are replaced by the cached ones if found.
        train_fn: ``train_fn(model) -> History``, called only when there is no usable cache.
        config: what determines the trained weights (a dataclass or dict), part of the cache key.

    Returns:
        The History of the (cached or new) training run.

    Raises:
        TypeError: train_fn does not return a History, or config is neither a dataclass nor a dict.
    """
    path = checkpoint_path(name, config)
    if path.is_file():
        try:
            found = load(path, model, config=config)
            print(f"edu_gen.train: loaded {name} from {path}")
            return found["history"] or History()
        except CheckpointMismatchError as reason:
            print(f"edu_gen.train: retraining {name}: {reason}")
    history = train_fn(model)
    if not isinstance(history, History):
        raise TypeError(f"train_fn must return a History (from train.fit), got {type(history).__name__}")
    try:
        save(path, model, config, history)
    except OSError as reason:  # a read-only cache folder: keep the trained model, skip the cache
        print(f"edu_gen.train: could not cache {name} at {path} ({reason})")
    return history


def summary(history: History) -> str:
    """One line: steps, seconds, and the last value of each term.

    Args:
        history: a History (from `fit`).

    Raises:
        AttributeError: history is not a History.
    """
    steps = len(history["loss"]) if "loss" in history else 0
    seconds = getattr(history, "seconds", math.nan)
    terms = ", ".join(f"{k} {v[-1]:.4g}" for k, v in history.values.items() if v)
    return f"{steps} steps in {seconds:.1f} s; last {terms}"
