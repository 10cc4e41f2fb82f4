"""Test negative log-likelihood of a VAE on binarised MNIST, measured as in Burda et al. (2016).

Two protocols, and the recorded lines say which one ran:

* ``--scale ci`` and ``--scale book``: the VAE chapter's model and budget. MLP 784-400-400-20 with
  ReLU, He initialisation of the hidden layers, the decoder's output bias at the logit of the pixels'
  means, Bernoulli decoder, dynamic binarisation, Adam (lr 1e-3, default betas and eps), batch 100,
  a KL warm-up over the first 200 steps, the weights' moving average (decay 0.99) kept as the model,
  a fixed number of steps (book: 9,000 steps = 15 passes over the 60,000 training digits).
* ``--scale full``: the paper's one-stochastic-layer VAE and its schedule (Burda et al., 2016,
  section 5 and appendix): two deterministic hidden layers of 200 tanh units in the encoder and
  in the decoder, d = 50 latents, Adam with beta1 = 0.9, beta2 = 0.999, eps = 1e-4, batch 20,
  3^i passes over the data at learning rate 0.001 * 10^(-i/7) for i = 0, ..., 7 (3,280 passes),
  dynamic binarisation. A GPU run of this scale is a reproduction of their Table 1 entry.

Evaluation, every scale: the importance-weighted bound ELBO_K (`vae.iwae_log_likelihood`) on
test digits binarised once with a fixed seed; -ELBO_K is an (upper-bound) estimate of the test
negative log-likelihood in nats. The paper uses K = 5000 on the full test set (``full`` does).

    python benchmarks/vae_mnist.py --scale book   # ~2 min on 2 CPU cores; writes results/vae_mnist.txt
    python benchmarks/vae_mnist.py --scale full   # the paper's model, schedule and evaluation (hours; a GPU)
    python benchmarks/vae_mnist.py --scale book --k 5000 --n-test 10000   # book training, the paper's evaluation
    python benchmarks/vae_mnist.py --scale full --max-steps 50 --k 10 --n-test 100   # does it start? (prints only)

The last printed line is one JSON object: nll_nats, elbo_nats, k, n_test, train_steps, train_seconds, ...,
reference_nll_nats, and the protocol of the run and of the reference (model, budget, binarisation,
evaluation, data).
Reference: 86.76 nats for a one-stochastic-layer VAE (Burda et al., 2016, Table 1, VAE, k = 1 training,
evaluated with k = 5000).
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _models import record  # noqa: E402

from edu_gen import data, runtime, train, vae  # noqa: E402

# The chapter's evaluation settings (book/05_vae.ipynb picks the same K and test digits). Its model and
# training budget are not copied: they come from edu_gen.vae, where the chapter's main model is defined
# once (MAIN_MODEL_CONFIG, main_model_steps), so this run trains exactly the chapter's model.
SETTINGS = {
    "ci": dict(k=100, n_test=200),
    "book": dict(k=1000, n_test=1000),
    "full": dict(k=5000, n_test=10_000),  # full trains the paper's model on its schedule, `paper_schedule`
}
CONFIG = vae.MAIN_MODEL_CONFIG
PAPER_CONFIG = vae.VAEConfig(latent_dim=50, hidden_dim=200, architecture="mlp", activation="tanh")
BOOK_BATCH, PAPER_BATCH = 100, 20
PAPER_ADAM = dict(betas=(0.9, 0.999), eps=1e-4)
REFERENCE = {
    "nll_nats": 86.76,
    "source": "Burda, Grosse and Salakhutdinov (2016), Table 1, VAE with one stochastic layer",
    "model": "MLP 784-200-200-50 tanh encoder and decoder, Bernoulli decoder",
    "budget": "3280 passes, batch 20, Adam (0.9, 0.999, 1e-4), lr 1e-3 * 10^(-i/7) for 3^i passes, i = 0..7",
    "binarization": "dynamic (a fresh Bernoulli draw of every training digit at every pass)",
    "evaluation": "IWAE bound, k = 5000, all 10000 test digits",
}


def paper_schedule(stages: int = 8, base_lr: float = 1e-3) -> list[tuple[int, float]]:
    """Burda et al.'s schedule: (passes, learning rate) = (3^i, base_lr * 10^(-i/7)) for i = 0, ..., stages - 1."""
    return [(3**i, base_lr * 10 ** (-i / 7)) for i in range(stages)]


def train_paper(model: vae.VAE, images: torch.Tensor, *, max_steps: int | None = None, seed: int = 0,
                progress: bool | None = None) -> train.History:
    """Train `model` on grey-level `images` (N, 1, 28, 28) with the paper's batch size, optimiser and schedule.

    One Adam optimiser for the whole run (its moments carry over between stages); at each stage the
    learning rate is set and the data are passed over 3^i times, each batch binarised afresh.
    `max_steps` stops early (a smoke test of the full scale on a CPU); None runs all 3,280 passes.
    """
    torch.manual_seed(seed)
    loader = data.loader(images, batch_size=PAPER_BATCH, shuffle=True, seed=seed, drop_last=True)
    schedule = paper_schedule()
    optimizer = torch.optim.Adam(model.parameters(), lr=schedule[0][1], **PAPER_ADAM)
    history, done = None, 0
    for passes, lr in schedule:
        for group in optimizer.param_groups:
            group["lr"] = lr
        steps = passes * len(loader) if max_steps is None else min(passes * len(loader), max_steps - done)
        if steps <= 0:
            break
        history = train.fit(model, vae.binarized_loss, loader, epochs=passes, max_steps=steps, optimizer=optimizer,
                            progress=progress, history=history)
        done += steps
    history.steps_done = done
    return history


def protocol(scale: str, steps: int, n_train: int, k: int, n_test: int) -> dict:
    """What was run, in the words of the reference's protocol (model, budget, binarisation, evaluation)."""
    config = PAPER_CONFIG if scale == "full" else CONFIG
    batch = PAPER_BATCH if scale == "full" else BOOK_BATCH
    act = config.activation
    optimizer = "Adam (0.9, 0.999, 1e-4), the paper's lr schedule" if scale == "full" else "Adam (0.9, 0.999, 1e-8), lr 1e-3"
    return {
        "model": f"MLP 784-{config.hidden_dim}-{config.hidden_dim}-{config.latent_dim} {act} encoder and decoder, "
                 f"init {config.init}, decoder bias {config.decoder_bias}, Bernoulli decoder"
                 + (f", KL warm-up {config.kl_warmup} steps" if config.kl_warmup else "")
                 + (f", weights' moving average {config.weight_average:g}" if config.weight_average is not None else ""),
        "latent_dim": config.latent_dim, "hidden_dim": config.hidden_dim, "activation": act,
        "init": config.init, "decoder_bias": config.decoder_bias,
        "kl_warmup": config.kl_warmup, "weight_average": config.weight_average,
        "batch_size": batch, "optimizer": optimizer,
        "passes": round(steps * batch / n_train, 2),
        "budget": f"{steps} steps of batch {batch} = {steps * batch / n_train:.2f} passes over {n_train} digits",
        "binarization": "dynamic (training); test digits binarised once, Bernoulli(grey level), seed 0",
        "evaluation": f"IWAE bound, k = {k}, {n_test} test digits",
        "data": data.source("mnist"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SETTINGS), default="book")
    parser.add_argument("--k", type=int, help="override the scale's number of importance samples")
    parser.add_argument("--n-test", type=int, help="override the scale's number of test digits (10000 = all)")
    parser.add_argument("--max-steps", type=int, help="stop training after this many steps (a smoke test; prints only)")
    args = parser.parse_args()
    s = dict(SETTINGS[args.scale])
    overrides = {key: value for key, value in (("k", args.k), ("n_test", args.n_test)) if value is not None}
    s.update(overrides)
    rt = runtime.setup(seed=0)

    train_x, _ = data.images("mnist", "train")
    test_x, _ = data.images("mnist", "test", n=s["n_test"], binarize="stochastic", seed=0)
    torch.manual_seed(0)  # the same initial weights as the chapter's model (its trained() seeds 0 too)
    model = vae.VAE(PAPER_CONFIG if args.scale == "full" else CONFIG).to(rt.device)
    start, start_cpu = time.perf_counter(), time.process_time()
    if args.scale == "full":
        history = train_paper(model, train_x, max_steps=args.max_steps, seed=0, progress=False)
        steps = history.steps_done
    else:
        steps = vae.main_model_steps(args.scale)
        steps = steps if args.max_steps is None else min(steps, args.max_steps)
        vae.train_vae(model, train_x, steps=steps, batch_size=BOOK_BATCH, seed=0, progress=False)
    train_seconds, train_cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu

    model.eval()
    start = time.perf_counter()
    g = torch.Generator().manual_seed(1)
    elbos, iwaes = [], []
    with torch.no_grad():
        for xb in test_x.split(100):
            xb = xb.to(rt.device)
            elbos.append(-model.negative_elbo(xb, generator=g)["loss"].cpu())
            iwaes.append(vae.iwae_log_likelihood(model, xb, s["k"], generator=g).cpu())
    eval_seconds = time.perf_counter() - start
    run = protocol(args.scale, steps, len(train_x), s["k"], len(test_x))
    result = {
        "scale": args.scale,
        "nll_nats": round(-torch.cat(iwaes).mean().item(), 3),
        "elbo_nats": round(torch.cat(elbos).mean().item(), 3),
        "k": s["k"],
        "n_test": len(test_x),
        "train_steps": steps,
        "train_seconds": round(train_seconds, 1),
        "train_cpu_seconds": round(train_cpu_seconds, 1),  # wall time is inflated when other jobs share the CPU
        "eval_seconds": round(eval_seconds, 1),
        "device": str(rt.device),
        "threads": torch.get_num_threads(),
        "reference_nll_nats": REFERENCE["nll_nats"],
        "protocol": run,
        "reference": REFERENCE,
    }
    command = f"python benchmarks/vae_mnist.py --scale {args.scale}" + "".join(
        f" --{key.replace('_', '-')} {value}" for key, value in {**overrides, "max_steps": args.max_steps}.items()
        if value is not None)
    lines = [
        f"# VAE on dynamically binarised MNIST ({run['data']}): test negative log-likelihood by the IWAE bound "
        "(Burda et al., 2016)",
        f"# {time.strftime('%Y-%m-%d')} | {platform.machine()} | {result['threads']} threads | torch {torch.__version__} | "
        f"device {result['device']}",
        f"# command: {command}",
        "# | run | -log p(x) (nats) | model | budget | binarisation | evaluation |",
        f"# | this run | {result['nll_nats']} | {run['model']} | {run['budget']} | {run['binarization']} | "
        f"{run['evaluation']} |",
        f"# | Burda et al. (2016) | {REFERENCE['nll_nats']} | {REFERENCE['model']} | {REFERENCE['budget']} | "
        f"{REFERENCE['binarization']} | {REFERENCE['evaluation']} |",
        f"scale {args.scale}: {steps} steps in {result['train_seconds']} s; on {result['n_test']} binarised test digits "
        f"-log p(x) ~ {result['nll_nats']} nats (IWAE, k={s['k']}), -ELBO {-result['elbo_nats']:.3f} nats",
        json.dumps(result),
    ]
    if args.scale == "ci" or args.max_steps is not None:
        print("\n".join(lines))
    else:  # the chapter's settings keep their own file; an override writes next to it
        suffix = "_full" if args.scale == "full" else ""
        record("vae_mnist" + suffix + "".join(f"_{key}{value}" for key, value in overrides.items()), lines)


if __name__ == "__main__":
    main()
