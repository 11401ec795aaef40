"""Train the GAN weights shipped in the package, with the project's own training command.

1. Exports the *training* part of every *training* background photo (the left 75 % of each
   photo of ``background_split("train")``; the robustness benchmark's test photos and the
   right strips, which the quality benchmark uses as held-out real patches, are never seen)
   as PNG files into ``<cache>/gan_training_photos/``.
2. Runs ``causal-transforms train --images <that folder> --out RUN_DIR ...`` (resumable:
   re-running this script continues from the last checkpoint).

Usage:
    python benchmarks/train_shipped_gan.py --out runs/bg64 --steps 3000

Then copy RUN_DIR/generator.safetensors and generator.json into causal_transforms/weights/
and record the sha256 and this command in causal_transforms/backends/gan/weights.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2

from causal_transforms.cli import main as cli_main
from causal_transforms.data.cache import cache_dir
from causal_transforms.data.splits import background_split, gan_holdout_strip


def export_training_photos(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for b in background_split("train"):
        path = folder / f"{b.habitat}_{b.name}.png"
        if not path.exists():
            tmp = path.with_suffix(".tmp.png")
            cv2.imwrite(str(tmp), cv2.cvtColor(gan_holdout_strip(b, True), cv2.COLOR_RGB2BGR))
            os.replace(tmp, path)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more `train` flags")
    args = parser.parse_args(argv)
    photos = cache_dir() / "gan_training_photos"
    exported = export_training_photos(photos)
    print(f"{len(exported)} training photos in {photos}", flush=True)
    train_args = [
        "train",
        "--images",
        str(photos),
        "--out",
        args.out,
        "--steps",
        str(args.steps),
        "--batch-size",
        str(args.batch_size),
        "--sample-every",
        "250",
        "--checkpoint-every",
        "250",
    ]
    if (Path(args.out) / "checkpoints").exists():
        train_args.append("--resume")
    return cli_main(train_args + list(args.extra))


if __name__ == "__main__":
    sys.exit(main())
