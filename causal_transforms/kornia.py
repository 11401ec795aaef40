"""Kornia integration: a GPU batch augmentation that resamples only the non-causal pixels.

:class:`RandomCausalResample` works on ``(B, C, H, W)`` float tensors after the batch reaches
the device, on its own or inside :class:`kornia.augmentation.AugmentationSequential` with
``data_keys=["input", "mask"]``.

Why it subclasses :class:`kornia.augmentation.RandomTransplantation`: inside
``AugmentationSequential`` an ordinary child never sees the mask. The container hands the
mask, as already flipped, cropped or warped by the earlier steps, to one kind of child only:
a ``RandomTransplantation``, through ``params_from_input``. Being one is what lets the keep-map
line up with the image at this point of the pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import kornia.augmentation as K
import torch
from kornia.augmentation._2d.mix.base import MixAugmentationBaseV2
from kornia.constants import DataKey

from causal_transforms.backends.base import Resampler
from causal_transforms.core.roles import RoleMode, RoleSpec
from causal_transforms.core.seeding import draw_seeds
from causal_transforms.engine import apply_resample
from causal_transforms.registry import get_resampler, list_resamplers, resampler_specs

__all__ = ["RandomCausalResample"]

_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_PASS_THROUGH_KEYS = (DataKey.BBOX, DataKey.BBOX_XYXY, DataKey.BBOX_XYWH, DataKey.KEYPOINTS)
_SUPPORTED_KEYS = (DataKey.INPUT, DataKey.MASK, *_PASS_THROUGH_KEYS)


def _check_probability(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0.0 <= float(value) <= 1.0):
        raise ValueError(f"{name}: expected a probability in [0, 1], got {value!r}")
    return float(value)


def _parse_keys(data_keys: Sequence[str | int | DataKey] | None, name: str = "data_keys") -> list[DataKey]:
    if data_keys is None:
        return [DataKey.INPUT, DataKey.MASK]
    if isinstance(data_keys, (str, DataKey)) or not isinstance(data_keys, Sequence):
        raise ValueError(f"{name}: expected a list such as ['input', 'mask'], got {data_keys!r}")
    keys = []
    for key in data_keys:
        try:
            parsed = DataKey.get(key)
        except Exception as exc:
            raise ValueError(f"{name}: unknown key {key!r}; expected 'input' and 'mask'") from exc
        if parsed not in _SUPPORTED_KEYS:
            raise ValueError(
                f"{name}: {key!r} is not supported by RandomCausalResample; expected 'input' "
                "and 'mask' (boxes and keypoints pass through unchanged)"
            )
        keys.append(parsed)
    return keys


def _image_batch(image: object) -> torch.Tensor:
    """Check an image's type and dtype and return it as ``(B, C, H, W)``."""
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"input: expected a torch.Tensor image, got {type(image).__name__}")
    if image.dtype not in _FLOAT_DTYPES:
        raise TypeError(
            f"input: expected a float image (float16, bfloat16, float32 or float64) with values in [0, 1], "
            f"got dtype {str(image.dtype).removeprefix('torch.')}; convert it first, e.g. image.float() / 255"
        )
    if image.ndim == 2:
        return image[None, None]
    if image.ndim == 3:
        return image[None]
    if image.ndim == 4:
        return image
    raise ValueError(f"input: expected shape (B, C, H, W), (C, H, W) or (H, W), got {tuple(image.shape)}")


def _mask_batch(mask: object) -> torch.Tensor:
    """Return a mask as ``(N, 1, H, W)`` from ``(B, 1, H, W)``, ``(B, H, W)`` or ``(H, W)``."""
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask: expected a torch.Tensor, got {type(mask).__name__}")
    if mask.ndim == 2:
        return mask[None, None]
    if mask.ndim == 3:
        return mask[:, None]
    if mask.ndim == 4:
        if mask.shape[1] != 1:
            raise ValueError(
                f"mask: expected one channel, (B, 1, H, W) or (B, H, W), got shape {tuple(mask.shape)}; "
                "merge the object channels into one mask or label map first"
            )
        return mask
    raise ValueError(f"mask: expected shape (B, 1, H, W), (B, H, W) or (H, W), got {tuple(mask.shape)}")


class RandomCausalResample(K.RandomTransplantation):
    r"""Resample the non-causal pixels (the background) of a batch; keep the causal pixels exactly.

    For each sample selected by ``p``, a generator backend draws new content and the output is
    ``keep * image + (1 - keep) * content``, where the keep-map comes from the mask (1 =
    causal). Pixels with ``keep == 1`` come back bit-identical (same dtype, same values). The
    mask itself is returned unchanged.

    Inside :class:`kornia.augmentation.AugmentationSequential` (``data_keys`` with ``"input"``
    and ``"mask"``), the keep-map is read from the mask *as transformed by the earlier steps*,
    so the object stays where the flipped, cropped or warped mask says it is. Geometric steps
    resample masks with nearest interpolation by default, so a binary mask stays binary; pixels
    that a crop or warp pads in get mask 0 and are resampled. With a bilinear mask resampling a
    ``"binary"`` mask counts every non-zero (edge) pixel as causal; use ``mask_mode="alpha"`` for
    soft masks.

    Args:
        resampler: Name of the backend, one of :func:`causal_transforms.list_resamplers`. It is
            stored by name and built lazily, once per process.
        resampler_options: Keyword options for the backend's factory.
        mask_mode: How the mask says what is causal: ``"binary"`` (default unless ``roles``),
            ``"labels"`` or ``"alpha"``; see :class:`~causal_transforms.core.roles.RoleSpec`.
        causal_values: For ``"binary"``: the mask values that mean causal (default: non-zero).
        roles: For ``"labels"``: ``{label: "keep" | "resample" | weight}``.
        strict_roles: For ``"labels"``: raise when ``roles`` names a label absent from a mask.
        feather: Fade width in pixels, outward into the non-causal region only.
        require_causal: Raise when a selected sample has no causal pixel at all (by default
            such a sample gets a fully generated image).
        p: Probability of resampling each sample.
        p_batch: Probability of resampling the batch at all.
        same_on_batch: Same gate and same seed for every sample of the batch.
        keepdim: Return an unbatched ``(C, H, W)`` / ``(H, W)`` image in its own shape; inside a
            container, also keep a ``(B, H, W)`` mask three-dimensional.
        data_keys: Keys of the positional inputs of a direct call; default ``["input", "mask"]``.
            ``"bbox*"`` and ``"keypoints"`` inputs pass through unchanged.

    Raises:
        ValueError: Unknown ``resampler`` (the message lists the known names), ``p`` or
            ``p_batch`` outside [0, 1], a negative or non-integer ``feather``, a bad role
            specification or unsupported ``data_keys``.

    Params (``aug._params``, what ``params=`` replays):
        - ``batch_prob`` ``(B,)``: the gate drawn by Kornia (``> 0.5`` means resampled); honours
          ``p``, ``p_batch`` and ``same_on_batch``; on the augmentation's device.
        - ``seeds`` ``(B,)`` int64 on the CPU: one seed per sample, drawn from the global torch
          RNG (equal for all samples when ``same_on_batch``). A sample's new content depends
          only on its pixels, its keep-map and its seed.
        - ``keep`` ``(B, 1, H, W)`` float32 in [0, 1]: the keep-map, recomputed from the mask of
          every call that passes one (so a replay with new data uses the new mask); a call with
          only an image uses the stored one, which is how the container applies it.
        - ``forward_input_shape``: the batch shape, as for every Kornia augmentation.

    Inputs and outputs:
        - ``input``: float ``(B, C, H, W)`` in [0, 1] (also ``(C, H, W)`` or ``(H, W)``), any float
          dtype and device; the output has the same dtype and device (``(B, C, H, W)``, or the
          input's own shape with ``keepdim=True``).
        - ``mask``: ``(B, 1, H, W)``, ``(B, H, W)`` or ``(H, W)`` (one mask for the whole batch);
          bool, integer or float. Returned unchanged (the same tensor).

    Example:
        >>> import kornia.augmentation as K  # noqa: N812  (Kornia's own convention)
        >>> _ = torch.manual_seed(0)
        >>> image = torch.rand(2, 3, 16, 16)
        >>> mask = torch.zeros(2, 16, 16)
        >>> mask[:, 4:12, 4:12] = 1
        >>> aug = RandomCausalResample("noise", p=1.0)
        >>> out, mask_out = aug(image, mask)
        >>> bool((out[..., 4:12, 4:12] == image[..., 4:12, 4:12]).all()), mask_out is mask
        (True, True)
        >>> bool((aug(image, mask, params=aug._params)[0] == out).all())
        True
        >>> seq = K.AugmentationSequential(
        ...     K.RandomHorizontalFlip(p=1.0), RandomCausalResample(p=1.0), data_keys=["input", "mask"]
        ... )
        >>> out, mask_out = seq(image, mask)  # the container hands a (B, H, W) mask back as (B, 1, H, W)
        >>> out.shape, mask_out.shape
        (torch.Size([2, 3, 16, 16]), torch.Size([2, 1, 16, 16]))

    """

    def __init__(
        self,
        resampler: str = "swap",
        resampler_options: Mapping[str, Any] | None = None,
        *,
        mask_mode: RoleMode | None = None,
        causal_values: Sequence[float] | float | None = None,
        roles: Mapping[int, str | float] | None = None,
        strict_roles: bool = True,
        feather: int = 0,
        require_causal: bool = False,
        p: float = 0.5,
        p_batch: float = 1.0,
        same_on_batch: bool = False,
        keepdim: bool = False,
        data_keys: Sequence[str | int | DataKey] | None = None,
    ) -> None:
        if not isinstance(resampler, str) or resampler not in resampler_specs():
            raise ValueError(f"resampler: unknown name {resampler!r}; expected one of {list_resamplers()}")
        if resampler_options is not None and not isinstance(resampler_options, Mapping):
            raise ValueError(
                f"resampler_options: expected a mapping of keyword options or None, got {resampler_options!r}"
            )
        if isinstance(feather, bool) or not isinstance(feather, int) or feather < 0:
            raise ValueError(f"feather: expected a non-negative integer number of pixels, got {feather!r}")
        p = _check_probability("p", p)
        p_batch = _check_probability("p_batch", p_batch)
        keys = _parse_keys(data_keys)
        role_spec = RoleSpec(mode=mask_mode, causal_values=causal_values, roles=roles, strict_roles=strict_roles)
        # Skip RandomTransplantation.__init__ (no same_on_batch / keepdim); set what its code expects.
        MixAugmentationBaseV2.__init__(self, p=p, p_batch=p_batch, same_on_batch=same_on_batch, keepdim=keepdim)
        self.data_keys = keys
        self.excluded_labels = torch.empty(0, dtype=torch.long)
        self._channel_dim = 1
        self.resampler_name = resampler
        self.resampler_options: dict[str, Any] = dict(resampler_options or {})
        self.role_spec = role_spec
        self.feather = feather
        self.require_causal = bool(require_causal)

    @property
    def resampler(self) -> Resampler:
        """The backend, this process's cached instance (built on first use)."""
        return get_resampler(self.resampler_name, self.resampler_options)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(resampler={self.resampler_name!r}, "
            f"resampler_options={self.resampler_options!r}, mask_mode={self.role_spec.mode!r}, "
            f"feather={self.feather}, require_causal={self.require_causal}, "
            f"p={self.p}, p_batch={self.p_batch}, same_on_batch={self.same_on_batch}, keepdim={self.keepdim})"
        )

    # Parameters --------------------------------------------------------------------------------------------

    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, torch.Tensor]:
        """Draw one seed per sample on the CPU from the global torch RNG."""
        return {"seeds": draw_seeds(int(batch_shape[0]), self.same_on_batch)}

    def forward_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, torch.Tensor]:
        """Draw the gate and the seeds for a batch of ``batch_shape``.

        The same draws from the global torch RNG, in the same order, as Kornia's own (0.9)
        ``forward_parameters``: the batch gate (only when ``0 < p_batch < 1``), the per-sample
        gate (only when ``0 < p < 1``; one draw with ``same_on_batch``), then the seeds. With
        fewer small tensor operations: this runs on every call.

        Args:
            batch_shape: The input's shape, ``(B, C, H, W)``.

        Returns:
            ``batch_prob``, ``seeds`` and ``forward_input_shape``.

        Example:
            >>> aug = RandomCausalResample(p=1.0)
            >>> params = aug.forward_parameters((2, 3, 8, 8))
            >>> params["batch_prob"].tolist(), params["forward_input_shape"].tolist()
            ([1.0, 1.0], [2, 3, 8, 8])

        """
        b = int(batch_shape[0])
        device, dtype = self.device, self.dtype
        batch_draw = torch.rand(1, device=device) if 0 < self.p_batch < 1 else None
        if self.p == 0:
            gate = torch.zeros(b, device=device, dtype=dtype)
        elif self.p == 1:
            gate = torch.ones(b, device=device, dtype=dtype)
        elif self.same_on_batch:
            gate = torch.lt(torch.rand(1, device=device), self.p).to(dtype).repeat(b)  # own memory, as Kornia's
        else:
            gate = torch.lt(torch.rand(b, device=device), self.p).to(dtype)
        if self.p_batch == 0:
            gate = torch.zeros(b, device=device, dtype=dtype)
        elif batch_draw is not None:  # the whole batch off with probability 1 - p_batch
            gate = gate * torch.lt(batch_draw, self.p_batch).to(dtype)
        return {
            "seeds": draw_seeds(b, self.same_on_batch),
            "batch_prob": gate,
            "forward_input_shape": torch.tensor(batch_shape, dtype=torch.long),
        }

    def _complete(self, params: dict[str, torch.Tensor], batch_size: int) -> dict[str, torch.Tensor]:
        """Fill in a missing gate or seeds (in place) and check their batch size."""
        if "batch_prob" not in params:
            params["batch_prob"] = self.__batch_prob_generator__(
                (batch_size,), self.p, self.p_batch, self.same_on_batch
            )
        if "seeds" not in params:
            params["seeds"] = draw_seeds(batch_size, self.same_on_batch)
        for name in ("batch_prob", "seeds"):
            value = params[name]
            if not isinstance(value, torch.Tensor) or value.shape != (batch_size,):
                got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise ValueError(f"params: expected {name!r} of shape ({batch_size},) for this batch, got {got}")
        return params

    def params_from_input(
        self,
        *input: Any,
        data_keys: list[DataKey],
        params: dict[str, torch.Tensor],
        extra_args: dict[DataKey, dict[str, Any]] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Compute the keep-map from the mask among ``input`` and complete ``params`` in place.

        ``AugmentationSequential`` calls this with every input of the pipeline (the mask as
        transformed by the earlier steps) before it applies this step to each input. The
        keep-map is always recomputed from the mask given; ``batch_prob`` and ``seeds`` are kept
        when present and drawn when missing.

        Args:
            *input: The inputs, one per entry of ``data_keys``.
            data_keys: The key of each input.
            params: The parameters drawn so far; updated in place.
            extra_args: Per-key options of the container (unused).

        Returns:
            ``params``, with ``keep``, ``batch_prob`` and ``seeds``.

        Raises:
            ValueError: No mask and no stored keep-map; a mask whose size does not match the image.

        """
        keys = [DataKey.get(k) for k in data_keys]
        if len(keys) != len(input):
            raise ValueError(
                f"data_keys: got {len(keys)} keys {[k.name.lower() for k in keys]} for {len(input)} inputs"
            )
        image = next((x for x, k in zip(input, keys, strict=True) if k == DataKey.INPUT), None)
        mask = next((x for x, k in zip(input, keys, strict=True) if k == DataKey.MASK), None)
        batch = _image_batch(image) if image is not None else None
        if mask is None:
            if "keep" not in params:
                raise ValueError(
                    "mask: RandomCausalResample needs a mask to know which pixels are causal; pass one and "
                    "include 'mask' in data_keys (e.g. data_keys=['input', 'mask'])"
                )
            keep = params["keep"]
        else:
            m = _mask_batch(mask)
            if batch is not None and m.device != batch.device:
                raise ValueError(
                    f"mask: expected a tensor on {batch.device} like the input image, got one on {m.device}; "
                    "move both to one device first (no silent copies between devices)"
                )
            if batch is not None:
                b, _, h, w = batch.shape
                if tuple(m.shape[-2:]) != (h, w):
                    raise ValueError(
                        f"mask: expected spatial size {(h, w)} like the input image of shape "
                        f"{tuple(batch.shape)}, got mask of shape {tuple(mask.shape)}"
                        + (
                            "; the image looks channels-last (B, H, W, C): Kornia expects (B, C, H, W), "
                            "e.g. image.permute(0, 3, 1, 2)"
                            if batch.shape[-1] in (1, 3, 4) and tuple(m.shape[-2:]) == tuple(batch.shape[1:3])
                            else ""
                        )
                    )
                if m.shape[0] not in (1, b):
                    raise ValueError(
                        f"mask: expected one mask per image ({b}) or one for the whole batch, "
                        f"got mask of shape {tuple(mask.shape)}"
                    )
                if m.shape[0] != b:
                    m = m.expand(b, -1, -1, -1)
            keep = self.role_spec.keep_map(m, "mask").contiguous()
            params["keep"] = keep
            self._checked_keep = keep  # made here, so in [0, 1]: the engine need not check it again
        if batch is not None and keep.shape[0] != batch.shape[0]:
            raise ValueError(
                f"mask: expected a keep-map for {batch.shape[0]} images, got one of shape {tuple(keep.shape)}"
            )
        return self._complete(params, int(keep.shape[0]))

    # Application -----------------------------------------------------------------------------------------

    def _resample(self, image: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        batch = _image_batch(image)
        keep = params["keep"].to(device=batch.device)
        # The gate lives on the augmentation's device, which need not be the image's.
        active = (params["batch_prob"] > 0.5).to(device=batch.device)
        out = apply_resample(
            batch,
            keep,
            self.resampler,
            params["seeds"],
            active=active,
            feather=self.feather,
            require_causal=self.require_causal,
            mask_name="mask",
            binary_keep=self.role_spec.mode == "binary",
            keep_is_valid=params["keep"] is getattr(self, "_checked_keep", None),
        )
        if self.keepdim and image.ndim < 4:
            return out.reshape(image.shape)
        return out

    def forward(  # type: ignore[override]
        self,
        *input: Any,
        params: dict[str, torch.Tensor] | None = None,
        data_keys: Sequence[str | int | DataKey] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Resample the images' non-causal pixels; return the other inputs unchanged.

        Args:
            *input: The inputs named by ``data_keys`` (default: image, mask).
            params: Parameters to replay, e.g. ``aug._params``; drawn when ``None``.
            data_keys: Keys of ``input``; default the constructor's ``data_keys``.
            **kwargs: Per-key options a container passes (mask interpolation); ignored.

        Returns:
            The outputs in input order; a single one as a bare tensor.

        Raises:
            TypeError: A non-float image (e.g. ``uint8``).
            ValueError: A missing mask, a mask that does not match the image, or values outside [0, 1].

        """
        keys = self.data_keys if data_keys is None else _parse_keys(data_keys)
        if len(keys) != len(input):
            hint = ""
            if len(input) == 1 and DataKey.MASK in keys:
                hint = "; the mask is missing: call aug(images, mask), or pass params= from an earlier call"
            raise ValueError(
                f"data_keys: got {len(keys)} keys {[k.name.lower() for k in keys]} for {len(input)} inputs{hint}"
            )
        if params is None:
            if DataKey.INPUT in keys:
                shape = tuple(_image_batch(input[keys.index(DataKey.INPUT)]).shape)
            elif DataKey.MASK in keys:
                shape = tuple(_mask_batch(input[keys.index(DataKey.MASK)]).shape)
            else:
                shape = (1,)
            params = self.forward_parameters(shape)
        self._params = params
        if DataKey.INPUT in keys:
            # A mask-only call (how the container applies this step to the mask) changes nothing.
            self.params_from_input(*input, data_keys=keys, params=params)
        outputs = [self._resample(x, params) if k == DataKey.INPUT else x for x, k in zip(input, keys, strict=True)]
        return outputs[0] if len(outputs) == 1 else outputs

    # Boxes and keypoints do not move when the background is resampled.

    def apply_transform_boxes(self, input: Any, params: dict[str, torch.Tensor], flags: dict[str, Any]) -> Any:
        """Return boxes unchanged."""
        return input

    def apply_transform_keypoint(
        self, input: torch.Tensor, params: dict[str, torch.Tensor], flags: dict[str, Any]
    ) -> torch.Tensor:
        """Return keypoints unchanged."""
        return input
