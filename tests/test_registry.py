import pytest

import causal_transforms as ct
from causal_transforms.backends.noise import NoiseResampler
from causal_transforms.registry import ResamplerSpec


def test_builtins_listed_with_provider():
    specs = ct.resampler_specs()
    for name in ["noise", "spectral", "swap", "telea"]:
        assert specs[name].provider == "causal_transforms.builtin"
    assert ct.list_resamplers() == sorted(ct.list_resamplers())


def test_unknown_name_lists_known_names():
    with pytest.raises(ValueError, match=r"resampler: unknown name 'nope'; expected one of \[.*'spectral'"):
        ct.create_resampler("nope")


def test_duplicate_registration_raises():
    with pytest.raises(ValueError, match=r"'noise' is already registered by 'causal_transforms\.builtin'"):
        ct.register_resampler(ResamplerSpec("noise", NoiseResampler))


def test_register_and_cache():
    spec = ct.register_resampler(ResamplerSpec("test-registry-noise", NoiseResampler, "test"), provider="tests")
    assert spec.provider == "tests"
    assert ct.resampler_specs()["test-registry-noise"].provider == "tests"
    a = ct.get_resampler("test-registry-noise")
    assert a is ct.get_resampler("test-registry-noise")
    assert a is not ct.get_resampler("test-registry-noise", {"distribution": "gaussian"})
    assert ct.create_resampler("test-registry-noise") is not a


def test_factory_must_return_a_resampler():
    ct.register_resampler(ResamplerSpec("test-registry-bad", lambda: object()))
    with pytest.raises(TypeError, match="expected a causal_transforms Resampler"):
        ct.create_resampler("test-registry-bad")


def test_import_is_lazy():
    import subprocess
    import sys

    code = (
        "import sys, causal_transforms; "
        "print(sorted(m for m in ('torch','cv2','albumentations','kornia','pluggy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
