"""Bad input, fuzzed: every case returns a correct result or raises a clear, named error.

Thousands of generated cases per run across the core (role maps), the engine, the backends and
both integrations: shapes from 1x1 to very wide, 1 to 7 channels, uint8/uint16/int32/bool and
float16/32/64 images, masks of many dtypes with NaN, infinities, negative or out-of-range values,
empty or full masks, label maps whose roles miss labels, non-contiguous, Fortran-ordered and
read-only arrays, masks on another device. The oracle for every case:

* it raises ``ValueError`` or ``TypeError`` whose message names the argument (never an opaque
  error from inside torch, OpenCV or NumPy); or
* it returns the input's shape and dtype, causal pixels bit-identical, finite values in range;
  and it must raise (not return) when the input is invalid by the documented contract.

``CT_FUZZ_SCALE`` multiplies the number of examples (default 1; CI runs the default).
"""

from __future__ import annotations

import os
import re
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from causal_transforms.core.roles import RoleSpec

SCALE = float(os.environ.get("CT_FUZZ_SCALE", "1"))
BACKENDS = ("noise", "spectral", "swap", "telea", "gan")
ARGUMENT = re.compile(
    r"^(image|images|input|mask|masks|keep|seeds|roles|causal_values|mask_mode|feather|active|donors|params|"
    r"data\[|p\b|p_batch|resampler|content)"
)


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --------------------------------------------------------------------------- generated inputs
@st.composite
def layouts(draw) -> tuple[int, int]:
    kind = draw(st.sampled_from(["small", "small", "small", "wide", "tall", "one"]))
    if kind == "one":
        return 1, 1
    if kind == "wide":
        return draw(st.integers(1, 3)), draw(st.integers(300, 2048))
    if kind == "tall":
        return draw(st.integers(300, 1024)), draw(st.integers(1, 3))
    return draw(st.integers(1, 40)), draw(st.integers(1, 40))


IMAGE_DTYPES = ("uint8",) * 4 + ("float32",) * 4 + ("float64", "float16", "uint16", "int32", "bool")
MASK_DTYPES = ("uint8", "uint8", "bool", "int32", "int64", "float32", "float64", "float16", "uint16", "int8")


def _values(rng: np.random.Generator, shape: tuple[int, ...], dtype: str, poison: str) -> np.ndarray:
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype in ("uint8", "uint16", "int32"):
        hi = {"uint8": 256, "uint16": 65536, "int32": 300}[dtype]
        return rng.integers(0, hi, shape).astype(dtype)
    x = rng.random(shape).astype(dtype)
    if x.size and poison != "none":
        flat = x.reshape(-1)
        flat[rng.integers(0, flat.size)] = {"nan": np.nan, "inf": np.inf, "neg": -0.25, "big": 3.0}[poison]
    return x


def _layout(array: np.ndarray, how: str) -> np.ndarray:
    if how == "strided":
        big = np.repeat(array, 2, axis=1)
        return big[:, ::2]
    if how == "fortran":
        return np.asfortranarray(array)
    if how == "readonly":
        array = array.copy()
        array.setflags(write=False)
        return array
    return array


@st.composite
def cases(draw) -> dict:
    h, w = draw(layouts())
    channels = draw(st.sampled_from([None, 1, 3, 3, 4, 7]))
    dtype = draw(st.sampled_from(IMAGE_DTYPES))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels is None else (h, w, channels)
    image_poison = draw(st.sampled_from(["none"] * 16 + ["nan", "inf", "neg", "big"]))
    image = _values(rng, shape, dtype, image_poison if dtype.startswith("float") else "none")
    mode = draw(st.sampled_from(["binary", "binary", "values", "labels", "alpha"]))
    mask_dtype = draw(st.sampled_from(MASK_DTYPES))
    fill = draw(st.sampled_from(["random", "random", "empty", "full"]))
    mask_shape = (h, w)
    if draw(st.integers(0, 19)) == 0:  # a mask of the wrong size now and then
        mask_shape = (h + 1, w)
    if mode == "labels":
        labels = rng.integers(0, 3, mask_shape)
    elif mode == "alpha":
        labels = rng.random(mask_shape)
    else:
        labels = rng.integers(0, 2, mask_shape)
    if fill == "empty":
        labels = np.zeros(mask_shape)
    elif fill == "full":
        labels = np.ones(mask_shape)
    if mask_dtype == "bool":
        mask = labels > 0.5 if mode == "alpha" else labels != 0
    elif mask_dtype.startswith("float"):
        mask = labels.astype(mask_dtype)
        mask_poison = draw(st.sampled_from(["none"] * 12 + ["nan", "inf", "neg", "big"]))
        if mask.size and mask_poison != "none":
            mask.reshape(-1)[0] = {"nan": np.nan, "inf": np.inf, "neg": -1.0, "big": 7.0}[mask_poison]
    else:
        scale = 255 if mode == "alpha" and mask_dtype == "uint8" else 1
        mask = np.rint(labels * scale).astype(mask_dtype)
        if mask_dtype.startswith("int") and draw(st.integers(0, 19)) == 0 and mask.size:
            mask.reshape(-1)[-1] = -1
    roles = None
    strict = True
    if mode == "labels":
        roles = {0: "resample", 1: "keep", 2: draw(st.sampled_from(["keep", "resample", 0.5]))}
        drop = draw(st.sampled_from([None] * 6 + [2, 1]))  # a label without a role
        if drop is not None:
            roles.pop(drop)
        if draw(st.integers(0, 3)) == 0:
            roles[9] = "keep"  # a role for a label that never occurs
        strict = draw(st.booleans())
    layout = draw(st.sampled_from(["contiguous", "contiguous", "strided", "fortran", "readonly"]))
    return {
        "image": _layout(image, layout),
        "mask": _layout(mask, draw(st.sampled_from(["contiguous", "strided", "readonly"]))),
        "mode": mode,
        "roles": roles,
        "strict": strict,
        "resampler": draw(st.sampled_from(BACKENDS)),
        "feather": draw(st.sampled_from([0, 0, 0, 1, 3])),
    }


# --------------------------------------------------------------------------- the oracle
def reference_keep(case: dict) -> np.ndarray | None:
    """The keep-map the documented contract defines, or ``None`` when the mask is invalid."""
    mask, mode = np.asarray(case["mask"]), case["mode"]
    if mask.dtype.kind == "f" and not np.isfinite(mask).all():
        return None
    if mode == "binary":
        return (mask != 0).astype(np.float32)
    if mode == "values":
        return np.isin(mask.astype(np.float64), [1.0]).astype(np.float32)
    if mode == "alpha":
        if mask.dtype == np.bool_:
            return mask.astype(np.float32)
        if mask.dtype == np.uint8:
            return mask.astype(np.float32) / 255.0
        alpha = mask.astype(np.float32)
        if alpha.size and (alpha.min() < 0 or alpha.max() > 1):
            return None
        return alpha
    if mask.dtype.kind == "f" and not (mask == np.round(mask)).all():
        return None
    present = set(np.unique(mask.astype(np.int64)).tolist())
    known = set(case["roles"])
    if present - known or (case["strict"] and known - present):
        return None
    keep = np.zeros(mask.shape, np.float32)
    weights = {"keep": 1.0, "resample": 0.0}
    for label, role in case["roles"].items():
        keep[mask.astype(np.int64) == label] = weights.get(role, role) if isinstance(role, str) else role
    return keep


def image_is_valid(image: np.ndarray) -> bool:
    if image.dtype.kind == "f":
        return bool(image.size == 0 or (np.isfinite(image).all() and image.min() >= 0 and image.max() <= 1))
    return True


def spec_kwargs(case: dict) -> dict:
    if case["mode"] == "values":
        return {"mask_mode": "binary", "causal_values": (1,)}
    if case["mode"] == "labels":
        return {"mask_mode": "labels", "roles": case["roles"], "strict_roles": case["strict"]}
    return {"mask_mode": case["mode"]}


ERROR_KINDS: Counter[str] = Counter()


def check_clear_error(exc: BaseException) -> None:
    ERROR_KINDS[str(exc)[:60]] += 1
    assert isinstance(exc, (ValueError, TypeError)), f"opaque {type(exc).__name__}: {exc}"
    message = str(exc)
    assert ARGUMENT.match(message), f"the error does not start with the argument it is about: {message!r}"
    assert "expected" in message, f"the error does not say what was expected: {message!r}"


def check_result(out: np.ndarray, image: np.ndarray, keep: np.ndarray) -> None:
    assert isinstance(out, np.ndarray)
    assert out.shape == image.shape and out.dtype == image.dtype
    causal = keep >= 1.0
    if image.ndim == 3:
        causal = np.broadcast_to(causal[..., None], image.shape)
    a = np.ascontiguousarray(out).view(np.uint8).reshape(*image.shape, -1)
    b = np.ascontiguousarray(image).view(np.uint8).reshape(*image.shape, -1)
    assert np.array_equal(a[causal], b[causal]), "a causal pixel changed"
    if out.dtype.kind == "f" and out.size:
        assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1, "output values out of range"


def run_case(call, case: dict, keep: np.ndarray | None, outcomes: dict) -> None:
    image = case["image"]
    before = image.copy()
    try:
        out = call()
    except (ValueError, TypeError) as exc:
        check_clear_error(exc)
        outcomes["error"] = outcomes.get("error", 0) + 1
        return
    except Exception as exc:  # anything else is an opaque failure
        pytest.fail(f"opaque {type(exc).__name__} for image {image.dtype}{image.shape}: {exc}")
    same = np.ascontiguousarray(image).view(np.uint8) == np.ascontiguousarray(before).view(np.uint8)
    assert same.all(), "the input was mutated"
    assert keep is not None, f"an invalid mask was accepted ({case['mode']}, {np.asarray(case['mask']).dtype})"
    assert image_is_valid(image), f"an invalid image was accepted ({image.dtype}, range check)"
    check_result(out, image, keep)
    outcomes["ok"] = outcomes.get("ok", 0) + 1


# --------------------------------------------------------------------------- targets
ALB_OUTCOMES: dict[str, int] = {}
KORNIA_OUTCOMES: dict[str, int] = {}
ENGINE_OUTCOMES: dict[str, int] = {}


@pytest.fixture(scope="module", autouse=True)
def outcome_report():
    """Print how many cases returned a result and how many raised (``pytest -s`` shows it)."""
    yield
    for name, counts in (("albumentations", ALB_OUTCOMES), ("kornia", KORNIA_OUTCOMES), ("engine", ENGINE_OUTCOMES)):
        if counts:
            print(f"\nfuzz {name}: {counts.get('ok', 0)} returned a checked result, {counts.get('error', 0)} raised")
    if os.environ.get("CT_FUZZ_VERBOSE"):
        for message, count in ERROR_KINDS.most_common(25):
            print(f"{count:6d}  {message}")


@fuzz_settings(1200)
@given(cases())
def test_fuzz_albumentations(case):
    from causal_transforms.albumentations import CausalResample

    keep = reference_keep(case)
    if keep is not None and np.asarray(case["mask"]).shape != case["image"].shape[:2]:
        keep = None
    if keep is not None and case["feather"]:
        keep = (keep >= 1.0).astype(np.float32)  # feathering only fades outward: causal stays causal
    transform = CausalResample(case["resampler"], p=1.0, feather=case["feather"], **spec_kwargs(case))
    transform.set_random_seed(0)
    run_case(lambda: transform(image=case["image"], mask=case["mask"])["image"], case, keep, ALB_OUTCOMES)


@fuzz_settings(800)
@given(cases(), st.sampled_from(["same"] * 9 + ["meta"]), st.integers(1, 3))
def test_fuzz_kornia(case, mask_device, batch):
    from causal_transforms.kornia import RandomCausalResample

    image_np, mask_np = np.asarray(case["image"]), np.asarray(case["mask"])
    keep = reference_keep(case)
    if keep is not None and (mask_np.shape != image_np.shape[:2] or mask_device != "same"):
        keep = None
    if keep is not None and case["feather"]:
        keep = (keep >= 1.0).astype(np.float32)
    chw = image_np[None] if image_np.ndim == 2 else np.moveaxis(image_np, -1, 0)
    image = (
        torch.from_numpy(np.ascontiguousarray(chw))
        if chw.dtype != np.uint16
        else torch.from_numpy(chw.astype(np.int32))
    )
    image = image.expand(batch, *image.shape) if batch > 1 else image[None]
    mask = torch.from_numpy(np.ascontiguousarray(mask_np))
    mask = mask.expand(batch, *mask.shape)
    if mask_device == "meta":
        mask = mask.to("meta")
    transform = RandomCausalResample(case["resampler"], p=1.0, feather=case["feather"], **spec_kwargs(case))

    def call() -> np.ndarray:
        out = transform(image, mask)
        out = out[0] if isinstance(out, (tuple, list)) else out
        assert out.shape == image.shape and out.dtype == image.dtype
        x = out[0].numpy()
        return x[0] if image_np.ndim == 2 else np.moveaxis(x, 0, -1)

    # The tensor path's own notion of "the image": what we handed over, per sample.
    case = dict(case, image=image_np if image_np.dtype != np.uint16 else image_np.astype(np.int32))
    run_case(call, case, keep, KORNIA_OUTCOMES)


@fuzz_settings(800)
@given(cases())
def test_fuzz_engine_and_backends(case):
    """The lower-level API: ``apply_resample`` and direct backend calls on torch tensors."""
    from causal_transforms import apply_resample, create_resampler

    image_np, mask_np = np.asarray(case["image"]), np.asarray(case["mask"])
    chw = image_np[None] if image_np.ndim == 2 else np.moveaxis(image_np, -1, 0)
    if chw.dtype == np.uint16:
        chw = chw.astype(np.int32)
    image = torch.from_numpy(np.ascontiguousarray(chw))[None]
    keep = torch.from_numpy(mask_np.astype(np.float32))[None, None]  # the engine takes a keep-map
    k = keep[0, 0].numpy()
    valid = k.size == 0 or (np.isfinite(k).all() and k.min() >= 0 and k.max() <= 1)
    expected_keep = k if valid and k.shape == tuple(image.shape[-2:]) else None
    if expected_keep is not None and case["feather"]:
        expected_keep = (expected_keep >= 1.0).astype(np.float32)
    backend = create_resampler(case["resampler"])
    seeds = torch.tensor([case["image"].size % 997])

    def call() -> np.ndarray:
        out = apply_resample(image, keep, backend, seeds, feather=case["feather"])
        x = out[0].numpy()
        return x[0] if image_np.ndim == 2 else np.moveaxis(x, 0, -1)

    as_given = chw[0] if image_np.ndim == 2 else np.moveaxis(chw, 0, -1)
    run_case(call, dict(case, image=as_given), expected_keep, ENGINE_OUTCOMES)

    # A direct backend call: float (B, C, H, W) in [0, 1] only.
    if image.is_floating_point() and expected_keep is not None:
        unit = image
        try:
            content = backend(unit, keep, seeds)
        except (ValueError, TypeError) as exc:
            check_clear_error(exc)
            assert not image_is_valid(image_np), f"a valid float image was refused: {exc}"
        else:
            assert image_is_valid(image_np), "a backend accepted an image outside [0, 1]"
            assert content.shape == unit.shape and content.dtype == unit.dtype
            assert bool(torch.isfinite(content.float()).all())


@fuzz_settings(1500)
@given(cases())
def test_fuzz_role_maps(case):
    """The core: ``RoleSpec.keep_map`` either matches the documented contract or names the mask."""
    mask = np.asarray(case["mask"])
    kwargs = spec_kwargs(case)
    spec = RoleSpec(
        mode=kwargs["mask_mode"],
        causal_values=kwargs.get("causal_values"),
        roles=kwargs.get("roles"),
        strict_roles=kwargs.get("strict_roles", True),
    )
    expected = reference_keep(case)
    tensor = torch.from_numpy(np.ascontiguousarray(mask) if mask.dtype != np.uint16 else mask.astype(np.int64))
    try:
        keep = spec.keep_map(tensor, "mask")
    except (ValueError, TypeError) as exc:
        check_clear_error(exc)
        assert expected is None, f"a valid mask was refused: {exc}"
        return
    assert expected is not None, f"an invalid mask was accepted: {case['mode']} {mask.dtype}"
    assert keep.dtype == torch.float32 and keep.shape == tensor.shape
    np.testing.assert_array_equal(keep.numpy(), expected)
