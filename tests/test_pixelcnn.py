"""PixelCNN: masks, the exhaustive causality check, the blind spot, likelihoods by enumeration, samplers.

Every known trap is built as a mutant here and the check that should catch it is asserted to catch it:
mask B zeroing the wrong rows, the horizontal stack fed into the vertical one, a masked 1x1
convolution, a residual connection that leaks the input pixel, a first layer with mask B, a vertical
stack that sees its own row, and a fast sampler that crops too few rows.
"""

import itertools
import math

import pytest
import torch
from torch import nn

from edu_gen import pixelcnn as pc
from edu_gen import pixelcnn_sampling as ps

SMALL = dict(channels=6)


def strictly_causal(dep: torch.Tensor) -> bool:
    """No output depends on its own pixel or a later one: D[i, j] False for every j >= i."""
    return not bool(dep.triu().any())


def raster_past(height: int, width: int) -> torch.Tensor:
    n = height * width
    return torch.ones(n, n, dtype=torch.bool).tril(-1)


class Channel(nn.Module):
    """Sum a layer's chosen output over channels, so that `dependencies` sees one map (B, 1, H, W)."""

    def __init__(self, layer, pick=lambda out: out):
        super().__init__()
        self.layer, self.pick = layer, pick

    def forward(self, x):
        out = self.layer(x) if not isinstance(self.layer, pc.GatedLayer) else self.layer(x, x)
        return self.pick(out).sum(1, keepdim=True)


# --------------------------------------------------------------------------------------------
# Masks
# --------------------------------------------------------------------------------------------


def test_masks_of_a_3x3_kernel_written_out():
    a = torch.tensor([[1, 1, 1], [1, 0, 0], [0, 0, 0]], dtype=torch.float32)
    b = torch.tensor([[1, 1, 1], [1, 1, 0], [0, 0, 0]], dtype=torch.float32)
    assert torch.equal(pc.causal_mask(3, "A"), a)
    assert torch.equal(pc.causal_mask(3, "B"), b)


@pytest.mark.parametrize("k", [1, 3, 5, 7])
def test_masks_keep_exactly_the_raster_predecessors_of_the_centre(k):
    c = k // 2
    for mask_type in "AB":
        mask = pc.causal_mask(k, mask_type)
        for r, col in itertools.product(range(k), range(k)):
            before = r * k + col < c * k + c                      # raster order inside the kernel
            keep = before or (mask_type == "B" and (r, col) == (c, c))
            assert mask[r, col] == float(keep), (k, mask_type, r, col)


def test_stack_masks():
    assert torch.equal(pc.vertical_mask(3, first=True), torch.tensor([[1.0, 1, 1], [0, 0, 0], [0, 0, 0]]))
    assert torch.equal(pc.vertical_mask(3, first=False), torch.tensor([[1.0, 1, 1], [1, 1, 1], [0, 0, 0]]))
    assert torch.equal(pc.horizontal_mask(5, first=True), torch.tensor([[1.0, 1, 0, 0, 0]]))
    assert torch.equal(pc.horizontal_mask(5, first=False), torch.tensor([[1.0, 1, 1, 0, 0]]))


@pytest.mark.parametrize("bad, error, words", [
    (dict(kernel_size=4), ValueError, "odd"),
    (dict(kernel_size=0), ValueError, "kernel_size"),
    (dict(kernel_size=3.5), TypeError, "kernel_size"),
    (dict(mask_type="C"), ValueError, "mask_type"),
    (dict(mask_type="a"), ValueError, "'A'"),
])
def test_bad_masks_are_refused(bad, error, words):
    args = dict(kernel_size=3, mask_type="B") | bad
    with pytest.raises(error, match=words):
        pc.MaskedConv2d(1, 2, **args)
    with pytest.raises(error, match=words):
        pc.causal_mask(**args)


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="odd"):
        pc.PixelCNNConfig(first_kernel=6)
    with pytest.raises(ValueError, match="odd"):
        pc.GatedPixelCNNConfig(kernel_size=2)
    with pytest.raises(ValueError, match="channels"):
        pc.GatedPixelCNNConfig(channels=0)
    with pytest.raises(TypeError, match="GatedPixelCNNConfig"):
        pc.GatedPixelCNN(pc.PixelCNNConfig())


def test_masked_weights_get_no_gradient_and_the_mask_is_a_buffer():
    conv = pc.MaskedConv2d(2, 3, 5, "A")
    conv(torch.randn(4, 2, 6, 6)).square().sum().backward()
    assert (conv.weight.grad[..., conv.mask == 0] == 0).all()
    assert (conv.weight.grad[..., conv.mask == 1] != 0).all()
    assert "mask" in dict(conv.named_buffers()) and "mask" not in dict(conv.named_parameters())


# --------------------------------------------------------------------------------------------
# The exhaustive causality check, layer by layer and for the whole networks
# --------------------------------------------------------------------------------------------


def test_causality_of_each_layer_type():
    torch.manual_seed(0)
    n = 25
    same_or_later = torch.ones(n, n, dtype=torch.bool).triu()       # j >= i
    later = torch.ones(n, n, dtype=torch.bool).triu(1)              # j > i (B may see its own position)
    a = pc.dependencies(Channel(pc.MaskedConv2d(1, 4, 3, "A")))
    assert not (a & same_or_later).any() and a.any()
    b = pc.dependencies(Channel(pc.MaskedConv2d(1, 4, 3, "B")))
    assert not (b & later).any() and b.diagonal().all()             # B sees its own position, nothing later
    # the gated layer's three outputs, first layer (centre excluded) and later layers (from x directly)
    first = pc.GatedLayer(1, 4, 3, first=True)
    for k, name in enumerate(["v", "h", "skip"]):
        dep = pc.dependencies(Channel(first, lambda out, k=k: out[k]))
        assert strictly_causal(dep) and dep.any(), name
    v = pc.dependencies(Channel(first, lambda out: out[0])).reshape(5, 5, 5, 5)
    rows_seen = v.any(dim=3)                                        # (r, c, r'): output (r, c) reads row r'
    for r in range(5):
        assert not rows_seen[r, :, r:].any(), "the vertical stack must see rows above only"
    # a later layer fed with the first layer's outputs (its own masks keep the centre row and pixel)
    second = pc.GatedLayer(4, 4, 3, first=False)
    two = TwoGated(first, second)
    for k, name in enumerate(["v", "h", "skip"]):
        dep = pc.dependencies(Channel(two, lambda out, k=k: out[k]))
        assert strictly_causal(dep) and dep.any(), name


class TwoGated(nn.Module):
    def __init__(self, first, second):
        super().__init__()
        self.first, self.second = first, second

    def forward(self, x):
        v, h, _ = self.first(x, x)
        return self.second(v, h)


@pytest.mark.parametrize("build", [
    lambda: pc.PixelCNN(pc.PixelCNNConfig(channels=6, layers=3)),
    lambda: pc.PixelCNN(),
    lambda: pc.GatedPixelCNN(pc.GatedPixelCNNConfig(channels=6, layers=4)),
    lambda: pc.GatedPixelCNN(),
], ids=["pixelcnn-small", "pixelcnn-default", "gated-small", "gated-default"])
def test_whole_networks_are_causal(build):
    # Built here from a fixed seed, not at collection time, so the weights do not depend on which tests
    # ran before in the same process (CI failed on that). A 6-channel ReLU network can be dead: from
    # seed 0 the small PixelCNN's last ReLU is off for every input, its output is constant and the
    # causality check is vacuous, which the second assertion exists to catch (it did). Of seeds 0-8 the
    # small PixelCNN is dead for 0 and 6 and live for the rest; the other three models are live for
    # every seed tried (measured). Seed 1 is used for all four.
    torch.manual_seed(1)
    model = build()
    for shape in [(5, 5), (4, 7)]:
        dep = pc.dependencies(model, shape)
        assert strictly_causal(dep)
        assert dep[1:].any(dim=1).all(), "every output after the first depends on something"


def reachable(pixel, shape, layers):
    """The inputs a stack of masked convolutions can reach from output `pixel`, by walking the masks
    backwards from the last layer to the first; a path may only pass through positions inside the image
    (padding is a constant). `layers` lists each layer's (k, k) mask, first layer first."""
    height, width = shape
    frontier = {pixel}
    for mask in reversed(layers):
        c = mask.shape[0] // 2
        offsets = [(dr - c, dc - c) for dr in range(mask.shape[0]) for dc in range(mask.shape[1]) if mask[dr, dc]]
        frontier = {(r + dr, col + dc) for r, col in frontier for dr, dc in offsets
                    if 0 <= r + dr < height and 0 <= col + dc < width}
    return frontier


def test_pixelcnn_receptive_field_is_the_walk_through_its_masks_and_has_a_blind_spot():
    torch.manual_seed(1)
    config = pc.PixelCNNConfig(channels=8, layers=4, first_kernel=3, kernel_size=3)
    model, shape = pc.PixelCNN(config), (6, 6)
    masks = [pc.causal_mask(3, "A")] + [pc.causal_mask(3, "B")] * 4
    dep = pc.dependencies(model, shape).reshape(6, 6, 6, 6)
    for r, c in itertools.product(range(6), range(6)):
        expected = torch.zeros(6, 6, dtype=torch.bool)
        for rr, cc in reachable((r, c), shape, masks):
            expected[rr, cc] = True
        assert torch.equal(dep[r, c], expected), (r, c)
    # the blind spot: past pixels up and to the right that no depth of 3x3 'B' layers reaches
    past = raster_past(*shape)
    blind = past & ~dep.reshape(36, 36)
    assert blind[3 * 6 + 1, 2 * 6 + 3] and blind[3 * 6 + 1, 2 * 6 + 4], "x_(2,3) and x_(2,4) unseen by l_(3,1)"
    assert not blind[3 * 6 + 1, 2 * 6 + 2] and not blind[3 * 6 + 1, 1 * 6 + 3]
    assert blind.sum() > 0


@pytest.mark.parametrize("config", [pc.GatedPixelCNNConfig(channels=4, layers=6), pc.GatedPixelCNNConfig()])
def test_gated_pixelcnn_sees_every_past_pixel(config):
    # with L gated layers (k = 3) row r - k of the field spans columns c - (L - k + 1) .. c + (L - k + 1) and the
    # current row L columns to the left: L = 7 covers every earlier pixel of a 5x5 image (L = 5 would not)
    torch.manual_seed(2)
    dep = pc.dependencies(pc.GatedPixelCNN(config), (5, 5))
    assert torch.equal(dep, raster_past(5, 5)), "no blind spot: output i depends on every j < i and no other"


def test_receptive_field_of_one_pixel_is_a_row_of_dependencies():
    torch.manual_seed(3)
    model = pc.GatedPixelCNN(pc.GatedPixelCNNConfig(channels=4, layers=2))
    dep = pc.dependencies(model, (6, 7))
    field = pc.receptive_field(model, (3, 4), (6, 7))
    assert torch.equal(field.flatten(), dep[3 * 7 + 4])
    with pytest.raises(ValueError, match="pixel"):
        pc.receptive_field(model, (6, 0), (6, 7))


# --------------------------------------------------------------------------------------------
# The traps, as mutants the checks must catch
# --------------------------------------------------------------------------------------------


def test_mutant_mask_b_zeroing_the_wrong_rows_is_caught():
    torch.manual_seed(4)
    model = pc.PixelCNN(pc.PixelCNNConfig(**SMALL, layers=3))
    wrong = torch.ones(3, 3)
    wrong[:1] = 0                                     # zeroes the row above instead of the row below
    wrong[1, 2] = 0
    model.convs[2].mask.copy_(wrong)
    assert not strictly_causal(pc.dependencies(model))


def test_mutant_first_layer_with_mask_b_is_caught():
    torch.manual_seed(5)
    model = pc.PixelCNN(pc.PixelCNNConfig(**SMALL, layers=2))
    model.convs[0].mask.copy_(pc.causal_mask(7, "B"))
    dep = pc.dependencies(model)
    assert not strictly_causal(dep) and dep.diagonal().all()


def test_mutant_masked_1x1_convolution_is_caught():
    torch.manual_seed(6)
    model = pc.PixelCNN(pc.PixelCNNConfig(channels=8, layers=2, first_kernel=3))
    expected = pc.dependencies(model, (6, 6))
    model.head[1] = pc.MaskedConv2d(8, 8, 1, "A")       # a 1x1 kernel's only tap is its centre: 'A' cuts it
    broken = pc.dependencies(model, (6, 6))
    assert strictly_causal(broken)                      # causal, so the triangle test alone would pass it ...
    assert not broken.any() and expected.any()          # ... but it sees nothing: the exact-field test fails


def _gated_forward_feeding_h_into_v(self, v, h):
    v_pre = self.v_conv(v if self.first else v + h)     # the horizontal stack leaks into the vertical one
    return (pc.gate(v_pre), *self.horizontal(h, self.link(v_pre)))


def _gated_horizontal_residual_everywhere(self, h, link):
    g = pc.gate(self.h_conv(h) + link)
    return h + self.out(g), self.skip(g)                # a residual in the first layer too: h is x there


@pytest.mark.parametrize("mutant, attribute", [
    (_gated_forward_feeding_h_into_v, "forward"),
    (_gated_horizontal_residual_everywhere, "horizontal"),
], ids=["horizontal-into-vertical", "leaking-residual"])
def test_mutant_gated_leaks_are_caught(monkeypatch, mutant, attribute):
    torch.manual_seed(7)
    model = pc.GatedPixelCNN(pc.GatedPixelCNNConfig(channels=4, layers=3))
    assert strictly_causal(pc.dependencies(model))
    monkeypatch.setattr(pc.GatedLayer, attribute, mutant)
    assert not strictly_causal(pc.dependencies(model))


def test_mutant_vertical_stack_seeing_its_own_row_is_caught():
    torch.manual_seed(8)
    model = pc.GatedPixelCNN(pc.GatedPixelCNNConfig(channels=4, layers=2))
    model.gated[0].v_conv.mask.copy_(pc.vertical_mask(3, first=False))   # no down-shift: row r sees row r
    assert not strictly_causal(pc.dependencies(model))


# --------------------------------------------------------------------------------------------
# Likelihoods against enumeration
# --------------------------------------------------------------------------------------------


def all_images(height, width, dtype=torch.float64):
    d = height * width
    bits = torch.arange(2**d).unsqueeze(1).bitwise_and(2 ** torch.arange(d)).ne(0)
    return bits.to(dtype).view(-1, 1, height, width)       # (2^D, 1, H, W)


def test_logistic_autoregressive_likelihood_matches_the_chain_rule_written_pixel_by_pixel():
    torch.manual_seed(9)
    model = pc.LogisticAutoregressive((3, 3)).double()
    with torch.no_grad():
        model.bias.normal_()
    x = all_images(3, 3)
    log_p = pc.log_likelihood(model, x)
    w, b = (model.weight * model.mask).detach(), model.bias.detach()
    by_hand = []
    for image in x.view(-1, 9):
        total = 0.0
        for i in range(9):
            p1 = 1 / (1 + math.exp(-(b[i] + sum(w[i, j] * image[j] for j in range(i)))))
            total += math.log(p1 if image[i] == 1 else 1 - p1)
        by_hand.append(total)
    # float64 throughout; measured 4e-16, 1e-12 leaves room for the order of the sums
    assert torch.allclose(log_p, torch.tensor(by_hand, dtype=torch.float64), atol=1e-12, rtol=0)
    assert abs(log_p.exp().sum().item() - 1) < 1e-12                       # measured 2e-16
    # the first pixel's marginal, by summing the joint, is its own conditional sigm(b_1)
    assert abs(log_p.exp()[x.view(-1, 9)[:, 0] == 1].sum().item() - torch.sigmoid(b[0]).item()) < 1e-12


@pytest.mark.parametrize("make", [
    lambda: pc.PixelCNN(pc.PixelCNNConfig(channels=8, layers=2, first_kernel=3)),
    lambda: pc.GatedPixelCNN(pc.GatedPixelCNNConfig(channels=4, layers=2)),
], ids=["pixelcnn", "gated"])
def test_network_probabilities_over_all_3x4_images_sum_to_one(make):
    torch.manual_seed(10)
    model = make().double()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3)                                        # far from uniform, so that a leak shows
        total = pc.log_likelihood(model, all_images(3, 4)).exp().sum().item()
    assert abs(total - 1) < 1e-10                            # measured ~1e-15 in float64


def test_a_leaking_network_does_not_sum_to_one():
    torch.manual_seed(10)
    model = pc.PixelCNN(pc.PixelCNNConfig(channels=8, layers=2, first_kernel=3)).double()
    model.convs[0].mask.copy_(pc.causal_mask(3, "B"))       # the first layer sees x_i
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3)
        total = pc.log_likelihood(model, all_images(3, 4)).exp().sum().item()
    assert abs(total - 1) > 1e-3


def test_log_likelihood_refuses_bad_images():
    model = pc.PixelCNN(pc.PixelCNNConfig(**SMALL, layers=1))
    with pytest.raises(ValueError, match="binary"):
        pc.log_likelihood(model, torch.full((2, 1, 5, 5), 0.5))
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        pc.log_likelihood(model, torch.zeros(2, 5, 5))
    with pytest.raises(TypeError, match="floating"):
        pc.log_likelihood(model, torch.zeros(2, 1, 5, 5, dtype=torch.long))


# --------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: pc.PixelCNN(pc.PixelCNNConfig(channels=8, layers=2)),
    lambda: pc.GatedPixelCNN(pc.GatedPixelCNNConfig(channels=8, layers=3)),
], ids=["pixelcnn", "gated"])
def test_naive_and_fast_samplers_draw_identical_images(make):
    torch.manual_seed(11)
    model = make()
    naive = pc.sample(model, 6, (12, 9), generator=torch.Generator().manual_seed(0), method="naive")
    fast = pc.sample(model, 6, (12, 9), generator=torch.Generator().manual_seed(0), method="fast")
    assert torch.equal(naive, fast)
    assert set(naive.unique().tolist()) <= {0.0, 1.0} and naive.shape == (6, 1, 12, 9)
    other = pc.sample(model, 6, (12, 9), generator=torch.Generator().manual_seed(1), method="fast")
    assert not torch.equal(other, fast)                      # the generator decides the draw


def test_fast_sampler_that_crops_too_few_rows_is_caught(monkeypatch):
    torch.manual_seed(12)
    model = pc.PixelCNN(pc.PixelCNNConfig(channels=8, layers=2))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3)
    naive = pc.sample(model, 8, (10, 8), generator=torch.Generator().manual_seed(0), method="naive")
    monkeypatch.setattr(pc.PixelCNN, "rows_needed", lambda self: 1)   # true reach: 3 + 2 = 5 rows
    fast = pc.sample(model, 8, (10, 8), generator=torch.Generator().manual_seed(0), method="fast")
    assert not torch.equal(naive, fast)


def test_samples_follow_the_model_marginal_of_the_first_pixel():
    """The first pixel is drawn from sigm(l_1) with l_1 the bias path only: its frequency over many draws."""
    torch.manual_seed(13)
    model = pc.GatedPixelCNN(pc.GatedPixelCNNConfig(channels=4, layers=1))
    with torch.no_grad():
        p1 = torch.sigmoid(model(torch.zeros(1, 1, 3, 3))[0, 0, 0, 0]).item()
    draws = pc.sample(model, 4000, (1, 1), generator=torch.Generator().manual_seed(0), method="fast")
    freq = draws.mean().item()
    assert abs(freq - p1) < 4 * math.sqrt(p1 * (1 - p1) / 4000)     # 4 binomial standard errors


def test_completion_keeps_the_top_rows_and_both_methods_agree():
    torch.manual_seed(14)
    model = pc.GatedPixelCNN(pc.GatedPixelCNNConfig(channels=4, layers=2))
    x = torch.bernoulli(torch.full((3, 1, 8, 6), 0.4), generator=torch.Generator().manual_seed(1))
    fast = ps.complete(model, x, rows=4, generator=torch.Generator().manual_seed(2), method="fast")
    naive = ps.complete(model, x, rows=4, generator=torch.Generator().manual_seed(2), method="naive")
    assert torch.equal(fast, naive) and torch.equal(fast[:, :, :4], x[:, :, :4])
    assert torch.equal(ps.complete(model, x, rows=8, generator=torch.Generator().manual_seed(2)), x)
    with pytest.raises(ValueError, match="rows"):
        ps.complete(model, x, rows=9)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(shape=(0, 5)), ValueError, "shape"),
    (dict(shape=(28,)), ValueError, "shape"),
    (dict(shape=(2.5, 3)), ValueError, "shape"),
    (dict(n=0), ValueError, "n must"),
    (dict(method="quick"), ValueError, "method"),
    (dict(generator=0), TypeError, "generator"),
])
def test_sample_refuses_bad_arguments(kwargs, error, words):
    model = pc.PixelCNN(pc.PixelCNNConfig(**SMALL, layers=1))
    args = dict(n=2, shape=(4, 4)) | kwargs
    with pytest.raises(error, match=words):
        pc.sample(model, **args)


def test_fast_sampling_needs_a_known_model():
    with pytest.raises(TypeError, match="naive"):
        pc.sample(pc.LogisticAutoregressive((2, 2)), 2, (2, 2), method="fast")
    out = pc.sample(pc.LogisticAutoregressive((2, 2)), 2, (2, 2), method="naive")
    assert out.shape == (2, 1, 2, 2)


def test_training_lowers_the_exact_nll():
    torch.manual_seed(15)
    images = torch.rand(256, 1, 8, 8) * torch.linspace(0, 1, 8).view(1, 1, 8, 1)   # brighter lower rows
    model = pc.GatedPixelCNN(pc.GatedPixelCNNConfig(channels=8, layers=2))
    test = torch.bernoulli(images[:64], generator=torch.Generator().manual_seed(0))
    before = -pc.log_likelihood(model, test).mean().item()
    history = pc.train_pixelcnn(model, images, steps=60, batch_size=32, lr=3e-3, progress=False)
    after = -pc.log_likelihood(model, test).mean().item()
    assert after < before - 5, (before, after)
    assert len(history["loss"]) == 60
    with pytest.raises(ValueError, match="grey levels"):
        pc.train_pixelcnn(model, images * 2, steps=1)
