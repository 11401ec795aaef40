"""Tests of the Kornia integration, against the real kornia (no mocks)."""

from __future__ import annotations

import pickle
import uuid

import kornia.augmentation as K
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from causal_transforms.backends.base import Resampler
from causal_transforms.kornia import RandomCausalResample
from causal_transforms.registry import ResamplerSpec, get_resampler, register_resampler, resampler_specs


def _buildable_with_defaults(name: str) -> bool:
    try:
        get_resampler(name)
    except ValueError:  # e.g. a model backend that needs weights=...
        return False
    return True


# Evaluated at collection time: the built-ins plus any installed plugin backends. Backends that need
# options to be built at all are accounted for in test_backends_needing_options_fail_clearly.
ALL_BACKENDS = list(resampler_specs())
BACKENDS = [name for name in ALL_BACKENDS if _buildable_with_defaults(name)]
NEEDS_OPTIONS = [name for name in ALL_BACKENDS if name not in BACKENDS]
BUILTIN = [name for name, spec in resampler_specs().items() if spec.provider == "causal_transforms.builtin"]
FLOAT_DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.float64]


def _images(b: int, c: int, h: int, w: int, dtype: torch.dtype = torch.float32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, c, h, w, generator=g).to(dtype)


def _object_mask(b: int, h: int, w: int) -> torch.Tensor:
    """An off-centre rectangle, so flips and crops move it somewhere it was not."""
    mask = torch.zeros(b, h, w)
    mask[:, h // 8 : h // 2, w // 16 : (w * 5) // 8] = 1
    return mask


def _causal(mask: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) bool of the causal pixels of a (B, H, W) or (B, 1, H, W) binary mask."""
    m = mask != 0
    return m[:, None] if m.ndim == 3 else m


# 1. Cardinality ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.0, 1.0])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize(
    ("image_shape", "mask_shape"),
    [
        ((2, 3, 16, 16), (2, 16, 16)),
        ((2, 3, 16, 16), (2, 1, 16, 16)),
        ((3, 16, 16), (16, 16)),
        ((16, 16), (16, 16)),
    ],
)
def test_cardinality(p, keepdim, image_shape, mask_shape):
    image = torch.rand(image_shape)
    mask = torch.zeros(mask_shape)
    mask[..., 2:9, 3:7] = 1
    out, mask_out = RandomCausalResample("noise", p=p, keepdim=keepdim)(image, mask)
    if keepdim:
        assert out.shape == image.shape
    else:
        assert out.shape == (*(1,) * (4 - len(image_shape)), *image_shape)
    assert mask_out is mask
    assert mask_out.shape == mask_shape


# 2. Identity at p=0, the causal contract at p=1, for every backend and float dtype ------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("backend", BACKENDS)
def test_p0_identity_and_p1_keeps_causal_pixels(backend, dtype):
    image = _images(3, 3, 24, 24, dtype)
    mask = _object_mask(3, 24, 24)
    causal = _causal(mask).expand_as(image)

    out0, _ = RandomCausalResample(backend, p=0.0)(image, mask)
    assert out0.dtype == dtype
    assert torch.equal(out0, image)

    out1, mask_out = RandomCausalResample(backend, p=1.0)(image, mask)
    assert out1.dtype == dtype and out1.shape == image.shape
    assert torch.equal(out1[causal], image[causal])
    assert torch.equal(mask_out, _object_mask(3, 24, 24))
    changed = (out1 != image)[~causal].float().mean().item()
    if backend in BUILTIN:
        assert changed > 0.5, f"{backend} changed only {changed:.0%} of the non-causal values"


def test_backends_needing_options_fail_clearly():
    assert {"noise", "spectral", "swap", "telea"} <= set(BACKENDS)
    image, mask = _scene(1)
    for name in NEEDS_OPTIONS:
        aug = RandomCausalResample(name, p=1.0)  # the backend is built lazily, at first use
        with pytest.raises(ValueError, match=r"\w+: "):
            aug(image, mask)


# 3. same_on_batch ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_on_batch_identical_samples_identical_outputs(backend):
    torch.manual_seed(0)
    image = _images(1, 3, 16, 16).expand(4, -1, -1, -1).contiguous()
    mask = _object_mask(4, 16, 16)
    aug = RandomCausalResample(backend, p=0.5, same_on_batch=True)
    gates = []
    for _ in range(12):
        out, _ = aug(image, mask)
        gate = aug._params["batch_prob"] > 0.5
        assert gate.all() or not gate.any()
        assert aug._params["seeds"].unique().numel() == 1
        gates.append(bool(gate[0]))
        for i in range(1, 4):
            assert torch.equal(out[i], out[0])
        if not gate[0]:
            assert torch.equal(out, image)
    assert any(gates) and not all(gates)


def test_without_same_on_batch_samples_differ():
    torch.manual_seed(0)
    image = _images(1, 3, 16, 16).expand(4, -1, -1, -1).contiguous()
    out, _ = RandomCausalResample("noise", p=1.0)(image, _object_mask(4, 16, 16))
    assert not torch.equal(out[0], out[1])


# 4. Exact replay ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_replay_is_exact(backend):
    torch.manual_seed(3)
    image, mask = _images(4, 3, 20, 20), _object_mask(4, 20, 20)
    aug = RandomCausalResample(backend, p=0.5)
    out1, _ = aug(image, mask)
    params = aug._params
    torch.manual_seed(99)  # a replay must not depend on the global RNG
    out2, _ = aug(image, mask, params=params)
    assert torch.equal(out1, out2)


def test_replay_on_new_image_reuses_seeds_and_new_mask():
    torch.manual_seed(0)
    aug = RandomCausalResample("noise", {"distribution": "uniform"}, p=1.0)
    mask = _object_mask(2, 16, 16)
    out1, _ = aug(_images(2, 3, 16, 16, seed=1), mask)
    seeds = aug._params["seeds"].clone()
    other = _images(2, 3, 16, 16, seed=2)
    out2, _ = aug(other, mask, params=aug._params)
    background = ~_causal(mask).expand_as(other)
    assert torch.equal(aug._params["seeds"], seeds)
    assert torch.equal(out2[background], out1[background])  # same seeds, same noise
    assert torch.equal(out2[~background], other[~background])

    # The keep-map is recomputed from the mask of the replay call, not taken from the stored params.
    new_mask = torch.zeros(2, 16, 16)
    new_mask[:, 10:, 10:] = 1
    out3, _ = aug(other, new_mask, params=aug._params)
    assert torch.equal(aug._params["keep"], _causal(new_mask).float())
    assert torch.equal(out3[..., 10:, 10:], other[..., 10:, 10:])
    assert not torch.equal(out3[..., :8, :8], other[..., :8, :8])


# 5./6. Inside AugmentationSequential --------------------------------------------------------------------

OBJECT_COLOUR = torch.tensor([1.0, 0.0, 0.5])


def _scene(b: int = 3, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    image = 0.1 + 0.8 * _images(b, 3, size, size, seed=5)
    mask = _object_mask(b, size, size)
    image = torch.where(mask[:, None] > 0, OBJECT_COLOUR.view(1, 3, 1, 1), image)
    return image, mask


def _pipeline(aug: RandomCausalResample) -> K.AugmentationSequential:
    return K.AugmentationSequential(
        K.RandomHorizontalFlip(p=1.0),
        K.RandomCrop((24, 24)),
        aug,
        K.RandomVerticalFlip(p=1.0),
        data_keys=["input", "mask"],
    )


def _geometric_reference(x: torch.Tensor, crop_src: torch.Tensor) -> torch.Tensor:
    """hflip -> crop at the container's corners -> vflip, computed by hand."""
    flipped = x.flip(-1)
    crops = []
    for i in range(x.shape[0]):
        x0, y0 = (int(v) for v in crop_src[i, 0].round().tolist())
        crops.append(flipped[i, :, y0 : y0 + 24, x0 : x0 + 24])
    return torch.stack(crops).flip(-2)


def test_in_sequential_uses_the_transformed_mask():
    torch.manual_seed(1)
    image, mask = _scene()
    seq = _pipeline(RandomCausalResample("noise", p=1.0))
    out, mask_out = seq(image, mask)
    crop_src = seq._params[1].data["src"]
    ref_image = _geometric_reference(image, crop_src)
    ref_mask = _geometric_reference(mask[:, None], crop_src)

    # The returned mask is the one moved by the geometric steps only.
    assert out.shape == (3, 3, 24, 24) and mask_out.shape == (3, 1, 24, 24)
    assert torch.equal(mask_out, ref_mask)
    causal = (ref_mask > 0).expand_as(out)
    assert causal.any() and (~causal).any()
    # The test can tell: without the flips the object would be somewhere else.
    naive = _geometric_reference(mask[:, None].flip(-1).flip(-2), crop_src)
    assert not torch.equal(naive, ref_mask)

    # Causal pixels stayed exactly where the transformed mask says; everything else changed.
    assert torch.equal(out[causal], ref_image[causal])
    object_pixels = out.permute(0, 2, 3, 1)[causal[:, 0]]  # (N, 3)
    assert torch.equal(object_pixels, OBJECT_COLOUR.expand_as(object_pixels))
    assert bool((out != ref_image)[~causal].all())

    # The keep-map this step used (in the container's params) is the flipped, cropped mask before the vflip.
    keep = seq._params[2].data["keep"]
    assert torch.equal(keep, ref_mask.flip(-2))


def test_sequential_replay_is_exact_and_tracks_new_masks():
    torch.manual_seed(2)
    image, mask = _scene()
    seq = _pipeline(RandomCausalResample("spectral", p=0.5))
    out1, mask1 = seq(image, mask)
    torch.manual_seed(123)
    out2, mask2 = seq(image, mask, params=seq._params)
    assert torch.equal(out1, out2) and torch.equal(mask1, mask2)

    # The same params with a new mask: the keep-map follows the new (transformed) mask.
    crop_src = seq._params[1].data["src"]
    new_mask = torch.zeros_like(mask)
    new_mask[:, 20:, 20:] = 1
    out3, mask3 = seq(image, new_mask, params=seq._params)
    ref_mask = _geometric_reference(new_mask[:, None], crop_src)
    assert torch.equal(mask3, ref_mask)
    causal = (ref_mask > 0).expand_as(out3)
    assert torch.equal(out3[causal], _geometric_reference(image, crop_src)[causal])


def test_sequential_integer_mask_keeps_its_dtype_and_boxes_pass_through():
    torch.manual_seed(0)
    image, mask = _scene(2)
    boxes = torch.tensor([[[2.0, 4.0, 10.0, 12.0]], [[1.0, 1.0, 5.0, 6.0]]])
    seq = K.AugmentationSequential(RandomCausalResample("noise", p=1.0), data_keys=["input", "mask", "bbox_xyxy"])
    out, mask_out, boxes_out = seq(image, mask.long(), boxes)
    assert mask_out.dtype == torch.int64
    assert torch.equal(mask_out.reshape(mask.shape), mask.long())
    assert torch.allclose(boxes_out, boxes)
    assert not torch.equal(out, image)


def test_sequential_keepdim_mask_shape():
    image, mask = _scene(2)
    seq = K.AugmentationSequential(RandomCausalResample("noise", p=1.0, keepdim=True), data_keys=["input", "mask"])
    _, mask_out = seq(image, mask)
    assert mask_out.shape == mask.shape


# 7. The backend runs on the selected samples only ----------------------------------------------------------


class _Counting(Resampler):
    def __init__(self) -> None:
        self.seen: list[int] = []

    def generate(self, image, keep, seeds, donors=None):
        self.seen.append(image.shape[0])
        return torch.full_like(image, 0.25)


def test_backend_sees_only_selected_samples():
    name = f"test-kornia-count-{uuid.uuid4().hex}"
    register_resampler(ResamplerSpec(name, _Counting, "counts samples"), provider="tests")
    torch.manual_seed(0)
    image, mask = _images(16, 3, 8, 8), _object_mask(16, 8, 8)
    mask[0] = 1  # all causal: nothing to resample even when selected
    aug = RandomCausalResample(name, p=0.5)
    out, _ = aug(image, mask)
    selected = aug._params["batch_prob"] > 0.5
    assert selected.any() and not selected.all()
    expected = int(selected[1:].sum())
    assert get_resampler(name).seen == [expected]
    background = ~_causal(mask).expand_as(image)
    for i in range(16):
        if selected[i] and i > 0:
            assert bool((out[i][background[i]] == 0.25).all())
        else:
            assert torch.equal(out[i], image[i])


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("p_batch", [0.0, 0.6, 1.0])
@pytest.mark.parametrize("same_on_batch", [False, True])
def test_gate_draws_are_kornias_own(p, p_batch, same_on_batch):
    """Our lean forward_parameters draws what Kornia's would, and leaves the RNG where it would."""
    aug = RandomCausalResample("noise", p=p, p_batch=p_batch, same_on_batch=same_on_batch)
    kornias = super(RandomCausalResample, aug).forward_parameters
    gates = []
    for seed in range(40):
        for b in (1, 6):
            torch.manual_seed(seed)
            theirs, after_theirs = kornias((b, 3, 8, 8)), torch.rand(4)
            torch.manual_seed(seed)
            ours, after_ours = aug.forward_parameters((b, 3, 8, 8)), torch.rand(4)
            assert set(ours) == set(theirs) == {"batch_prob", "seeds", "forward_input_shape"}
            for key in theirs:
                assert ours[key].dtype == theirs[key].dtype and ours[key].device == theirs[key].device
                # Each sample's gate in its own memory (an expanded view would turn an edit of one
                # sample's gate into an edit of all of them).
                assert ours[key].stride() == theirs[key].stride()
                assert torch.equal(ours[key], theirs[key]), (key, ours[key], theirs[key])
            assert torch.equal(after_ours, after_theirs)
            gates.append(ours["batch_prob"])
    drawn = torch.cat(gates)
    assert set(drawn.unique().tolist()) <= {0.0, 1.0}
    if p == 0 or p_batch == 0:
        assert not drawn.any()
    elif p == 1 and p_batch == 1:
        assert drawn.all()
    else:
        assert drawn.any() and not drawn.all()
    if same_on_batch:
        assert all(bool((g == g[0]).all()) for g in gates)


# 8. Devices, dtypes, pickling ------------------------------------------------------------------------------


class _Unpicklable(Resampler):
    def __init__(self) -> None:
        self.fn = lambda x: x  # a backend like a loaded model: not picklable

    def generate(self, image, keep, seeds, donors=None):
        return torch.zeros_like(image)


def test_to_and_pickle():
    name = f"test-kornia-unpicklable-{uuid.uuid4().hex}"
    register_resampler(ResamplerSpec(name, _Unpicklable), provider="tests")
    image, mask = _images(4, 3, 12, 12), _object_mask(4, 12, 12)
    aug = RandomCausalResample(name, p=0.5)
    assert aug.to("cpu") is aug
    aug(image, mask)
    aug.to(torch.float64)
    out64, _ = aug(image, mask)
    assert aug._params["batch_prob"].dtype == torch.float64
    assert out64.dtype == torch.float32  # the image keeps its own dtype
    assert aug._params["seeds"].device.type == "cpu"

    copy = pickle.loads(pickle.dumps(aug))
    assert repr(copy) == repr(aug)
    assert copy.resampler is aug.resampler  # the same per-process backend, by name
    torch.manual_seed(7)
    a, _ = aug(image, mask)
    torch.manual_seed(7)
    b, _ = copy(image, mask)
    assert torch.equal(a, b)


def test_repr_names_backend_and_probabilities():
    text = repr(RandomCausalResample("noise", {"distribution": "gaussian"}, p=0.3, feather=2))
    assert "resampler='noise'" in text and "'distribution': 'gaussian'" in text
    assert "p=0.3" in text and "feather=2" in text


# CUDA runs where a device exists; the project treats skips as failures, so nothing is skipped elsewhere.
DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


@pytest.mark.parametrize("device", DEVICES)
def test_device_pipeline(device):
    image, mask = (t.to(device) for t in _scene())
    seq = K.AugmentationSequential(
        K.RandomHorizontalFlip(p=1.0), RandomCausalResample("noise", p=0.5), data_keys=["input", "mask"]
    ).to(device)
    out, mask_out = seq(image, mask)
    params = seq._params[1].data
    assert out.device == image.device and out.dtype == image.dtype
    assert params["seeds"].device.type == "cpu" and params["batch_prob"].device == image.device
    causal = (mask_out > 0).expand_as(out)
    assert torch.equal(out[causal], image.flip(-1)[causal])
    # An augmentation left on the CPU (gate on the CPU) still works with images on the device.
    aug = RandomCausalResample("noise", p=1.0, require_causal=True)
    out_cpu_gate, _ = aug(image, mask)
    assert out_cpu_gate.device == image.device
    assert not torch.equal(out_cpu_gate, image)


# 9. Clear errors --------------------------------------------------------------------------------------------


def test_uint8_image_raises_type_error():
    image = (torch.rand(2, 3, 8, 8) * 255).to(torch.uint8)
    with pytest.raises(TypeError, match=r"input: expected a float image.*\[0, 1\].*got dtype uint8.*float\(\) / 255"):
        RandomCausalResample(p=1.0)(image, _object_mask(2, 8, 8))


def test_mask_size_mismatch_raises():
    with pytest.raises(ValueError, match=r"mask: expected spatial size \(8, 8\)"):
        RandomCausalResample(p=1.0)(torch.rand(2, 3, 8, 8), torch.ones(2, 8, 9))
    with pytest.raises(ValueError, match="mask: expected one mask per image"):
        RandomCausalResample(p=1.0)(torch.rand(2, 3, 8, 8), torch.ones(3, 8, 8))
    with pytest.raises(ValueError, match="mask: expected one channel"):
        RandomCausalResample(p=1.0)(torch.rand(2, 3, 8, 8), torch.ones(2, 3, 8, 8))


def test_missing_mask_raises():
    with pytest.raises(ValueError, match=r"needs a mask.*'mask' in data_keys"):
        RandomCausalResample(p=1.0)(torch.rand(2, 3, 8, 8), data_keys=["input"])
    seq = K.AugmentationSequential(RandomCausalResample(p=1.0), data_keys=["input"])
    with pytest.raises(ValueError, match="needs a mask"):
        seq(torch.rand(2, 3, 8, 8))


def test_mask_only_call_returns_mask_unchanged():
    mask = _object_mask(2, 8, 8)
    assert RandomCausalResample(p=1.0)(mask, data_keys=["mask"]) is mask


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"resampler": "nope"}, r"resampler: unknown name 'nope'; expected one of \[.*'noise'.*'spectral'"),
        ({"p": 1.5}, r"p: expected a probability in \[0, 1\]"),
        ({"p_batch": -0.1}, r"p_batch: expected a probability"),
        ({"feather": -1}, "feather: expected a non-negative integer"),
        ({"feather": 1.5}, "feather: expected a non-negative integer"),
        ({"resampler_options": ["x"]}, "resampler_options: expected a mapping"),
        ({"data_keys": ["input", "class"]}, "data_keys: 'class' is not supported"),
        ({"mask_mode": "labels"}, "roles: mode 'labels' needs"),
    ],
)
def test_constructor_validates(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RandomCausalResample(**kwargs)


def test_out_of_range_float_image_raises():
    with pytest.raises(ValueError, match=r"image: expected float values in \[0, 1\]"):
        RandomCausalResample(p=1.0)(torch.rand(1, 3, 8, 8) * 2, _object_mask(1, 8, 8))


def test_require_causal():
    empty = torch.zeros(2, 8, 8)
    with pytest.raises(ValueError, match="mask: expected at least one causal pixel"):
        RandomCausalResample("noise", p=1.0, require_causal=True)(torch.rand(2, 3, 8, 8), empty)


# Role modes and feathering --------------------------------------------------------------------------------


def test_label_roles_and_alpha():
    image = _images(1, 3, 8, 8)
    labels = torch.zeros(1, 8, 8, dtype=torch.long)
    labels[..., :4, :] = 1
    labels[..., 6:, :] = 2
    aug = RandomCausalResample("noise", roles={0: "resample", 1: "keep", 2: "resample"}, p=1.0)
    out, _ = aug(image, labels)
    assert torch.equal(out[..., :4, :], image[..., :4, :])
    assert bool((out[..., 4:, :] != image[..., 4:, :]).all())

    alpha = torch.full((1, 1, 8, 8), 0.5)
    alpha[..., :2, :] = 1.0
    aug = RandomCausalResample("noise", mask_mode="alpha", p=1.0)
    out, _ = aug(image, alpha)
    noise = (out - 0.5 * image) / 0.5
    assert torch.equal(out[..., :2, :], image[..., :2, :])
    assert bool(((noise[..., 2:, :] >= -1e-5) & (noise[..., 2:, :] <= 1 + 1e-5)).all())
    assert not torch.allclose(out[..., 2:, :], image[..., 2:, :])


def test_feather_never_touches_causal_pixels():
    image, mask = _images(2, 3, 16, 16), _object_mask(2, 16, 16)
    out, _ = RandomCausalResample("noise", p=1.0, feather=3)(image, mask)
    causal = _causal(mask).expand_as(image)
    assert torch.equal(out[causal], image[causal])
    far = torch.zeros_like(causal)
    far[..., 12:, :] = True  # more than 3 px from the object: fully resampled
    assert bool((out != image)[far].all())


# 10. Property test -----------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    b=st.integers(1, 4),
    c=st.sampled_from([1, 3, 4]),
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    backend=st.sampled_from(BACKENDS),
    kind=st.sampled_from(["binary", "all_causal", "all_non_causal"]),
    mask_dtype=st.sampled_from([torch.bool, torch.uint8, torch.int64, torch.float32]),
    channel_axis=st.booleans(),
    p=st.sampled_from([0.0, 0.5, 1.0]),
    seed=st.integers(0, 2**31 - 1),
)
def test_property_causal_contract(b, c, h, w, dtype, backend, kind, mask_dtype, channel_axis, p, seed):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(b, c, h, w, generator=g, dtype=dtype)
    if kind == "binary":
        causal = torch.rand(b, h, w, generator=g) < 0.5
    else:
        causal = torch.full((b, h, w), kind == "all_causal")
    mask = causal.to(mask_dtype)
    if channel_axis:
        mask = mask[:, None]
    mask_copy = mask.clone()
    torch.manual_seed(seed)
    aug = RandomCausalResample(backend, p=p)

    out, mask_out = aug(image, mask)

    assert out.shape == image.shape and out.dtype == dtype
    assert mask_out is mask and torch.equal(mask, mask_copy)
    keep = causal[:, None].expand_as(image)
    assert torch.equal(out[keep], image[keep])
    selected = aug._params["batch_prob"] > 0.5
    for i in range(b):
        if not selected[i]:
            assert torch.equal(out[i], image[i])
        elif backend in BUILTIN and int((~causal[i]).sum()) >= 8:
            assert bool((out[i] != image[i])[~keep[i]].any()), f"sample {i} unchanged"
    if p == 0.0:
        assert torch.equal(out, image)


def test_default_resampler_is_swap():
    """benchmarks/robustness.py: swap closes most of the worst-group gap; spectral keeps the colour shortcut."""
    assert RandomCausalResample().resampler.__class__.__name__ == "SwapResampler"


def test_channels_last_image_gets_a_layout_hint():
    image, mask = torch.rand(2, 16, 16, 3), torch.zeros(2, 1, 16, 16)
    with pytest.raises(ValueError, match=r"^mask: expected spatial size .*looks channels-last"):
        RandomCausalResample("noise", p=1.0)(image, mask)


# 9. What p < 1 costs: only the gated samples are checked and resampled -----------------------------------


def test_samples_p_skips_are_neither_checked_nor_changed():
    """As in Albumentations, a sample the gate skips passes through untouched, even an invalid one."""
    image, mask = _images(4, 3, 8, 8), _object_mask(4, 8, 8)
    image[1] = float("nan")  # skipped below: returned as it came
    aug = RandomCausalResample("noise", p=1.0)
    params = {"batch_prob": torch.tensor([1.0, 0.0, 1.0, 0.0]), "seeds": torch.arange(4)}
    out, _ = aug(image, mask, params=params)
    assert torch.equal(out[1].isnan(), image[1].isnan()) and bool(out[1].isnan().all())
    assert torch.equal(out[3], image[3])
    with pytest.raises(ValueError, match=r"^image: expected float values in \[0, 1\].* \(in samples \[1\]\)$"):
        aug(image, mask, params={"batch_prob": torch.ones(4), "seeds": torch.arange(4)})


def test_a_lone_gated_swap_sample_never_raises_about_a_skipped_one():
    """A lone gated sample borrows another sample's background; a skipped donor out of range is
    not lent (no error about a sample the gate skipped) and its values never leak in."""
    image, mask = _images(4, 3, 8, 8), _object_mask(4, 8, 8)
    image[1:] *= 3.0  # every other sample is out of range, and skipped
    aug = RandomCausalResample("swap", p=1.0)
    for seed in range(6):
        params = {"batch_prob": torch.tensor([1.0, 0.0, 0.0, 0.0]), "seeds": torch.arange(4) + seed}
        out, _ = aug(image, mask, params=params)
        assert float(out[0].max()) <= 1.0 and float(out[0].min()) >= 0.0
        assert torch.equal(out[0][mask[0].expand(3, -1, -1) == 1], image[0][mask[0].expand(3, -1, -1) == 1])
        assert torch.equal(out[1:], image[1:])


def test_swap_with_p_below_one_borrows_from_other_resampled_samples():
    """Each resampled sample gets the background of another resampled sample; a lone one borrows
    from the rest of the batch (never its own mirrored background)."""
    b = 6
    image = torch.arange(b, dtype=torch.float32).div(10)[:, None, None, None].expand(b, 3, 8, 8).contiguous()
    mask = torch.zeros(b, 1, 8, 8)
    mask[:, :, 2:5, 2:5] = 1
    aug = RandomCausalResample("swap", p=1.0)
    gate = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    out, _ = aug(image, mask, params={"batch_prob": gate, "seeds": torch.arange(b)})
    selected = [0, 2, 3]
    for i in range(b):
        background = out[i, 0][mask[i, 0] == 0]
        if i in selected:
            donor_values = {round(v, 4) for v in background.unique().tolist()}
            assert len(donor_values) == 1
            donor = round(donor_values.pop() * 10)
            assert donor in selected and donor != i
        else:
            assert torch.equal(out[i], image[i])
    lone = torch.tensor([0.0, 0.0, 0.0, 1.0, 0.0, 0.0])
    out, _ = aug(image, mask, params={"batch_prob": lone, "seeds": torch.arange(b)})
    donor = round(out[3, 0][mask[3, 0] == 0].unique().item() * 10)
    assert donor != 3
