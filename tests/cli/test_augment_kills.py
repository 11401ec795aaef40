"""``causal-transforms augment`` survives SIGKILL.

The real command is killed at random points (during start-up, right after a file lands, after a
random number of files, and in the middle of an atomic write), then re-run to completion. The
output must be complete, hold no temporaries and equal an uninterrupted run byte for byte.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from causal_transforms.cli.contact_sheet import contact_sheet_size

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 120
SEED = 20240607
# The default job: 12 sample-set images of 256 px, 4 variants each, a 12-row contact sheet.
IMAGES, VARIANTS, SIZE = 12, 4, 256
FOLDERS = ("", "sources", "variants", "masks")

Trigger = Callable[[float, Path, set[str]], bool]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env["PYTHONWARNINGS"] = "ignore::DeprecationWarning"
    return env


def _command(out: Path, cache: Path) -> list[str]:
    return [sys.executable, "-m", "causal_transforms", "augment", "--out", str(out), "--cache", str(cache), "--quiet"]


def _names(out: Path) -> set[str]:
    """Every file in the output folders (temporaries included), as a path relative to ``out``."""
    names: set[str] = set()
    for sub in FOLDERS:
        try:
            with os.scandir(out / sub) as entries:
                names.update(str(Path(sub, e.name)) for e in entries if e.is_file(follow_symlinks=False))
        except FileNotFoundError:
            pass
    return names


def _temporaries(names: set[str]) -> set[str]:
    return {n for n in names if Path(n).name.startswith(".")}


def _new_temporary(out: Path, start: set[str]) -> bool:
    """Whether a new temporary is in ``variants/`` (the largest files, so the longest atomic writes).

    Fast, as an atomic write lasts well under a millisecond.
    """
    old = {Path(n).name for n in _temporaries(start)}
    try:
        return any(n.startswith(".") and n not in old for n in os.listdir(out / "variants"))
    except FileNotFoundError:
        return False


def _trigger(kind: str, rng: random.Random) -> tuple[str, Trigger]:
    """A kill condition on (seconds since start, the output folder, its files when the run started)."""
    if kind == "delay":
        delay = rng.uniform(0.5, 6.0)
        return f"delay {delay:.2f}s", lambda t, out, start: t >= delay
    if kind in ("new_file", "files"):
        more = 1 if kind == "new_file" else rng.randint(2, 40)

        def enough(t: float, out: Path, start: set[str]) -> bool:
            now = _names(out)
            return len(now - start - _temporaries(now)) >= more

        return f"{more} new file(s)", enough
    if kind == "temporary":
        return "mid-write", lambda t, out, start: _new_temporary(out, start)
    raise ValueError(kind)


def _run_and_kill(command: list[str], out: Path, label: str, trigger: Trigger) -> dict:
    """Start ``command``, SIGKILL it once ``trigger`` holds (or let it finish), and report."""
    start = _names(out)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_env(), cwd=REPO)
    t0 = time.monotonic()
    busy = label == "mid-write"  # an atomic write lasts well under a millisecond: poll without sleeping
    try:
        while proc.poll() is None:
            elapsed = time.monotonic() - t0
            assert elapsed < TIMEOUT, f"augment ran for over {TIMEOUT} s"
            if trigger(elapsed, out, start):
                proc.send_signal(signal.SIGKILL)
                break
            if not busy:
                time.sleep(0.002)
    finally:
        if proc.poll() is None:
            proc.kill()
        output = proc.communicate(timeout=TIMEOUT)[0].decode(errors="replace")
    after = _names(out)
    killed = proc.returncode == -signal.SIGKILL
    assert killed or proc.returncode == 0, f"augment failed ({proc.returncode}) after {label}:\n{output}"
    return {
        "label": label,
        "seconds": round(time.monotonic() - t0, 2),
        "killed_mid_run": killed,
        "new_files": len(after - start - _temporaries(after)),
        "temporaries_left": sorted(_temporaries(after) - start) if killed else [],
    }


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_augment_survives_sigkill(photo_cache, tmp_path):
    rng = random.Random(SEED)
    reference, out = tmp_path / "reference", tmp_path / "killed"

    done = subprocess.run(
        _command(reference, photo_cache), capture_output=True, text=True, env=_env(), cwd=REPO, timeout=TIMEOUT
    )
    assert done.returncode == 0, done.stdout + done.stderr

    kinds = ["delay", "new_file", "files", "temporary"]
    rng.shuffle(kinds)
    kinds.append("temporary")  # at least one kill lands after the first one has left files to resume from
    reports = [_run_and_kill(_command(out, photo_cache), out, *_trigger(kind, rng)) for kind in kinds]
    summary = json.dumps(reports, indent=1)
    print(summary)
    mid_run = sum(r["killed_mid_run"] for r in reports)
    while_writing = sum(r["killed_mid_run"] and (r["new_files"] > 0 or bool(r["temporaries_left"])) for r in reports)
    assert mid_run >= 2, f"only {mid_run} kill(s) landed while augment was running:\n{summary}"
    assert while_writing >= 2, f"only {while_writing} kill(s) landed while files were being written:\n{summary}"

    # A kill inside an atomic write leaves its temporary behind (about half the "mid-write" kills on a
    # loaded machine do; the rest land just after ``os.replace``). So that the clean-up is tested every
    # time, add the two states such a kill leaves: an empty temporary (killed right after ``mkstemp``)
    # and a half-written one (here the manifest's, cut inside a line).
    variant = min(n for n in os.listdir(out / "variants") if not n.startswith("."))
    fd, _ = tempfile.mkstemp(prefix=f".{variant}.", suffix=".tmp", dir=out / "variants")
    os.close(fd)
    fd, _ = tempfile.mkstemp(prefix=".manifest.jsonl.", suffix=".tmp", dir=out)
    with os.fdopen(fd, "w") as fh:
        fh.write('{"source": "00_cut')

    final = subprocess.run(
        _command(out, photo_cache), capture_output=True, text=True, env=_env(), cwd=REPO, timeout=TIMEOUT
    )
    assert final.returncode == 0, final.stdout + final.stderr

    # The manifest: one valid JSON line per variant, no duplicate keys, every named file present.
    lines = (out / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == IMAGES * VARIANTS
    keys = [(r["source"], r["variant"]) for r in records]
    assert len(set(keys)) == len(keys)
    names = sorted({r["source"] for r in records})
    assert len(names) == IMAGES
    assert sorted(keys) == sorted((name, k) for name in names for k in range(1, VARIANTS + 1))
    for r in records:
        for field in ("image", "mask", "source_image", "source_mask"):
            assert (out / r[field]).is_file(), (field, r)

    # Every expected output exactly once, nothing else: no temporaries, dot-files or empty files.
    expected = {"manifest.jsonl", "contact_sheet.png", "provenance.json"}
    for name in names:
        expected |= {f"sources/{name}.png", f"sources/{name}_mask.png"}
        for k in range(1, VARIANTS + 1):
            expected |= {f"variants/{name}_v{k}.png", f"masks/{name}_v{k}.png"}
    everything = list(out.rglob("*"))
    files = sorted(str(p.relative_to(out)) for p in everything if p.is_file())
    assert files == sorted(expected), sorted(set(files) ^ expected)
    assert sorted(str(p.relative_to(out)) for p in everything if p.is_dir()) == ["masks", "sources", "variants"]
    assert not [p for p in everything if p.name.startswith(".") or p.name.endswith(".tmp")]
    assert not [f for f in files if (out / f).stat().st_size == 0]

    # Every PNG decodes with its expected shape; the causal pixels are the source's.
    shapes = {"sources": (SIZE, SIZE, 3), "variants": (SIZE, SIZE, 3), "masks": (SIZE, SIZE)}
    sheet_h, sheet_w = contact_sheet_size(IMAGES, 2 + VARIANTS, 256)
    for f in files:
        if not f.endswith(".png"):
            continue
        image = cv2.imread(str(out / f), cv2.IMREAD_UNCHANGED)
        assert image is not None, f
        folder = Path(f).parent.name
        shape = (sheet_h, sheet_w, 3) if f == "contact_sheet.png" else shapes[folder]
        if f.endswith("_mask.png") and folder == "sources":
            shape = (SIZE, SIZE)
        assert image.shape == shape, (f, image.shape)
    for r in records:
        source = cv2.imread(str(out / r["source_image"]), cv2.IMREAD_COLOR)
        causal = cv2.imread(str(out / r["source_mask"]), cv2.IMREAD_UNCHANGED) == 255
        variant = cv2.imread(str(out / r["image"]), cv2.IMREAD_COLOR)
        assert causal.any() and not causal.all()
        np.testing.assert_array_equal(variant[causal], source[causal])
        np.testing.assert_array_equal(cv2.imread(str(out / r["mask"]), cv2.IMREAD_UNCHANGED), causal * np.uint8(255))

    # The job is deterministic: the killed-and-resumed output equals the uninterrupted one byte for byte.
    got, want = _tree(out), _tree(reference)
    assert sorted(got) == sorted(want)
    differing = [name for name in want if got[name] != want[name]]
    assert not differing, differing
