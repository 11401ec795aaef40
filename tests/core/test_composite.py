import pytest
import torch

from causal_transforms.backends.base import Resampler
from causal_transforms.core.composite import composite, composite_parts, composite_rows, select_bits
from causal_transforms.core.feather import feather_keep
from causal_transforms.core.fill import fill_holes
from causal_transforms.core.ranges import from_unit_float, to_unit_float
from causal_transforms.engine import apply_resample


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


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_select_bits_is_a_bit_exact_where(dtype):
    g = torch.Generator().manual_seed(0)
    a = torch.rand(2, 3, 9, 7, generator=g)
    b = torch.rand(2, 3, 9, 7, generator=g)
    if dtype == torch.uint8:
        a, b = (a * 255).to(dtype), (b * 255).to(dtype)
    else:
        a, b = a.to(dtype), b.to(dtype)
        a[0, 0, 0, :3] = torch.tensor([-0.0, float("nan"), float("-inf")], dtype=dtype)
    cond = torch.rand(2, 1, 9, 7, generator=g) > 0.5
    cond[0, 0, 0, :3] = True
    out = select_bits(cond, a, b)
    ref = torch.where(cond, a, b)
    width = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[a.element_size()]
    assert out.dtype == dtype and torch.equal(out.view(width), ref.view(width))


class _NaNBackend(Resampler):
    """A faulty plugin: claims bounded output but returns NaN."""

    bounded = True

    def generate(self, image, keep, seeds, donors=None):
        return torch.full_like(image, float("nan"))


def test_faulty_bounded_backend_cannot_touch_causal_pixels():
    image = torch.rand(2, 3, 8, 8)
    image[..., 2:4, 2:4] = -0.0
    keep = torch.zeros(2, 1, 8, 8)
    keep[..., 1:5, 1:5] = 1
    out = apply_resample(image, keep, _NaNBackend(), torch.tensor([1, 2]))
    causal = keep.bool().expand_as(image)
    assert torch.equal(out[causal].view(torch.int32), image[causal].view(torch.int32))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float16, torch.float32, torch.float64])
def test_select_bits_writes_into_out_of_any_layout(dtype):
    g = torch.Generator().manual_seed(3)
    a = (
        torch.rand(3, 5, 6, generator=g).to(dtype)
        if dtype != torch.uint8
        else torch.randint(0, 256, (3, 5, 6), dtype=dtype)
    )
    b = (
        torch.rand(3, 5, 6, generator=g).to(dtype)
        if dtype != torch.uint8
        else torch.randint(0, 256, (3, 5, 6), dtype=dtype)
    )
    cond = torch.rand(1, 5, 6, generator=g) > 0.5
    out = torch.empty(5, 6, 3, dtype=dtype).permute(2, 0, 1)  # channels-last storage
    assert select_bits(cond, a, b, out=out) is out
    assert torch.equal(out, torch.where(cond, a, b))


def test_composite_parts_reassemble_composite():
    g = torch.Generator().manual_seed(4)
    image = torch.randint(0, 256, (2, 3, 6, 7), dtype=torch.uint8, generator=g)
    gen = torch.rand(2, 3, 6, 7, generator=g)
    for keep in ((torch.rand(2, 1, 6, 7, generator=g) > 0.5).float(), torch.rand(2, 1, 6, 7, generator=g)):
        causal, fill = composite_parts(image, gen, keep)
        assert torch.equal(select_bits(causal, image, fill), composite(image, gen, keep))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("picked", [[0], [1, 2], [0, 2, 3], [0, 1, 2, 3, 4]])
def test_composite_rows_equals_composite_written_back_into_a_copy(dtype, soft, picked):
    g = torch.Generator().manual_seed(5)
    image = torch.rand(5, 3, 6, 7, generator=g)
    image = (image * 255).to(torch.uint8) if dtype == torch.uint8 else image.to(dtype)
    if dtype != torch.uint8:
        image[:, :, 0, 0] = -0.0  # causal below: must come back as -0.0, not 0.0
    rows = torch.tensor(picked)
    gen = torch.rand(len(picked), 3, 6, 7, generator=g)
    keep = torch.rand(len(picked), 1, 6, 7, generator=g)
    keep = keep if soft else (keep > 0.5).float()
    keep[..., 0, 0] = 1
    for binary in (None, False) if soft else (None, True):
        out = composite_rows(image, rows, gen, keep, binary=binary)
        ref = image.clone().index_copy_(0, rows, composite(image[rows], gen, keep, binary=binary))
        width = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[image.element_size()]
        assert out.dtype == image.dtype and torch.equal(out.view(width), ref.view(width))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_composite_takes_each_pixel_whole_from_the_image_or_the_content(dtype):
    """Where keep is 1 the image's bits (NaN payloads, -0.0), elsewhere the content's, never a mix."""
    g = torch.Generator().manual_seed(7)
    image = torch.rand(3, 2, 9, 11, generator=g)
    image = (image * 255).to(torch.uint8) if dtype == torch.uint8 else image.to(dtype)
    if dtype != torch.uint8:
        image[0, :, :3] = -0.0
        image[1, :, :3] = float("nan")
    keep = torch.rand(3, 1, 9, 11, generator=g)
    keep[..., :3, :] = 1.0
    keep[..., 3:5, :] = 0.0
    keep[..., 5, :] = torch.nextafter(torch.tensor(1.0), torch.tensor(0.0))  # just below 1: not causal
    gen = torch.rand(3, 2, 9, 11, generator=g)
    width = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[image.element_size()]
    for binary_keep in (keep, (keep >= 1).float()):
        out = composite(image, gen, binary_keep)
        causal, fill = composite_parts(image, gen, binary_keep)
        expected = torch.where(causal, image.view(width), fill.view(width))
        assert torch.equal(out.view(width), expected)
        assert torch.equal(causal, (binary_keep >= 1).expand_as(causal))


def test_composite_rows_names_bad_rows_and_shapes():
    image, gen, keep = torch.rand(4, 3, 5, 5), torch.rand(2, 3, 5, 5), torch.ones(2, 1, 5, 5)
    with pytest.raises(ValueError, match=r"rows: expected strictly ascending positions \(each row once\), got \[2, 1"):
        composite_rows(image, torch.tensor([2, 1]), gen, keep)
    with pytest.raises(ValueError, match=r"rows: expected strictly ascending positions .* got \[1, 1\]"):
        composite_rows(image, torch.tensor([1, 1]), gen, keep)
    with pytest.raises(ValueError, match=r"rows: expected positions in \[0, 4\), got \[1, 4\]"):
        composite_rows(image, torch.tensor([1, 4]), gen, keep)
    with pytest.raises(ValueError, match=r"rows: expected a 1-D int64 \(or int32\) tensor"):
        composite_rows(image, torch.tensor([[1, 2]]), gen, keep)
    with pytest.raises(ValueError, match=r"generated: expected shape \(2, 3, 5, 5\), one per row of \[0, 2\]"):
        composite_rows(image, torch.tensor([0, 2]), gen[:1], keep)
    with pytest.raises(ValueError, match=r"keep: expected shape \(2, 1, 5, 5\)"):
        composite_rows(image, torch.tensor([0, 2]), gen, torch.ones(2, 3, 5, 5))
    with pytest.raises(ValueError, match=r"image: expected a \(B, C, H, W\) batch"):
        composite_rows(image[0], torch.tensor([0]), gen, keep)


def test_a_nan_keep_value_keeps_the_pixel_in_every_composite():
    """NaN is no valid keep value (the engine refuses it); the composites agree to keep the pixel."""
    image = torch.tensor([[[[0.1, 0.2, 0.3]]]])
    gen = torch.full((1, 1, 1, 3), 0.9)
    keep = torch.tensor([[[[float("nan"), -float("nan"), 0.0]]]])
    causal, fill = composite_parts(image, gen, keep)
    assert causal.flatten().tolist() == [True, True, False]
    expected = [0.1, 0.2, 0.9]
    assert composite(image, gen, keep, binary=True).flatten().tolist() == pytest.approx(expected)
    assert torch.equal(composite(image, gen, keep, binary=True), select_bits(causal, image, fill))
    rows = composite_rows(image, torch.tensor([0]), gen, keep, binary=True)
    assert rows.flatten().tolist() == pytest.approx(expected)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float16, torch.bfloat16, torch.float32])
@pytest.mark.parametrize("others", [(0.0, 0.0), (0.0, 0.5)])
def test_composites_read_a_float64_keep_at_the_precision_they_compute_in(dtype, others):
    """A float64 keep just below 1 rounds to 1 for a narrower image: kept whole by every composite.

    (Found by an attack run: the background test read the float64 value while the binary test
    read the rounded one, so the pixel was replaced outright instead of kept or blended.)
    """
    if dtype == torch.uint8:
        image = torch.full((1, 1, 1, 3), 63, dtype=torch.uint8)
    else:
        image = torch.full((1, 1, 1, 3), 0.25, dtype=dtype)
    gen = torch.full((1, 1, 1, 3), 0.75)
    keep = torch.tensor([[[[1 - 1e-12, *others]]]], dtype=torch.float64)
    out = composite(image, gen, keep)
    causal, fill = composite_parts(image, gen, keep)
    assert causal.flatten().tolist() == [True, False, False]
    assert torch.equal(out, select_bits(causal, image, fill))
    assert torch.equal(composite_rows(image, torch.tensor([0]), gen, keep), out)
    assert out[..., 0].item() == image[..., 0].item()  # the image's own value, not the content
    assert out[..., 1].item() != image[..., 1].item()


def test_composites_name_an_image_that_is_no_tensor():
    gen, keep = torch.rand(1, 1, 2, 2), torch.ones(1, 1, 2, 2)
    for call in (composite, composite_parts):
        with pytest.raises(TypeError, match=r"^image: expected a torch\.Tensor, got list"):
            call([[0.5]], gen, keep)
    with pytest.raises(TypeError, match=r"^image: expected a torch\.Tensor, got list"):
        composite_rows([[0.5]], torch.tensor([0]), gen, keep)


class _WrongShape(Resampler):
    """A faulty plugin: returns one sample too few."""

    def generate(self, image, keep, seeds, donors=None):
        return image[1:].clone()


@pytest.mark.parametrize(("size", "method"), [(8, "generate"), (128, "generate_rows")])
def test_content_of_the_wrong_shape_is_refused_naming_the_method(size, method):
    image, keep = torch.rand(4, 3, size, size), torch.zeros(4, 1, size, size)
    active = torch.tensor([True, False, True, True])  # 128 px rows are read in place (generate_rows)
    expected = rf"^_WrongShape\.{method}: expected content of shape \(3, 3, {size}, {size}\)"
    with pytest.raises(RuntimeError, match=expected):
        apply_resample(image, keep, _WrongShape(), torch.arange(4), active=active)


class _UnboundedNaN(Resampler):
    """A faulty plugin that does not claim bounded output and returns NaN."""

    def generate(self, image, keep, seeds, donors=None):
        return torch.full_like(image, float("nan"))


@pytest.mark.parametrize("size", [8, 128])
def test_nan_content_of_an_unbounded_backend_is_refused(size):
    image, keep = torch.rand(3, 3, size, size), torch.zeros(3, 1, size, size)
    expected = r"^_UnboundedNaN\.generate(_rows)?: expected content in \[0, 1\], got NaN"
    for active in (None, torch.tensor([True, False, True])):
        with pytest.raises(RuntimeError, match=expected):
            apply_resample(image, keep, _UnboundedNaN(), torch.arange(3), active=active)
