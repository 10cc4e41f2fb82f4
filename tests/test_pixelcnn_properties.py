"""PixelCNN contracts (issue 12): properties against references written another way, and bad input refused.

Properties (Hypothesis): the raster masks against the raster order itself; a masked convolution
against a sum over its taps; the probabilities of every image of a small grid sum to 1 for random
networks of every kind and kernel size; the naive and the fast sampler draw identical images for
random configurations (the fast sampler's row reach depends on every kernel size: a wrong reach is a
silent bug). Bad input: each message names the argument, what was expected and what came.
"""

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from edu_gen import pixelcnn as pc
from edu_gen import pixelcnn_sampling as ps

odd = st.sampled_from([1, 3, 5, 7, 9, 11])
SETTINGS = dict(max_examples=12, deadline=None)


def all_images(height, width):
    d = height * width
    bits = torch.arange(2**d).unsqueeze(1).bitwise_and(2 ** torch.arange(d)).ne(0)
    return bits.double().view(-1, 1, height, width)       # (2^D, 1, H, W)


@settings(**SETTINGS)
@given(k=odd)
def test_causal_masks_keep_the_raster_predecessors_of_the_centre(k):
    order = torch.arange(k * k).view(k, k)                # raster index of each tap
    centre = order[k // 2, k // 2]
    assert torch.equal(pc.causal_mask(k, "A"), (order < centre).float())
    assert torch.equal(pc.causal_mask(k, "B"), (order <= centre).float())
    rows = torch.arange(k).view(k, 1).expand(k, k)
    assert torch.equal(pc.vertical_mask(k, first=True), (rows < k // 2).float())
    assert torch.equal(pc.vertical_mask(k, first=False), (rows <= k // 2).float())
    assert torch.equal(pc.horizontal_mask(k, first=True), (torch.arange(k) < k // 2).float().view(1, k))
    assert torch.equal(pc.horizontal_mask(k, first=False), (torch.arange(k) <= k // 2).float().view(1, k))


@settings(**SETTINGS)
@given(k=st.sampled_from([1, 3, 5]), mask_type=st.sampled_from("AB"), seed=st.integers(0, 2**16),
       height=st.integers(1, 5), width=st.integers(1, 5))
def test_masked_convolution_is_the_sum_over_its_unmasked_taps(k, mask_type, seed, height, width):
    torch.manual_seed(seed)
    conv = pc.MaskedConv2d(2, 3, k, mask_type).double()
    x = torch.randn(2, 2, height, width, dtype=torch.float64)
    with torch.no_grad():
        out = conv(x)
    c, mask, w = k // 2, pc.causal_mask(k, mask_type), conv.weight.detach()
    expected = conv.bias.detach().view(1, 3, 1, 1).expand(2, 3, height, width).clone()
    for r, col, dr, dc in itertools.product(range(height), range(width), range(k), range(k)):
        rr, cc = r + dr - c, col + dc - c                   # the input under tap (dr, dc); outside: zero padding
        if mask[dr, dc] and 0 <= rr < height and 0 <= cc < width:
            expected[:, :, r, col] += x[:, :, rr, cc] @ w[:, :, dr, dc].T
    assert torch.allclose(out, expected, atol=1e-12, rtol=0)    # float64, measured ~1e-16


@settings(max_examples=8, deadline=None)
@given(kind=st.sampled_from(["pixelcnn", "gated"]), first_kernel=st.sampled_from([1, 3, 5, 7]),
       kernel_size=st.sampled_from([1, 3, 5]), layers=st.integers(1, 3), seed=st.integers(0, 2**16),
       shape=st.sampled_from([(2, 3), (3, 3), (4, 2), (1, 5)]))
def test_probabilities_of_every_image_sum_to_one(kind, first_kernel, kernel_size, layers, seed, shape):
    torch.manual_seed(seed)
    if kind == "pixelcnn":
        model = pc.PixelCNN(pc.PixelCNNConfig(channels=4, layers=layers, first_kernel=first_kernel,
                                              kernel_size=kernel_size))
    else:
        model = pc.GatedPixelCNN(pc.GatedPixelCNNConfig(channels=3, layers=layers, first_kernel=first_kernel,
                                                        kernel_size=kernel_size))
    model = model.double()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3)                                        # far from uniform, so that a leak would show
        total = pc.log_likelihood(model, all_images(*shape)).exp().sum().item()
    assert abs(total - 1) < 1e-10                            # float64 sums of up to 512 terms: measured ~1e-15


@settings(max_examples=10, deadline=None)
@given(kind=st.sampled_from(["pixelcnn", "gated"]), first_kernel=st.sampled_from([1, 3, 5, 7]),
       kernel_size=st.sampled_from([1, 3, 5]), layers=st.integers(1, 3), seed=st.integers(0, 2**16),
       height=st.integers(1, 11), width=st.integers(1, 12))
def test_fast_sampler_draws_what_the_naive_one_draws(kind, first_kernel, kernel_size, layers, seed, height, width):
    torch.manual_seed(seed)
    if kind == "pixelcnn":
        model = pc.PixelCNN(pc.PixelCNNConfig(channels=4, layers=layers, first_kernel=first_kernel,
                                              kernel_size=kernel_size))
    else:
        model = pc.GatedPixelCNN(pc.GatedPixelCNNConfig(channels=4, layers=layers, first_kernel=first_kernel,
                                                        kernel_size=kernel_size))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3)                                        # confident conditionals: a wrong logit flips draws
    draw = {m: pc.sample(model, 5, (height, width), generator=torch.Generator().manual_seed(seed), method=m)
            for m in ("naive", "fast")}
    assert torch.equal(draw["naive"], draw["fast"])


def test_the_fast_gated_sampler_with_a_wrong_reach_is_caught(monkeypatch):
    """The property above is not vacuous: a reach that forgets the first layer's kernel draws other images."""
    torch.manual_seed(3)
    model = pc.GatedPixelCNN(pc.GatedPixelCNNConfig(channels=4, layers=1, first_kernel=7))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3)
    naive = pc.sample(model, 8, (10, 6), generator=torch.Generator().manual_seed(0), method="naive")
    monkeypatch.setattr(pc.GatedPixelCNN, "rows_needed", lambda self: 2 * (self.config.kernel_size // 2))
    fast = pc.sample(model, 8, (10, 6), generator=torch.Generator().manual_seed(0), method="fast")
    assert not torch.equal(naive, fast)


def test_a_large_first_kernel_widens_the_gated_field_by_its_half_width():
    torch.manual_seed(4)
    small = pc.receptive_field(pc.GatedPixelCNN(pc.GatedPixelCNNConfig(channels=4, layers=1)), (9, 9), (12, 12))
    large = pc.receptive_field(pc.GatedPixelCNN(pc.GatedPixelCNNConfig(channels=4, layers=1, first_kernel=7)), (9, 9), (12, 12))
    seen_rows = lambda field: 9 - int(field.any(1).nonzero().min())          # rows above the pixel that are read
    seen_left = lambda field: 9 - int(field[9].nonzero().min())              # pixels to the left in its row
    assert (seen_rows(small), seen_left(small)) == (2, 2)                   # 1 + 1 * 1 for k1 = k = 3
    assert (seen_rows(large), seen_left(large)) == (4, 4)                   # 3 + 1 * 1 for k1 = 7


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("call, error, words", [
    (lambda: pc.vertical_mask(3, first=1), TypeError, "first must be a bool"),
    (lambda: pc.horizontal_mask(4, first=True), ValueError, "odd"),
    (lambda: pc.MaskedConv2d(1, 2, mask=[[1, 0, 0]]), TypeError, "mask must be"),
    (lambda: pc.MaskedConv2d(1, 2, mask=torch.full((1, 3), 0.5)), ValueError, "0s and 1s"),
    (lambda: pc.MaskedConv2d(1, 2, mask=torch.ones(2, 3)), ValueError, "odd sides"),
    (lambda: pc.MaskedConv2d(0, 2, 3), ValueError, "in_channels"),
    (lambda: pc.GatedPixelCNNConfig(first_kernel=4), ValueError, "first_kernel must be odd"),
    (lambda: pc.PixelCNNConfig(first_kernel=0), ValueError, "first_kernel"),
    (lambda: pc.gate(torch.zeros(2, 3, 4, 4)), ValueError, "even number of channels"),
    (lambda: pc.LogisticAutoregressive((3,)), ValueError, "shape"),
    (lambda: pc.PixelCNN()(torch.zeros(2, 3, 5, 5)), ValueError, r"\(B, 1, H, W\)"),
    (lambda: pc.GatedPixelCNN()(torch.zeros(2, 1, 5, 5, dtype=torch.long)), TypeError, "floating-point"),
    (lambda: pc.LogisticAutoregressive((2, 2))(torch.zeros(1, 1, 3, 3)), ValueError, r"\(B, 1, 2, 2\)"),
    (lambda: pc.dependencies(pc.PixelCNN(), (5, 0)), ValueError, "shape must be"),
    (lambda: pc.dependencies(pc.PixelCNN(), draws=0), ValueError, "draws"),
    (lambda: pc.dependencies(lambda x: x), TypeError, "model must be"),
    (lambda: pc.receptive_field(pc.PixelCNN(), (1,), (4, 4)), ValueError, "pixel must be"),
    (lambda: pc.log_likelihood(lambda x: x[:, :, :-1], torch.zeros(2, 1, 4, 4)), ValueError, "logits of x's shape"),
    (lambda: pc.log_likelihood(pc.PixelCNN(), torch.full((2, 1, 4, 4), 0.3)), ValueError, "binary"),
    (lambda: pc.train_pixelcnn(pc.PixelCNN(), torch.rand(8, 28, 28), steps=1), ValueError, "images must be"),
    (lambda: pc.train_pixelcnn(pc.PixelCNN(), torch.rand(8, 1, 4, 4), steps=0), ValueError, "steps"),
    (lambda: ps.complete(pc.PixelCNN(), torch.full((2, 1, 4, 4), 0.5), rows=2), ValueError, "binary"),
])
def test_bad_input_is_refused_with_a_clear_message(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_a_checkpoint_of_another_configuration_is_refused():
    torch.manual_seed(5)
    saved = pc.GatedPixelCNN(pc.GatedPixelCNNConfig(channels=4, layers=1, first_kernel=7)).state_dict()
    same = pc.GatedPixelCNN(pc.GatedPixelCNNConfig(channels=4, layers=1, first_kernel=7))
    same.load_state_dict(saved)                                          # the same configuration loads
    with pytest.raises(RuntimeError, match="mask"):                      # another first kernel (7x7 vs 3x3)
        pc.GatedPixelCNN(pc.GatedPixelCNNConfig(channels=4, layers=1)).load_state_dict(saved)
    with pytest.raises(RuntimeError, match="Missing key"):                # another depth
        pc.GatedPixelCNN(pc.GatedPixelCNNConfig(channels=4, layers=2, first_kernel=7)).load_state_dict(saved)
    # a checkpoint whose mask was broken (same shapes): without the check it would load and leak x_j
    broken = dict(saved)
    broken["gated.0.v_conv.mask"] = pc.vertical_mask(7, first=False)
    with pytest.raises(RuntimeError, match="gated.0.v_conv.mask: the checkpoint's mask"):
        same.load_state_dict(broken)
    assert torch.equal(same.gated[0].v_conv.mask, pc.vertical_mask(7, first=True))   # the layer keeps its mask
    plain = pc.PixelCNN(pc.PixelCNNConfig(channels=4, layers=1)).state_dict()
    plain["convs.0.mask"] = pc.causal_mask(7, "B")
    with pytest.raises(RuntimeError, match="convs.0.mask"):
        pc.PixelCNN(pc.PixelCNNConfig(channels=4, layers=1)).load_state_dict(plain)


def test_a_drawn_pixel_is_one_exactly_when_its_uniform_is_below_the_probability():
    """The samplers' draw rule against its definition, on one pixel with a known probability."""
    model = pc.LogisticAutoregressive((1, 1))
    with torch.no_grad():
        model.bias.fill_(math.log(0.2 / 0.8))                             # p(x_1 = 1) = 0.2
    u = torch.rand(4000, 1, 1, generator=torch.Generator().manual_seed(0))
    x = pc.sample(model, 4000, (1, 1), generator=torch.Generator().manual_seed(0))
    assert torch.equal(x.view(-1), (u.view(-1) < 0.2).float())           # x = 1 iff u < p, uniform for uniform
