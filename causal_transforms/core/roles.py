"""Causal-role maps: turn what the user gives into the one internal keep-map.

The library's single convention is a float keep-map in [0, 1]: ``1`` marks causal pixels
(kept bit-identical), ``0`` non-causal pixels (resampled), values in between blend. Users
give one of:

* ``mode="binary"``: a mask where the values in ``causal_values`` are causal (by default any
  non-zero value is causal: the usual object mask of 1 or 255);
* ``mode="labels"``: an integer label map plus ``roles``, ``{label: "keep" | "resample" |
  weight}`` with ``weight`` in [0, 1];
* ``mode="alpha"``: a soft alpha in [0, 1] (``uint8`` alpha is divided by 255).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch

__all__ = ["ROLE_WEIGHTS", "RoleMode", "RoleSpec"]

RoleMode = Literal["binary", "labels", "alpha"]
ROLE_WEIGHTS: dict[str, float] = {"keep": 1.0, "resample": 0.0}
_MODES = ("binary", "labels", "alpha")


def _role_weight(label: object, role: object) -> float:
    if isinstance(role, str):
        if role not in ROLE_WEIGHTS:
            raise ValueError(
                f"roles: expected 'keep', 'resample' or a weight in [0, 1] for label {label!r}, got {role!r}"
            )
        return ROLE_WEIGHTS[role]
    if isinstance(role, bool) or not isinstance(role, (int, float)):
        raise ValueError(f"roles: expected 'keep', 'resample' or a weight in [0, 1] for label {label!r}, got {role!r}")
    weight = float(role)
    if not (0.0 <= weight <= 1.0):
        raise ValueError(f"roles: expected a weight in [0, 1] for label {label!r}, got {role!r}")
    return weight


def _as_label(label: object) -> int:
    if isinstance(label, bool) or not isinstance(label, (int, float, str)):
        raise ValueError(f"roles: expected integer labels as keys, got {label!r}")
    try:
        value = float(label)
    except ValueError:
        raise ValueError(f"roles: expected integer labels as keys, got {label!r}") from None
    if not value.is_integer():
        raise ValueError(f"roles: expected integer labels as keys, got {label!r}")
    return int(value)


@dataclass(frozen=True)
class RoleSpec:
    """How a user's mask says which pixels are causal.

    Args:
        mode: ``"binary"``, ``"labels"`` or ``"alpha"`` (see the module docstring). When
            ``None``, ``"labels"`` if ``roles`` is given, else ``"binary"``.
        causal_values: For ``"binary"``: the mask values that mean causal. ``None`` means any
            non-zero value.
        roles: For ``"labels"``: ``{label: "keep" | "resample" | weight}``. JSON/YAML string
            keys such as ``"1"`` are accepted.
        strict_roles: For ``"labels"``: raise when ``roles`` names a label that is absent from
            the map. Labels present in the map but missing from ``roles`` always raise.

    Example:
        >>> spec = RoleSpec(roles={0: "resample", 1: "keep"})
        >>> spec.keep_map(torch.tensor([[0, 1]])).tolist()
        [[0.0, 1.0]]

    """

    mode: RoleMode | None = None
    causal_values: tuple[float, ...] | None = None
    roles: Mapping[int, str | float] | None = None
    strict_roles: bool = True
    _weights: tuple[tuple[int, float], ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        mode = self.mode
        if mode is None:
            mode = "labels" if self.roles is not None else "binary"
        if mode not in _MODES:
            raise ValueError(f"mask_mode: expected one of {_MODES}, got {mode!r}")
        object.__setattr__(self, "mode", mode)
        if mode == "labels":
            if not isinstance(self.roles, Mapping) or not self.roles:
                raise ValueError(
                    f"roles: mode 'labels' needs a non-empty mapping {{label: 'keep' | 'resample'}}, got {self.roles!r}"
                )
            weights = tuple(sorted((_as_label(k), _role_weight(k, v)) for k, v in self.roles.items()))
            object.__setattr__(self, "_weights", weights)
        elif self.roles is not None:
            raise ValueError(f"roles: only used with mode 'labels', got mode {mode!r}")
        if self.causal_values is not None:
            if mode != "binary":
                raise ValueError(f"causal_values: only used with mode 'binary', got mode {mode!r}")
            values = self.causal_values
            if isinstance(values, (int, float)) and not isinstance(values, bool):
                values = (values,)
            if not isinstance(values, Sequence) or isinstance(values, str) or not values:
                raise ValueError(f"causal_values: expected a non-empty sequence of numbers, got {self.causal_values!r}")
            clean = []
            for v in values:
                if isinstance(v, bool):
                    v = int(v)
                if not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise ValueError(f"causal_values: expected finite numbers, got {self.causal_values!r}")
                clean.append(float(v))
            object.__setattr__(self, "causal_values", tuple(clean))

    def keep_map(self, mask: torch.Tensor, name: str = "mask") -> torch.Tensor:
        """Convert ``mask`` into a float32 keep-map of the same shape (1 = causal, 0 = resampled).

        Args:
            mask: The user's mask tensor (any shape; bool, integer or float).
            name: The argument name to report in errors.

        Returns:
            A float32 tensor in [0, 1] with the shape and device of ``mask``.

        Raises:
            TypeError: Unsupported mask dtype.
            ValueError: NaN or infinite values; alpha outside [0, 1]; label maps with
                non-integer values, labels without a role, or roles for absent labels.

        Example:
            >>> RoleSpec(causal_values=(2,)).keep_map(torch.tensor([0, 2, 1])).tolist()
            [0.0, 1.0, 0.0]

        """
        if not isinstance(mask, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor or numpy array, got {type(mask).__name__}")
        if mask.is_complex():
            raise TypeError(f"{name}: expected a real-valued mask, got dtype {mask.dtype}")
        if mask.is_floating_point() and mask.numel():
            lo, hi = torch.aminmax(mask.float() if mask.dtype in (torch.float16, torch.bfloat16) else mask)
            if not (math.isfinite(float(lo)) and math.isfinite(float(hi))):  # one pass: NaN and inf reach an extreme
                raise ValueError(f"{name}: expected finite values, got NaN or infinite entries")
        if self.mode == "binary":
            if self.causal_values is None:
                return _nonzero(mask)
            values = torch.tensor(self.causal_values, device=mask.device, dtype=torch.float64)
            return torch.isin(mask.to(torch.float64), values).to(torch.float32)
        if self.mode == "alpha":
            if mask.dtype == torch.bool:
                return mask.to(torch.float32)
            if mask.dtype == torch.uint8:
                return mask.to(torch.float32) / 255.0
            alpha = mask.to(torch.float32)
            if alpha.numel():
                lo, hi = float(alpha.min()), float(alpha.max())
                if lo < 0.0 or hi > 1.0:
                    raise ValueError(
                        f"{name}: expected values in [0, 1] for mode 'alpha', got values in [{lo:g}, {hi:g}]"
                    )
            return alpha
        return self._labels_keep_map(mask, name)

    def _labels_keep_map(self, mask: torch.Tensor, name: str) -> torch.Tensor:
        if mask.is_floating_point() and mask.numel() and not bool((mask == mask.round()).all()):
            raise ValueError(f"{name}: mode 'labels' expects integer labels, got non-integer values")
        present = {int(v) for v in torch.unique(mask.to(torch.int64)).tolist()} if mask.numel() else set()
        known = {label for label, _ in self._weights}
        missing = sorted(present - known)
        if missing:
            raise ValueError(
                f"roles: labels {missing} occur in {name} but have no role; "
                f"expected a role for every label in {sorted(present)}, got roles for {sorted(known)}"
            )
        absent = sorted(known - present)
        if absent and self.strict_roles:
            raise ValueError(
                f"roles: expected every label named in roles to occur in {name} (strict_roles=True), got labels "
                f"{absent} that are absent (labels present: {sorted(present)}); pass strict_roles=False to allow this"
            )
        keep = torch.zeros(mask.shape, dtype=torch.float32, device=mask.device)
        labels = mask.to(torch.int64)
        for label, weight in self._weights:
            if weight:
                keep.masked_fill_(labels == label, weight)
        return keep


def _nonzero(mask: torch.Tensor) -> torch.Tensor:
    """``(mask != 0)`` as a new float32 tensor, by the cheapest route for the dtype.

    On CPUs a comparison that produces ``bool`` and its conversion to float are several times
    slower than the comparison written straight into a float32 tensor (``-0.0`` compares equal to
    0; NaN is rejected before this is called) or, for ``bool``, a byte view converted to float.
    """
    if mask.dtype == torch.bool:
        return mask.view(torch.uint8).to(torch.float32)
    return torch.ne(mask, 0, out=torch.empty(mask.shape, dtype=torch.float32, device=mask.device))
