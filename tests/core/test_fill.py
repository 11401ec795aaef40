"""The push-pull hole fill: known pixels untouched, holes convex, odd sizes and low precision."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from causal_transforms.core.fill import _half, fill_holes

DTYPES = {
    torch.float32: 1e-6,
    torch.float64: 1e-12,
    torch.bfloat16: 1e-2,
    torch.float16: 2e-3,
}


@st.composite
def fill_inputs(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor]:
    b = draw(st.integers(1, 3))
    c = draw(st.integers(1, 4))
    h = draw(st.integers(1, 41))
    w = draw(st.integers(1, 41))
    dtype = draw(st.sampled_from(list(DTYPES)))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(b, c, h, w, generator=g).to(dtype)
    kind = draw(st.sampled_from(["binary", "fractional", "blob"]))
    if kind == "binary":
        weight = (torch.rand(b, 1, h, w, generator=g) < draw(st.floats(0.0, 1.0))).float()
    elif kind == "fractional":
        weight = torch.rand(b, 1, h, w, generator=g) * (torch.rand(b, 1, h, w, generator=g) < 0.6)
    else:  # one rectangular hole, as an object mask makes
        weight = torch.ones(b, 1, h, w)
        top, left = draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))
        weight[..., top : top + draw(st.integers(1, h)), left : left + draw(st.integers(1, w))] = 0
    if b > 1 and draw(st.booleans()):
        weight[0] = 0  # a sample with no known pixel at all
    return image, weight.to(dtype)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fill_inputs())
def test_fill_keeps_known_pixels_and_fills_holes_with_convex_combinations(inputs):
    image, weight = inputs
    filled = fill_holes(image, weight)
    assert filled.shape == image.shape and filled.dtype == image.dtype
    known = (weight > 1e-6).expand_as(image)
    assert torch.equal(filled[known], image[known])  # bit-identical, not just close
    assert bool(torch.isfinite(filled).all())
    tol = DTYPES[image.dtype]
    for i in range(image.shape[0]):
        if not bool(known[i].any()):
            # 0.5, up to the rounding of bilinear weights on the way up
            assert float((filled[i].double() - 0.5).abs().max()) <= tol, "a sample without known pixels is 0.5"
            continue
        for ch in range(image.shape[1]):
            values = image[i, ch][known[i, ch]].double()
            holes = filled[i, ch][~known[i, ch]].double()
            if holes.numel():
                assert holes.min() >= values.min() - tol and holes.max() <= values.max() + tol


def test_fill_takes_the_nearest_known_region():
    image = torch.zeros(1, 1, 8, 32)
    image[..., :8] = 0.1
    image[..., 24:] = 0.9
    weight = torch.zeros(1, 1, 8, 32)
    weight[..., :8] = 1
    weight[..., 24:] = 1
    filled = fill_holes(image, weight)[0, 0, 4]
    assert filled[9] < 0.5 < filled[22], filled.tolist()
    assert bool((filled[8:24].diff() >= -1e-6).all()), "the fill rises monotonically from the dark side to the bright"


@pytest.mark.parametrize("shape", [(2, 3, 64, 64), (1, 1, 32, 96), (3, 2, 8, 8), (1, 4, 2, 2)])
def test_half_is_the_2x2_mean_on_even_sizes(shape):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(_half(x), F.avg_pool2d(x, 2))


def test_half_pads_odd_edges_with_zeros():
    x = torch.ones(1, 1, 3, 65)
    half = _half(x)
    assert half.shape == (1, 1, 2, 33)
    # full window, bottom edge (half padded), right edge (half padded), corner (three quarters padded)
    assert [float(half[0, 0, i, j]) for i, j in ((0, 0), (1, 0), (0, -1), (1, -1))] == [1.0, 0.5, 0.5, 0.25]


def test_fill_names_bad_arguments_and_returns_the_image_dtype():
    image = torch.rand(2, 3, 8, 8)
    with pytest.raises(TypeError, match="image: expected a floating-point"):
        fill_holes((image * 255).to(torch.uint8), torch.ones(2, 1, 8, 8))
    with pytest.raises(ValueError, match=r"image: expected a non-empty \(B, C, H, W\)"):
        fill_holes(image[0], torch.ones(1, 8, 8))
    with pytest.raises(ValueError, match=r"weight: expected shape \(2, 1, 8, 8\)"):
        fill_holes(image, torch.ones(2, 3, 8, 8))
    half = fill_holes(image.half(), torch.ones(2, 1, 8, 8))  # float32 weights, float16 image
    assert half.dtype == torch.float16


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fill_inputs(), st.data())
def test_fill_of_rows_read_in_place_equals_the_fill_of_the_gathered_rows(inputs, data):
    image, weight = inputs
    extra = data.draw(st.integers(0, 3))  # rows the fill must not read
    batch = torch.cat([image, torch.rand(extra, *image.shape[1:]).to(image.dtype)]) if extra else image
    order = data.draw(st.permutations(range(batch.shape[0])))
    picked = sorted(order[: image.shape[0]])
    rows = torch.tensor(picked, dtype=torch.int64)
    batch = batch.clone()
    batch[rows] = image
    assert torch.equal(fill_holes(batch, weight, rows=rows), fill_holes(image, weight))


def test_fill_names_bad_rows():
    image = torch.rand(3, 3, 8, 8)
    with pytest.raises(ValueError, match=r"rows: expected a 1-D int64 \(or int32\) tensor"):
        fill_holes(image, torch.ones(1, 1, 8, 8), rows=torch.tensor([0.0]))
    with pytest.raises(ValueError, match=r"rows: expected positions in \[0, 3\), got \[3\]"):
        fill_holes(image, torch.ones(1, 1, 8, 8), rows=torch.tensor([3]))
    with pytest.raises(ValueError, match=r"weight: expected shape \(2, 1, 8, 8\) for 2 rows"):
        fill_holes(image, torch.ones(3, 1, 8, 8), rows=torch.tensor([0, 2]))


@pytest.mark.parametrize("layout", ["channels_last", "transposed"])
def test_fill_of_any_layout_equals_the_contiguous_fill_and_keeps_known_bits(layout):
    g = torch.Generator().manual_seed(8)
    base = torch.rand(4, 4, 64, 64, generator=g)
    base[base < 0.05] = -0.0  # known -0.0 pixels must come back as -0.0
    if layout == "channels_last":
        image = base.contiguous(memory_format=torch.channels_last)
    else:
        image = base.transpose(-1, -2).contiguous().transpose(-1, -2)  # same values, strided storage
    weight = (torch.rand(4, 1, 64, 64, generator=g) > 0.3).float()
    rows = torch.tensor([1, 3])
    reference = fill_holes(base, weight)
    assert torch.equal(fill_holes(image, weight).view(torch.int32), reference.view(torch.int32))
    in_place = fill_holes(image, weight[rows], rows=rows)
    assert torch.equal(in_place.view(torch.int32), reference[rows].view(torch.int32))
    assert torch.equal(in_place.view(torch.int32), fill_holes(image[rows], weight[rows]).view(torch.int32))
    known = (weight[rows] > 1e-6).expand_as(in_place)
    assert torch.equal(in_place[known].view(torch.int32), base[rows][known].view(torch.int32))


def test_fill_refuses_empty_rows_as_it_refuses_an_empty_batch():
    image = torch.rand(2, 3, 8, 8)
    with pytest.raises(ValueError, match="rows: expected at least one batch position, got none"):
        fill_holes(image, torch.ones(0, 1, 8, 8), rows=torch.tensor([], dtype=torch.int64))
