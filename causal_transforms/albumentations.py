"""Albumentations integration: :class:`CausalResample`, a transform for ``A.Compose``.

CPU, per sample, inside ordinary DataLoader workers. The backend is stored by name and
options only, so the transform pickles into workers and serialises with ``A.to_dict`` /
``A.save``; the backend itself is built once per process (see
:func:`causal_transforms.registry.get_resampler`).

Importing this module sets ``NO_ALBUMENTATIONS_UPDATE=1`` (unless already set) so that
importing Albumentations never contacts the package index. It works with Albumentations
2.0.x (MIT) and codes only against its public transform interface.
"""

from __future__ import annotations

import os
import random
from collections import deque
from typing import Any, Literal, NamedTuple

import cv2
import numpy as np
import torch

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import albumentations as A
from albumentations.core.transforms_interface import BaseTransformInitSchema
from pydantic import Field, field_validator

from causal_transforms.core.devices import single_thread_after_fork
from causal_transforms.core.roles import RoleSpec
from causal_transforms.core.seeding import MAX_SEED, derive_seed
from causal_transforms.engine import apply_resample, resample_one
from causal_transforms.registry import get_resampler, list_resamplers

__all__ = ["CausalResample"]

_SALT = "causal_transforms.albumentations.CausalResample"


def _image_to_tensor(image: np.ndarray, name: str) -> torch.Tensor:
    """(H, W) or (H, W, C) array -> (1, C, H, W) tensor sharing memory where possible."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(image).__name__}")
    if image.ndim not in (2, 3):
        raise ValueError(f"{name}: expected shape (H, W) or (H, W, C), got {image.shape}")
    if image.dtype not in (np.uint8, np.float32, np.float64):
        raise TypeError(f"{name}: expected dtype uint8 or float32 (float64 also works), got {image.dtype}")
    arr = image if image.flags.writeable and image.flags.c_contiguous else np.array(image, order="C")
    t = torch.from_numpy(arr)
    t = t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]
    return t


def _images_to_tensor(images: Any, name: str) -> torch.Tensor:
    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError(f"{name}: expected at least one image, got an empty sequence")
        shapes = {np.asarray(im).shape for im in images}
        if len(shapes) != 1:
            raise ValueError(f"{name}: expected images of one shape, got shapes {sorted(shapes)}")
        images = np.stack(images)
    if not isinstance(images, np.ndarray) or images.ndim not in (3, 4):
        got = images.shape if isinstance(images, np.ndarray) else type(images).__name__
        raise ValueError(f"{name}: expected an array (N, H, W) or (N, H, W, C), got {got}")
    return torch.cat([_image_to_tensor(im, name) for im in images])


def _mask_to_tensor(mask: Any, name: str) -> torch.Tensor:
    """(H, W) or (H, W, 1) -> (H, W) tensor."""
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array (H, W) or (H, W, 1), got {type(mask).__name__}")
    if mask.ndim == 3 and mask.shape[-1] == 1:
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise ValueError(f"{name}: expected shape (H, W) or (H, W, 1), got {mask.shape}")
    if mask.dtype == np.float16:
        mask = mask.astype(np.float32)
    if mask.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected a bool, integer or float mask, got dtype {mask.dtype}")
    if mask.dtype in (np.uint16, np.uint32, np.uint64):
        mask = mask.astype(np.int64)
    return torch.from_numpy(np.array(mask, order="C"))


def _tensor_to_image(t: torch.Tensor, like: np.ndarray) -> np.ndarray:
    out = t[0, 0] if like.ndim == 2 else t[0].permute(1, 2, 0)
    return np.ascontiguousarray(out.numpy())


_HWC_DTYPES = (np.dtype(np.uint8), np.dtype(np.float32))


def _write_background(img: np.ndarray, content: torch.Tensor, background: np.ndarray) -> np.ndarray:
    """A copy of ``img`` (HWC uint8 / float32) with ``content`` where ``background`` is 1.

    ``content`` is ``(1, C, H, W)`` in [0, 1]; ``background`` an ``(H, W)`` uint8 map, 1 for
    non-causal pixels. Only those pixels are written, so the causal pixels of the result are a
    bit copy of the input. Channels are interleaved by ``cv2.merge`` and written by
    ``cv2.copyTo`` under the mask: both run in the HWC layout, far faster than a torch composite
    on a channels-last view of the array.
    """
    if img.dtype == np.uint8:
        planes = content[0].mul(255.0).round_().to(torch.uint8).numpy()
    else:
        planes = content[0].to(torch.float32).numpy()
    if planes.shape[0] == 1:
        fill = planes[0] if img.ndim == 2 else planes[0][..., None]
    else:
        fill = cv2.merge(list(planes))
    out = cv2.copyTo(fill, background, np.array(img, copy=True, order="C"))
    return out.reshape(img.shape)


class _SingleKeep(NamedTuple):
    """One image's keep-map and what the single-image path needs to know about it."""

    keep: torch.Tensor  # (1, 1, H, W) float32 in [0, 1]
    background: np.ndarray | None  # (H, W) uint8, 1 where keep == 0; only for binary maps
    has_background: bool
    has_causal: bool


def _binary_single_keep(keep: torch.Tensor, background: np.ndarray) -> _SingleKeep:
    n_background = cv2.countNonZero(background)
    return _SingleKeep(keep, background, n_background > 0, n_background < background.size)


class CausalResample(A.DualTransform):
    """Keep the causal pixels, resample the rest with a named backend.

    The causal-role map is read from ``data[mask_key]`` (default ``"mask"``). Another key,
    e.g. ``"causal_mask"``, must be registered with ``A.Compose(...,
    additional_targets={"causal_mask": "mask"})`` so that earlier spatial transforms move it
    with the image. Masks, bounding boxes and keypoints pass through unchanged. With
    ``images=`` batches the role maps come from ``masks=`` (or from ``data[mask_key]`` holding
    one map per image), and batch backends such as ``swap`` borrow from batch-mates; for
    single images ``swap`` borrows from a bank of the last ``donor_bank_size`` samples this
    transform processed successfully in this process.

    Args:
        resampler: Backend name from :func:`causal_transforms.list_resamplers`.
        resampler_options: Keyword options for the backend.
        mask_key: Data key holding the causal-role map.
        mask_mode: ``"binary"``, ``"labels"`` or ``"alpha"``; inferred when ``None``
            (``"labels"`` if ``roles`` is given, else ``"binary"``).
        causal_values: Binary mode: the mask value(s) that mean causal (default: non-zero).
        roles: Labels mode: ``{label: "keep" | "resample" | weight}``.
        strict_roles: Labels mode: raise when ``roles`` names a label absent from the map.
        feather: Fade width in pixels, outward into the non-causal region only.
        require_causal: Raise when a sample has no causal pixel (default: the whole image is
            generated).
        donor_bank_size: How many recent samples ``swap``-like backends may borrow from when
            given single images.
        p: Probability of applying the transform.

    Targets:
        image, mask, bboxes, keypoints (plus ``images`` / ``masks`` batches)

    Image types:
        uint8, float32 (in [0, 1])

    Example:
        >>> import numpy as np, albumentations as A
        >>> from causal_transforms.albumentations import CausalResample
        >>> image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
        >>> mask = np.zeros((32, 32), np.uint8); mask[8:24, 8:24] = 1
        >>> out = A.Compose([A.HorizontalFlip(p=1), CausalResample("noise", p=1)], seed=0)(image=image, mask=mask)
        >>> bool((out["image"][8:24, 8:24] == image[:, ::-1][8:24, 8:24]).all())
        True

    """

    class InitSchema(BaseTransformInitSchema):
        resampler: str
        resampler_options: dict[str, Any] | None
        mask_key: str = Field(min_length=1)
        mask_mode: Literal["binary", "labels", "alpha"] | None
        causal_values: tuple[float, ...] | None
        roles: dict[int | str, str | float] | None
        strict_roles: bool
        feather: int = Field(ge=0)
        require_causal: bool
        donor_bank_size: int = Field(ge=0)

        @field_validator("causal_values", mode="before")
        @classmethod
        def _one_value_is_a_tuple(cls, value: Any) -> Any:
            # One number means that value, as in RandomCausalResample and RoleSpec.
            return (value,) if isinstance(value, (int, float)) and not isinstance(value, bool) else value

        @field_validator("resampler")
        @classmethod
        def _known_resampler(cls, value: str) -> str:
            known = list_resamplers()
            if value not in known:
                raise ValueError(f"resampler: unknown name {value!r}; expected one of {known}")
            return value

    def __init__(
        self,
        resampler: str = "swap",
        resampler_options: dict[str, Any] | None = None,
        mask_key: str = "mask",
        mask_mode: Literal["binary", "labels", "alpha"] | None = None,
        causal_values: tuple[float, ...] | float | None = None,
        roles: dict[int | str, str | float] | None = None,
        strict_roles: bool = True,
        feather: int = 0,
        require_causal: bool = False,
        donor_bank_size: int = 32,
        p: float = 0.5,
    ) -> None:
        super().__init__(p=p)
        self.resampler = resampler
        self.resampler_options = dict(resampler_options or {})
        self.mask_key = mask_key
        self.mask_mode = mask_mode
        if isinstance(causal_values, (int, float)) and not isinstance(causal_values, bool):
            causal_values = (causal_values,)
        self.causal_values = None if causal_values is None else tuple(causal_values)
        self.roles = None if roles is None else dict(roles)
        self.strict_roles = strict_roles
        self.feather = feather
        self.require_causal = require_causal
        self.donor_bank_size = donor_bank_size
        self._role_spec = RoleSpec(
            mode=mask_mode, causal_values=self.causal_values, roles=self.roles, strict_roles=strict_roles
        )
        self._binary_any_nonzero = self._role_spec.mode == "binary" and self._role_spec.causal_values is None
        from causal_transforms.registry import resampler_specs

        self._uses_batch = resampler_specs()[resampler].uses_batch
        # Donors for single images: (image, keep) of earlier calls that succeeded, so every banked
        # image passed this transform's checks (dtype, shape, range) and is lent without re-checks.
        self._bank: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=max(donor_bank_size, 1))
        self._pending_entry: tuple[np.ndarray, np.ndarray] | None = None
        self._stream_key: tuple[int, int] | None = None
        self._last_keep: tuple[Any, _SingleKeep] | None = None

    # ----------------------------------------------------------------- random streams
    def set_random_seed(self, seed: int | None) -> None:
        """Seed this transform's streams, salted so they differ from sibling transforms'.

        Albumentations 2.0.8's ``Compose(seed=s)`` hands every child the same seed, which would
        make our draws move in lock-step with, say, a flip's. The salt decorrelates them while
        keeping ``Compose(seed=...)`` deterministic.
        """
        super().set_random_seed(None if seed is None else derive_seed(seed, _SALT))
        self.seed = seed
        self._stream_key = None

    def _ensure_worker_stream(self) -> None:
        """Give every DataLoader worker its own stream (forked workers would share one)."""
        info = torch.utils.data.get_worker_info()
        if info is None:
            return
        key = (os.getpid(), info.id)
        if key == self._stream_key:
            return
        stream = derive_seed(self.seed, _SALT, info.id, info.seed)
        self.random_generator = np.random.default_rng(stream)
        self.py_random = random.Random(stream)
        self._stream_key = key

    def __call__(self, *args: Any, force_apply: bool = False, **kwargs: Any) -> Any:
        """Apply the transform (see :class:`albumentations.BasicTransform`)."""
        single_thread_after_fork()
        self._ensure_worker_stream()
        return super().__call__(*args, force_apply=force_apply, **kwargs)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_bank"] = deque(maxlen=self._bank.maxlen)
        state["_last_keep"] = None
        state["_pending_entry"] = None
        return state

    # ----------------------------------------------------------------- parameters
    def get_params(self) -> dict[str, Any]:
        """Draw the sample's seed."""
        return {"seed": self.py_random.randrange(MAX_SEED)}

    def _mask_name(self) -> str:
        return f"data[{self.mask_key!r}]"

    def _check_mask_key(self) -> None:
        if self.mask_key != "mask" and self._additional_targets.get(self.mask_key) != "mask":
            raise ValueError(
                f"mask_key: {self.mask_key!r} must be registered as a mask target, e.g. "
                f"A.Compose([...], additional_targets={{{self.mask_key!r}: 'mask'}}), so spatial transforms move "
                f"it with the image; got additional_targets={self._additional_targets}"
            )

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        """For batch backends given a single image, choose a donor from the bank (stored for replay)."""
        self._pending_entry = None
        if not self._uses_batch or "image" not in data or self.mask_key not in data:
            return {}
        image, mask = data["image"], data[self.mask_key]
        single = self._single_keep_for(mask)
        self._last_keep = (mask, single)  # the same call's apply_with_params reuses it
        donor: dict[str, Any] = {}
        if self._bank:
            index = params["seed"] % len(self._bank)
            donor_image, donor_keep = self._bank[index]
            if donor_image.shape == image.shape:
                donor = {"donor_image": donor_image, "donor_keep": donor_keep}
        if self.donor_bank_size and single.has_background:
            # Banked by apply_with_params only once this call has succeeded; an image that is all
            # object has no background to lend.
            self._pending_entry = (np.array(image, copy=True), single.keep[0, 0].numpy().copy())
        return donor

    def _single_keep_for(self, mask: Any) -> _SingleKeep:
        """One image's keep-map ``(1, 1, H, W)``, with its background map for binary role maps."""
        if self._binary_any_nonzero and isinstance(mask, np.ndarray) and mask.dtype.kind in "biuf":
            # The common case (an object mask, non-zero = causal) straight in numpy, several times
            # cheaper than the tensor route for small images. Anything unusual (a bad shape,
            # non-finite values) takes the general route below, which names the problem.
            m = mask[..., 0] if mask.ndim == 3 and mask.shape[-1] == 1 else mask
            if m.ndim == 2 and (m.dtype.kind != "f" or np.isfinite(m).all()):
                causal = m != 0
                keep = torch.from_numpy(causal.astype(np.float32))[None, None]
                return _binary_single_keep(keep, np.logical_not(causal).view(np.uint8))
        keep = self._keep_for(mask)
        if self._role_spec.mode == "binary":
            return _binary_single_keep(keep, (keep[0, 0].numpy() == 0).view(np.uint8))
        return _SingleKeep(keep, None, bool(keep.amin() < 1.0), bool(keep.amax() > 0.0))

    def _keep_for(self, mask: Any, batch: bool = False) -> torch.Tensor:
        name = self._mask_name()
        if batch:
            if isinstance(mask, (list, tuple)):
                maps = [_mask_to_tensor(np.asarray(m), name) for m in mask]
                shapes = {tuple(m.shape) for m in maps}
                if len(shapes) != 1:
                    raise ValueError(f"{name}: expected masks of one shape, got {sorted(shapes)}")
                stacked = torch.stack(maps)
            elif isinstance(mask, np.ndarray) and mask.ndim in (3, 4):
                stacked = torch.stack([_mask_to_tensor(m, name) for m in mask])
            else:
                got = mask.shape if isinstance(mask, np.ndarray) else type(mask).__name__
                raise ValueError(f"{name}: expected one (H, W) mask per image, (N, H, W), got {got}")
            return self._role_spec.keep_map(stacked, name)[:, None]
        return self._role_spec.keep_map(_mask_to_tensor(mask, name), name)[None, None]

    def apply_with_params(self, params: dict[str, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Compute the keep-map from the current data, then route every target."""
        pending, self._pending_entry = self._pending_entry, None
        if not params:
            return super().apply_with_params(params, *args, **kwargs)
        self._check_mask_key()
        params = dict(params)
        if kwargs.get("image") is not None or any(
            self._additional_targets.get(k) == "image" for k in kwargs if kwargs[k] is not None
        ):
            if self.mask_key not in kwargs or kwargs[self.mask_key] is None:
                raise ValueError(
                    f"mask_key: CausalResample reads the causal-role map from {self._mask_name()}, "
                    f"but the data has keys {sorted(kwargs)}"
                )
            mask = kwargs[self.mask_key]
            last, self._last_keep = self._last_keep, None
            params["_keep"] = last[1] if last is not None and last[0] is mask else self._single_keep_for(mask)
        if kwargs.get("images") is not None:
            key = "masks" if self.mask_key == "mask" else self.mask_key
            if kwargs.get(key) is None:
                raise ValueError(
                    f"mask_key: with images=, CausalResample reads one role map per image from data[{key!r}], "
                    f"but the data has keys {sorted(kwargs)}"
                )
            params["_keeps"] = self._keep_for(kwargs[key], batch=True)
        result = super().apply_with_params(params, *args, **kwargs)
        if pending is not None:  # every target passed: this call's image may be lent from now on
            self._bank.append(pending)
        return result

    # ----------------------------------------------------------------- targets
    def _backend(self):
        return get_resampler(self.resampler, self.resampler_options)

    def apply(self, img: np.ndarray, *args: Any, **params: Any) -> np.ndarray:
        """Resample the non-causal pixels of one image."""
        image = _image_to_tensor(img, "image")
        single: _SingleKeep = params["_keep"]
        keep = single.keep
        if tuple(keep.shape[-2:]) != tuple(image.shape[-2:]):
            raise ValueError(
                f"{self._mask_name()}: expected a mask of shape {tuple(image.shape[-2:])} like the image, "
                f"got {tuple(keep.shape[-2:])}"
                + (
                    "; the image looks channels-first (C, H, W): Albumentations expects (H, W, C), "
                    "e.g. np.moveaxis(image, 0, -1)"
                    if img.ndim == 3 and img.shape[0] in (1, 3, 4) and tuple(keep.shape[-2:]) == tuple(img.shape[1:])
                    else ""
                )
            )
        donors = None
        if "donor_image" in params:
            donor = _image_to_tensor(params["donor_image"], "donor_image")
            if donor.shape[1] == image.shape[1]:
                donor_keep = torch.from_numpy(params["donor_keep"])[None, None]
                # Banked images passed this transform's checks when they were processed.
                donors = (donor.float() / 255.0 if donor.dtype == torch.uint8 else donor.to(torch.float32), donor_keep)
        backend = self._backend()
        if single.background is not None and not self.feather and backend.bounded and img.dtype in _HWC_DTYPES:
            # Binary keep-map: no blending, so the new content is written into a copy of the
            # array where keep is 0 and the causal pixels are never touched (exact by
            # construction); OpenCV does this in the array's own HWC layout.
            content = resample_one(
                image,
                keep,
                backend,
                params["seed"],
                has_background=single.has_background,
                has_causal=single.has_causal,
                donors=donors,
                require_causal=self.require_causal,
                mask_name=self._mask_name(),
                donors_are_valid=True,
            )
            return img.copy() if content is None else _write_background(img, content, single.background)
        out = apply_resample(
            image,
            keep,
            backend,
            torch.full((1,), params["seed"], dtype=torch.int64),
            feather=self.feather,
            donors=donors,
            require_causal=self.require_causal,
            mask_name=self._mask_name(),
            binary_keep=self._role_spec.mode == "binary",
            keep_is_valid=True,
            donors_are_valid=True,
        )
        return _tensor_to_image(out, img)

    def apply_to_images(self, images: np.ndarray, *args: Any, **params: Any) -> np.ndarray:
        """Resample a batch of images at once (batch backends borrow from batch-mates)."""
        batch = _images_to_tensor(images, "images")
        keeps = params["_keeps"]
        if keeps.shape[0] != batch.shape[0] or tuple(keeps.shape[-2:]) != tuple(batch.shape[-2:]):
            raise ValueError(
                f"masks: expected {batch.shape[0]} masks of shape {tuple(batch.shape[-2:])}, "
                f"got {keeps.shape[0]} of shape {tuple(keeps.shape[-2:])}"
            )
        seeds = torch.tensor([derive_seed(params["seed"], i) for i in range(batch.shape[0])], dtype=torch.int64)
        out = apply_resample(
            batch,
            keeps,
            self._backend(),
            seeds,
            feather=self.feather,
            require_causal=self.require_causal,
            mask_name="masks",
            binary_keep=self._role_spec.mode == "binary",
            keep_is_valid=True,
        )
        arr = out.permute(0, 2, 3, 1).numpy()
        first = np.asarray(images[0])
        return np.ascontiguousarray(arr[..., 0] if first.ndim == 2 else arr)

    def apply_to_mask(self, mask: np.ndarray, *args: Any, **params: Any) -> np.ndarray:
        """Masks pass through unchanged."""
        return mask

    def apply_to_masks(self, masks: Any, *args: Any, **params: Any) -> Any:
        """Masks pass through unchanged."""
        return masks

    def apply_to_bboxes(self, bboxes: np.ndarray, *args: Any, **params: Any) -> np.ndarray:
        """Bounding boxes pass through unchanged."""
        return bboxes

    def apply_to_keypoints(self, keypoints: np.ndarray, *args: Any, **params: Any) -> np.ndarray:
        """Keypoints pass through unchanged."""
        return keypoints

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        """Arguments written by ``A.to_dict``."""
        return (
            "resampler",
            "resampler_options",
            "mask_key",
            "mask_mode",
            "causal_values",
            "roles",
            "strict_roles",
            "feather",
            "require_causal",
            "donor_bank_size",
        )
