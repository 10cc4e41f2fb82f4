import gzip
import math

import numpy as np
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
    from sklearn.datasets import load_digits

    xtr, ytr = data.digits("train")
    xte, yte = data.digits("test")
    _check_images(xtr, ytr)
    _check_images(xte, yte)
    assert (len(xtr), len(xte)) == (1437, 360)
    assert set(ytr.tolist()) == set(range(10))
    # like MNIST, a 4-pixel empty border on every side of a 20x20 digit
    for x in (xtr, xte):
        assert x[:, :, :4].abs().sum() == 0 and x[:, :, -4:].abs().sum() == 0
        assert x[:, :, :, :4].abs().sum() == 0 and x[:, :, :, -4:].abs().sum() == 0
    # train and test together are scikit-learn's 1,797 images, each once (they are all distinct there)
    both = torch.cat([xtr, xte])
    assert len({bytes(image.numpy()) for image in both}) == 1797
    original = load_digits()
    assert torch.bincount(torch.cat([ytr, yte])).tolist() == torch.bincount(torch.from_numpy(original.target)).tolist()
    # grey levels 0..16 become [0, 1] and the resizing keeps each image's mean grey level: the sorted
    # means agree with scikit-learn's (measured 3e-8 in float32; 1e-6 is 30x)
    ours = both[:, 0, 4:24, 4:24].mean(dim=(1, 2)).sort().values
    theirs = torch.tensor(original.images / 16.0, dtype=torch.float32).mean(dim=(1, 2)).sort().values
    assert (ours - theirs).abs().max() < 1e-6 and both.max() == 1.0
    # each label belongs to its image: nearest class mean of the training set (measured 0.908 on the test set;
    # shuffled labels would give about 0.1)
    centroids = torch.stack([xtr[ytr == k].mean(0).flatten() for k in range(10)])
    accuracy = (torch.cdist(xte.flatten(1), centroids).argmin(1) == yte).float().mean()
    assert accuracy > 0.85


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
    data.images("mnist", "test", n=10_000)  # the notice names the set actually read
    assert "asked for 10000 digits test images, the set has 360" in capsys.readouterr().out


def test_a_failed_download_is_tried_once_per_process(monkeypatch, tmp_path):
    attempts = []

    class Offline:
        def __init__(self, *args, **kwargs):
            attempts.append(args)
            raise OSError("no network in this test")

    monkeypatch.setattr(data, "_torchvision_class", lambda name: Offline)
    monkeypatch.setattr(data, "_failed_downloads", {})
    for _ in range(2):
        with pytest.raises(data.DatasetUnavailable, match=r"download failed \(OSError: no network in this test\)"):
            data._download("mnist", tmp_path)
    assert len(attempts) == 1


def test_source_names_the_set_that_images_would_read(monkeypatch, tmp_path):
    monkeypatch.setenv("EDU_GEN_DATA", str(tmp_path))
    assert data.source("mnist") == "digits" and data.source("digits") == "digits"
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "t10k-images-idx3-ubyte.gz").write_bytes(b"corrupt")  # present but failing its MD5
    assert data.source("mnist") == "digits"
    with pytest.raises(ValueError, match=r"name \(the image set\) must be one of \('mnist', 'fashion_mnist', 'digits'\), got 'cifar10'"):
        data.source("cifar10")


@needs_mnist
def test_source_is_mnist_when_its_files_are_there():
    assert data.source("mnist") == "mnist"


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
    with pytest.raises(data.DatasetUnavailable, match="is corrupt: its MD5 is"):
        data.mnist("test", download=False)


def _idx(magic: bytes, shape: tuple, body: bytes) -> bytes:
    return magic + b"".join(n.to_bytes(4, "big") for n in shape) + body


@pytest.mark.parametrize(
    "images, message",
    [
        (_idx(bytes([0, 0, 0x0D, 3]), (2, 28, 28), bytes(2 * 784 * 4)), "not an IDX file of unsigned bytes"),  # float32
        (_idx(bytes([0, 0, 8, 3]), (2, 28, 28), bytes(784 + 5)), r"truncated: header says \(2, 28, 28\)"),
    ],
    ids=["float32-not-bytes", "truncated"],
)
def test_malformed_idx_files_are_named(monkeypatch, tmp_path, images, message):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "t10k-images-idx3-ubyte").write_bytes(images)
    (raw / "t10k-labels-idx1-ubyte").write_bytes(_idx(bytes([0, 0, 8, 1]), (2,), bytes([3, 7])))
    monkeypatch.setenv("EDU_GEN_DATA", str(tmp_path))
    data._load_idx_set.cache_clear()
    with pytest.raises(data.DatasetUnavailable, match=message):
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
    "kwargs, error, message",
    [
        ({"name": "cifar10"}, ValueError, r"name \(the image set\) must be one of .*, got 'cifar10'"),
        ({"name": 3}, TypeError, r"name \(the image set\) must be one of .*, got 3 \(int\)"),
        ({"split": "valid"}, ValueError, r"split must be one of \('train', 'test'\), got 'valid'"),
        ({"split": None}, TypeError, r"split must be one of \('train', 'test'\), got None"),
        ({"binarize": "yes"}, ValueError, r"binarize must be one of \(None, 'threshold', 'stochastic'\), got 'yes'"),
        ({"binarize": True}, TypeError, r"binarize must be one of .*, got True \(bool\)"),
        ({"n": 0}, ValueError, r"n must be a positive integer or None \(keep every image\), got 0 \(int\)"),
        ({"n": True}, TypeError, r"n must be a positive integer or None .*, got True \(bool\)"),
        ({"n": 10.0}, TypeError, r"n must be a positive integer or None .*, got 10.0 \(float\)"),
        ({"seed": 1.5}, TypeError, r"seed must be an int \(the seed of a torch.Generator\), got 1.5 \(float\)"),
    ],
)
def test_images_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        data.images(**{"name": "digits", **kwargs})


def test_images_subset_is_seeded_and_keeps_each_label_with_its_image():
    full, labels = data.digits("train")
    index = {bytes(image.numpy()): int(label) for image, label in zip(full, labels)}  # all 1,437 are distinct
    a, la = data.images("digits", "train", n=50, seed=3)
    b, _ = data.images("digits", "train", n=50, seed=4)
    assert [index[bytes(image.numpy())] for image in a] == la.tolist()
    assert torch.equal(a, data.images("digits", "train", n=50, seed=3)[0])
    assert not torch.equal(a, b) and not torch.equal(a, full[:50])  # another seed, another (random) subset


def test_asking_for_more_images_than_exist_says_so(capsys):
    x, _ = data.images("digits", "test", n=10_000)
    assert len(x) == 360
    assert "asked for 10000 digits test images, the set has 360" in capsys.readouterr().out


def test_binarize_modes():
    x = torch.tensor([[0.2, 0.5, 0.51, 1.0]])
    assert data.binarize(x, "threshold").tolist() == [[0.0, 0.0, 1.0, 1.0]]
    many = data.binarize(torch.full((100_000,), 0.3), "stochastic", torch.Generator().manual_seed(0))
    assert abs(many.mean().item() - 0.3) < 0.01
    with pytest.raises(ValueError, match="mode must be 'threshold' or 'stochastic', got 'round'"):
        data.binarize(x, "round")


def test_loader_batches_and_checks_lengths():
    x, y = torch.arange(10.0), torch.arange(10)
    batches = list(data.loader(x, y, batch_size=4, shuffle=True, seed=1))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat([b[1] for b in batches]).tolist()) == list(range(10))
    again = list(data.loader(x, y, batch_size=4, shuffle=True, seed=1))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(batches, again))
    assert torch.cat([b[1] for b in batches]).tolist() != list(range(10))  # shuffled
    assert all(torch.equal(b[0].long(), b[1]) for b in batches)  # rows stay paired
    in_order = list(data.loader(x, y, batch_size=4, shuffle=False))
    assert torch.cat([b[1] for b in in_order]).tolist() == list(range(10))
    assert [len(b[0]) for b in data.loader(x, y, batch_size=4, drop_last=True)] == [4, 4]
    with pytest.raises(ValueError, match="same first dimension, got sizes \\[10, 9\\]"):
        data.loader(x, y[:9])
    with pytest.raises(ValueError, match="at least one tensor"):
        data.loader()
    with pytest.raises(ValueError, match=r"batch_size must be a positive int \(examples per batch\), got 0 \(int\)"):
        data.loader(x, batch_size=0)


def test_gaussian_mixture_samples_match_their_density():
    x, component = data.gaussian_mixture_1d(20_000, means=(-2.0, 3.0), stds=(0.5, 1.0), weights=(0.3, 0.7), seed=0)
    assert x.shape == (20_000,) and component.dtype == torch.int64
    assert abs(component.float().mean().item() - 0.7) < 0.01
    grid = torch.linspace(-8, 10, 4001)
    density = data.gaussian_mixture_1d_log_density(grid, (-2.0, 3.0), (0.5, 1.0), (0.3, 0.7)).exp()
    assert torch.trapezoid(density, grid).item() == pytest.approx(1.0, abs=1e-4)
    mean = torch.trapezoid(grid * density, grid).item()
    assert x.mean().item() == pytest.approx(mean, abs=0.03)  # 0.3*(-2) + 0.7*3 = 1.5
    # each component has its standard deviation (sigma, not sigma^2): about 6,000 and 14,000 samples,
    # a standard error under 1% of sigma; 4% allows 4 of them
    for k, (mu, sigma) in enumerate([(-2.0, 0.5), (3.0, 1.0)]):
        assert x[component == k].mean().item() == pytest.approx(mu, abs=0.04 * sigma)
        assert x[component == k].std().item() == pytest.approx(sigma, rel=0.04)
    with pytest.raises(ValueError, match="one entry per component"):
        data.gaussian_mixture_1d(10, means=(0.0, 1.0), stds=(1.0,))
    for bad in ({"weights": (0.5, 0.6)}, {"weights": (1.2, -0.2)}):
        with pytest.raises(ValueError, match="weights must be non-negative and sum to 1"):
            data.gaussian_mixture_1d(10, **bad)
    with pytest.raises(ValueError, match=r"stds must be positive finite numbers .*, got \[0.5, 0.0\]"):
        data.gaussian_mixture_1d(10, stds=(0.5, 0.0))


def test_toy_sets_have_their_shapes_and_geometry():
    # float32 coordinates of size <= 14: rounding measured below 2e-6; tolerances 1e-5 unless said
    ring, mode = data.ring_2d(4000, num_modes=8, radius=2.0, std=0.05)
    assert ring.shape == (4000, 2) and set(mode.tolist()) == set(range(8))
    angle = 2 * math.pi * mode.float() / 8
    noise = ring - 2.0 * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)  # mode k sits at angle 2 pi k / 8
    # the residual is the added noise: mean 0 and std 0.05 per coordinate (standard errors 0.0008 and 0.0006)
    assert noise.mean(0).abs().max() < 0.004 and ((noise.std(0) - 0.05).abs() < 0.003).all()
    moons, label = data.moons(2000, noise=0.0)
    assert moons.shape == (2000, 2) and set(label.tolist()) == {0, 1}
    upper, lower = moons[label == 0], moons[label == 1]
    assert torch.allclose(upper.norm(dim=1), torch.ones(len(upper)), atol=1e-5) and (upper[:, 1] >= 0).all()
    centre = torch.tensor([1.0, 0.5])  # the lower moon: the upper one turned over and shifted by (1, 0.5)
    assert torch.allclose((lower - centre).norm(dim=1), torch.ones(len(lower)), atol=1e-5) and (lower[:, 1] <= 0.5).all()
    noisy, same_label = data.moons(2000, noise=0.1)  # same seed: same points, plus noise of std 0.1
    assert torch.equal(label, same_label) and abs((noisy - moons).std().item() - 0.1) < 0.005
    roll2, t2 = data.swiss_roll_2d(300)
    assert torch.allclose(roll2, torch.stack([t2 * torch.cos(t2), t2 * torch.sin(t2)], dim=1), atol=1e-5)
    for t in (t2, data.swiss_roll_3d(300)[1]):  # t in [1.5 pi, 4.5 pi]: one and a half turns
        assert t.min() >= 1.5 * math.pi and t.max() <= 4.5 * math.pi and t.max() - t.min() > 0.95 * 3 * math.pi
    roll3, t3 = data.swiss_roll_3d(300)
    assert roll3.shape == (300, 3) and torch.allclose(roll3[:, [0, 2]], torch.stack([t3 * torch.cos(t3), t3 * torch.sin(t3)], 1), atol=1e-5)
    assert roll3[:, 1].min() >= 0 and roll3[:, 1].max() <= 21 and roll3[:, 1].max() - roll3[:, 1].min() > 20
    s, ts = data.s_curve(300)
    expected = torch.stack([torch.sin(ts), torch.sign(ts) * (torch.cos(ts) - 1)], dim=1)
    assert s.shape == (300, 3) and torch.allclose(s[:, [0, 2]], expected, atol=1e-6)
    assert ts.min() >= -1.5 * math.pi and ts.max() <= 1.5 * math.pi and ts.max() - ts.min() > 0.95 * 3 * math.pi
    assert torch.equal(data.moons(50, seed=5)[0], data.moons(50, seed=5)[0])


# ---------------------------------------------------------------- Chapter 5: shapes


def test_shapes_covers_every_factor_combination_once():
    x, f = data.shapes()
    assert x.shape == (1200, 1, 28, 28) and x.dtype == torch.float32 and f.shape == (1200, 4) and f.dtype == torch.int64
    assert set(x.unique().tolist()) == {0.0, 1.0}
    assert len({tuple(r) for r in f.tolist()}) == 1200
    # in order: shape slowest, then scale, x, and y fastest
    assert torch.equal(f[:, 0] * 400 + f[:, 1] * 100 + f[:, 2] * 10 + f[:, 3], torch.arange(1200))
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
    centre_y = (x.sum((1, 3)) * cols).sum(1) / area                    # y grows downwards
    per_y = [centre_y[f[:, 3] == i].mean() for i in range(10)]
    assert all(a < b for a, b in zip(per_y, per_y[1:]))
    # the triangle points up: apex at the top, so its mass sits lower than the circle's (measured 1.0 to 2.0
    # pixels from the smallest to the largest scale; pointing down would be as much above)
    for r in range(4):
        triangle, circle = (f[:, 0] == 2) & (f[:, 1] == r), (f[:, 0] == 1) & (f[:, 1] == r)
        assert centre_y[triangle].mean() > centre_y[circle].mean() + 0.5
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
    # one common scale: the patches keep their own contrast (measured max/min patch std 158; 1 if each were scaled alone)
    per_patch = patches.std(1)
    assert per_patch.max() > 5 * per_patch.min()
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
    with pytest.raises(ValueError, match=r"size must be an int from 2 to 427 \(the side of a patch in pixels\), got 1"):
        data.natural_patches(n=10, size=1)


# ---------------------------------------------------------------- issue 12: every argument checked at the boundary
# A count, a seed or a scale may be any numeric kind (Python, NumPy, 0-d tensor); bool is not a number; a
# wrong type is a TypeError and a wrong value a ValueError, each naming the argument, what was expected
# and what came.

SAMPLERS = {
    "ring_2d": lambda **kw: data.ring_2d(**{"n": 20, **kw}),
    "moons": lambda **kw: data.moons(**{"n": 20, **kw}),
    "swiss_roll_2d": lambda **kw: data.swiss_roll_2d(**{"n": 20, **kw}),
    "swiss_roll_3d": lambda **kw: data.swiss_roll_3d(**{"n": 20, **kw}),
    "s_curve": lambda **kw: data.s_curve(**{"n": 20, **kw}),
    "gaussian_mixture_1d": lambda **kw: data.gaussian_mixture_1d(**{"n": 20, **kw}),
    "shapes": lambda **kw: data.shapes(**{"n": 20, **kw}),
    "natural_patches": lambda **kw: data.natural_patches(**{"n": 20, "size": 4, **kw}),
}
NOISY = ("moons", "swiss_roll_2d", "swiss_roll_3d", "s_curve")


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_samplers_accept_numbers_of_any_kind_with_the_same_result(name):
    plain = SAMPLERS[name](n=7, seed=3)
    for n, seed in ((np.int64(7), np.int32(3)), (torch.tensor(7), torch.tensor(3)), (np.array(7), 3)):
        again = SAMPLERS[name](n=n, seed=seed)
        assert all(torch.equal(a, b) for a, b in zip(_as_tuple(plain), _as_tuple(again))), (name, type(n))


def _as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
@pytest.mark.parametrize("kwargs, error, message", [
    ({"n": 0}, ValueError, r"n must be .*, got 0 \(int\)"),
    ({"n": -3}, ValueError, r"n must be .*, got -3 \(int\)"),
    ({"n": True}, TypeError, r"n must be .*, got True \(bool\)"),
    ({"n": 5.0}, TypeError, r"n must be .*, got 5.0 \(float\)"),
    ({"n": "5"}, TypeError, r"n must be .*, got '5' \(str\)"),
    ({"n": torch.ones(2, dtype=torch.int64)}, TypeError, r"n must be .*, got a tensor of shape \(2,\)"),
    ({"seed": 0.5}, TypeError, r"seed must be an int \(the seed of a torch.Generator\), got 0.5 \(float\)"),
    ({"seed": False}, TypeError, r"seed must be an int .*, got False \(bool\)"),
])
def test_samplers_refuse_bad_counts_and_seeds(name, kwargs, error, message):
    with pytest.raises(error, match=message):
        SAMPLERS[name](**kwargs)


@pytest.mark.parametrize("name, argument", [(name, "noise") for name in NOISY] + [("ring_2d", "std"), ("ring_2d", "radius")])
def test_scales_are_finite_non_negative_numbers(name, argument):
    for bad, error in ((-0.1, ValueError), (float("nan"), ValueError), (float("inf"), ValueError), (True, TypeError),
                       ("0.1", TypeError), (torch.zeros(2), TypeError)):
        with pytest.raises(error, match=rf"{argument} must be a finite number >= 0 \(.*\), got "):
            SAMPLERS[name](**{argument: bad})
    # any numeric kind is a number, with the result of the same Python float
    plain = SAMPLERS[name](**{argument: 0.25})
    for kind in (np.float32(0.25), np.float64(0.25), torch.tensor(0.25, dtype=torch.float64)):
        assert all(torch.equal(a, b) for a, b in zip(plain, SAMPLERS[name](**{argument: kind})))


def test_ring_and_patches_check_their_other_integers():
    with pytest.raises(ValueError, match=r"num_modes must be an int >= 1 \(K, the number of Gaussians\), got 0 \(int\)"):
        data.ring_2d(10, num_modes=0)
    with pytest.raises(TypeError, match=r"num_modes must be an int >= 1 .*, got 8.0 \(float\)"):
        data.ring_2d(10, num_modes=8.0)
    assert torch.equal(data.ring_2d(10, num_modes=np.int64(3))[1], data.ring_2d(10, num_modes=3)[1])
    with pytest.raises(ValueError, match=r"size must be an int from 2 to 427 .*, got 428 \(int\)"):
        data.natural_patches(n=3, size=428)
    with pytest.raises(TypeError, match=r"size must be an int from 2 to 427 .*, got 12.0 \(float\)"):
        data.natural_patches(n=3, size=12.0)
    assert data.natural_patches(n=3, size=427).shape == (3, 427 * 427)  # the largest size still cuts a window


def test_shapes_takes_any_integer_kind_and_refuses_bool():
    x, f = data.shapes(n=np.int64(5), seed=2)
    y, g = data.shapes(n=5, seed=2)
    assert torch.equal(x, y) and torch.equal(f, g)
    with pytest.raises(TypeError, match=r"n must be a positive int or None \(every combination\), got True \(bool\)"):
        data.shapes(True)
    with pytest.raises(TypeError, match=r"seed must be an int"):
        data.shapes(None, seed="0")


def test_mixture_parameters_are_checked_by_name():
    nan, inf = float("nan"), float("inf")
    cases = [
        ({"means": (nan, 2.0)}, ValueError, r"means must be finite numbers .*, got \[nan, 2.0\]"),
        ({"means": (-inf, 2.0)}, ValueError, r"means must be finite numbers"),
        ({"stds": (0.5, inf)}, ValueError, r"stds must be positive finite numbers .*, got \[0.5, inf\]"),
        ({"stds": (0.5, nan)}, ValueError, r"stds must be positive finite numbers"),
        ({"stds": (0.5, -0.5)}, ValueError, r"stds must be positive finite numbers"),
        ({"weights": (nan, 1.0)}, ValueError, r"weights must be non-negative and sum to 1 .*, got \[nan, 1.0\]"),
        ({"means": (), "stds": ()}, ValueError, r"means must hold at least one number .*K >= 1"),
        ({"means": "ab"}, TypeError, r"means must be a sequence of numbers .*, got 'ab' \(str\)"),
        ({"stds": [0.5, "x"]}, TypeError, r"stds must be a sequence of numbers"),
        ({"weights": torch.tensor([True, False])}, TypeError, r"weights must be a sequence of numbers .*dtype torch.bool"),
    ]
    for kwargs, error, message in cases:
        for function in (lambda **kw: data.gaussian_mixture_1d(10, **kw),
                         lambda **kw: data.gaussian_mixture_1d_log_density(torch.zeros(3), **kw)):
            with pytest.raises(error, match=message):
                function(**kwargs)


def test_mixture_log_density_checks_its_points_and_keeps_their_shape():
    grid = torch.linspace(-3, 3, 12).reshape(3, 4)
    log_p = data.gaussian_mixture_1d_log_density(grid)
    assert log_p.shape == (3, 4) and log_p.dtype == torch.float32
    # numbers of any kind and arrays are points too, with the same values (float32 throughout)
    assert torch.equal(data.gaussian_mixture_1d_log_density(grid.numpy()), log_p)
    assert data.gaussian_mixture_1d_log_density(np.float64(0.5)) == data.gaussian_mixture_1d_log_density(torch.tensor(0.5))
    # an infinite point has density 0, log-density -inf; NaN is refused
    assert data.gaussian_mixture_1d_log_density(torch.tensor([float("inf")])).item() == -math.inf
    with pytest.raises(ValueError, match=r"x must not hold NaN, got 1 NaN entries \(of 3\)"):
        data.gaussian_mixture_1d_log_density(torch.tensor([0.0, float("nan"), 1.0]))
    for bad in (True, torch.tensor([True]), "0.5", [[0.0], [1.0, 2.0]]):
        with pytest.raises(TypeError, match=r"x must be numbers \(points of any shape\), got "):
            data.gaussian_mixture_1d_log_density(bad)


def test_binarize_refuses_what_is_not_a_grey_level():
    x = torch.tensor([0.0, 0.3, 1.0])
    for mode in ("threshold", "stochastic"):
        with pytest.raises(ValueError, match=r"binarize: x must hold grey levels in \[0, 1\], got values in \[-0.1, 1\]"):
            data.binarize(torch.tensor([-0.1, 0.5, 1.0]), mode)
        with pytest.raises(ValueError, match=r"binarize: x must hold grey levels in \[0, 1\], got 1 NaN entries \(of 2\)"):
            data.binarize(torch.tensor([0.5, float("nan")]), mode)
    with pytest.raises(TypeError, match=r"x must be a floating-point tensor of grey levels in \[0, 1\], got dtype torch.int64"):
        data.binarize(torch.tensor([0, 1]))
    with pytest.raises(TypeError, match=r"x must be a floating-point tensor .*, got \[0.5\] \(list\)"):
        data.binarize([0.5])
    with pytest.raises(TypeError, match=r"mode must be 'threshold' or 'stochastic', got 1 \(int\)"):
        data.binarize(x, 1)
    with pytest.raises(TypeError, match=r"generator must be a torch.Generator or None, got 0 \(int\)"):
        data.binarize(x, "stochastic", 0)
    # an empty batch is binarised to an empty batch of the same shape and dtype
    empty = data.binarize(torch.empty(0, 1, 28, 28, dtype=torch.float64), "stochastic")
    assert empty.shape == (0, 1, 28, 28) and empty.dtype == torch.float64


def test_loader_yields_what_a_plain_dataloader_yields():
    # the batched fetch (one indexing per tensor) must change nothing but the speed: the same rows in the same
    # order, the same values, dtypes and shapes, epoch after epoch, as torch's row-by-row fetch with default_collate
    from torch.utils.data import DataLoader, TensorDataset

    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(37, 1, 4, 4, generator=g), torch.randint(0, 10, (37,), generator=g)
    w = torch.rand(37, 3, generator=g).double()
    for batch_size, shuffle, drop_last, seed in [(8, True, False, 3), (8, True, True, 5), (10, False, False, 0), (64, True, False, 1)]:
        ours = data.loader(x, y, w, batch_size=batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)
        plain = DataLoader(TensorDataset(x, y, w), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                           generator=torch.Generator().manual_seed(seed))
        for _ in range(3):                                       # each epoch draws a new order from the generator
            got, expected = list(ours), list(plain)
            assert len(got) == len(expected) and all(type(b) is list and len(b) == 3 for b in got)
            for a, b in zip(got, expected):
                assert all(u.dtype == v.dtype and u.shape == v.shape and torch.equal(u, v) for u, v in zip(a, b))


def test_loader_checks_its_tensors_and_flags():
    x = torch.arange(6.0)
    with pytest.raises(TypeError, match=r"tensors\[1\] must be a torch.Tensor \(N, \.\.\.\), got \[0, 1\] \(list\)"):
        data.loader(x[:2], [0, 1])
    with pytest.raises(ValueError, match=r"tensors\[0\] must have a first dimension \(N, \.\.\.\), got a 0-d tensor"):
        data.loader(torch.tensor(1.0))
    with pytest.raises(TypeError, match=r"batch_size must be a positive int .*, got True \(bool\)"):
        data.loader(x, batch_size=True)
    with pytest.raises(TypeError, match=r"shuffle must be True or False, got 'yes' \(str\)"):
        data.loader(x, shuffle="yes")
    with pytest.raises(TypeError, match=r"drop_last must be True or False, got 1 \(int\)"):
        data.loader(x, drop_last=1)
    with pytest.raises(TypeError, match=r"seed must be an int"):
        data.loader(x, seed=0.0)
    # any integer kind: the same batches
    plain = [b[0] for b in data.loader(x, batch_size=4, seed=2)]
    again = [b[0] for b in data.loader(x, batch_size=np.int64(4), seed=torch.tensor(2), shuffle=np.bool_(True))]
    assert all(torch.equal(a, b) for a, b in zip(plain, again)) and len(plain) == 2
    with pytest.raises(ValueError, match=r"tensors must hold at least one row \(N >= 1\), got shapes \[\(0, 3\), \(0,\)\]"):
        data.loader(torch.empty(0, 3), torch.empty(0))  # a training loop over it would silently do nothing


def test_split_and_download_flags_are_checked(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match=r"split must be one of \('train', 'test'\), got 'valid'"):
        data.digits("valid")
    with pytest.raises(TypeError, match=r"split must be one of \('train', 'test'\), got 0 \(int\)"):
        data.digits(0)
    monkeypatch.setenv("EDU_GEN_DATA", str(tmp_path))
    for reader in (data.mnist, data.fashion_mnist):
        with pytest.raises(TypeError, match=r"download must be True or False, got 'no' \(str\)"):
            reader("test", download="no")
        with pytest.raises(ValueError, match=r"split must be one of"):
            reader("valid")
    with pytest.raises(TypeError, match=r"name \(the image set\) must be one of .*, got None"):
        data.source(None)


def test_grey_levels_are_the_files_bytes_over_255_exactly():
    # _to_tensors divides in place (no second copy of MNIST); the quotients must be the correctly rounded bytes / 255
    # of the plain division, every one of the 256 byte values, bit for bit
    images = np.arange(256, dtype=np.uint8).reshape(4, 8, 8)
    x, y = data._to_tensors(images, np.arange(4, dtype=np.uint8))
    expected = torch.from_numpy(images.astype(np.float32) / np.float32(255.0)).unsqueeze(1)
    assert x.shape == (4, 1, 8, 8) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.equal(x.view(torch.int32), expected.view(torch.int32))
    assert torch.equal(x, torch.arange(256, dtype=torch.float64).div(255).float().reshape(4, 1, 8, 8))
