"""The causal contract as a property over many random inputs, through Albumentations and the engine.

(The Kornia side of the same property lives in tests/test_kornia.py.)
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
import albumentations as A

from causal_transforms import apply_resample, create_resampler
from causal_transforms.albumentations import CausalResample
from causal_transforms.core.roles import RoleSpec

BUILTIN = ["gan", "noise", "spectral", "swap", "telea"]
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def cases(draw):
    h = draw(st.integers(1, 40))
    w = draw(st.integers(1, 40))
    layout = draw(st.sampled_from(["hw", "hw1", "hw3", "hw4", "hw5"]))
    dtype = draw(st.sampled_from([np.uint8, np.float32]))
    kind = draw(st.sampled_from(["binary", "labels", "alpha", "empty", "full"]))
    seed = draw(st.integers(0, 2**32 - 1))
    feather = draw(st.sampled_from([0, 0, 1, 3]))
    rng = np.random.default_rng(seed)
    shape = {"hw": (h, w), "hw1": (h, w, 1), "hw3": (h, w, 3), "hw4": (h, w, 4), "hw5": (h, w, 5)}[layout]
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    if dtype == np.float32:
        image = (image / 255.0).astype(np.float32)
    if kind == "binary":
        mask = (rng.random((h, w)) < rng.uniform(0.1, 0.9)).astype(np.uint8) * 255
        options = {}
    elif kind == "labels":
        mask = rng.integers(0, 3, (h, w)).astype(np.int32)
        options = {"roles": {0: "resample", 1: "keep", 2: 0.5}, "strict_roles": False}
    elif kind == "alpha":
        mask = rng.random((h, w)).astype(np.float32)
        mask[rng.random((h, w)) < 0.3] = 1.0
        options = {"mask_mode": "alpha"}
    elif kind == "empty":
        mask = np.zeros((h, w), np.uint8)
        options = {}
    else:
        mask = np.ones((h, w), np.uint8)
        options = {}
    if draw(st.booleans()):
        mask = mask[..., None]
    return image, mask, options, feather, seed


def _keep(mask: np.ndarray, options: dict) -> np.ndarray:
    spec = RoleSpec(mode=options.get("mask_mode"), roles=options.get("roles"), strict_roles=False)
    m = mask[..., 0] if mask.ndim == 3 else mask
    return spec.keep_map(torch.from_numpy(np.ascontiguousarray(m))).numpy()


def _check(image, out, mask, mask_out, keep):
    assert out.shape == image.shape and out.dtype == image.dtype
    causal = keep >= 1.0
    assert np.array_equal(out[causal], image[causal]), "causal pixels must be bit-identical"
    assert np.array_equal(mask_out, mask), "the mask must be unchanged"
    free = keep <= 0.0  # feathering only blends these partly, so they still change
    if free.sum() >= 8:
        assert (out[free] != image[free]).any(), "with p=1 the non-causal pixels must change"


@pytest.mark.parametrize("name", BUILTIN)
@SETTINGS
@given(case=cases())
def test_albumentations_property(name, case):
    image, mask, options, feather, seed = case
    t = A.Compose([CausalResample(name, p=1.0, feather=feather, **options)], seed=seed)
    out = t(image=image, mask=mask)
    _check(image, out["image"], mask, out["mask"], _keep(mask, options))


@pytest.mark.parametrize("name", BUILTIN)
@settings(max_examples=60, deadline=None)
@given(case=cases(), n=st.integers(1, 4))
def test_albumentations_batch_property(name, case, n):
    image, mask, options, feather, seed = case
    rng = np.random.default_rng(seed)
    images = np.stack([image] + [rng.permutation(image.ravel()).reshape(image.shape) for _ in range(n - 1)])
    masks = np.stack([mask] * n)
    out = A.Compose([CausalResample(name, p=1.0, feather=feather, **options)], seed=seed)(images=images, masks=masks)
    keep = _keep(mask, options)
    for i in range(n):
        _check(images[i], out["images"][i], masks[i], out["masks"][i], keep)


@pytest.mark.parametrize("name", BUILTIN)
@settings(max_examples=100, deadline=None)
@given(
    b=st.integers(1, 4),
    c=st.sampled_from([1, 3, 4]),
    h=st.integers(1, 32),
    w=st.integers(1, 32),
    dtype=st.sampled_from([torch.uint8, torch.float32, torch.float64]),
    seed=st.integers(0, 2**31),
    active_bits=st.integers(0, 15),
)
def test_engine_property(name, b, c, h, w, dtype, seed, active_bits):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(b, c, h, w, generator=g)
    image = (image * 255).to(torch.uint8) if dtype == torch.uint8 else image.to(dtype)
    keep = (torch.rand(b, 1, h, w, generator=g) < 0.4).float()
    active = torch.tensor([(active_bits >> i) & 1 for i in range(b)], dtype=torch.bool)
    seeds = torch.randint(0, 2**62, (b,), generator=g)
    out = apply_resample(image, keep, create_resampler(name), seeds, active=active)
    assert out.dtype == image.dtype and out.shape == image.shape
    causal = (keep >= 1).expand_as(image)
    assert torch.equal(out[causal], image[causal])
    for i in range(b):
        if not active[i]:
            assert torch.equal(out[i], image[i]), "samples that p skipped are untouched"
        elif (keep[i] == 0).sum() >= 8:
            assert not torch.equal(out[i], image[i])


@pytest.mark.parametrize("name", BUILTIN)
@settings(max_examples=25, deadline=None)
@given(
    b=st.integers(2, 5),
    c=st.sampled_from([1, 3, 4]),
    h=st.integers(90, 130),
    w=st.integers(90, 130),
    dtype=st.sampled_from([torch.uint8, torch.float16, torch.float32, torch.float64]),
    channels_last=st.booleans(),
    feather=st.sampled_from([0, 0, 2]),
    seed=st.integers(0, 2**31),
    active_bits=st.integers(1, 31),
)
def test_engine_row_writes_match_the_batch_composite(
    name, b, c, h, w, dtype, channels_last, feather, seed, active_bits
):
    """With a gate, image-sized rows on the CPU are written one by one (no full clone); that must
    give bit for bit what the one-kernel path (clone, composite, index_copy_) gives."""
    from causal_transforms import engine

    g = torch.Generator().manual_seed(seed)
    image = torch.rand(b, c, h, w, generator=g)
    image = (image * 255).to(torch.uint8) if dtype == torch.uint8 else image.to(dtype)
    image[0, :, :2, :2] = 0 if dtype == torch.uint8 else -0.0
    if dtype != torch.uint8:
        image[-1, :, -3:, -3:] = -0.0  # in the background: lent to another sample by swap
    if channels_last:
        image = image.contiguous(memory_format=torch.channels_last)
    keep = torch.zeros(b, 1, h, w)
    keep[..., h // 4 : h // 2, w // 4 : w // 2] = 1
    keep[0, :, :2, :2] = 1
    active = torch.tensor([(active_bits >> i) & 1 for i in range(b)], dtype=torch.bool)
    seeds = torch.randint(0, 2**62, (b,), generator=g)
    backend = create_resampler(name)
    out = apply_resample(image, keep, backend, seeds, active=active, feather=feather)
    rows_written = image[0].numel() >= engine._ROW_WRITE_MIN
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "_ROW_WRITE_MIN", 1 << 62)  # force the one-kernel path
        ref = apply_resample(image, keep, backend, seeds, active=active, feather=feather)
    width = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[image.element_size()]
    assert out.dtype == image.dtype and out.shape == image.shape
    assert out.is_contiguous(memory_format=torch.channels_last) == channels_last or not rows_written
    assert torch.equal(out.view(width), ref.view(width))
    causal = (keep >= 1).expand_as(image)
    assert torch.equal(out.view(width)[causal], image.view(width)[causal])
    for i in range(b):
        if not active[i]:
            assert torch.equal(out[i].view(width), image[i].view(width))
