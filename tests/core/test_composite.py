import pytest
import torch

from causal_transforms.core.composite import composite
from causal_transforms.core.feather import feather_keep
from causal_transforms.core.fill import fill_holes
from causal_transforms.core.ranges import from_unit_float, to_unit_float


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_composite_keeps_causal_pixels_bit_identical(dtype):
    g = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, 9, 7, generator=g)
    image = (image * 255).to(torch.uint8) if dtype == torch.uint8 else image.to(dtype)
    keep = (torch.rand(2, 1, 9, 7, generator=g) > 0.5).float()
    keep[0, 0, 0, 0] = 0.3  # a soft pixel
    out = composite(image, torch.rand(2, 3, 9, 7, generator=g), keep)
    assert out.dtype == dtype
    causal = (keep >= 1).expand_as(image)
    assert torch.equal(out[causal], image[causal])
    assert not torch.equal(out[~causal], image[~causal])


def test_composite_blends_soft_pixels():
    image = torch.zeros(1, 1, 1, 1)
    out = composite(image, torch.ones(1, 1, 1, 1), torch.full((1, 1, 1, 1), 0.25))
    assert out.item() == pytest.approx(0.75)


def test_feather_only_widens_outward():
    keep = torch.zeros(1, 1, 9, 9)
    keep[..., 3:6, 3:6] = 1
    f = feather_keep(keep, 2)
    assert torch.equal(f[keep == 1], keep[keep == 1])
    assert (f >= keep).all()
    assert f[0, 0, 2, 4] == pytest.approx(2 / 3)
    assert f[0, 0, 1, 4] == pytest.approx(1 / 3)
    assert f[0, 0, 0, 4] == 0
    with pytest.raises(ValueError, match="feather"):
        feather_keep(keep, -1)


def test_fill_holes_keeps_known_pixels_and_fills_holes():
    image = torch.rand(1, 3, 16, 16)
    weight = torch.ones(1, 1, 16, 16)
    weight[..., 4:12, 4:12] = 0
    filled = fill_holes(image, weight)
    known = weight.expand_as(image) > 0
    assert torch.equal(filled[known], image[known])
    assert torch.isfinite(filled).all()
    assert filled[..., 4:12, 4:12].min() >= image.min() - 1e-6
    assert filled[..., 4:12, 4:12].max() <= image.max() + 1e-6


def test_ranges():
    assert to_unit_float(torch.tensor([0, 255], dtype=torch.uint8)).tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match=r"image: expected float values in \[0, 1\]"):
        to_unit_float(torch.tensor([0.0, 2.0]))
    with pytest.raises(ValueError, match="image"):
        to_unit_float(torch.tensor([float("nan")]))
    with pytest.raises(TypeError, match="image: expected dtype"):
        to_unit_float(torch.tensor([1], dtype=torch.int32))
    assert from_unit_float(torch.tensor([0.5]), torch.uint8).item() == 128
