"""The Debian fetcher and the cache location, tested without network."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from causal_transforms.data import debian
from causal_transforms.data.cache import cache_dir
from causal_transforms.data.debian import debian_dir, debian_provenance, fetch_debian_files, is_fetched
from causal_transforms.data.photos import catalogue_patterns


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("CAUSAL_TRANSFORMS_CACHE", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == (tmp_path / "explicit").resolve()
    monkeypatch.delenv("CAUSAL_TRANSFORMS_CACHE")
    assert cache_dir() == (tmp_path / "xdg" / "causal_transforms").resolve()
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == (tmp_path / "home" / ".cache" / "causal_transforms").resolve()


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="package"):
        fetch_debian_files("Bad Name", ["x"], cache=tmp_path)
    with pytest.raises(ValueError, match="patterns"):
        fetch_debian_files("tuxpaint-data", [], cache=tmp_path)
    with pytest.raises(ValueError, match="patterns"):
        fetch_debian_files("tuxpaint-data", "usr/share/x", cache=tmp_path)
    with pytest.raises(ValueError, match="patterns"):
        fetch_debian_files("tuxpaint-data", ["../etc/passwd"], cache=tmp_path)


def test_empty_cache_is_not_fetched(tmp_path):
    assert not is_fetched("tuxpaint-data", ["usr/share/x.jpg"], cache=tmp_path)
    assert debian_provenance("tuxpaint-data", cache=tmp_path) is None
    assert debian_dir("tuxpaint-data", cache=tmp_path) == tmp_path.resolve() / "debian" / "tuxpaint-data"


def test_missing_apt_gives_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(debian.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError) as info:
        fetch_debian_files("tuxpaint-data", ["usr/share/x.jpg"], cache=tmp_path)
    message = str(info.value)
    assert "'tuxpaint-data'" in message and "apt-get" in message
    assert "--images DIR --masks DIR" in message


def test_failed_download_shows_apt_stderr(monkeypatch, tmp_path):
    calls = []

    def fake_run(cmd, cwd, **kwargs):
        calls.append(cmd)
        assert Path(cwd).is_relative_to(tmp_path)  # downloads go into the cache, never the working tree
        return subprocess.CompletedProcess(cmd, 100, "", "E: Unable to locate package tuxpaint-data\n")

    monkeypatch.setattr(debian.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(debian, "_run", fake_run)
    monkeypatch.setattr(debian, "_apt_updated", False)
    monkeypatch.setattr(debian.os, "geteuid", lambda: 0)
    with pytest.raises(RuntimeError, match="Unable to locate package") as info:
        fetch_debian_files("tuxpaint-data", ["usr/share/x.jpg"], cache=tmp_path)
    assert "could not fetch the Debian package 'tuxpaint-data'" in str(info.value)
    # As root: one `apt-get update`, then one retry.
    assert calls == [
        ["apt-get", "download", "tuxpaint-data"],
        ["apt-get", "update"],
        ["apt-get", "download", "tuxpaint-data"],
    ]
    assert not debian_dir("tuxpaint-data", cache=tmp_path).exists()


def test_fetched_package_is_not_fetched_again(photo_cache, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("fetch_debian_files ran a command although the files are cached")

    monkeypatch.setattr(debian, "_run", no_network)
    monkeypatch.setattr(debian.subprocess, "Popen", no_network)
    for package, paths in catalogue_patterns().items():
        folder = fetch_debian_files(package, paths)
        assert folder == debian_dir(package)
        record = debian_provenance(package)
        assert record["package"] == package
        assert record["version"] and record["version"] != "unknown"
        assert record["deb"].startswith(package + "_") and len(record["sha256"]) == 64
        assert set(paths) <= set(record["files"])
        assert all((folder / p).is_file() for p in paths)
