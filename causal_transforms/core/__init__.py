"""Pure functions on tensors: role maps, feathering, compositing, value ranges, seeding, devices.

Nothing here knows a backend or a host library.
"""

from causal_transforms.core.composite import composite
from causal_transforms.core.devices import CUDAInForkedWorkerError, check_device
from causal_transforms.core.feather import feather_keep
from causal_transforms.core.fill import fill_holes
from causal_transforms.core.ranges import from_unit_float, to_unit_float
from causal_transforms.core.roles import RoleSpec
from causal_transforms.core.seeding import derive_seed, draw_seeds, per_sample_generators

__all__ = [
    "CUDAInForkedWorkerError",
    "RoleSpec",
    "check_device",
    "composite",
    "derive_seed",
    "draw_seeds",
    "feather_keep",
    "fill_holes",
    "from_unit_float",
    "per_sample_generators",
    "to_unit_float",
]
