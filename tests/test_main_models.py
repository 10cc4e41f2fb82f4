"""The chapters' trained models, defined once in the library so that later chapters load them (issues 19, 21, 22).

`metrics.book_classifier`, `autoencoders.main_dae`, `cvae.main_model`, `aae.main_model`, `pixelcnn.main_model` and
`gan.main_model` write each chapter's recipe and cache key once. Checked here: the recipes per scale; a second call loads the first
call's weights from the cache instead of training; another scale or another recipe trains a model of its own;
bad input is refused with a clear message; the chapters call these functions instead of pasting the recipes.
Training budgets are shrunk to a few steps (the recipe's `steps`), so the tests check the plumbing, not the models.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from edu_gen import aae, cvae, gan, gan_model, gan_train, metrics, pixelcnn, runtime, semi_supervised, train
from edu_gen import autoencoders as ae

ROOT = Path(__file__).resolve().parents[1]


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def checkpoints(folder: Path, name: str) -> list[Path]:
    return sorted((folder / "checkpoints").glob(f"{name}-*.pt"))


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EDU_GEN_CACHE", str(tmp_path))
    monkeypatch.setenv("EDU_GEN_SCALE", "ci")
    return tmp_path


def shrink(monkeypatch, module) -> None:
    """Replace `module.main_model_recipe` by the same recipe (config, batch, lr) with 2 steps at ci, 3 at the others."""
    real = module.main_model_recipe
    monkeypatch.setattr(module, "main_model_recipe",
                        lambda scale=None: {**real(scale), "steps": 2 if (scale or runtime.scale()) == "ci" else 3})


# --------------------------------------------------------------------------------------------
# The recipes
# --------------------------------------------------------------------------------------------


def test_the_recipes_per_scale_and_a_bad_scale(monkeypatch):
    monkeypatch.setenv("EDU_GEN_SCALE", "ci")
    assert [cvae.main_model_recipe(s)["steps"] for s in ("ci", "book", "full")] == [300, 3_000, 30_000]
    assert cvae.main_model_recipe()["config"] == cvae.CVAEConfig(latent_dim=2, hidden_dim=500)
    assert [aae.main_model_recipe(s)["steps"] for s in ("ci", "book", "full")] == [150, 3_000, 30_000]
    assert [(r["config"].hidden_dim, r["config"].disc_hidden_dim, r["config"].latent_dim)
            for r in map(aae.main_model_recipe, ("ci", "book", "full"))] == [(64, 32, 8), (256, 128, 8), (1_000, 1_000, 8)]
    book = pixelcnn.main_model_recipe("book")
    assert (book["config"].channels, book["config"].layers, book["config"].first_kernel, book["steps"],
            book["batch_size"], book["lr"]) == (16, 4, 7, 1_500, 32, 6e-3)
    assert pixelcnn.main_model_recipe()["config"].layers == 3 and pixelcnn.main_model_recipe("full")["lr"] == 3e-3
    assert [gan.main_model_recipe(s)["steps"] for s in ("ci", "book", "full")] == [40, 1_500, 20_000]
    assert gan.main_model_recipe()["config"] == gan.GANConfig(kind="dcgan", latent_dim=64, channels=16, snapshots=4)
    assert metrics.BOOK_CLASSIFIER_STEPS == {"ci": 300, "book": 2000, "full": 5000}
    for module in (cvae, aae, pixelcnn, gan):
        with pytest.raises(ValueError, match="scale must be one of ci, book, full, got 'huge'"):
            module.main_model_recipe("huge")
    monkeypatch.setenv("EDU_GEN_SCALE", "huge")
    with pytest.raises(ValueError, match="huge"):
        gan.main_model_recipe()


# --------------------------------------------------------------------------------------------
# Cache hits, and models of their own for another scale or recipe
# --------------------------------------------------------------------------------------------


def test_book_classifier_is_one_cached_model_per_scale(cache, monkeypatch, capsys):
    monkeypatch.setattr(metrics, "BOOK_CLASSIFIER_STEPS", {"ci": 3, "book": 4, "full": 5})
    images, labels = torch.rand(300, 1, 28, 28, generator=gen(0)), torch.arange(300) % 10
    first = metrics.book_classifier(images, labels)
    assert "loaded" not in capsys.readouterr().out
    again = metrics.book_classifier(images, labels)
    pasted = metrics.digit_classifier(images, labels, steps=3)          # what the chapters used to paste: the same entry
    assert capsys.readouterr().out.count("loaded digit_classifier from") == 2
    assert len(checkpoints(cache, "digit_classifier")) == 1
    assert same_weights(first, again) and same_weights(first, pasted) and not first.training
    monkeypatch.setenv("EDU_GEN_SCALE", "book")                         # another scale: another budget, another model
    other = metrics.book_classifier(images, labels)
    assert len(checkpoints(cache, "digit_classifier")) == 2 and not same_weights(first, other)


def test_book_classifier_refuses_bad_input(cache):
    with pytest.raises(TypeError, match="images and labels must be tensors"):
        metrics.book_classifier([[0.0]], torch.zeros(1, dtype=torch.long))
    with pytest.raises(ValueError, match=r"expected images \(N, 1, 28, 28\) and labels \(N,\), got \(4, 784\)"):
        metrics.book_classifier(torch.rand(4, 784), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="labels"):
        metrics.book_classifier(torch.rand(4, 1, 28, 28), torch.zeros(3, dtype=torch.long))


CASES = {   # the module whose main_model_recipe main_model reads (and its MAIN_MODEL_NAME), and the call
    "cvae": (cvae, lambda x, y: cvae.main_model(x, y)),
    "aae": (aae, lambda x, y: aae.main_model(x)),
    "pixelcnn": (pixelcnn, lambda x, y: pixelcnn.main_model(x)),
    "gan": (gan_train, lambda x, y: gan.main_model(x)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_main_model_loads_its_weights_again_and_not_across_scales(case, cache, monkeypatch, capsys):
    module, call = CASES[case]
    shrink(monkeypatch, module)
    x, y = torch.rand(120, 1, 28, 28, generator=gen(1)), torch.arange(120) % 10
    first, history = call(x, y)
    assert "loaded" not in capsys.readouterr().out
    second, _ = call(x, y)
    assert f"loaded {module.MAIN_MODEL_NAME} from" in capsys.readouterr().out   # not trained again
    assert len(checkpoints(cache, module.MAIN_MODEL_NAME)) == 1
    assert same_weights(first, second) and not first.training and not second.training
    assert next(first.parameters()).device.type == "cpu"
    assert len(history["loss"] if "loss" in history else history["g_loss"]) == 2   # the shrunk recipe's steps
    monkeypatch.setenv("EDU_GEN_SCALE", "book")                               # another scale: its own model
    third, _ = call(x, y)
    assert "loaded" not in capsys.readouterr().out
    assert len(checkpoints(cache, module.MAIN_MODEL_NAME)) == 2 and not same_weights(first, third)


def test_another_recipe_does_not_load_the_main_models(cache):
    x, y = torch.rand(120, 1, 28, 28, generator=gen(2)), torch.arange(120) % 10
    config = aae.AAEConfig(latent_dim=8, hidden_dim=16, disc_hidden_dim=8)
    a, _ = aae.load_or_train_aae("tiny_aae", config, x, 2)
    b, _ = aae.load_or_train_aae("tiny_aae", config, x, 3)                    # more steps
    c, _ = aae.load_or_train_aae("tiny_aae", config, x[:110], 2)              # other images
    assert len(checkpoints(cache, "tiny_aae")) == 3 and not same_weights(a, b) and not same_weights(a, c)
    g_config = gan.GANConfig(kind="dcgan", latent_dim=4, channels=2)
    g1, _ = gan.load_or_train_gan("tiny_gan", g_config, x, 2)
    g2, _ = gan.load_or_train_gan("tiny_gan", g_config, x, 2, loss="saturating")   # another loss
    g3, _ = gan.load_or_train_gan("tiny_gan", g_config, x, 2, seed=1)              # another seed (chapter 11's spread)
    assert len(checkpoints(cache, "tiny_gan")) == 3 and not same_weights(g1, g2) and not same_weights(g1, g3)
    p_config = pixelcnn.GatedPixelCNNConfig(channels=2, layers=1)
    p1, _ = pixelcnn.load_or_train_pixelcnn("tiny_pixelcnn", p_config, x, 2)
    p2, _ = pixelcnn.load_or_train_pixelcnn("tiny_pixelcnn", p_config, x, 2, lr=3e-3)   # another learning rate
    p3, _ = pixelcnn.load_or_train_pixelcnn("tiny_pixelcnn", pixelcnn.PixelCNNConfig(channels=2, layers=1), x, 2)
    assert len(checkpoints(cache, "tiny_pixelcnn")) == 3 and not same_weights(p1, p2)
    assert isinstance(p3, pixelcnn.PixelCNN) and isinstance(p1, pixelcnn.GatedPixelCNN)
    c_config = cvae.CVAEConfig(latent_dim=2, hidden_dim=8)
    v1, _ = semi_supervised.load_or_train_cvae("tiny_cvae", c_config, x, y, 2)
    v2, _ = semi_supervised.load_or_train_cvae("tiny_cvae", c_config, x, torch.zeros_like(y), 2)   # the VAE: label 0
    v3, _ = semi_supervised.load_or_train_cvae("tiny_cvae", c_config, x, y, 2)
    assert len(checkpoints(cache, "tiny_cvae")) == 2 and not same_weights(v1, v2) and same_weights(v1, v3)


def test_the_loaders_refuse_bad_input(cache):
    x, y = torch.rand(120, 1, 28, 28), torch.arange(120) % 10
    with pytest.raises(TypeError, match="config must be an AAEConfig, got VAEConfig"):
        from edu_gen import vae
        aae.load_or_train_aae("bad", vae.VAEConfig(), x, 2)
    with pytest.raises(TypeError, match="config must be a GANConfig, got dict"):
        gan.load_or_train_gan("bad", {"kind": "dcgan"}, x, 2)
    with pytest.raises(TypeError, match="config must be a GatedPixelCNNConfig or a PixelCNNConfig, got AAEConfig"):
        pixelcnn.load_or_train_pixelcnn("bad", aae.AAEConfig(), x, 2)
    with pytest.raises(TypeError, match="config must be a CVAEConfig, got GANConfig"):
        semi_supervised.load_or_train_cvae("bad", gan.GANConfig(), x, y, 2)
    with pytest.raises(TypeError, match="labels must hold integer class labels"):
        cvae.main_model(x, y.float())
    with pytest.raises(ValueError, match="labels: labels must lie in 0..9"):
        cvae.main_model(x, y + 5)
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        aae.main_model(torch.rand(120, 784))
    with pytest.raises(ValueError, match="images must be a \\(N, 1, H, W\\) tensor of grey levels"):
        pixelcnn.main_model(torch.rand(120, 28, 28))
    with pytest.raises(ValueError, match="grey levels"):
        pixelcnn.main_model(2 * x)                                            # not in [0, 1]
    with pytest.raises(ValueError, match=r"images must be \(N, 1, 28, 28\) with N >= batch_size = 64"):
        gan.main_model(x[:10])
    with pytest.raises(TypeError, match="seed must be an int >= 0"):
        gan.main_model(x, seed=1.5)
    assert not list((cache / "checkpoints").glob("*.pt"))                  # nothing cached from a refused call


def test_gan_held_out_split_is_the_chapters_split():
    x = torch.arange(5_000.0).reshape(-1, 1, 1, 1).expand(-1, 1, 28, 28)
    train_part, held = gan.held_out_split(x)
    assert len(held) == 500 and len(train_part) == 4_500                       # a tenth held out below 10,000 images
    assert torch.equal(held[:, 0, 0, 0], torch.arange(4_500.0, 5_000.0)) and train_part[-1, 0, 0, 0] == 4_499
    big = torch.zeros(1, 1, 28, 28).expand(60_000, -1, -1, -1)
    assert [len(p) for p in gan.held_out_split(big)] == [50_000, 1_000]       # Goodfellow et al.'s 50,000 and 1,000
    with pytest.raises(TypeError, match="images must be a tensor"):
        gan.held_out_split([1, 2, 3])
    with pytest.raises(ValueError, match=r"images must be \(N, 1, 28, 28\) with N >= 10"):
        gan.held_out_split(torch.zeros(9, 1, 28, 28))


# --------------------------------------------------------------------------------------------
# One definition: gan re-exports its two files; the chapters call the functions
# --------------------------------------------------------------------------------------------


def test_gan_re_exports_every_public_name_of_its_two_files():
    # edu_gen.gan is the name chapters, tests and benchmarks use; its code sits in gan_model and gan_train.
    # mutated: update_generator or KINDS dropped from gan's imports: fails
    from _reexports import missing_reexports

    for module in (gan_model, gan_train):
        missing = missing_reexports(gan, module, at_least=4)
        assert not missing, f"edu_gen.gan lacks {missing} of {module.__name__}"
    assert gan._check_finite is gan_train._check_finite                        # translation_train uses it through gan


def _code(notebook: str) -> str:
    cells = json.loads((ROOT / "book" / notebook).read_text())["cells"]
    return "".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_the_chapters_call_the_one_definitions():
    calls = {"03_autoencoders.ipynb": ["ae.main_dae(x_train)", "ae.main_dae_recipe()"],
             "05_vae.ipynb": ["metrics.book_classifier(train_x, train_y)"],
             "06_cvae.ipynb": ["metrics.book_classifier(train_x, train_y)", "cvae.main_model(train_x, train_y)",
                               "cvae.main_model_recipe()"],
             "07_aae.ipynb": ["metrics.book_classifier(train_x, train_y)", "aae.main_model(train_x)",
                              "aae.main_model_recipe()", "aae.load_or_train_aae("],
             "08_pixelcnn.ipynb": ["pixelcnn.main_model(train_x)", "pixelcnn.main_model_recipe()"],
             "09_gan.ipynb": ["metrics.book_classifier(train_x, train_y)", "gan.main_model(gan_x)",
                              "gan.main_model_recipe()", "gan.held_out_split(train_x)"]}
    pasted = {"03_autoencoders.ipynb": ['denoising_loss(0.5), data.loader'],
              "05_vae.ipynb": [], "06_cvae.ipynb": ["HIDDEN = 500", "ch06_CVAE"], "07_aae.ipynb": ["ch07_aae_parzen", "latent_dim=8"],
              "08_pixelcnn.ipynb": ["ch08_gated_pixelcnn", "first_kernel=7"],
              "09_gan.ipynb": ["ch09_dcgan", 'kind="dcgan"']}           # recipes and cache names written by hand
    for notebook, needed in calls.items():
        code = _code(notebook)
        assert all(call in code for call in needed), (notebook, [c for c in needed if c not in code])
        copied = [p for p in ["metrics.digit_classifier("] + pasted[notebook] if p in code]
        assert not copied, (notebook, copied)
    for script in ("gan_mnist.py", "aae_mnist.py"):                            # the benchmarks call them too
        text = (ROOT / "benchmarks" / script).read_text()
        assert "main_model(" in text and "ch09_dcgan" not in text and "ch07_aae_parzen" not in text, script
    assert "pixelcnn.main_model_recipe(args.scale)" in (ROOT / "benchmarks" / "pixelcnn_mnist.py").read_text()
    comparison = _code("11_comparison.ipynb")                                   # the comparison chapter loads the DAE
    assert "ae.main_dae(" in comparison and "dae_loss(" not in comparison and "ch11_dae" not in comparison
    assert train.load_or_train                                                  # the one cache behind all of them


# --------------------------------------------------------------------------------------------
# The VAE chapter's compared models (vae.compared_model), loaded again by the comparison chapter
# --------------------------------------------------------------------------------------------


def test_the_compared_models_one_budget_the_main_model_when_budgets_coincide(cache, monkeypatch, capsys):
    from edu_gen import vae

    assert [vae.compared_model_steps(s) for s in ("ci", "book", "full")] == [300, 1_200, 30_000]
    with pytest.raises(ValueError, match="scale"):
        vae.compared_model_steps("huge")
    with pytest.raises(ValueError, match="batch_size = 100 images, got 8"):   # was a ZeroDivisionError
        vae.train_vae(vae.VAE(vae.VAEConfig(latent_dim=2)), torch.rand(8, 1, 28, 28), steps=1)
    images = torch.rand(100, 1, 28, 28, generator=gen(0))
    monkeypatch.setattr(vae, "compared_model_steps", lambda scale=None: 2)
    monkeypatch.setattr(vae, "main_model_steps", lambda scale=None: 2)
    main, _ = vae.main_model(images)
    same, _ = vae.compared_model(20, images)                  # the budgets coincide: the main model, not a copy
    assert same_weights(main, same) and checkpoints(cache, "ch05_vae_z20_compared") == []
    ae, _ = vae.compared_model(20, images, deterministic=True)
    small, _ = vae.compared_model(2, images)
    assert isinstance(ae, vae.DeterministicAE) and type(small) is vae.VAE and small.config.latent_dim == 2
    capsys.readouterr()
    again, _ = vae.compared_model(2, images)                  # a second call loads the first one's weights
    assert "loaded ch05_vae_z2_compared" in capsys.readouterr().out and same_weights(small, again)

    monkeypatch.setattr(vae, "main_model_steps", lambda scale=None: 3)
    other, _ = vae.compared_model(20, images)                 # budgets differ: a model of its own
    assert len(checkpoints(cache, "ch05_vae_z20_compared")) == 1
    with pytest.raises(ValueError, match="latent_dim"):
        vae.compared_model(0, images)


def test_the_classifier_is_keyed_on_the_data_itself(cache):
    """Two training sets of the same size and the same label sum train two classifiers (the key used to hold n and
    the label sum only, so chapter 11's resampled sets could load each other's); the same data loads the same one."""
    images = torch.rand(300, 1, 28, 28, generator=gen(0))
    labels = torch.arange(300) % 10
    swapped = labels.clone()
    swapped[[0, 1, 2, 3]] = swapped[[1, 0, 3, 2]]                         # same size, same label sum, other data
    assert int(swapped.sum()) == int(labels.sum())
    first = metrics.digit_classifier(images, labels, steps=3)
    metrics.digit_classifier(images, swapped, steps=3)
    metrics.digit_classifier(images.flip(0), labels, steps=3)            # the same labels on other images
    assert len(checkpoints(cache, "digit_classifier")) == 3
    assert same_weights(first, metrics.digit_classifier(images.clone(), labels.clone(), steps=3))
    assert len(checkpoints(cache, "digit_classifier")) == 3


# --------------------------------------------------------------------------------------------
# The autoencoder chapter's denoising autoencoder (autoencoders.main_dae), loaded by the comparison chapter
# --------------------------------------------------------------------------------------------


def test_main_dae_recipe_cache_and_bad_input(cache, monkeypatch, capsys):
    assert [(r["steps"], r["n_train"]) for r in map(ae.main_dae_recipe, ("ci", "book", "full"))] == [
        (150, 2_000), (600, 20_000), (5_000, 60_000)]                             # the autoencoder chapter's STEPS, SIZE
    recipe = ae.main_dae_recipe()
    assert recipe["config"] == ae.AEConfig(hidden_dims=(256,), code_dim=32, activation="relu")
    assert (recipe["kind"], recipe["level"], recipe["num_samples"], recipe["lr"]) == ("mask", 0.5, 2, 3e-3)
    with pytest.raises(ValueError, match="scale must be one of ci, book, full, got 'huge'"):
        ae.main_dae_recipe("huge")
    real = ae.main_dae_recipe
    monkeypatch.setattr(ae, "main_dae_recipe", lambda scale=None: {**real(scale), "steps": 2 if runtime.scale() == "ci" else 3})
    x = torch.rand(40, 1, 28, 28, generator=gen(3))
    first, history = ae.main_dae(x)
    assert "loaded" not in capsys.readouterr().out and len(history["loss"]) == 2
    torch.manual_seed(123)                                                     # what ran before does not matter
    second, _ = ae.main_dae(x)
    assert f"loaded {ae.MAIN_DAE_NAME} from" in capsys.readouterr().out and same_weights(first, second)
    assert not first.training and next(first.parameters()).device.type == "cpu"
    other, _ = ae.main_dae(x.flip(0))                                          # other images of the same number
    monkeypatch.setenv("EDU_GEN_SCALE", "book")                               # another scale: another budget
    book, book_history = ae.main_dae(x)
    assert len(checkpoints(cache, ae.MAIN_DAE_NAME)) == 3 and len(book_history["loss"]) == 3
    assert not same_weights(first, other) and not same_weights(first, book)
    with pytest.raises(TypeError, match="main_dae expects a floating-point tensor"):
        ae.main_dae(torch.zeros(4, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"main_dae expects inputs of shape \(B, 1, 28, 28\), got \(4, 784\)"):
        ae.main_dae(torch.rand(4, 784))
    with pytest.raises(ValueError, match=r"grey levels in \[0, 1\], got 4 images in \[2, 2\]"):
        ae.main_dae(2 * torch.ones(4, 1, 28, 28))
    with pytest.raises(ValueError, match="N >= 1"):
        ae.main_dae(torch.rand(0, 1, 28, 28))
    assert len(checkpoints(cache, ae.MAIN_DAE_NAME)) == 3                     # nothing cached from a refused call
