r"""Conditional GANs, paired translation (pix2pix) and unpaired translation (CycleGAN) on 28 x 28 digits.

Everything under one name: the code is in four files, read in this order, and this module
re-exports their public names, so a chapter writes ``translation.UNet``, ``translation.one_hot``:

* `edu_gen.translation_cgan`: the conditional GAN (Mirza & Osindero, 2014): labels and one-hot
  conditions (`sample_labels`, `one_hot`), `ConditionalGenerator`, `ConditionalDiscriminator`
  (a projection discriminator, Miyato & Koyama, 2018, or the label as constant input planes);
* `edu_gen.translation_pix2pix`: pix2pix (Isola et al., 2017): the `UNet` generator, the
  `PatchDiscriminator` and its `receptive_field`, `pix2pix_generator_loss` (adversarial + lambda L1);
* `edu_gen.translation_cycle`: CycleGAN (Zhu et al., 2017): `cycle_consistency_loss`,
  `identity_loss`, and both sides of eq. 3 (`cyclegan_generator_loss`, `cyclegan_discriminator_loss`);
* `edu_gen.translation_tasks`: tasks whose right answer is known: "lower half removed -> whole
  digit" (`remove_lower_half`, `paired_task`), the unpaired task's known bijection T (`invert`; and
  `invert_rotate`, a quarter turn a convolutional generator cannot learn easily), and
  `unpaired_domains` (X and T(X) from disjoint halves of a training set).

The training loops and the measures are in `edu_gen.translation_train`. Shapes are written
(B, C, H, W); pixels are grey levels in [0, 1].

Introduced in the chapter on conditional GANs and image-to-image translation (label ch-cgan).
"""

from __future__ import annotations

from edu_gen.translation_cgan import (  # noqa: F401  (re-exported)
    CONDITIONINGS, NUM_CLASSES, ConditionalDiscriminator, ConditionalGenerator, _check_condition, one_hot, sample_labels,
)
from edu_gen.translation_cycle import (  # noqa: F401  (re-exported)
    _check_unpaired, cycle_consistency_loss, cyclegan_discriminator_loss, cyclegan_generator_loss, identity_loss,
)
from edu_gen.translation_pix2pix import (  # noqa: F401  (re-exported)
    PatchDiscriminator, UNet, _same_shape, _weight, pix2pix_generator_loss, receptive_field,
)
from edu_gen.translation_tasks import (  # noqa: F401  (re-exported)
    _check_images, invert, invert_rotate, invert_rotate_inverse, paired_task, remove_lower_half, unpaired_domains,
    unpaired_split,
)
