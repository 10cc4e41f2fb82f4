import gzip

import pytest
import torch

from edu_gen import data, runtime

SHARED_MNIST = runtime.data_root() / "MNIST" / "raw" / "train-images-idx3-ubyte.gz"
needs_mnist = pytest.mark.skipif(
    not SHARED_MNIST.is_file(), reason=f"MNIST files not found under EDU_GEN_DATA ({runtime.data_root()})"
)


def _check_images(x, y):
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.dim() == 4 and x.shape[1:] == (1, 28, 28) and y.shape == (len(x),)
    assert 0.0 <= x.min() and x.max() <= 1.0


@needs_mnist
def test_mnist_reads_the_original_files():
    x, y = data.mnist("test")
    _check_images(x, y)
    assert len(x) == 10_000
    assert torch.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert x.max() == 1.0 and abs(x.mean().item() - 0.1325) < 1e-3  # MNIST's known mean grey level


@needs_mnist
def test_images_takes_a_seeded_subset_and_binarises():
    a, la = data.images("mnist", "train", n=100, binarize="stochastic", seed=3)
    b, lb = data.images("mnist", "train", n=100, binarize="stochastic", seed=3)
    c, _ = data.images("mnist", "train", n=100, binarize="stochastic", seed=4)
    _check_images(a, la)
    assert torch.equal(a, b) and torch.equal(la, lb) and not torch.equal(a, c)
    assert set(a.unique().tolist()) == {0.0, 1.0}


def test_digits_are_mnist_shaped_and_split_without_overlap():
    xtr, ytr = data.digits("train")
    xte, yte = data.digits("test")
    _check_images(xtr, ytr)
    _check_images(xte, yte)
    assert (len(xtr), len(xte)) == (1437, 360)
    assert set(ytr.tolist()) == set(range(10))
    # like MNIST, a 4-pixel empty border around a 20x20 digit
    assert xtr[:, :, :4].abs().sum() == 0 and xtr[:, :, -4:].abs().sum() == 0
    assert len(xtr) + len(xte) == 1797


def test_missing_mnist_falls_back_to_digits_with_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("EDU_GEN_DATA", str(tmp_path))

    def offline(name, root):
        raise data.DatasetUnavailable("download failed (offline in this test)")

    monkeypatch.setattr(data, "_download", offline)
    data._load_idx_set.cache_clear()
    monkeypatch.setattr(data, "_announced", set())
    x, y = data.images("mnist", "train")
    data.images("mnist", "test")  # the same reason again: no second line
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and "falling back to scikit-learn digits" in lines[0] and "offline in this test" in lines[0]
    assert torch.equal(x, data.digits("train")[0])


def test_missing_mnist_without_download_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("EDU_GEN_DATA", str(tmp_path))
    data._load_idx_set.cache_clear()
    with pytest.raises(data.DatasetUnavailable, match="does not hold the mnist test files"):
        data.mnist("test", download=False)


def test_corrupt_file_is_reported(monkeypatch, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        with gzip.open(raw / name, "wb") as f:
            f.write(b"not an idx file")
    monkeypatch.setenv("EDU_GEN_DATA", str(tmp_path))
    data._load_idx_set.cache_clear()
    with pytest.raises(data.DatasetUnavailable, match="corrupt"):
        data.mnist("test", download=False)


def test_extracted_idx_files_are_read_too(monkeypatch, tmp_path):
    # torchvision's own download extracts the .gz files; those must load as well.
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(range(256)) * 6 + bytes(2 * 784 - 1536)
    labels = bytes([0, 0, 8, 1]) + (2).to_bytes(4, "big") + bytes([3, 7])
    (raw / "t10k-images-idx3-ubyte").write_bytes(images)
    (raw / "t10k-labels-idx1-ubyte").write_bytes(labels)
    monkeypatch.setenv("EDU_GEN_DATA", str(tmp_path))
    data._load_idx_set.cache_clear()
    x, y = data.mnist("test", download=False)
    _check_images(x, y)
    assert y.tolist() == [3, 7] and x[0, 0, 0, 1].item() == pytest.approx(1 / 255)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "cifar10"}, "unknown image set 'cifar10'; expected one of mnist, fashion_mnist, digits"),
        ({"split": "valid"}, "split must be one of"),
        ({"binarize": "yes"}, "binarize must be one of"),
        ({"n": 0}, "n must be a positive integer"),
    ],
)
def test_images_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.images(**{"name": "digits", **kwargs})


def test_asking_for_more_images_than_exist_says_so(capsys):
    x, _ = data.images("digits", "test", n=10_000)
    assert len(x) == 360
    assert "asked for 10000 digits test images, the set has 360" in capsys.readouterr().out


def test_binarize_modes():
    x = torch.tensor([[0.2, 0.5, 0.51, 1.0]])
    assert data.binarize(x, "threshold").tolist() == [[0.0, 0.0, 1.0, 1.0]]
    many = data.binarize(torch.full((100_000,), 0.3), "stochastic", torch.Generator().manual_seed(0))
    assert abs(many.mean().item() - 0.3) < 0.01
    with pytest.raises(ValueError, match="'threshold' or 'stochastic'"):
        data.binarize(x, "round")


def test_loader_batches_and_checks_lengths():
    x, y = torch.arange(10.0), torch.arange(10)
    batches = list(data.loader(x, y, batch_size=4, shuffle=True, seed=1))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat([b[1] for b in batches]).tolist()) == list(range(10))
    again = list(data.loader(x, y, batch_size=4, shuffle=True, seed=1))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(batches, again))
    with pytest.raises(ValueError, match="same first dimension, got sizes \\[10, 9\\]"):
        data.loader(x, y[:9])
    with pytest.raises(ValueError, match="at least one tensor"):
        data.loader()


def test_gaussian_mixture_samples_match_their_density():
    x, component = data.gaussian_mixture_1d(20_000, means=(-2.0, 3.0), stds=(0.5, 1.0), weights=(0.3, 0.7), seed=0)
    assert x.shape == (20_000,) and component.dtype == torch.int64
    assert abs(component.float().mean().item() - 0.7) < 0.01
    grid = torch.linspace(-8, 10, 4001)
    density = data.gaussian_mixture_1d_log_density(grid, (-2.0, 3.0), (0.5, 1.0), (0.3, 0.7)).exp()
    assert torch.trapezoid(density, grid).item() == pytest.approx(1.0, abs=1e-4)
    mean = torch.trapezoid(grid * density, grid).item()
    assert x.mean().item() == pytest.approx(mean, abs=0.03)  # 0.3*(-2) + 0.7*3 = 1.5
    with pytest.raises(ValueError, match="one entry per component"):
        data.gaussian_mixture_1d(10, means=(0.0, 1.0), stds=(1.0,))


def test_toy_sets_have_their_shapes_and_geometry():
    ring, mode = data.ring_2d(800, num_modes=8, radius=2.0, std=0.01)
    assert ring.shape == (800, 2) and mode.max() == 7
    assert torch.allclose(ring.norm(dim=1), torch.full((800,), 2.0), atol=0.05)
    moons, label = data.moons(500, noise=0.0)
    assert moons.shape == (500, 2) and set(label.tolist()) == {0, 1}
    roll2, t2 = data.swiss_roll_2d(300)
    assert torch.allclose(roll2.norm(dim=1), t2, atol=1e-4)  # radius grows with t
    roll3, t3 = data.swiss_roll_3d(300)
    assert roll3.shape == (300, 3) and torch.allclose(roll3[:, [0, 2]].norm(dim=1), t3, atol=1e-4)
    s, ts = data.s_curve(300)
    assert s.shape == (300, 3) and torch.allclose(s[:, 0], torch.sin(ts), atol=1e-6)
    assert torch.equal(data.moons(50, seed=5)[0], data.moons(50, seed=5)[0])


# ---------------------------------------------------------------- Chapter 5: shapes


def test_shapes_covers_every_factor_combination_once():
    x, f = data.shapes()
    assert x.shape == (1200, 1, 28, 28) and x.dtype == torch.float32 and f.shape == (1200, 4) and f.dtype == torch.int64
    assert set(x.unique().tolist()) == {0.0, 1.0}
    assert len({tuple(r) for r in f.tolist()}) == 1200
    assert len({bytes(img.numpy()) for img in x}) == 1200              # every combination looks different


def test_shapes_factors_mean_what_they_say():
    x, f = data.shapes()
    area = x.sum((1, 2, 3))
    for s in range(3):                                                  # bigger scale, bigger area
        per_scale = [area[(f[:, 0] == s) & (f[:, 1] == r)].mean() for r in range(4)]
        assert all(a < b for a, b in zip(per_scale, per_scale[1:]))
    cols = torch.arange(28.0)
    centre_x = (x.sum((1, 2)) * cols).sum(1) / area                    # (N,) centre of mass
    per_x = [centre_x[f[:, 2] == i].mean() for i in range(10)]
    assert all(a < b for a, b in zip(per_x, per_x[1:]))
    # at one size, the circle covers less than the square and more than the triangle
    big = f[:, 1] == 3
    assert area[big & (f[:, 0] == 1)].mean() < area[big & (f[:, 0] == 0)].mean()
    assert area[big & (f[:, 0] == 2)].mean() < area[big & (f[:, 0] == 1)].mean()


def test_shapes_random_draws_are_seeded_and_checked():
    a, fa = data.shapes(50, seed=1)
    b, fb = data.shapes(50, seed=1)
    assert torch.equal(a, b) and torch.equal(fa, fb) and not torch.equal(fa, data.shapes(50, seed=2)[1])
    with pytest.raises(ValueError, match="n must be a positive int or None"):
        data.shapes(0)


def test_natural_patches_are_real_image_windows_with_their_mean_removed():
    from sklearn.datasets import load_sample_images

    patches = data.natural_patches(n=500, size=12, seed=0)
    assert patches.shape == (500, 144) and patches.dtype == torch.float32
    assert patches.mean(1).abs().max() < 1e-5 and abs(patches.std().item() - 1) < 1e-4
    # natural images are smooth: neighbouring pixels of a patch are strongly correlated (noise would give ~0)
    grid = patches.reshape(-1, 12, 12)
    a, b = grid[:, :, 1:].flatten(), grid[:, :, :-1].flatten()
    assert torch.corrcoef(torch.stack([a, b]))[0, 1] > 0.5
    # the first patch is (up to the common scale) a mean-removed window of one photograph: brute force over all windows
    photos = [torch.tensor(img, dtype=torch.float32).mean(-1) / 255.0 for img in load_sample_images().images]
    windows = torch.cat([p.unfold(0, 12, 1).unfold(1, 12, 1).reshape(-1, 144) for p in photos])
    windows = windows - windows.mean(1, keepdim=True)
    cosine = (windows @ patches[0]) / (windows.norm(dim=1) * patches[0].norm() + 1e-12)
    assert cosine.max() > 1 - 1e-5
    assert torch.equal(data.natural_patches(n=50, seed=3), data.natural_patches(n=50, seed=3))
    with pytest.raises(ValueError, match="size >= 2"):
        data.natural_patches(n=10, size=1)
