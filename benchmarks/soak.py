"""Soak: many images through a real DataLoader with ``CausalResample``; memory must stay flat.

Real bird photos composited on real background photos (``sample_set(n=32, size=64)``) go through
``A.Compose([A.HorizontalFlip(p=0.5), CausalResample(resampler, p=0.5)])`` inside a
``torch.utils.data.DataLoader(num_workers=2, persistent_workers=True, batch_size=32)``, epoch
after epoch (the same two workers serve every epoch) until ``--images`` images have been seen.

* Every batch: each image's causal pixels (and its mask) equal those of its source photo, flipped
  when the flip was applied; the item carries its index and the applied transforms for this.
* Every ``--sample-every`` batches: the resident memory (``VmRSS`` in ``/proc/<pid>/status``) of
  the main process and of each worker (their pids reported through the batches).
* After a warm-up of the first 20 % of the images: the least-squares slope of the total resident
  memory against images seen, in bytes per image and MB per 10,000 images.

Usage:
    python benchmarks/soak.py                      # 10,000 images
    python benchmarks/soak.py --images 2000 --out /tmp/soak

Writes ``soak.json`` and ``soak.png`` into ``--out`` (default: benchmarks/results). Exits 1 when a
worker crashed or a causal pixel changed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, write_json

WARMUP = 0.2
N_PHOTOS, PHOTO_SIZE = 32, 64


class SoakDataset(torch.utils.data.Dataset):
    """``length`` items cycling over the photos, each through the augmentation pipeline.

    An item is ``(index, image, mask, flipped, resampled, worker pid)``.
    """

    def __init__(self, images: np.ndarray, masks: np.ndarray, resampler: str, length: int, seed: int) -> None:
        import albumentations as A

        from causal_transforms.albumentations import CausalResample

        self.images, self.masks, self.length = images, masks, length
        self.pipeline = A.Compose(
            [A.HorizontalFlip(p=0.5), CausalResample(resampler, p=0.5)], seed=seed, save_applied_params=True
        )

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor, torch.Tensor, bool, bool, int]:
        source = index % len(self.images)
        out = self.pipeline(image=self.images[source], mask=self.masks[source])
        applied = {name for name, _ in out["applied_transforms"]}
        return (
            index,
            torch.from_numpy(np.ascontiguousarray(out["image"])),
            torch.from_numpy(np.ascontiguousarray(out["mask"])),
            "HorizontalFlip" in applied,
            "CausalResample" in applied,
            os.getpid(),
        )


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` (``VmRSS``), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


def check_batch(batch: list, images: np.ndarray, masks: np.ndarray) -> tuple[int, int]:
    """Count the items whose causal pixels (or mask) differ from their source, and the resampled ones that changed.

    Returns:
        ``(violations, changed)``: items whose mask or causal pixels are not the source's (flipped
        when the flip was applied), and resampled items whose background differs from the source's.
    """
    index, image, mask, flipped, resampled, _ = batch
    violations = changed = 0
    for i, idx in enumerate(index.tolist()):
        source = idx % len(images)
        want_image, want_mask = images[source], masks[source]
        if flipped[i]:
            want_image, want_mask = want_image[:, ::-1], want_mask[:, ::-1]
        got_image, got_mask = image[i].numpy(), mask[i].numpy()
        causal = want_mask > 0
        if not np.array_equal(got_mask, want_mask) or not np.array_equal(got_image[causal], want_image[causal]):
            violations += 1
        if resampled[i] and not np.array_equal(got_image[~causal], want_image[~causal]):
            changed += 1
    return violations, changed


def fit_slope(samples: list[dict[str, Any]], warmup_images: int) -> dict[str, Any]:
    """Least-squares slope of total RSS against images seen, over the samples after the warm-up."""
    kept = [s for s in samples if s["images"] >= warmup_images]
    if len(kept) < 2:
        return {"points": len(kept), "bytes_per_image": None, "mb_per_10k_images": None}
    x = np.array([s["images"] for s in kept], dtype=np.float64)
    y = np.array([s["total"] for s in kept], dtype=np.float64)
    slope, intercept = np.polyfit(x, y, 1)
    per_process = {}
    for name in kept[0]["rss"]:
        ys = np.array([s["rss"].get(name, np.nan) for s in kept], dtype=np.float64)
        if np.isfinite(ys).all():
            per_process[name] = float(np.polyfit(x, ys, 1)[0])
    return {
        "points": len(kept),
        "from_images": int(x[0]),
        "to_images": int(x[-1]),
        "bytes_per_image": float(slope),
        "mb_per_10k_images": float(slope) * 10_000 / 2**20,
        "intercept_mb": float(intercept) / 2**20,
        "bytes_per_image_by_process": per_process,
    }


def plot(samples: list[dict[str, Any]], fit: dict[str, Any], warmup_images: int, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    x = np.array([s["images"] for s in samples])
    ax.plot(x, [s["total"] / 2**20 for s in samples], "o-", color="black", label="total")
    for name in samples[-1]["rss"]:
        ax.plot(x, [s["rss"].get(name, np.nan) / 2**20 for s in samples], ".-", label=name)
    if fit["bytes_per_image"] is not None:
        xs = np.array([fit["from_images"], fit["to_images"]])
        ys = (fit["intercept_mb"] * 2**20 + fit["bytes_per_image"] * xs) / 2**20
        label = f"fit: {fit['bytes_per_image']:.1f} B/image ({fit['mb_per_10k_images']:.2f} MB / 10k)"
        ax.plot(xs, ys, "--", color="red", label=label)
    ax.axvspan(0, warmup_images, color="grey", alpha=0.15, label="warm-up (not fitted)")
    ax.set_xlabel("images seen")
    ax.set_ylabel("resident memory (MB)")
    ax.set_ylim(0, 1.35 * max(s["total"] for s in samples) / 2**20)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper center", ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=10_000, help="images to push through the loader")
    parser.add_argument("--resampler", default="swap", help="CausalResample's backend")
    parser.add_argument("--epoch", type=int, default=1000, help="images per epoch (the workers persist)")
    parser.add_argument("--sample-every", type=int, default=50, help="batches between memory samples")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for soak.json and soak.png")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    from causal_transforms.data.tuxbirds import sample_set

    samples = sample_set(n=N_PHOTOS, size=PHOTO_SIZE)
    images = np.stack([s.image for s in samples])
    masks = np.stack([s.mask for s in samples])
    dataset = SoakDataset(images, masks, args.resampler, min(args.epoch, args.images), args.seed)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=args.batch, shuffle=True, num_workers=args.workers, persistent_workers=True
    )

    main_pid = os.getpid()
    worker_pids: set[int] = set()
    rss_samples: list[dict[str, Any]] = []
    seen = batches = violations = resampled = changed = flipped = epochs = crashes = 0
    error = None
    warmup_images = int(WARMUP * args.images)

    def sample() -> None:
        rss = {"main": rss_bytes(main_pid)}
        for n, pid in enumerate(sorted(worker_pids)):
            rss[f"worker {n} (pid {pid})"] = rss_bytes(pid)
        rss_samples.append({"images": seen, "batches": batches, "rss": rss, "total": sum(rss.values())})

    t0 = time.perf_counter()
    bar = tqdm(total=args.images, unit="img", desc=f"soak ({args.resampler})", disable=args.quiet)
    try:
        while seen < args.images:
            epochs += 1
            for batch in loader:
                worker_pids.update(batch[5].tolist())
                bad, moved = check_batch(batch, images, masks)
                violations += bad
                changed += moved
                resampled += int(batch[4].sum())
                flipped += int(batch[3].sum())
                seen += len(batch[0])
                batches += 1
                bar.update(len(batch[0]))
                if batches % args.sample_every == 0 and len(worker_pids) == args.workers:
                    sample()
                if seen >= args.images:
                    break
    except RuntimeError as exc:  # a worker that died: "DataLoader worker (pid X) exited unexpectedly"
        crashes += 1
        error = f"{type(exc).__name__}: {exc}"
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    finished = not rss_samples or rss_samples[-1]["images"] != seen
    if not crashes and len(worker_pids) == args.workers and finished:
        sample()  # the last point
    del loader  # shuts the persistent workers down

    fit = fit_slope(rss_samples, warmup_images)
    payload = {
        "machine": machine(),
        "config": {
            "photos": f"causal_transforms.data.tuxbirds.sample_set(n={N_PHOTOS}, size={PHOTO_SIZE})",
            "pipeline": f"A.Compose([A.HorizontalFlip(p=0.5), CausalResample({args.resampler!r}, p=0.5)])",
            "loader": f"DataLoader(num_workers={args.workers}, persistent_workers=True, batch_size={args.batch})",
            "images_per_epoch": dataset.length,
            "sample_every_batches": args.sample_every,
            "warmup_images": warmup_images,
        },
        "images": seen,
        "batches": batches,
        "epochs": epochs,
        "seconds": seconds,
        "images_per_second": seen / seconds if seconds > 0 else None,
        "worker_crashes": crashes,
        "error": error,
        "worker_pids": sorted(worker_pids),
        "causal_violations": violations,
        "flipped": flipped,
        "resampled": resampled,
        "resampled_with_changed_background": changed,
        "rss_note": "VmRSS in bytes per process; the total counts pages the processes share once per process",
        "rss_samples": rss_samples,
        "rss_slope": fit,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    # write_json writes RESULTS / name; an absolute name replaces RESULTS (pathlib's rule).
    path = write_json(str((args.out / "soak.json").resolve()), payload)
    chart = args.out / "soak.png"
    if rss_samples:
        title = f"soak: {seen} images, {args.workers} persistent workers, CausalResample({args.resampler!r})"
        plot(rss_samples, fit, warmup_images, chart, title)

    last = rss_samples[-1]["total"] / 2**20 if rss_samples else float("nan")
    slope = "n/a" if fit["bytes_per_image"] is None else f"{fit['bytes_per_image']:.1f} B/image"
    if fit["mb_per_10k_images"] is not None:
        slope += f" ({fit['mb_per_10k_images']:.2f} MB per 10k images, {fit['points']} samples after warm-up)"
    print(
        f"soak: {seen} images in {seconds:.1f} s ({seen / max(seconds, 1e-9):.0f} img/s), {epochs} epochs, "
        f"{len(worker_pids)} worker pids, {crashes} worker crashes, {violations} causal violations, "
        f"{changed}/{resampled} resampled images with a changed background"
    )
    print(f"RSS total at the end: {last:.1f} MB; slope after warm-up: {slope}")
    print(f"wrote {path}" + (f" and {chart}" if rss_samples else ""))
    if error:
        print(error, file=sys.stderr)
    return 0 if crashes == 0 and violations == 0 and len(worker_pids) == args.workers else 1


if __name__ == "__main__":
    raise SystemExit(main())
