import pytest
import torch

import causal_transforms as ct
from causal_transforms.backends.base import Resampler

BUILTIN = ["noise", "spectral", "swap", "telea"]


def _batch(b=3, c=3, h=24, w=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(b, c, h, w, generator=g)
    keep = torch.zeros(b, 1, h, w)
    keep[..., 6:14, 5:12] = 1
    return image, keep


@pytest.mark.parametrize("name", BUILTIN)
@pytest.mark.parametrize("channels", [1, 3, 4, 7])
def test_backend_contract(name, channels):
    backend = ct.create_resampler(name)
    assert isinstance(backend, Resampler)
    image, keep = _batch(c=channels)
    seeds = torch.tensor([1, 2, 3])
    out = backend(image, keep, seeds)
    assert out.shape == image.shape
    assert out.dtype == image.dtype
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(out, backend(image, keep, seeds)), "same seeds must give the same content"
    if backend.stochastic:
        assert not torch.equal(out, backend(image, keep, seeds * 7 + 1)), "new seeds must give new content"


def test_backend_content_does_not_depend_on_batch_composition():
    image, keep = _batch(b=3)
    for name in ["noise", "spectral", "telea"]:
        backend = ct.create_resampler(name)
        full = backend(image, keep, torch.tensor([4, 5, 6]))
        single = backend(image[1:2], keep[1:2], torch.tensor([5]))
        torch.testing.assert_close(full[1:2], single, atol=1e-6, rtol=0)


def test_swap_uses_another_samples_background():
    image = torch.stack([torch.full((3, 8, 8), v) for v in (0.1, 0.5, 0.9)])
    keep = torch.zeros(3, 1, 8, 8)
    out = ct.create_resampler("swap")(image, keep, torch.tensor([0, 1, 2]))
    for i in range(3):
        assert not torch.allclose(out[i], image[i]), "swap must never give a sample its own background"
        assert any(torch.allclose(out[i], image[j]) for j in range(3) if j != i)


def test_swap_fills_the_donors_object():
    image = torch.full((2, 1, 8, 8), 0.2)
    image[1, :, 2:6, 2:6] = 1.0  # donor's object
    keep = torch.zeros(2, 1, 8, 8)
    keep[1, :, 2:6, 2:6] = 1
    out = ct.create_resampler("swap")(image, keep, torch.tensor([0, 0]))
    assert torch.allclose(out[0], torch.full((1, 8, 8), 0.2)), "the donor's object must not appear"


def test_spectral_matches_background_statistics():
    g = torch.Generator().manual_seed(3)
    image = (0.3 + 0.1 * torch.randn(1, 3, 64, 64, generator=g)).clamp(0, 1)
    keep = torch.zeros(1, 1, 64, 64)
    out = ct.create_resampler("spectral")(image, keep, torch.tensor([9]))
    torch.testing.assert_close(out.mean(dim=(2, 3)), image.mean(dim=(2, 3)), atol=0.02, rtol=0)
    torch.testing.assert_close(out.std(dim=(2, 3)), image.std(dim=(2, 3)), atol=0.02, rtol=0)
    assert (out - image).abs().mean() > 0.05, "layout must be new"


def test_telea_is_conditional_and_grows_from_the_object():
    image = torch.zeros(1, 3, 16, 16)
    image[..., 6:10, 6:10] = 1.0
    keep = torch.zeros(1, 1, 16, 16)
    keep[..., 6:10, 6:10] = 1
    out = ct.create_resampler("telea")(image, keep, torch.tensor([0]))
    assert ct.resampler_specs()["telea"].conditional
    assert out[..., 5, 8].mean() > 0.9, "pixels next to the object take its colour"


@pytest.mark.parametrize(
    ("name", "options"),
    [("noise", {"distribution": "poisson"}), ("telea", {"radius": 0}), ("spectral", {"bogus": 1})],
)
def test_bad_options_are_named(name, options):
    with pytest.raises(ValueError, match=r"distribution|radius|resampler_options"):
        ct.create_resampler(name, **options)


@pytest.mark.parametrize("name", [*BUILTIN, "gan"])
def test_direct_calls_validate_their_inputs(name):
    backend = ct.create_resampler(name)
    image, keep = _batch(b=2)
    seeds = torch.tensor([1, 2])
    with pytest.raises(TypeError, match=r"image: expected a float \(B, C, H, W\) tensor"):
        backend(image[0], keep[0], seeds[:1])
    with pytest.raises(TypeError, match="image: expected a float"):
        backend((image * 255).to(torch.uint8), keep, seeds)
    with pytest.raises(ValueError, match=r"keep: expected a keep-map of shape \(2, 1, 24, 20\)"):
        backend(image, keep[..., :10], seeds)
    with pytest.raises(TypeError, match=r"seeds: expected an int64 tensor of shape \(2,\)"):
        backend(image, keep, seeds[:1])
    with pytest.raises(TypeError, match="seeds"):
        backend(image, keep, [1, 2])
    with pytest.raises(ValueError, match=r"image: expected values in \[0, 1\]"):
        backend(image * 3, keep, seeds)
    out = backend(image.half(), keep.half(), seeds)
    assert out.dtype == torch.float16, "content comes back in the image's dtype"


def test_engine_rejects_nan_keep_and_float_seeds():
    image, keep = _batch(b=2)
    bad = keep.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"keep-map with values in \[0, 1\]"):
        ct.apply_resample(image, bad, ct.create_resampler("noise"), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"keep-map with values in \[0, 1\]"):
        ct.apply_resample(image, keep * 2, ct.create_resampler("noise"), torch.tensor([1, 2]))
    with pytest.raises(TypeError, match="seeds"):
        ct.apply_resample(image, keep, ct.create_resampler("swap"), torch.tensor([1.5, 2.5]))


def _bad_donor_pools():
    pool, pool_keep = _batch(b=2, h=16, w=16, seed=4)
    return [
        ((pool, 255 * pool_keep), ValueError, r"donors: expected keeps with values in \[0, 1\], got .*\[0, 255\]"),
        ((pool * 2, pool_keep), ValueError, r"donors: expected images with values in \[0, 1\]"),
        (((pool * 255).to(torch.uint8), pool_keep), TypeError, "donors: expected float images .* got torch.uint8"),
        ((pool[:, :1], pool_keep), ValueError, r"donors: expected images of shape \(N, 3, h, w\)"),
        ((pool, pool_keep[:1]), ValueError, r"donors: expected keeps of shape \(2, 1, 16, 16\)"),
        (pool, TypeError, r"donors: expected a pair \(images, keeps\)"),
    ]


def test_donor_pools_are_checked_where_users_pass_them():
    """A mask passed as 0/255 or uint8 images as donors raise, instead of filling with garbage."""
    image, keep = _batch(b=1)
    swap = ct.create_resampler("swap")
    seeds = torch.tensor([3])
    for donors, error, message in _bad_donor_pools():
        with pytest.raises(error, match=message):
            swap(image, keep, seeds, donors)
        with pytest.raises(error, match=message):
            ct.apply_resample(image, keep, swap, seeds, donors=donors)
    good = _batch(b=2, h=16, w=16, seed=4)
    out = ct.apply_resample(image, keep, swap, seeds, donors=good)
    assert torch.equal(out[keep.expand_as(out) > 0], image[keep.expand_as(image) > 0])
    assert not torch.equal(out, image)


def test_swap_passes_over_donors_that_are_all_object():
    image, keep = _batch(b=1, seed=1)
    pool, pool_keep = _batch(b=2, seed=2)
    pool_keep[0] = 1  # no background to lend
    swap = ct.create_resampler("swap")
    for seed in range(6):  # whatever donor the seed picks, only the one with a background lends
        content = swap(image, keep, torch.tensor([seed]), (pool, pool_keep))
        assert torch.equal(content, swap(image, keep, torch.tensor([0]), (pool[1:], pool_keep[1:])))
    # No donor with a background at all: the sample's own background, mirrored, as without donors.
    alone = swap(image, keep, torch.tensor([3]), (pool[:1], pool_keep[:1]))
    assert torch.equal(alone, swap(image, keep, torch.tensor([3])))
    assert alone.std() > 0.05, "a real background, not a flat grey fill"


@pytest.mark.parametrize("name", [*BUILTIN, "gan"])
def test_generate_rows_equals_generate_on_the_gathered_rows(name):
    backend = ct.create_resampler(name)
    g = torch.Generator().manual_seed(6)
    batch = torch.rand(6, 3, 24, 24, generator=g)
    rows = torch.tensor([0, 2, 3, 5])
    keep = torch.zeros(4, 1, 24, 24)
    keep[..., 6:18, 8:16] = 1
    seeds = torch.tensor([11, 12, 13, 14])
    rows_content = backend.generate_rows(batch, rows, keep, seeds)
    assert torch.equal(rows_content, backend.generate(batch[rows], keep, seeds))


@pytest.mark.parametrize("name", ["noise", "spectral", "telea", "gan"])
def test_a_channels_last_samples_content_does_not_depend_on_the_rest_of_the_batch(name):
    """Bit for bit: a sample's content depends only on its pixels, keep-map and seed, whatever the
    batch's size or memory layout."""
    g = torch.Generator().manual_seed(9)
    image = torch.rand(5, 4, 40, 44, generator=g).contiguous(memory_format=torch.channels_last)
    keep = torch.zeros(5, 1, 40, 44)
    keep[..., 10:30, 12:30] = 1
    backend = ct.create_resampler(name)
    seeds = torch.arange(5) + 17
    full = backend(image, keep, seeds)
    for picked in ([1], [0, 3], [1, 2, 4]):
        rows = torch.tensor(picked)
        sub = backend(image[rows], keep[rows], seeds[rows])  # channels-last, as the batch
        gathered = backend(image.index_select(0, rows), keep[rows], seeds[rows])  # contiguous, as the engine's
        assert torch.equal(sub, full[rows]) and torch.equal(gathered, full[rows]), picked
