"""Robustness: does training with causal resampling remove the background shortcut?

A small CNN is trained from scratch on TuxBirds (real birds on real photos, P(background
habitat == bird habitat) = 0.95 in training, balanced test on held-out photos) with the same
standard augmentation in every arm. Arms: ERM; ERM + ``CausalResample`` (each resampler, at
rates p) applied through the Albumentations transform inside a DataLoader with workers; ERM +
Kornia's ``RandomTransplantation`` on the batch (the nearest existing peer); group-balanced
sampling (uses group labels; the reference). Reported per arm, mean +- std over seeds: average
accuracy, worst-group accuracy (WGA), background gap (accuracy with same-habitat backgrounds
minus random-habitat backgrounds) and gap closure = (WGA_arm - WGA_ERM) / (WGA_balanced - WGA_ERM).

Usage:
    python benchmarks/robustness.py --quick          # a few minutes on 2 cores
    python benchmarks/robustness.py                  # the full run

Writes benchmarks/results/robustness[_quick].json and .png.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

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
from causal_transforms.data.tuxbirds_benchmark import GroupSet, build_tuxbirds


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]

        self.net = nn.Sequential(
            *block(3, 32), *block(32, 64), *block(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 2)
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


def standard_augmentation(size: int) -> list[A.BasicTransform]:
    return [A.HorizontalFlip(p=0.5), A.Affine(translate_percent=(-0.1, 0.1), p=0.5)]


def make_loader(data: GroupSet, arm: dict, size: int, batch: int, seed: int, workers: int):
    transforms = standard_augmentation(size)
    if arm["kind"] == "resample":
        transforms.append(CausalResample(arm["resampler"], p=arm["p"]))
    ds = Train(data, A.Compose(transforms, seed=seed))
    sampler = None
    if arm["kind"] == "balanced":
        counts = np.bincount(data.groups, minlength=4)
        weights = 1.0 / counts[data.groups]
        sampler = torch.utils.data.WeightedRandomSampler(torch.from_numpy(weights), len(data), replacement=True)
    g = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(
        ds,
        batch_size=batch,
        shuffle=sampler is None,
        sampler=sampler,
        num_workers=workers,
        generator=g,
        drop_last=True,
        persistent_workers=workers > 0,
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
    torch.manual_seed(seed)
    model = SmallCNN().to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    loader = make_loader(data.train, arm, args.size, args.batch, seed, args.workers)
    transplant = K.RandomTransplantation(p=arm.get("p", 0.5)) if arm["kind"] == "transplant" else None
    for _ in range(args.epochs):
        model.train()
        for images, masks, labels in loader:
            if transplant is not None:
                images, masks = transplant(images, masks)
            loss = F.cross_entropy(model(images.contiguous(memory_format=torch.channels_last)), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return evaluate(model, data)


def arms_for(args) -> list[dict]:
    arms = [{"name": "ERM", "kind": "erm"}, {"name": "group-balanced (uses groups)", "kind": "balanced"}]
    arms.append({"name": "RandomTransplantation p=0.5", "kind": "transplant", "p": 0.5})
    for name in args.resamplers:
        for p in args.rates:
            arms.append({"name": f"CausalResample({name}) p={p}", "kind": "resample", "resampler": name, "p": p})
    return arms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--n-train", type=int, default=4800)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--resamplers", nargs="+", default=["gan", "spectral", "swap", "telea", "noise"])
    parser.add_argument("--rates", nargs="+", type=float, default=[0.5, 0.8, 1.0])
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs, args.n_train = 1, 4, 2000
        args.resamplers, args.rates = ["gan", "spectral", "swap"], [0.8]
    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
    t0 = time.perf_counter()
    data = build_tuxbirds(n_train=args.n_train, n_test=1200, size=args.size, correlation=0.95, seed=0)
    arms = arms_for(args)
    raw: dict[str, list[dict]] = {a["name"]: [] for a in arms}
    with tqdm(total=len(arms) * args.seeds, desc="arms x seeds") as bar:
        for seed in range(args.seeds):
            for arm in arms:
                raw[arm["name"]].append(run_arm(data, arm, args, seed))
                bar.set_postfix_str(f"{arm['name']}: wga={raw[arm['name']][-1]['wga']:.3f}")
                bar.update()
    erm = np.mean([r["wga"] for r in raw["ERM"]])
    bal = np.mean([r["wga"] for r in raw["group-balanced (uses groups)"]])
    summary = {}
    for name, runs in raw.items():
        stats = {}
        for key in ("avg_acc", "wga", "bg_gap"):
            v = np.array([r[key] for r in runs])
            stats[key] = {"mean": float(v.mean()), "std": float(v.std())}
        stats["gap_closure"] = float((stats["wga"]["mean"] - erm) / (bal - erm)) if bal != erm else float("nan")
        summary[name] = stats
    payload = {
        "benchmark": "robustness",
        "command": "python benchmarks/robustness.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "settings": vars(args),
        "data": {"train": len(data.train), "test": len(data.test), "correlation": 0.95, "size": args.size},
        "summary": summary,
        "runs": raw,
        "seconds": time.perf_counter() - t0,
    }
    stem = "robustness_quick" if args.quick else "robustness"
    write_json(f"{stem}.json", payload)
    print(f"\n{'arm':40s} {'avg acc':>14s} {'worst group':>14s} {'bg gap':>14s} {'closure':>8s}")
    for name, s in summary.items():
        print(
            f"{name:40s} {s['avg_acc']['mean']:.3f}+-{s['avg_acc']['std']:.3f} "
            f"{s['wga']['mean']:8.3f}+-{s['wga']['std']:.3f} {s['bg_gap']['mean']:8.3f}+-{s['bg_gap']['std']:.3f} "
            f"{s['gap_closure']:8.2f}"
        )
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = list(summary)
        fig, ax = plt.subplots(figsize=(10, 0.45 * len(names) + 1.5))
        y = np.arange(len(names))
        ax.barh(y - 0.2, [summary[n]["avg_acc"]["mean"] for n in names], 0.4, label="average accuracy")
        ax.barh(
            y + 0.2,
            [summary[n]["wga"]["mean"] for n in names],
            0.4,
            xerr=[summary[n]["wga"]["std"] for n in names],
            label="worst-group accuracy",
        )
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.legend(loc="lower right")
        ax.set_title(f"TuxBirds (correlation 0.95), {args.seeds} seed(s), {args.epochs} epochs")
        fig.tight_layout()
        fig.savefig(RESULTS / f"{stem}.png", dpi=110)
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'); no chart written")
    print(f"wrote {RESULTS / (stem + '.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
