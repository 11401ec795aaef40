"""The command line: list, fetch-data, augment (sample set and the user's own folders), plugins."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from causal_transforms.cli import main
from causal_transforms.cli.contact_sheet import contact_sheet_size
from causal_transforms.hookspecs import hookimpl
from causal_transforms.plugins import PluginWarning, plugin_manager


def _rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, path
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def _snapshot(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert out.splitlines()[0].split() == ["NAME", "PROVIDER", "CONDITIONAL", "DESCRIPTION"]
    for name in ("noise", "spectral", "swap", "telea"):
        assert "causal_transforms.builtin" in lines[name]
    assert lines["telea"].split()[2] == "yes"
    assert lines["spectral"].split()[2] == "no"


def test_list_json(capsys):
    assert main(["list", "--json"]) == 0
    records = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert records["telea"]["conditional"] is True
    assert records["swap"]["provider"] == "causal_transforms.builtin"


def test_no_command_and_bad_option(capsys):
    assert main([]) == 2
    assert main(["augment", "--variants", "0"]) == 2
    assert "--variants" in capsys.readouterr().err


def test_python_dash_m():
    result = subprocess.run(
        [sys.executable, "-m", "causal_transforms", "list"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "spectral" in result.stdout


def test_fetch_data_uses_the_cache(photo_cache, capsys):
    assert main(["fetch-data"]) == 0
    out = capsys.readouterr().out
    assert out.count("already in the cache") == 4
    assert str(photo_cache) in out


def test_augment_sample_set(photo_cache, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["augment", "--num-images", "2", "--variants", "2", "--size", "64", "--out", str(out), "--quiet"]
    assert main(args) == 0
    assert "4 variants written, 0 skipped" in capsys.readouterr().out

    records = _manifest(out)
    assert len(records) == 4
    names = sorted({r["source"] for r in records})
    assert len(names) == 2
    assert {r["label"] for r in records} == {"water", "land"}
    for r in records:
        assert r["resampler"] == "spectral" and r["resampler_options"] == {}
        assert isinstance(r["seed"], int)
        assert (out / r["image"]).is_file() and (out / r["mask"]).is_file()
    assert len({r["seed"] for r in records}) == 4
    for name in names:
        source = _rgb(out / "sources" / f"{name}.png")
        mask = cv2.imread(str(out / "sources" / f"{name}_mask.png"), cv2.IMREAD_UNCHANGED)
        assert source.shape == (64, 64, 3) and mask.shape == (64, 64)
        assert set(np.unique(mask)) == {0, 255}
        causal = mask == 255
        for k in (1, 2):
            variant = _rgb(out / "variants" / f"{name}_v{k}.png")
            variant_mask = cv2.imread(str(out / "masks" / f"{name}_v{k}.png"), cv2.IMREAD_UNCHANGED)
            np.testing.assert_array_equal(variant_mask, mask)
            np.testing.assert_array_equal(variant[causal], source[causal])
            assert (variant[~causal] != source[~causal]).any()
    sheet = cv2.imread(str(out / "contact_sheet.png"), cv2.IMREAD_COLOR)
    assert sheet.shape[:2] == contact_sheet_size(2, 4, 256)
    provenance = json.loads((out / "provenance.json").read_text())
    assert {s["bird"]["package"] for s in provenance["samples"]} == {"tuxpaint-stamps-default"}

    # A re-run writes nothing and keeps the manifest at 4 lines.
    before = _snapshot(out)
    assert main(args) == 0
    assert "0 variants written, 4 skipped" in capsys.readouterr().out
    assert _snapshot(out) == before
    assert len(_manifest(out)) == 4

    # One more variant: only the new one is generated; no duplicate lines.
    assert main([*args[:4], "3", *args[5:]]) == 0
    assert "2 variants written, 4 skipped" in capsys.readouterr().out
    assert len(_manifest(out)) == 6


def test_augment_resampler_options_and_sheet_cell(photo_cache, tmp_path):
    out = tmp_path / "out"
    args = ["augment", "--num-images", "2", "--variants", "1", "--size", "32", "--out", str(out), "--quiet"]
    extra = ["--resampler", "noise", "--resampler-option", "distribution=gaussian", "--sheet-cell", "48"]
    assert main([*args, *extra]) == 0
    assert _manifest(out)[0]["resampler_options"] == {"distribution": "gaussian"}
    sheet = cv2.imread(str(out / "contact_sheet.png"), cv2.IMREAD_COLOR)
    assert sheet.shape[:2] == contact_sheet_size(2, 3, 48)


@pytest.mark.parametrize("resampler", ["swap", "telea"])
def test_augment_other_backends_keep_causal_pixels(photo_cache, tmp_path, resampler):
    out = tmp_path / "out"
    args = ["augment", "--num-images", "3", "--variants", "2", "--size", "48", "--out", str(out), "--quiet"]
    assert main([*args, "--resampler", resampler, "--sheet-rows", "0"]) == 0
    assert not (out / "contact_sheet.png").exists()
    for r in _manifest(out):
        source = _rgb(out / r["source_image"])
        causal = cv2.imread(str(out / r["source_mask"]), cv2.IMREAD_UNCHANGED) == 255
        variant = _rgb(out / r["image"])
        np.testing.assert_array_equal(variant[causal], source[causal])
        assert (variant[~causal] != source[~causal]).any()


def _user_folder(tmp_path: Path, n: int = 2, mask_values=(1,)) -> tuple[Path, Path]:
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        cv2.imwrite(str(images / f"photo{i}.png"), rng.integers(0, 256, (40, 56, 3), dtype=np.uint8))
        mask = np.zeros((40, 56), np.uint8)
        mask[8:30, 10:40] = mask_values[i % len(mask_values)]
        cv2.imwrite(str(masks / f"photo{i}.png"), mask)
    return images, masks


def test_augment_user_folders(tmp_path, capsys):
    images, masks = _user_folder(tmp_path, 2, mask_values=(1, 2))
    out = tmp_path / "out"
    base = ["augment", "--images", str(images), "--masks", str(masks), "--out", str(out), "--quiet"]
    assert main([*base, "--variants", "3", "--causal-values", "1,2"]) == 0
    records = _manifest(out)
    assert len(records) == 6
    assert records[0]["roles"]["causal_values"] == [1, 2]
    for r in records:
        source = _rgb(images / f"{r['source']}.png")
        variant = _rgb(out / r["image"])
        user_mask = cv2.imread(str(masks / f"{r['source']}.png"), cv2.IMREAD_UNCHANGED)
        # masks/ holds the user's mask unchanged (labels 1 or 2, not 0/255).
        np.testing.assert_array_equal(cv2.imread(str(out / r["mask"]), cv2.IMREAD_UNCHANGED), user_mask)
        causal = user_mask > 0
        np.testing.assert_array_equal(variant[causal], source[causal])
        assert (variant[~causal] != source[~causal]).any()
    sheet = cv2.imread(str(out / "contact_sheet.png"), cv2.IMREAD_COLOR)
    assert sheet.shape[:2] == contact_sheet_size(2, 5, 256)

    # Label roles: label 2 is resampled like the background in photo1.
    out2 = tmp_path / "out2"
    roles = json.dumps({"0": "resample", "1": "keep", "2": "resample"})
    assert main([*base[:5], "--out", str(out2), "--quiet", "--roles", roles, "--variants", "1"]) == 0
    variant = _rgb(out2 / "variants" / "photo1_v1.png")
    assert (variant[8:30, 10:40] != _rgb(images / "photo1.png")[8:30, 10:40]).any()


def test_augment_rerun_with_another_resampler_says_it_replaced_variants(tmp_path, capsys):
    images, masks = _user_folder(tmp_path, 2, mask_values=(1,))
    out = tmp_path / "out"
    base = ["augment", "--images", str(images), "--masks", str(masks), "--out", str(out), "--quiet", "--variants", "2"]
    assert main([*base, "--resampler", "noise"]) == 0
    assert "replaced" not in capsys.readouterr().out
    assert main([*base, "--resampler", "noise"]) == 0  # same settings: everything skipped, nothing replaced
    text = capsys.readouterr().out
    assert "0 variants written, 4 skipped" in text and "replaced" not in text
    assert main([*base, "--resampler", "spectral"]) == 0
    text = capsys.readouterr().out
    assert "4 variants written" in text
    assert "note: 4 of them replaced variants an earlier run made" in text
    assert {r["resampler"] for r in _manifest(out)} == {"spectral"}


def test_augment_mask_size_mismatch(tmp_path, capsys):
    images, masks = _user_folder(tmp_path, 2)
    cv2.imwrite(str(masks / "photo1.png"), np.zeros((20, 20), np.uint8))
    code = main(["augment", "--images", str(images), "--masks", str(masks), "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "photo1.png" in err and "20x20" in err and "56x40" in err and "size" in err


def test_augment_unmatched_files_are_named(tmp_path, capsys):
    images, masks = _user_folder(tmp_path, 2)
    (masks / "photo1.png").rename(masks / "other.png")
    code = main(["augment", "--images", str(images), "--masks", str(masks), "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "photo1.png" in err and "other.png" in err


def test_augment_argument_errors(tmp_path, capsys):
    images, masks = _user_folder(tmp_path, 1)
    cases = [
        (["--images", str(tmp_path / "missing"), "--masks", str(masks)], "does not exist"),
        (["--images", str(images)], "give both folders"),
        (["--images", str(images), "--masks", str(masks), "--size", "64"], "--size"),
        (["--images", str(images), "--masks", str(masks), "--roles", "{bad"], "--roles"),
        (["--resampler", "no-such-backend"], "unknown name"),
        (["--resampler", "noise", "--resampler-option", "nokey"], "KEY=VALUE"),
    ]
    for extra, expected in cases:
        assert main(["augment", "--out", str(tmp_path / "o"), "--quiet", *extra]) == 2, extra
        assert expected in capsys.readouterr().err


class _HelloPlugin:
    @hookimpl
    def causal_transforms_add_commands(self, subparsers):
        parser = subparsers.add_parser("hello", help="say hello")
        parser.set_defaults(func=lambda args: print("hello from a plugin") or 0)


class _BrokenPlugin:
    @hookimpl
    def causal_transforms_add_commands(self, subparsers):
        raise RuntimeError("boom")


def test_plugins_add_commands_and_a_broken_one_is_skipped(capsys):
    pm = plugin_manager()
    pm.register(_HelloPlugin(), name="test-hello")
    pm.register(_BrokenPlugin(), name="test-broken")
    try:
        with pytest.warns(PluginWarning, match="test-broken"):
            assert main(["hello"]) == 0
        assert "hello from a plugin" in capsys.readouterr().out
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PluginWarning)
            assert main(["list"]) == 0
    finally:
        pm.unregister(name="test-hello")
        pm.unregister(name="test-broken")


def test_augment_runs_accumulate_provenance(photo_cache, tmp_path):
    out = tmp_path / "out"
    base = ["augment", "--num-images", "2", "--variants", "1", "--size", "32", "--out", str(out), "--quiet"]
    assert main(base) == 0
    assert main([*base, "--seed", "5"]) == 0
    sources = {r["source"] for r in _manifest(out)}
    recorded = {r["source"] for r in json.loads((out / "provenance.json").read_text())["samples"]}
    assert len(sources) > 2 and recorded == sources, "every source in the manifest keeps its licence record"
