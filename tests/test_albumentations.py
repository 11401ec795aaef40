"""Albumentations' own contracts, re-implemented for CausalResample."""

from __future__ import annotations

import json
import os
import pickle
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
import torch

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
import albumentations as A

from causal_transforms import list_resamplers
from causal_transforms.albumentations import CausalResample

BUILTIN = ["gan", "noise", "spectral", "swap", "telea"]


@pytest.fixture
def sample(real_samples):
    image, mask = real_samples[0]
    return image, mask


def _changed(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> bool:
    return bool((a[mask == 0] != b[mask == 0]).any())


# ------------------------------------------------------------------ the causal contract on real photos
@pytest.mark.parametrize("name", BUILTIN)
def test_real_photo_causal_pixels_kept_background_changed(name, real_samples):
    t = A.Compose([CausalResample(name, p=1.0)], seed=1)
    for image, mask in real_samples:
        out = t(image=image, mask=mask)
        assert np.array_equal(out["image"][mask == 1], image[mask == 1])
        assert _changed(out["image"], image, mask)
        assert np.array_equal(out["mask"], mask)


# ------------------------------------------------------------------ serialisation
@pytest.mark.parametrize("name", BUILTIN)
def test_serialisation_round_trip_dict_json_yaml(name, sample, tmp_path):
    image, mask = sample
    kwargs = dict(resampler_options={}, roles={0: "resample", 1: "keep"}, feather=2, p=1.0)
    if name == "noise":
        kwargs["resampler_options"] = {"distribution": "gaussian"}
    t = A.Compose([A.HorizontalFlip(p=0.5), CausalResample(name, **kwargs)], seed=5)
    expected = t(image=image, mask=mask)["image"]

    restored = [A.from_dict(A.to_dict(t))]
    A.save(t, str(tmp_path / "t.json"), data_format="json")
    restored.append(A.load(str(tmp_path / "t.json"), data_format="json"))
    A.save(t, str(tmp_path / "t.yaml"), data_format="yaml")
    restored.append(A.load(str(tmp_path / "t.yaml"), data_format="yaml"))
    json.dumps(A.to_dict(t))  # plain JSON types only
    for r in restored:
        ours = r.transforms[1]
        assert isinstance(ours, CausalResample)
        assert ours.resampler == name and ours.feather == 2
        r.set_random_seed(5)
        assert np.array_equal(r(image=image, mask=mask)["image"], expected)


# ------------------------------------------------------------------ input handling
@pytest.mark.parametrize("name", BUILTIN)
def test_input_not_mutated(name, sample):
    image, mask = sample
    image_copy, mask_copy = image.copy(), mask.copy()
    CausalResample(name, p=1.0)(image=image, mask=mask)
    assert np.array_equal(image, image_copy) and np.array_equal(mask, mask_copy)


@pytest.mark.parametrize("shape", [(32, 40), (32, 40, 1), (32, 40, 3), (32, 40, 4), (32, 40, 6)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("name", BUILTIN)
def test_shape_dtype_preserved_and_contiguous(shape, dtype, name):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    image = image if dtype == np.uint8 else (image / 255.0).astype(np.float32)
    mask = np.zeros(shape[:2], np.uint8)
    mask[8:20, 10:30] = 1
    out = CausalResample(name, p=1.0)(image=image, mask=mask)["image"]
    assert out.shape == image.shape and out.dtype == image.dtype
    assert out.flags.c_contiguous
    assert np.array_equal(out[mask == 1], image[mask == 1])


@pytest.mark.parametrize("name", BUILTIN)
def test_uint8_and_float32_agree(name, sample):
    image, mask = sample
    as_float = (image / 255.0).astype(np.float32)
    out_u8 = A.Compose([CausalResample(name, p=1.0)], seed=3)(image=image, mask=mask)["image"]
    out_f32 = A.Compose([CausalResample(name, p=1.0)], seed=3)(image=as_float, mask=mask)["image"]
    np.testing.assert_allclose(out_u8 / 255.0, out_f32, atol=1.5 / 255)


@pytest.mark.parametrize("name", BUILTIN)
def test_images_and_masks_batch_targets(name, real_samples):
    images = np.stack([im for im, _ in real_samples])
    masks = np.stack([m for _, m in real_samples])
    out = A.Compose([CausalResample(name, p=1.0)], seed=0)(images=images, masks=masks)
    assert out["images"].shape == images.shape and out["images"].dtype == np.uint8
    for i in range(len(images)):
        assert np.array_equal(out["images"][i][masks[i] == 1], images[i][masks[i] == 1])
        assert _changed(out["images"][i], images[i], masks[i])
    assert np.array_equal(out["masks"], masks)


def test_bboxes_and_keypoints_pass_unchanged(sample):
    image, mask = sample
    t = A.Compose(
        [CausalResample("spectral", p=1.0)],
        bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"]),
        keypoint_params=A.KeypointParams(format="xy"),
    )
    bboxes, keypoints = [(5, 6, 30, 40)], [(10, 12), (20, 3)]
    out = t(image=image, mask=mask, bboxes=bboxes, labels=[1], keypoints=keypoints)
    np.testing.assert_allclose(out["bboxes"], bboxes)
    np.testing.assert_allclose(out["keypoints"], keypoints)


def test_declared_targets():
    t = CausalResample()
    for key in ["image", "images", "mask", "masks", "bboxes", "keypoints"]:
        assert key in t.targets
    mask = np.ones((3, 3), np.uint8)
    assert t.apply_to_mask(mask) is mask


def test_additional_target_mask_key_stays_aligned(sample):
    image, mask = sample
    label_mask = (mask * 7).astype(np.uint8)  # the task's mask, different from the causal map
    t = A.Compose(
        [
            A.HorizontalFlip(p=1.0),
            A.RandomCrop(48, 48, p=1.0),
            CausalResample("noise", mask_key="causal_mask", p=1.0),
        ],
        additional_targets={"causal_mask": "mask"},
        seed=2,
    )
    out = t(image=image, mask=label_mask, causal_mask=mask)
    causal = out["causal_mask"] == 1
    assert causal.any() and (~causal).any()
    # The same geometry without our step: same seed, so the same crop (our stream is salted apart).
    geo = A.Compose(
        [A.HorizontalFlip(p=1.0), A.RandomCrop(48, 48, p=1.0)],
        additional_targets={"causal_mask": "mask"},
        seed=2,
    )
    g = geo(image=image, mask=label_mask, causal_mask=mask)
    assert np.array_equal(g["causal_mask"], out["causal_mask"])
    assert np.array_equal(out["image"][causal], g["image"][causal]), "causal pixels follow the moved mask"
    assert (out["image"][~causal] != g["image"][~causal]).mean() > 0.5
    assert np.array_equal(out["mask"], g["mask"])


def test_unregistered_mask_key_is_a_clear_error(sample):
    image, mask = sample
    with pytest.raises(ValueError, match="mask_key: 'causal_mask' must be registered"):
        A.Compose([CausalResample(mask_key="causal_mask", p=1.0)], strict=False)(image=image, causal_mask=mask)


# ------------------------------------------------------------------ randomness: replay, seeds, siblings
@pytest.mark.parametrize("name", BUILTIN)
def test_replay_is_exact_and_reapplies_to_new_data(name, real_samples):
    (image, mask), (image2, mask2) = real_samples[0], real_samples[1]
    t = A.ReplayCompose([A.HorizontalFlip(p=0.5), CausalResample(name, p=1.0)])
    first = t(image=image, mask=mask)
    again = A.ReplayCompose.replay(first["replay"], image=image, mask=mask)
    assert np.array_equal(again["image"], first["image"])
    other = A.ReplayCompose.replay(first["replay"], image=image2, mask=mask2)
    flipped = first["replay"]["transforms"][0]["applied"]
    m2 = mask2[:, ::-1] if flipped else mask2
    im2 = image2[:, ::-1] if flipped else image2
    assert np.array_equal(other["image"][m2 == 1], im2[m2 == 1]), "replay uses the new mask"
    assert _changed(other["image"], im2, m2)
    if name == "noise":  # same seed -> same noise wherever both backgrounds are
        both = (m2 == 0) & ((mask[:, ::-1] if flipped else mask) == 0)
        assert np.array_equal(other["image"][both], first["image"][both])


def test_compose_seed_is_deterministic(sample):
    image, mask = sample

    def stream(seed):
        t = A.Compose([A.HorizontalFlip(), CausalResample("noise", p=0.5)], seed=seed)
        return [t(image=image, mask=mask)["image"] for _ in range(6)]

    same = stream(11)
    assert all(np.array_equal(a, b) for a, b in zip(same, stream(11)))
    assert not all(np.array_equal(a, b) for a, b in zip(same, stream(12)))


def test_our_stream_is_not_our_siblings_stream():
    # Albumentations 2.0.8 hands every child of Compose(seed=s) the same seed; a flip and our
    # transform with the same p would then fire together for every seed.
    image = np.zeros((8, 8, 3), np.uint8)
    mask = np.zeros((8, 8), np.uint8)
    agree = []
    for seed in range(40):
        t = A.Compose([A.VerticalFlip(p=0.5), CausalResample("noise", p=0.5)], seed=seed)
        t(image=image, mask=mask)
        applied = [bool(child.get_applied_params()) for child in t.transforms]
        agree.append(applied[0] == applied[1])
    assert not all(agree)
    assert 5 < sum(agree) < 35


# ------------------------------------------------------------------ processes
def _apply_in_process(transform_bytes, image, mask):
    t = pickle.loads(transform_bytes)
    return t(image=image, mask=mask)["image"]


def test_pickles_into_a_process_pool(sample):
    image, mask = sample
    t = CausalResample("spectral", p=1.0)
    with ProcessPoolExecutor(max_workers=2) as pool:
        outs = list(pool.map(_apply_in_process, [pickle.dumps(t)] * 2, [image] * 2, [mask] * 2))
    for out in outs:
        assert np.array_equal(out[mask == 1], image[mask == 1])
        assert _changed(out, image, mask)


class _Repeat(torch.utils.data.Dataset):
    def __init__(self, image, mask, transform, n=8):
        self.image, self.mask, self.transform, self.n = image, mask, transform, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        out = self.transform(image=self.image, mask=self.mask)
        return torch.from_numpy(out["image"]), torch.utils.data.get_worker_info().id


@pytest.mark.parametrize("seed", [None, 3])
def test_dataloader_workers_draw_different_counterfactuals(sample, seed):
    image, mask = sample
    t = A.Compose([CausalResample("noise", p=1.0)], seed=seed)
    loader = torch.utils.data.DataLoader(_Repeat(image, mask, t), batch_size=None, num_workers=2)
    outs = list(loader)
    by_worker = {w: [o for o, ww in outs if ww == w] for w in (0, 1)}
    assert by_worker[0] and by_worker[1]
    assert not torch.equal(by_worker[0][0], by_worker[1][0]), "workers must not draw the same stream"
    for o, _ in outs:
        assert torch.equal(o[torch.from_numpy(mask) == 1], torch.from_numpy(image)[torch.from_numpy(mask) == 1])


def test_seeded_workers_are_reproducible(sample):
    image, mask = sample

    def run():
        torch.manual_seed(0)
        t = A.Compose([CausalResample("noise", p=1.0)], seed=4)
        loader = torch.utils.data.DataLoader(_Repeat(image, mask, t, n=4), batch_size=None, num_workers=2)
        return [o for o, _ in loader]

    for a, b in zip(run(), run()):
        assert torch.equal(a, b)


# ------------------------------------------------------------------ errors
def test_clear_errors(sample):
    image, mask = sample
    with pytest.raises(ValueError, match=r"data\['mask'\]: expected a mask of shape \(64, 64\)"):
        CausalResample(p=1.0)(image=image, mask=mask[:32])
    with pytest.raises(TypeError, match="image: expected dtype uint8 or float32"):
        CausalResample(p=1.0)(image=image.astype(np.int32), mask=mask)
    with pytest.raises(ValueError, match=r"resampler: unknown name 'gan9000'; expected one of \["):
        CausalResample("gan9000")
    with pytest.raises(ValueError, match=r"labels \[5\] that are absent"):
        CausalResample(roles={0: "resample", 1: "keep", 5: "keep"}, p=1.0)(image=image, mask=mask)
    with pytest.raises(ValueError, match=r"image: expected float values in \[0, 1\]"):
        CausalResample(p=1.0)(image=image.astype(np.float32), mask=mask)
    with pytest.raises(ValueError, match="mask_key: CausalResample reads the causal-role map from"):
        CausalResample(p=1.0)(image=image)
    with pytest.raises(ValueError, match="feather"):
        CausalResample(feather=-1)


def test_p_zero_is_identity_and_all_causal_returns_input(sample):
    image, mask = sample
    out = CausalResample("noise", p=0.0)(image=image, mask=mask)
    assert out["image"] is image
    full = np.ones_like(mask)
    out = CausalResample("noise", p=1.0)(image=image, mask=full)
    assert np.array_equal(out["image"], image)


def test_all_non_causal_generates_or_raises(sample):
    image, mask = sample
    empty = np.zeros_like(mask)
    out = CausalResample("noise", p=1.0)(image=image, mask=empty)["image"]
    assert (out != image).mean() > 0.9
    with pytest.raises(ValueError, match="require_causal"):
        CausalResample("noise", p=1.0, require_causal=True)(image=image, mask=empty)


def test_every_registered_backend_runs(sample):
    from causal_transforms.backends.gan.weights import PRETRAINED

    image, mask = sample
    ran = []
    for name in list_resamplers():
        try:
            t = CausalResample(name, p=1.0)
            out = t(image=image, mask=mask)["image"]
        except ValueError as exc:
            # Only a weights backend with nothing shipped may refuse to build with defaults.
            assert name == "gan" and not PRETRAINED and "no shipped GAN weights" in str(exc), exc
            continue
        assert np.array_equal(out[mask == 1], image[mask == 1])
        ran.append(name)
    assert {"noise", "spectral", "swap", "telea"} <= set(ran)
    assert ("gan" in ran) == bool(PRETRAINED)


def test_default_resampler_is_swap():
    """benchmarks/robustness.py: swap closes most of the worst-group gap; spectral keeps the colour shortcut."""
    assert CausalResample().resampler == "swap"


def test_channels_first_image_gets_a_layout_hint():
    image, mask = np.zeros((3, 16, 16), np.uint8), np.zeros((16, 16), np.uint8)
    with pytest.raises(ValueError, match=r"^data\['mask'\]: expected a mask of shape .*looks channels-first"):
        CausalResample("noise", p=1.0)(image=image, mask=mask)


# ------------------------------------------------------------------ the HWC fast path (binary masks)
@pytest.mark.parametrize("shape", [(24, 30), (24, 30, 1), (24, 30, 3), (24, 30, 4), (24, 30, 6)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("name", ["noise", "spectral", "swap"])
def test_hwc_fast_path_matches_the_engine(shape, dtype, name):
    """Binary masks take the OpenCV HWC composite; it must give what the engine's composite gives."""
    from causal_transforms.engine import apply_resample
    from causal_transforms.registry import get_resampler

    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    image = image if dtype == np.uint8 else (image / 255.0).astype(np.float32)
    mask = np.zeros(shape[:2], np.uint8)
    mask[5:15, 6:20] = 7
    transform = CausalResample(name, p=1.0, donor_bank_size=0)
    transform.set_random_seed(11)
    seed = transform.get_params()["seed"]
    transform.set_random_seed(11)
    out = transform(image=image, mask=mask)["image"]
    chw = torch.from_numpy(np.ascontiguousarray(image if image.ndim == 2 else np.moveaxis(image, -1, 0)))
    chw = chw[None, None] if image.ndim == 2 else chw[None]
    keep = torch.from_numpy((mask != 0).astype(np.float32))[None, None]
    ref = apply_resample(chw, keep, get_resampler(name), torch.tensor([seed]))[0]
    ref = ref[0].numpy() if image.ndim == 2 else np.moveaxis(ref.numpy(), 0, -1)
    assert out.shape == image.shape and out.dtype == image.dtype and out.flags.c_contiguous
    np.testing.assert_array_equal(out, ref)


def test_hwc_fast_path_keeps_special_float_bits():
    """Causal -0.0 stays -0.0 bit for bit (the causal pixels are never written)."""
    rng = np.random.default_rng(2)
    image = rng.random((16, 16, 3)).astype(np.float32)
    image[4:12, 4:12] = -0.0
    image[4, 4] = 0.0
    mask = np.zeros((16, 16), bool)
    mask[4:12, 4:12] = True
    out = CausalResample("noise", p=1.0)(image=image, mask=mask)["image"]
    assert np.array_equal(out.view(np.int32)[mask], image.view(np.int32)[mask])
    assert (out[~mask] != image[~mask]).any()


@pytest.mark.parametrize("mode", ["binary", "labels"])
def test_all_causal_and_all_background_single_images(mode):
    """The single-image path's background flags: nothing to resample, or everything."""
    rng = np.random.default_rng(5)
    image = rng.random((12, 14, 3)).astype(np.float32)
    roles = {0: "resample", 1: "keep"} if mode == "labels" else None
    t = CausalResample("noise", p=1.0, roles=roles, strict_roles=False)
    out = t(image=image, mask=np.ones((12, 14), np.uint8))["image"]
    assert np.array_equal(out, image) and out is not image
    out = t(image=image, mask=np.zeros((12, 14), np.uint8))["image"]
    assert (out != image).all()
    with pytest.raises(ValueError, match=r"^data\['mask'\]: expected at least one causal pixel"):
        CausalResample("noise", p=1.0, roles=roles, strict_roles=False, require_causal=True)(
            image=image, mask=np.zeros((12, 14), np.uint8)
        )


@pytest.mark.parametrize(
    ("bad_image", "bad_mask", "error"),
    [
        (np.full((16, 16, 3), 3.0, np.float32), None, ValueError),  # out of range
        (np.full((16, 16, 3), np.nan, np.float32), None, ValueError),
        (np.zeros((16, 16, 3), np.uint16), None, TypeError),  # unsupported dtype
        (np.zeros((16, 16, 3), bool), None, TypeError),
        (None, np.zeros((8, 8), np.uint8), ValueError),  # mask of another shape
    ],
)
def test_donor_bank_never_lends_an_image_whose_call_failed(bad_image, bad_mask, error):
    """Only calls that succeeded are banked: a rejected image (bad range, dtype, or mask) must not
    be lent to later valid calls, where it would raise about an argument the user never passed or
    bring bad values in."""
    rng = np.random.default_rng(6)
    mask = np.zeros((16, 16), np.uint8)
    mask[4:12, 4:12] = 1
    t = CausalResample("swap", p=1.0, donor_bank_size=1)
    good = rng.random((16, 16, 3)).astype(np.float32)
    with pytest.raises(error):
        t(image=good if bad_image is None else bad_image, mask=mask if bad_mask is None else bad_mask)
    assert len(t._bank) == 0
    for _ in range(3):
        out = t(image=good, mask=mask)["image"]
        assert out.min() >= 0.0 and out.max() <= 1.0
        assert np.array_equal(out[mask == 1], good[mask == 1])
    assert len(t._bank) == 1 and np.array_equal(t._bank[0][0], good)


def test_donor_bank_skips_images_that_are_all_object():
    """An image with no background has nothing to lend; banking it made swap fill the next
    image's background with flat grey."""
    rng = np.random.default_rng(7)
    t = CausalResample("swap", p=1.0, donor_bank_size=1)
    full = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert np.array_equal(t(image=full, mask=np.ones((32, 32), np.uint8))["image"], full)
    assert len(t._bank) == 0
    mask = np.zeros((32, 32), np.uint8)
    mask[8:24, 8:24] = 1
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    out = t(image=image, mask=mask)["image"]
    assert np.array_equal(out[mask == 1], image[mask == 1])
    assert out[mask == 0].std() > 10, "a real background, not a flat fill"


def test_numpy_keep_map_defers_bad_masks_to_the_named_error(sample):
    image, mask = sample
    bad = mask.astype(np.float32)
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"^data\['mask'\]: expected finite values"):
        CausalResample("noise", p=1.0)(image=image, mask=bad)


@pytest.mark.parametrize("values", [255, 255.0, (255,), [255]])
def test_causal_values_accepts_one_number_as_kornia_does(values):
    """``causal_values=255`` means the mask value 255 here as in RandomCausalResample; it serialises
    as a tuple and round-trips."""
    rng = np.random.default_rng(9)
    image = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    mask = np.zeros((16, 16), np.uint8)
    mask[4:12, 4:12] = 255
    mask[0:2, 0:2] = 1  # not causal: only 255 is
    t = CausalResample("noise", causal_values=values, p=1.0)
    assert t.causal_values == (255.0,)
    out = t(image=image, mask=mask)["image"]
    assert np.array_equal(out[mask == 255], image[mask == 255])
    assert (out[0:2, 0:2] != image[0:2, 0:2]).any()
    again = A.from_dict(A.to_dict(A.Compose([t]))).transforms[0]
    assert again.causal_values == (255.0,)
    with pytest.raises(ValueError, match="causal_values"):
        CausalResample("noise", causal_values=True)
