"""Robustness: does training with causal resampling remove the background shortcut?

A small CNN is trained from scratch on TuxBirds (real birds on real photos, P(background
habitat == bird habitat) = 0.95 in training, balanced test on held-out photos) with the same
standard augmentation in every arm. Arms: ERM; ERM + ``CausalResample`` (each resampler, at
rates p) applied through the Albumentations transform inside a DataLoader with workers; ERM +
Kornia's ``RandomTransplantation`` on the batch (the nearest existing peer); group-balanced
sampling (uses group labels; the reference). Resamplers: the shipped GAN (``gan``), a GAN that
this script trains with the project's own training utility on the benchmark's *training*
background photos only (``gan-tuxbirds``, cached in the cache directory), ``spectral``, ``swap``,
``telea`` and ``noise``. Reported per arm, mean +- std over seeds: average accuracy, worst-group
accuracy (WGA), background gap (accuracy with same-habitat backgrounds minus random-habitat
backgrounds) and gap closure = (WGA_arm - WGA_ERM) / (WGA_balanced - WGA_ERM).

Usage:
    python benchmarks/robustness.py --quick          # a few minutes on 2 cores
    python benchmarks/robustness.py                  # the full run (about an hour on 2 cores)
    python benchmarks/robustness.py --resume         # continue an interrupted full run

Every finished (arm, seed) is appended to a progress file in the cache directory, so an
interrupted run loses at most one arm. Writes benchmarks/results/robustness[_quick].json and .png.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
import albumentations as A
import kornia.augmentation as K
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, write_json

from causal_transforms.albumentations import CausalResample
from causal_transforms.data.cache import cache_dir
from causal_transforms.data.splits import background_split
from causal_transforms.data.tuxbirds import CROP_SCALE_RANGE
from causal_transforms.data.tuxbirds_benchmark import GroupSet, build_tuxbirds

BENCHMARK_GAN = "gan-tuxbirds"


class SmallCNN(nn.Module):
    """Three conv blocks (width, 2 width, 4 width), global average pooling, a linear head."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]

        self.net = nn.Sequential(
            *block(3, width),
            *block(width, 2 * width),
            *block(2 * width, 4 * width),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(4 * width, 2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1)


class Train(torch.utils.data.Dataset):
    def __init__(self, data: GroupSet, transform: A.Compose) -> None:
        self.data, self.transform = data, transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int):
        out = self.transform(image=self.data.images[i], mask=self.data.masks[i])
        image = torch.from_numpy(out["image"]).permute(2, 0, 1).float() / 255.0
        return image, torch.from_numpy(out["mask"]).long(), int(self.data.labels[i])


def standard_augmentation() -> list[A.BasicTransform]:
    """The augmentation every arm shares."""
    return [A.HorizontalFlip(p=0.5), A.Affine(translate_percent=(-0.1, 0.1), p=0.5)]


def benchmark_gan(size: int, steps: int, progress: bool = True) -> Path:
    """Train (or reuse) a small GAN on the benchmark's training background photos at its scale.

    The photos are downscaled so that a ``size`` crop covers as much of a photo as a benchmark
    image does (crops of 60-100 % of the short side, resized to ``size``). Only
    ``background_split("train")`` is used: the test photos are never seen. The run directory is
    cached and resumed, so an interrupted training continues where it stopped.
    """
    from causal_transforms.backends.gan.model import GeneratorConfig
    from causal_transforms.train import BackgroundCrops, TrainConfig, latest_checkpoint, train

    short_side = round(size / float(np.mean(CROP_SCALE_RANGE)))
    out = cache_dir() / "benchmarks" / f"gan_tuxbirds_s{size}_steps{steps}"
    if (out / "generator.safetensors").is_file() and (out / "generator.json").is_file():
        return out
    photos, names = [], []
    for b in background_split("train"):
        h, w = b.rgb.shape[:2]
        scale = short_side / min(h, w)
        photos.append(cv2.resize(b.rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA))
        names.append(f"{b.habitat}/{b.name}")
    config = TrainConfig(
        out=str(out),
        steps=steps,
        batch_size=32,
        size=size,
        generator=GeneratorConfig(channels=(128, 64, 32, 16)),
        d_channels=32,
        d_layers=2,
        sample_every=max(1, steps // 4),
        checkpoint_every=max(1, steps // 10),
        progress=progress,
        resume=latest_checkpoint(out) is not None,
    )
    print(f"training {BENCHMARK_GAN}: {steps} steps on {len(photos)} training photos at {size}px -> {out}")
    return train(config, dataset=BackgroundCrops.from_arrays(photos, size=size, names=names))


def make_loader(data: GroupSet, arm: dict, args, seed: int):
    transforms = standard_augmentation()
    if arm["kind"] == "resample":
        transforms.append(CausalResample(arm["resampler"], resampler_options=arm.get("options"), p=arm["p"]))
    ds = Train(data, A.Compose(transforms, seed=seed))
    sampler = None
    if arm["kind"] == "balanced":
        counts = np.bincount(data.groups, minlength=4)
        weights = 1.0 / counts[data.groups]
        sampler = torch.utils.data.WeightedRandomSampler(torch.from_numpy(weights), len(data), replacement=True)
    g = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(
        ds,
        batch_size=args.batch,
        shuffle=sampler is None,
        sampler=sampler,
        num_workers=args.workers,
        generator=g,
        drop_last=True,
        persistent_workers=args.workers > 0,
    )


@torch.no_grad()
def predict(model: nn.Module, images: np.ndarray) -> np.ndarray:
    model.eval()
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    return torch.cat([model(x[i : i + 256]).argmax(1) for i in range(0, len(x), 256)]).numpy()


def evaluate(model: nn.Module, data) -> dict[str, float]:
    pred = predict(model, data.test.images)
    correct = pred == data.test.labels
    groups = [float(correct[data.test.groups == g].mean()) for g in range(4)]
    same = float((predict(model, data.test_same.images) == data.test_same.labels).mean())
    rand = float((predict(model, data.test_random.images) == data.test_random.labels).mean())
    return {"avg_acc": float(correct.mean()), "wga": min(groups), "group_acc": groups, "bg_gap": same - rand}


def run_arm(data, arm: dict, args, seed: int) -> dict[str, float]:
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    model = SmallCNN(args.width).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=1e-4)
    loader = make_loader(data.train, arm, args, seed)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * len(loader))
    transplant = K.RandomTransplantation(p=arm["p"]) if arm["kind"] == "transplant" else None
    for _ in range(args.epochs):
        model.train()
        for images, masks, labels in loader:
            if transplant is not None:
                images, masks = transplant(images, masks)
            loss = F.cross_entropy(model(images.contiguous(memory_format=torch.channels_last)), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
    del loader
    return {**evaluate(model, data), "seconds": time.perf_counter() - t0}


def arms_for(args) -> list[dict]:
    arms = [{"name": "ERM", "kind": "erm"}, {"name": "group-balanced (uses groups)", "kind": "balanced"}]
    for p in args.transplant_rates:
        arms.append({"name": f"RandomTransplantation p={p}", "kind": "transplant", "p": p})
    for name in args.resamplers:
        rates = args.rates if name in args.sweep else [args.default_rate]
        for p in rates:
            arm = {"name": f"CausalResample({name}) p={p}", "kind": "resample", "resampler": name, "p": p}
            if name == BENCHMARK_GAN:
                arm.update(resampler="gan", options={"weights": str(args.gan_dir)})
            arms.append(arm)
    return arms


def settings_key(args) -> str:
    keys = ("seeds", "epochs", "n_train", "n_test", "size", "width", "batch", "lr", "workers", "gan_steps")
    blob = json.dumps({k: getattr(args, k) for k in keys}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def summarise(raw: dict[str, list[dict]]) -> dict[str, dict]:
    erm = np.mean([r["wga"] for r in raw["ERM"]])
    bal = np.mean([r["wga"] for r in raw["group-balanced (uses groups)"]])
    summary = {}
    for name, runs in raw.items():
        if not runs:
            continue
        stats: dict = {"runs": len(runs)}
        for key in ("avg_acc", "wga", "bg_gap"):
            v = np.array([r[key] for r in runs])
            stats[key] = {"mean": float(v.mean()), "std": float(v.std())}
        stats["gap_closure"] = float((stats["wga"]["mean"] - erm) / (bal - erm)) if bal != erm else float("nan")
        stats["seconds_per_run"] = float(np.mean([r["seconds"] for r in runs]))
        summary[name] = stats
    return summary


def plot(summary: dict[str, dict], title: str, path: Path) -> None:
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'); no chart written")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary)
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(names) + 1.6))
    y = np.arange(len(names))
    for offset, key, label in ((-0.2, "avg_acc", "average accuracy"), (0.2, "wga", "worst-group accuracy")):
        ax.barh(
            y + offset,
            [summary[n][key]["mean"] for n in names],
            0.4,
            xerr=[summary[n][key]["std"] for n in names],
            label=label,
        )
    ax.axvline(summary["ERM"]["wga"]["mean"], color="grey", ls=":", lw=1, label="ERM worst group")
    ax.axvline(0.5, color="black", lw=0.5)
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, 4 epochs, 2000 images, 5 arms")
    parser.add_argument("--resume", action="store_true", help="skip (arm, seed) pairs an earlier run finished")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--n-train", type=int, default=4800)
    parser.add_argument("--n-test", type=int, default=1200)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--gan-steps", type=int, default=1200, help=f"training steps of {BENCHMARK_GAN}")
    parser.add_argument("--resamplers", nargs="+", default=["gan", BENCHMARK_GAN, "swap", "spectral", "telea", "noise"])
    parser.add_argument("--sweep", nargs="+", default=[BENCHMARK_GAN, "swap"], help="resamplers swept over p")
    parser.add_argument("--rates", nargs="+", type=float, default=[0.5, 0.8, 1.0])
    parser.add_argument("--default-rate", type=float, default=0.8, help="p for resamplers not swept")
    parser.add_argument("--transplant-rates", nargs="+", type=float, default=[0.5, 0.8, 1.0])
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs, args.n_train = 1, 4, 2000
        args.resamplers, args.sweep, args.transplant_rates = ["gan", "swap"], [], [0.8]
    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
    t0 = time.perf_counter()
    args.gan_dir = None
    if BENCHMARK_GAN in args.resamplers:
        args.gan_dir = benchmark_gan(args.size, args.gan_steps, progress=not args.no_progress)
    data = build_tuxbirds(n_train=args.n_train, n_test=args.n_test, size=args.size, correlation=0.95, seed=0)
    arms = arms_for(args)
    raw: dict[str, list[dict]] = {a["name"]: [] for a in arms}
    stem = "robustness_quick" if args.quick else "robustness"
    progress_file = cache_dir() / "benchmarks" / f"{stem}_{settings_key(args)}.jsonl"
    progress_file.parent.mkdir(parents=True, exist_ok=True)
    done: set[tuple[str, int]] = set()
    if args.resume and progress_file.is_file():
        for line in progress_file.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a kill
            if rec["arm"] in raw and (rec["arm"], rec["seed"]) not in done:
                raw[rec["arm"]].append(rec["result"])
                done.add((rec["arm"], rec["seed"]))
        print(f"resuming: {len(done)} (arm, seed) runs already done in {progress_file}")
    elif progress_file.exists():
        progress_file.unlink()
    todo = [(seed, arm) for seed in range(args.seeds) for arm in arms if (arm["name"], seed) not in done]
    with tqdm(total=len(todo), desc="arms x seeds", disable=args.no_progress) as bar:
        for seed, arm in todo:
            result = run_arm(data, arm, args, seed)
            raw[arm["name"]].append(result)
            with progress_file.open("a") as f:
                f.write(json.dumps({"arm": arm["name"], "seed": seed, "result": result}) + "\n")
            bar.set_postfix_str(f"{arm['name']}: wga={result['wga']:.3f}")
            bar.update()
            if args.no_progress:
                print(f"seed {seed} {arm['name']}: wga={result['wga']:.3f} ({result['seconds']:.0f} s)", flush=True)
    summary = summarise(raw)
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    payload = {
        "benchmark": "robustness",
        "command": "python benchmarks/robustness.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "settings": settings,
        "data": {
            "train": len(data.train),
            "test": len(data.test),
            "test_per_group": int(np.bincount(data.test.groups).min()),
            "correlation": 0.95,
            "size": args.size,
        },
        "summary": summary,
        "runs": raw,
        "seconds": time.perf_counter() - t0,
    }
    write_json(f"{stem}.json", payload)
    print(f"\n{'arm':42s} {'avg acc':>13s} {'worst group':>14s} {'bg gap':>14s} {'closure':>8s}")
    for name, s in summary.items():
        print(
            f"{name:42s} {s['avg_acc']['mean']:.3f}+-{s['avg_acc']['std']:.3f} "
            f"{s['wga']['mean']:8.3f}+-{s['wga']['std']:.3f} {s['bg_gap']['mean']:8.3f}+-{s['bg_gap']['std']:.3f} "
            f"{s['gap_closure']:8.2f}"
        )
    title = (
        f"TuxBirds {args.size}px (train correlation 0.95, held-out test photos): "
        f"{args.seeds} seed(s), {args.epochs} epochs"
    )
    plot(summary, title, RESULTS / f"{stem}.png")
    print(f"wrote {RESULTS / (stem + '.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
