"""data.ood_images: every kind's shape, range and seed; letters drawn and centred the way MNIST centres digits."""

import pytest
import torch

from edu_gen import data, ood_data


@pytest.mark.parametrize("kind", ood_data.OOD_KINDS)
def test_every_kind_is_seeded_images_in_the_unit_interval(kind):
    x = data.ood_images(kind, 40, seed=3)
    assert x.shape == (40, 1, 28, 28) and x.dtype == torch.float32 and x.device.type == "cpu"
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert torch.equal(x, data.ood_images(kind, 40, seed=3))
    assert not torch.equal(x, data.ood_images(kind, 40, seed=4))
    assert not torch.equal(x[0], x[1])                                   # not one image repeated


def test_the_simple_kinds_are_what_they_say():
    constant = data.ood_images("constant", 50, seed=0)
    assert (constant == constant[:, :, :1, :1]).all()                    # one grey level per image
    assert float(constant.flatten(1)[:, 0].std()) > 0.2                  # levels spread over [0, 1] (uniform: 0.29)
    blank = data.ood_images("blank", 50, seed=0)
    assert float(blank.max()) <= 0.05 and float(blank.max()) > 0.04
    noise = data.ood_images("noise", 50, seed=0)
    assert abs(float(noise.mean()) - 0.5) < 0.01                         # 39,200 uniform pixels: sd of the mean 0.0015
    photos = data.ood_images("photos", 50, seed=0)
    assert (photos.flatten(1).std(1) > 0).all() and (photos.flatten(1).std(1) < 0.35).all()   # texture, not noise
    negatives = data.ood_images("negatives", 5, seed=0)
    digits, _ = data.images("mnist", "test")
    flat = (1 - negatives).flatten(1)
    exact = torch.cdist(flat, digits.flatten(1), compute_mode="donot_use_mm_for_euclid_dist")   # no |a|^2 + |b|^2 - 2ab rounding
    assert (exact.min(1).values < 1e-5).all()                            # each is 1 - a test digit


def test_letters_fill_mnists_box_centred_by_their_centre_of_mass():
    x = data.ood_images("letters", 300, seed=0)[:, 0]
    mass = x.sum((1, 2))
    grid = torch.arange(28.0)
    com_y, com_x = (x.sum(2) * grid).sum(1) / mass, (x.sum(1) * grid).sum(1) / mass
    # MNIST: centre of mass at pixel 13.5 (the middle); resampling and the tilt move it by well under a pixel
    assert (com_x - 13.5).abs().max() < 1.0 and (com_y - 13.5).abs().max() < 1.0
    rows = (x > 0.1).any(2)
    height = 28 - rows.float().argmax(1) - rows.flip(1).float().argmax(1)
    cols = (x > 0.1).any(1)
    width = 28 - cols.float().argmax(1) - cols.flip(1).float().argmax(1)
    longer = torch.maximum(height, width)
    assert longer.min() >= 12 and longer.max() <= 24                    # 15-20 pixels, a few more when tilted
    # strokes like a digit's: most of the image empty, some pixels fully on (MNIST's mean grey level is 0.13)
    assert 0.05 < float(x.mean()) < 0.3 and float(x.amax((1, 2)).min()) > 0.9


def test_letters_keep_their_holes():
    masks, _ = ood_data._glyphs()
    o = masks[ood_data.LETTERS.index("O")]                               # DejaVu Sans, normal weight
    assert o[56, 56] == 0 and o[56, 8:104].max() == 1                    # the middle is empty, the ring is drawn
    assert len(masks) == 2 * len(ood_data.LETTERS)


def test_an_unknown_kind_names_the_valid_ones():
    with pytest.raises(ValueError, match="kind must be one of letters, noise, photos, constant, blank, negatives"):
        data.ood_images("fashion", 3)
    with pytest.raises(TypeError, match="kind must be one of"):
        data.ood_images(3, 3)
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        data.ood_images("noise", 0)
    with pytest.raises(TypeError, match="n must be an int >= 1"):
        data.ood_images("noise", 2.0)
