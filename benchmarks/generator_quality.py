"""Generator quality: realism (classifier two-sample test) and diversity, side by side.

Every resampler draws 64x64 background patches. The *real* side of the test is held-out
crops of the GAN's own training photos (the right strip of each training background, which
the shipped GAN never saw): crops of *other* photos would measure photo identity (a small CNN
tells photo sets apart at 0.995), not realism.

Realism: a small CNN is trained to tell real patches from a resampler's patches; its held-out
accuracy is reported (0.5 = indistinguishable, 1.0 = always told apart). The same run
calibrates the test: uniform noise vs real must score near 1.0, and two disjoint crop sets of
the same photos (the GAN's training region vs its held-out strip) near 0.5.

Diversity: mean pairwise L1 distance between patches (downsampled to 16x16) drawn with
different seeds for the same input, relative to the same distance between real patches.

Inputs for the resamplers are held-out real crops with keep = 0 everywhere (the whole patch is
new content), except ``telea``, which needs pixels to grow from: it keeps a central 16x16 real
square and inpaints the rest.

Usage:
    python benchmarks/generator_quality.py [--gan-weights RUN_DIR] [--quick]

Writes benchmarks/results/generator_quality.json and generator_quality.png.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, write_json

from causal_transforms import create_resampler, list_resamplers
from causal_transforms.data.splits import background_split, gan_holdout_strip

PATCH = 64


def random_crops(photos: list[np.ndarray], n: int, rng: np.random.Generator) -> torch.Tensor:
    out = np.empty((n, PATCH, PATCH, 3), np.uint8)
    for i in range(n):
        p = photos[rng.integers(len(photos))]
        y = rng.integers(0, p.shape[0] - PATCH + 1)
        x = rng.integers(0, p.shape[1] - PATCH + 1)
        out[i] = p[y : y + PATCH, x : x + PATCH]
    return torch.from_numpy(out).permute(0, 3, 1, 2).float() / 255.0


class PatchCritic(nn.Module):
    """A small CNN classifier (BatchNorm; evaluated in eval mode on shuffled batches)."""

    def __init__(self) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, 2, 1), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]

        self.net = nn.Sequential(
            *block(3, 32),
            *block(32, 64),
            *block(64, 128),
            *block(128, 128),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(128, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1).squeeze(1)


def two_sample_accuracy(real: torch.Tensor, fake: torch.Tensor, epochs: int, seed: int) -> float:
    """Train on 75 % of each side, report accuracy on the other 25 %."""
    torch.manual_seed(seed)
    n = min(len(real), len(fake))
    real, fake = real[:n], fake[:n]
    cut = int(n * 0.75)
    x_train = torch.cat([real[:cut], fake[:cut]])
    y_train = torch.cat([torch.ones(cut), torch.zeros(cut)])
    x_test = torch.cat([real[cut:], fake[cut:]])
    y_test = torch.cat([torch.ones(n - cut), torch.zeros(n - cut)])
    model = PatchCritic()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        order = torch.randperm(len(x_train))
        for i in range(0, len(order), 64):
            idx = order[i : i + 64]
            xb = x_train[idx]
            if torch.rand(()) < 0.5:
                xb = xb.flip(-1)
            loss = F.binary_cross_entropy_with_logits(model(xb), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(x_test[i : i + 256]) for i in range(0, len(x_test), 256)]) > 0
    return float((pred.float() == y_test).float().mean())


def diversity(patches: torch.Tensor, pairs: int, rng: np.random.Generator) -> float:
    small = F.adaptive_avg_pool2d(patches, 16)
    i = torch.from_numpy(rng.integers(0, len(small), pairs))
    j = torch.from_numpy(rng.integers(0, len(small), pairs))
    keep = i != j
    return float((small[i[keep]] - small[j[keep]]).abs().mean())


def draw(name: str, inputs: torch.Tensor, seed: int, options: dict) -> torch.Tensor:
    backend = create_resampler(name, **options)
    keep = torch.zeros(len(inputs), 1, PATCH, PATCH)
    if name == "telea":
        keep[..., 24:40, 24:40] = 1
    seeds = torch.arange(len(inputs), dtype=torch.int64) + seed * 1_000_003
    out = []
    for i in range(0, len(inputs), 64):
        content = backend(inputs[i : i + 64], keep[i : i + 64], seeds[i : i + 64])
        k = keep[i : i + 64]
        out.append(k * inputs[i : i + 64] + (1 - k) * content)
    return torch.cat(out).clamp(0, 1)


def save_grid(rows: dict[str, torch.Tensor], path: Path, per_row: int = 10) -> None:
    import cv2

    label_w = 150
    h = PATCH + 4
    canvas = np.full((h * len(rows), label_w + per_row * (PATCH + 4), 3), 255, np.uint8)
    for r, (name, patches) in enumerate(rows.items()):
        cv2.putText(canvas, name, (4, r * h + h // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        for c in range(min(per_row, len(patches))):
            tile = (patches[c].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            x = label_w + c * (PATCH + 4)
            canvas[r * h + 2 : r * h + 2 + PATCH, x : x + PATCH] = tile
    cv2.imwrite(str(path), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gan-weights", action="append", default=[], help="extra GAN run dirs to compare")
    parser.add_argument("--n", type=int, default=2000, help="patches per side")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="600 patches, 3 epochs")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.epochs = 600, 3
    torch.set_num_threads(max(1, torch.get_num_threads()))
    rng = np.random.default_rng(args.seed)
    train_photos = background_split("train")
    held_out = [gan_holdout_strip(b, False) for b in train_photos]
    train_region = [gan_holdout_strip(b, True) for b in train_photos]
    real = random_crops(held_out, args.n, rng)
    real_eval = random_crops(held_out, args.n, rng)  # the test's real side, disjoint draws
    inputs = random_crops(held_out, args.n, rng)

    arms: dict[str, tuple[str, dict]] = {}
    for name in ["noise", "spectral", "swap", "telea"]:
        arms[name] = (name, {})
    if "gan" in list_resamplers():
        try:
            create_resampler("gan")
            arms["gan (shipped)"] = ("gan", {})
        except ValueError as exc:
            print(f"gan: no shipped weights ({exc})")
    for path in args.gan_weights:
        arms[f"gan ({Path(path).name})"] = ("gan", {"weights": path})

    results: dict[str, dict] = {}
    grid: dict[str, torch.Tensor] = {"real (held out)": real[:10]}
    t0 = time.perf_counter()
    calib_noise = torch.rand_like(real)
    results["calibration: uniform noise"] = {
        "c2st_accuracy": two_sample_accuracy(real_eval, calib_noise, args.epochs, args.seed),
        "expected": "near 1.0",
    }
    same_photos = random_crops(train_region, args.n, rng)
    results["calibration: same photos, disjoint crops"] = {
        "c2st_accuracy": two_sample_accuracy(real_eval, same_photos, args.epochs, args.seed),
        "expected": "near 0.5",
    }
    # Power check: a mild, texture-level difference must be detected too.
    blurred = F.avg_pool2d(F.pad(real_eval.roll(1, 0), (1, 1, 1, 1), mode="reflect"), 3, stride=1)
    results["calibration: real crops blurred 3x3"] = {
        "c2st_accuracy": two_sample_accuracy(real_eval, blurred, args.epochs, args.seed),
        "expected": "near 1.0 (the test can see texture-level differences)",
    }
    real_div = diversity(real, 4000, rng)
    for label, (name, options) in arms.items():
        t = time.perf_counter()
        fake = draw(name, inputs, args.seed, options)
        gen_s = time.perf_counter() - t
        acc = two_sample_accuracy(real_eval, fake, args.epochs, args.seed)
        # Diversity across seeds for the same input: redraw the first 200 inputs with new seeds.
        again = draw(name, inputs[:200], args.seed + 1, options)
        seed_div = float((F.adaptive_avg_pool2d(fake[:200], 16) - F.adaptive_avg_pool2d(again, 16)).abs().mean())
        results[label] = {
            "c2st_accuracy": acc,
            "diversity_across_seeds": seed_div,
            "diversity_between_patches": diversity(fake, 4000, rng),
            "generate_ms_per_patch": 1000 * gen_s / len(inputs),
        }
        grid[label] = fake[:10]
        print(f"{label:32s} c2st={acc:.3f} seed-div={seed_div:.3f}", flush=True)
    payload = {
        "benchmark": "generator_quality",
        "command": "python benchmarks/generator_quality.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "patch": PATCH,
        "patches_per_side": args.n,
        "epochs": args.epochs,
        "real_diversity_between_patches": real_div,
        "results": results,
        "seconds": time.perf_counter() - t0,
    }
    stem = "generator_quality_quick" if args.quick else "generator_quality"
    write_json(f"{stem}.json", payload)
    save_grid(grid, RESULTS / f"{stem}.png")
    print()
    print(f"{'arm':44s} {'c2st acc':>9s} {'div/seeds':>10s} {'div/patches':>12s}")
    for label, r in results.items():
        print(
            f"{label:44s} {r['c2st_accuracy']:9.3f} {r.get('diversity_across_seeds', float('nan')):10.3f} "
            f"{r.get('diversity_between_patches', float('nan')):12.3f}"
        )
    print(f"{'real held-out patches':44s} {'':9s} {'':10s} {real_div:12.3f}")
    print(f"wrote {RESULTS / (stem + '.json')} and {RESULTS / (stem + '.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
