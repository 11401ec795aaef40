"""Throughput: every figure a ratio against a peer measured in the same process and run.

Sections (medians over repeats; real bird photos with their masks as input):

* ``albumentations``: per image on the CPU at 64, 256 and 512 px, uint8 and float32:
  ``CausalResample`` with each resampler against ``A.MaskDropout`` (its closest built-in,
  filling with OpenCV's Telea inpainting), against ``A.CoarseDropout`` (a cheap reference), and
  against a bare call of the same backend (tensor in, generate, the library's tensor
  ``composite``, array out: what calling the backend by hand costs). For binary masks the
  transform composites in the array's own HWC layout with OpenCV, which is cheaper than the
  tensor composite on a channels-last view, so the ratio can fall below 1.
* ``kornia``: batches of 8 and 32 at 256 px: ``RandomCausalResample("swap")`` against
  ``kornia.augmentation.RandomTransplantation`` on the same batch; the GAN through the transform
  against the bare generator forward; p = 0.5 against p = 1 (work must scale with p; a mean over
  many calls, since one call's cost depends on how many samples the gate picked); and swap's cost
  with the gate fixed at each count of selected samples, fitted as a fixed cost plus a cost per
  selected sample.
* ``end_to_end``: images per second of a real DataLoader (2 workers) feeding a training loop,
  with and without ``CausalResample(p=0.5)``.
* ``limit``: the generator's FLOPs per image against the machine's measured peak (a large
  matmul and a large convolution, measured in the same run), eager and through
  ``torch.compile`` (``GANResampler(compile=True)``; not with ``--quick``).
* ``memory``: peak resident memory added by each path, each measured in a fresh process.

Usage:
    python benchmarks/throughput.py            # under 10 minutes on 2 CPU cores
    python benchmarks/throughput.py --quick    # under two minutes; fewer sizes and repeats
    python benchmarks/throughput.py --device cuda   # the Kornia and generator sections on a GPU

Writes benchmarks/results/throughput[_quick|_cuda].json and .png.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, write_json

RESAMPLERS = ("noise", "spectral", "swap", "telea", "gan")


# ----------------------------------------------------------------------------- timing
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_time(fn: Callable[[], Any], device: torch.device, min_time: float, repeats: int) -> float:
    """Median seconds per call over ``repeats`` rounds of at least ``min_time`` seconds each."""
    fn()  # warm-up: models built, caches filled
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    once = max(time.perf_counter() - t0, 1e-6)
    number = max(1, int(min_time / once))
    rounds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        sync(device)
        rounds.append((time.perf_counter() - t0) / number)
    return statistics.median(rounds)


def paired_rounds(
    fns: dict[str, Callable[[], Any]], device: torch.device, min_time: float, repeats: int
) -> dict[str, list[float]]:
    """Seconds per call of several callables, interleaved round by round, so drift hits all alike."""
    for fn in fns.values():
        fn()
    sync(device)
    numbers = {}
    for name, fn in fns.items():
        t0 = time.perf_counter()
        fn()
        sync(device)
        numbers[name] = max(1, int(min_time / max(time.perf_counter() - t0, 1e-6)))
    rounds: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(numbers[name]):
                fn()
            sync(device)
            rounds[name].append((time.perf_counter() - t0) / numbers[name])
    return rounds


def paired(fns: dict[str, Callable[[], Any]], device: torch.device, min_time: float, repeats: int) -> dict:
    """Median seconds per call of each callable, timed interleaved (see :func:`paired_rounds`)."""
    return {name: statistics.median(v) for name, v in paired_rounds(fns, device, min_time, repeats).items()}


def round_ratio(rounds: dict[str, list[float]], num: str, den: str) -> float:
    """Median over rounds of ``num / den`` measured in the same round (robust to machine drift)."""
    return statistics.median(a / b for a, b in zip(rounds[num], rounds[den], strict=True))


def gated_ratio(full: Callable[[], Any], gated, image, mask, device: torch.device, calls: int, rounds: int) -> dict:
    """Cost of a random gate (``p`` < 1) against ``p`` = 1: the median over rounds of the ratio.

    Every round replays the same ``calls`` gate draws (the global torch RNG is reseeded), so
    rounds differ only in machine noise, and the draws' overall selected fraction is reported
    next to the ratio. The two sides alternate which goes first (the heap one leaves is the
    other's starting point), and the minor page faults per call of each side are reported: on
    Linux, glibc returning freed memory to the kernel is a cost that moves with the heap's state.
    """
    full()
    torch.manual_seed(0)
    selected = total = 0
    for _ in range(calls):  # untimed: warm-up, and the selected fraction of the draws
        gated(image, mask)
        picked = gated._params["batch_prob"] > 0.5
        selected += int(picked.sum())
        total += int(picked.numel())

    def timed(side: str) -> tuple[float, int]:
        if side == "gated":
            torch.manual_seed(0)
        sync(device)
        f0, t0 = _minor_faults(), time.perf_counter()
        for _ in range(calls):
            gated(image, mask) if side == "gated" else full()
        sync(device)
        return time.perf_counter() - t0, _minor_faults() - f0

    ratios, faults = [], {"gated": 0, "full": 0}
    for r in range(rounds):
        spent = {}
        for side in ("gated", "full") if r % 2 == 0 else ("full", "gated"):
            spent[side], n_faults = timed(side)
            faults[side] += n_faults
        ratios.append(spent["gated"] / spent["full"])
    return {
        "ratio": statistics.median(ratios),
        "selected_fraction": selected / max(total, 1),
        "minor_faults_per_call": {k: round(v / (calls * rounds), 1) for k, v in faults.items()},
    }


def gate_curve(aug, image, mask, device: torch.device, rounds: int, subsets: int = 16) -> dict:
    """Cost of a call as a function of how many samples the gate selects, with the gate fixed.

    For each count ``n`` of selected samples (every ``n`` from 0 to the batch size, or nine
    evenly spaced counts for large batches), ``subsets`` random sets of ``n`` positions are
    replayed through ``params=``; the counts are interleaved within each round and the median
    over rounds is kept. A least-squares line through the counts from 1 up gives the cost that
    does not shrink with the gate (``fixed_ms``: the untouched samples' copy, the keep-map of the
    whole batch, the calls' Python and dispatch) and the marginal cost of one selected sample
    (``per_selected_ms``), to set against the p = 1 call's cost per sample. The counts weighted by
    their binomial probabilities give the expected cost at p = 0.5 exactly
    (``expected_p0.5_vs_p1``, as a fraction of the p = 1 cost).
    """
    b = image.shape[0]
    counts = list(range(b + 1)) if b <= 8 else sorted({round(b * k / 8) for k in range(9)})
    rng = np.random.default_rng(0)
    plans = {}
    for n in counts:
        plans[n] = []
        for _ in range(subsets):
            gate = torch.zeros(b, device=device)
            gate[torch.from_numpy(rng.choice(b, n, replace=False))] = 1.0
            seeds = torch.from_numpy(rng.integers(0, 2**62, b))
            plans[n].append({"batch_prob": gate, "seeds": seeds, "forward_input_shape": torch.tensor(image.shape)})

    def run(n: int) -> None:
        for params in plans[n]:
            aug(image, mask, params=dict(params))

    for n in counts:
        run(n)
    spent: dict[int, list[float]] = {n: [] for n in counts}
    for r in range(rounds):
        for n in counts if r % 2 == 0 else reversed(counts):
            sync(device)
            t0 = time.perf_counter()
            run(n)
            sync(device)
            spent[n].append((time.perf_counter() - t0) / subsets)
    ms = [1000 * statistics.median(spent[n]) for n in counts]
    fit_n = [n for n in counts if n > 0]
    slope, intercept = np.polyfit(fit_n, [ms[counts.index(n)] for n in fit_n], 1)
    # The expected cost at p = 0.5 exactly: each count weighted by its binomial probability
    # (costs between measured counts interpolated), free of the luck of a few random gate draws.
    weights = np.array([math.comb(b, n) for n in range(b + 1)], dtype=np.float64) / 2.0**b
    expected = float(weights @ np.interp(np.arange(b + 1), counts, ms))
    return {
        "selected": counts,
        "ms": ms,
        "fixed_ms": float(intercept),
        "per_selected_ms": float(slope),
        "p1_per_sample_ms": ms[-1] / b,
        "expected_p0.5_vs_p1": expected / ms[-1],
    }


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


# ----------------------------------------------------------------------------- inputs
def real_inputs(size: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` real birds on real photos at ``size`` px: uint8 RGB images and binary masks.

    On a machine without the photo cache and without network (a lent GPU box), falls back to
    synthetic images with elliptical objects, and says so: speed does not depend on content.
    """
    from causal_transforms.data.photos import missing_packages
    from causal_transforms.data.tuxbirds import sample_set

    if missing_packages():
        global SYNTHETIC_INPUTS
        SYNTHETIC_INPUTS = True
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
        yy, xx = np.mgrid[:size, :size] / size
        masks = np.stack(
            [(((yy - 0.5) / 0.3) ** 2 + ((xx - 0.5 + 0.05 * i % 3) / 0.2) ** 2 < 1).astype(np.uint8) for i in range(n)]
        )
        return images, masks
    samples = sample_set(n, size=size)
    return np.stack([s.image for s in samples]), np.stack([s.mask for s in samples])


SYNTHETIC_INPUTS = False


# ----------------------------------------------------------------------------- albumentations
def bare_call(name: str, image: np.ndarray, mask: np.ndarray, donor: tuple[np.ndarray, np.ndarray]) -> Callable:
    """The same backend without the transform: tensor in, generate, composite, array out."""
    from causal_transforms.core.composite import composite
    from causal_transforms.registry import get_resampler

    backend = get_resampler(name)
    seeds = torch.tensor([7])
    donor_image = donor[0] if image.dtype == np.uint8 else donor[0].astype(np.float32) / 255.0
    donor_k = torch.from_numpy((donor[1] > 0).astype(np.float32))[None, None]

    def run() -> np.ndarray:
        x = torch.from_numpy(image).permute(2, 0, 1)[None]
        keep = torch.from_numpy(mask)[None, None].gt(0).float()
        unit = x.float().div(255.0) if x.dtype == torch.uint8 else x
        donors = None
        if backend.uses_batch:  # a single image borrows another's background, as the transform does
            d = torch.from_numpy(donor_image).permute(2, 0, 1)[None]
            donors = (d.float().div(255.0) if d.dtype == torch.uint8 else d, donor_k)
        content = backend.generate(unit, keep, seeds, donors)
        return composite(x, content, keep)[0].permute(1, 2, 0).numpy()

    return run


def albumentations_section(sizes: list[int], min_time: float, repeats: int) -> list[dict]:
    import albumentations as A

    from causal_transforms.albumentations import CausalResample

    rows = []
    broken: dict[str, str] = {}
    cpu = torch.device("cpu")
    # One torch thread, as in the DataLoader workers where this path runs (the library sets it
    # there); it also keeps two-thread scheduling noise out of sub-millisecond timings.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    for size in sizes:
        images, masks = real_inputs(size, 2)
        for dtype in ("uint8", "float32"):
            image = images[0] if dtype == "uint8" else images[0].astype(np.float32) / 255.0
            donor = (images[1], masks[1])
            mask = masks[0]
            peers = {
                "MaskDropout": A.MaskDropout(max_objects=1, fill=0, p=1.0),
                "CoarseDropout": A.CoarseDropout(num_holes_range=(4, 8), fill="random", p=1.0),
            }
            if dtype == "uint8":
                telea = A.MaskDropout(max_objects=1, fill="inpaint_telea", p=1.0)
                try:
                    telea(image=image, mask=mask)
                    peers["MaskDropout(inpaint_telea)"] = telea
                except cv2.error as exc:  # Albumentations 2.0.8 passes the fill's name where OpenCV 5 wants a flag
                    broken["MaskDropout(inpaint_telea)"] = str(exc).splitlines()[0]
            peer_times = paired(
                {k: partial(call_transform, t, image, mask) for k, t in peers.items()}, cpu, min_time, repeats
            )
            for name in RESAMPLERS:
                transform = CausalResample(name, p=1.0)
                transform.set_random_seed(0)
                if transform._uses_batch:  # fill the donor bank, as a pipeline would after one image
                    transform(image=donor[0] if dtype == "uint8" else donor[0].astype(np.float32) / 255, mask=donor[1])
                bare = bare_call(name, image, mask, donor)
                # Cheap calls get more (shorter) rounds: the ratio is a median over rounds. At 512 px a
                # round is one call of up to ~150 ms, so 2 x repeats rounds keep one slow phase of the
                # machine from deciding the median (7 rounds once gave spectral 1.27x, 15 gave 0.95x).
                reps = 5 if name == "gan" and size >= 512 else 3 * repeats if size <= 256 else 2 * repeats
                rounds = paired_rounds(
                    {"ours": partial(call_transform, transform, image, mask), "bare": bare}, cpu, min_time / 2, reps
                )
                row = {
                    "size": size,
                    "dtype": dtype,
                    "resampler": name,
                    "ours_ms": 1000 * statistics.median(rounds["ours"]),
                    "bare_ms": 1000 * statistics.median(rounds["bare"]),
                    "wrapper_ratio": round_ratio(rounds, "ours", "bare"),
                }
                for peer, t in peer_times.items():
                    row[f"{peer}_ms"] = 1000 * t
                    row[f"vs_{peer}"] = statistics.median(rounds["ours"]) / t
                rows.append(row)
                print(
                    f"  A {size:4d}px {dtype:7s} {name:8s} ours {row['ours_ms']:8.2f} ms  bare {row['bare_ms']:8.2f} ms"
                    f"  wrapper x{row['wrapper_ratio']:.3f}  vs CoarseDropout x{row['vs_CoarseDropout']:.1f}",
                    flush=True,
                )
    torch.set_num_threads(threads)
    return {"rows": rows, "peer_failures": broken, "torch_threads": 1}


def call_transform(transform, image: np.ndarray, mask: np.ndarray) -> dict:
    return transform(image=image, mask=mask)


# ----------------------------------------------------------------------------- kornia
def kornia_section(batches: list[int], size: int, device: torch.device, min_time: float, repeats: int) -> list[dict]:
    import kornia.augmentation as K

    from causal_transforms.kornia import RandomCausalResample
    from causal_transforms.registry import get_resampler

    rows = []
    base_images, base_masks = real_inputs(size, 8)
    for batch in batches:
        idx = np.arange(batch) % len(base_images)
        # NCHW contiguous, as a DataLoader's default collate of CHW tensors delivers it.
        image = torch.from_numpy(base_images[idx]).permute(0, 3, 1, 2).float().div(255.0).contiguous().to(device)
        mask = torch.from_numpy(base_masks[idx]).float()[:, None].contiguous().to(device)
        transplant = K.RandomTransplantation(p=1.0)
        swap1 = RandomCausalResample("swap", p=1.0)
        swap05 = RandomCausalResample("swap", p=0.5)
        rounds = paired_rounds(
            {"RandomTransplantation": partial(transplant, image, mask), "swap_p1": partial(swap1, image, mask)},
            device,
            min_time,
            2 * repeats,
        )
        times = {k: statistics.median(v) for k, v in rounds.items()}
        gate = gated_ratio(partial(swap1, image, mask), swap05, image, mask, device, max(16, 512 // batch), 2 * repeats)
        row = {
            "batch": batch,
            "size": size,
            "device": str(device),
            "RandomTransplantation_ms": 1000 * times["RandomTransplantation"],
            "swap_p1_ms": 1000 * times["swap_p1"],
            "swap_p0.5_ms": 1000 * times["swap_p1"] * gate["ratio"],
            "swap_vs_RandomTransplantation": round_ratio(rounds, "swap_p1", "RandomTransplantation"),
            "swap_p0.5_vs_p1": gate["ratio"],
            "swap_p0.5_selected_fraction": gate["selected_fraction"],
            "swap_p0.5_minor_faults_per_call": gate["minor_faults_per_call"],
            "swap_gate_curve": gate_curve(swap05, image, mask, device, repeats),
        }
        if batch <= 8 or device.type == "cuda":
            gan = get_resampler("gan")
            gan1 = RandomCausalResample("gan", p=1.0)
            gan05 = RandomCausalResample("gan", p=0.5)
            seeds = torch.arange(batch)
            grounds = paired_rounds(
                {"generator": partial(gan.draw, seeds, size, size, device), "gan_p1": partial(gan1, image, mask)},
                device,
                min_time,
                max(3, repeats // 2),
            )
            gtimes = {k: statistics.median(v) for k, v in grounds.items()}
            gate = gated_ratio(
                partial(gan1, image, mask), gan05, image, mask, device, 8 if device.type == "cpu" else 32, 3
            )
            row.update(
                {
                    "generator_ms": 1000 * gtimes["generator"],
                    "gan_p1_ms": 1000 * gtimes["gan_p1"],
                    "gan_p0.5_ms": 1000 * gtimes["gan_p1"] * gate["ratio"],
                    "gan_vs_generator": round_ratio(grounds, "gan_p1", "generator"),
                    "gan_p0.5_vs_p1": gate["ratio"],
                    "gan_p0.5_selected_fraction": gate["selected_fraction"],
                }
            )
        rows.append(row)
        shown = {k: v for k, v in row.items() if k != "swap_gate_curve"}
        print("  K " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items()))
        curve = row["swap_gate_curve"]
        points = ", ".join(f"{n}: {t:.2f}" for n, t in zip(curve["selected"], curve["ms"], strict=True))
        print(
            f"    swap, gate fixed: {points} ms; fit {curve['fixed_ms']:.2f} ms"
            f" + {curve['per_selected_ms']:.2f} ms per selected sample"
            f" (p = 1: {curve['p1_per_sample_ms']:.2f} ms per sample); binomial expectation at p = 0.5:"
            f" {curve['expected_p0.5_vs_p1']:.3f}x p = 1"
        )
    return rows


# ----------------------------------------------------------------------------- end to end
class _Photos(torch.utils.data.Dataset):
    def __init__(self, images: np.ndarray, masks: np.ndarray, transform) -> None:
        self.images, self.masks, self.transform = images, masks, transform

    def __len__(self) -> int:
        return 4 * len(self.images)

    def __getitem__(self, i: int):
        j = i % len(self.images)
        out = self.transform(image=self.images[j], mask=self.masks[j])
        return torch.from_numpy(out["image"]).permute(2, 0, 1).float().div(255.0), int(j % 2)


def end_to_end_section(size: int, resamplers: list[str], batches: int) -> dict:
    import albumentations as A

    from causal_transforms.albumentations import CausalResample

    images, masks = real_inputs(size, 32)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, stride=2, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 3, stride=2, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(32, 2),
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    result = {"size": size, "batch_size": 16, "workers": 2, "batches": batches}
    arms = {"baseline": [A.HorizontalFlip(p=0.5)]}
    for name in resamplers:
        arms[f"CausalResample({name}, p=0.5)"] = [A.HorizontalFlip(p=0.5), CausalResample(name, p=0.5)]
    for arm, transforms in arms.items():
        loader = torch.utils.data.DataLoader(
            _Photos(images, masks, A.Compose(transforms, seed=0)),
            batch_size=16,
            shuffle=True,
            num_workers=2,
            persistent_workers=True,
            generator=torch.Generator().manual_seed(0),
        )
        rates = []
        for _ in range(2):  # the first epoch starts the workers and builds models; the second is timed
            seen, t0 = 0, time.perf_counter()
            for i, (x, y) in enumerate(loader):
                loss = torch.nn.functional.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                seen += x.shape[0]
                if i + 1 >= batches:
                    break
            rates.append(seen / (time.perf_counter() - t0))
        del loader
        result[f"{arm}_images_per_s"] = rates[-1]
        print(f"  E {arm}: {rates[-1]:.1f} images/s", flush=True)
    for name in resamplers:
        result[f"{name}_vs_baseline"] = (
            result[f"CausalResample({name}, p=0.5)_images_per_s"] / result["baseline_images_per_s"]
        )
    return result


# ----------------------------------------------------------------------------- the physical limit
def limit_section(size: int, device: torch.device, min_time: float, repeats: int, compiled: bool = True) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    from causal_transforms.backends.gan.model import resolve_precision
    from causal_transforms.registry import get_resampler

    gan = get_resampler("gan")
    dtype, channels_last = resolve_precision("auto", device)
    dtype = dtype or torch.float32
    n = 2048 if device.type == "cpu" else 8192
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    t_mm = median_time(lambda: a @ b, device, min_time, repeats)
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(device, dtype).eval().requires_grad_(False)
    x = torch.randn(4 if device.type == "cpu" else 32, 64, 128, 128, device=device, dtype=dtype)
    if channels_last:
        conv = conv.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    with FlopCounterMode(display=False) as counter:
        conv(x)
    conv_flops = counter.get_total_flops()
    t_conv = median_time(lambda: conv(x), device, min_time, repeats)
    batch = 8 if device.type == "cpu" else 32
    seeds = torch.arange(batch)
    model = gan._model_for(device, dtype, channels_last)
    style, local = model.sample_noise(seeds[:1], size, size, device)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(style.to(dtype), local.to(dtype), size, size)
    gen_flops = counter.get_total_flops()
    t_gen = median_time(lambda: gan.draw(seeds, size, size, device), device, min_time, max(3, repeats // 2)) / batch
    result = {
        "device": str(device),
        "dtype": str(dtype),
        "channels_last": channels_last,
        "threads": torch.get_num_threads(),
        "matmul_gflops": 2 * n**3 / t_mm / 1e9,
        "conv_gflops": conv_flops / t_conv / 1e9,
        "generator_gflop_per_image": gen_flops / 1e9,
        "generator_ms_per_image": 1000 * t_gen,
        "generator_gflops": gen_flops / t_gen / 1e9,
        "size": size,
    }
    result["percent_of_matmul_peak"] = 100 * result["generator_gflops"] / result["matmul_gflops"]
    result["percent_of_conv_peak"] = 100 * result["generator_gflops"] / result["conv_gflops"]
    if compiled:  # the same generator through torch.compile (GANResampler(compile=True)), against eager
        gan_c = get_resampler("gan", {"compile": True})
        t0 = time.perf_counter()
        gan_c.draw(seeds[:1], size, size, device)
        sync(device)
        result["compile_s"] = time.perf_counter() - t0
        rounds = paired_rounds(
            {
                "eager": partial(gan.draw, seeds, size, size, device),
                "compiled": partial(gan_c.draw, seeds, size, size, device),
            },
            device,
            min_time,
            max(3, repeats // 2),
        )
        t_comp = statistics.median(rounds["compiled"]) / batch
        result["compiled_generator_ms_per_image"] = 1000 * t_comp
        result["compiled_vs_eager"] = round_ratio(rounds, "compiled", "eager")
        result["compiled_percent_of_conv_peak"] = 100 * gen_flops / t_comp / 1e9 / result["conv_gflops"]
    print("  L " + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in result.items()))
    return result


# ----------------------------------------------------------------------------- memory
MEMORY_PATHS = {
    "albumentations CausalResample(spectral) 512px": "a_spectral",
    "albumentations CausalResample(gan) 512px": "a_gan",
    "albumentations MaskDropout 512px": "a_maskdropout",
    "kornia RandomCausalResample(swap) 32x256px": "k_swap",
    "kornia RandomTransplantation 32x256px": "k_transplant",
    "kornia RandomCausalResample(gan) 8x256px": "k_gan",
}


def _peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, because ru_maxrss survives exec on Linux and
    would start at the (larger) parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kilobytes on Linux


def memory_probe(path: str, inputs_file: str) -> None:
    """Run one path in this (fresh) process and print the peak RSS it added, in MB.

    The inputs come from ``inputs_file`` (written by the parent), so decoding the photos does not
    set the peak before the path runs; the baseline is taken after every import.
    """
    import albumentations as A
    import kornia.augmentation as K

    from causal_transforms.albumentations import CausalResample
    from causal_transforms.kornia import RandomCausalResample

    data = np.load(inputs_file)
    if path.startswith("a_"):
        image, mask = data["a_images"][0], data["a_masks"][0]
        make = {
            "a_spectral": lambda: CausalResample("spectral", p=1.0),
            "a_gan": lambda: CausalResample("gan", p=1.0),
            "a_maskdropout": lambda: A.MaskDropout(max_objects=1, fill=0, p=1.0),
        }[path]
        before = _peak_rss_mb()
        transform = make()
        call = lambda: transform(image=image, mask=mask)  # noqa: E731
    else:
        batch = 8 if path == "k_gan" else 32
        idx = np.arange(batch) % len(data["k_images"])
        image = torch.from_numpy(data["k_images"][idx]).permute(0, 3, 1, 2).float().div(255.0).contiguous()
        mask = torch.from_numpy(data["k_masks"][idx]).float()[:, None].contiguous()
        make = {
            "k_swap": lambda: RandomCausalResample("swap", p=1.0),
            "k_transplant": lambda: K.RandomTransplantation(p=1.0),
            "k_gan": lambda: RandomCausalResample("gan", p=1.0),
        }[path]
        before = _peak_rss_mb()
        transform = make()
        call = lambda: transform(image, mask)  # noqa: E731
    for _ in range(3):
        call()
    print(json.dumps({"path": path, "baseline_mb": before, "peak_added_mb": _peak_rss_mb() - before}))


def memory_section() -> dict:
    import tempfile

    a_images, a_masks = real_inputs(512, 1)
    k_images, k_masks = real_inputs(256, 8)
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        inputs_file = str(Path(tmp) / "inputs.npz")
        np.savez(inputs_file, a_images=a_images, a_masks=a_masks, k_images=k_images, k_masks=k_masks)
        for label, key in MEMORY_PATHS.items():
            proc = subprocess.run(
                [sys.executable, __file__, "--memory-probe", key, "--memory-inputs", inputs_file],
                capture_output=True,
                text=True,
                check=False,
            )
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            if proc.returncode != 0 or not lines:
                raise RuntimeError(f"memory probe {key} failed:\n{proc.stderr[-2000:]}")
            data = json.loads(lines[-1])
            result[label] = data["peak_added_mb"]
            print(f"  M {label}: +{data['peak_added_mb']:.1f} MB peak RSS", flush=True)
    return result


# ----------------------------------------------------------------------------- report
def goals(payload: dict) -> dict:
    out = {}
    if payload.get("albumentations"):
        worst = max(payload["albumentations"]["rows"], key=lambda r: r["wrapper_ratio"])
        out["wrapper_vs_bare_max"] = {
            "value": worst["wrapper_ratio"],
            "goal": "<= 1.10",
            "met": worst["wrapper_ratio"] <= 1.10,
            "where": f"{worst['resampler']} {worst['size']}px {worst['dtype']}",
        }
    if payload.get("kornia"):
        swap = max(r["swap_vs_RandomTransplantation"] for r in payload["kornia"])
        half = max(r["swap_p0.5_vs_p1"] for r in payload["kornia"])
        out["swap_vs_RandomTransplantation_max"] = {"value": swap, "goal": "<= 1.0", "met": swap <= 1.0}
        out["p0.5_vs_p1_max"] = {"value": half, "goal": "<= 0.6", "met": half <= 0.6}
        expected = [r["swap_gate_curve"]["expected_p0.5_vs_p1"] for r in payload["kornia"] if "swap_gate_curve" in r]
        if expected:  # the same goal, from the fixed-gate costs weighted by their binomial probabilities
            out["swap_expected_p0.5_vs_p1_max"] = {
                "value": max(expected),
                "goal": "<= 0.6",
                "met": max(expected) <= 0.6,
            }
        gan_half = [r["gan_p0.5_vs_p1"] for r in payload["kornia"] if "gan_p0.5_vs_p1" in r]
        if gan_half:
            out["gan_p0.5_vs_p1_max"] = {"value": max(gan_half), "goal": "<= 0.6", "met": max(gan_half) <= 0.6}
    if payload.get("limit"):
        lim = payload["limit"]
        out["generator_percent_of_peak"] = {
            "value": lim["percent_of_conv_peak"],
            "of_matmul_peak": lim["percent_of_matmul_peak"],
            "compiled": lim.get("compiled_percent_of_conv_peak"),
            "goal": "stated",
            "met": True,
        }
    return out


def plot(payload: dict, path: Path) -> None:
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'); no chart written")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [p for p in ("albumentations", "kornia") if payload.get(p)]
    curves = [r for r in payload.get("kornia") or [] if "swap_gate_curve" in r]
    n_axes = len(panels) + 1 + bool(curves)
    fig, axes = plt.subplots(1, n_axes, figsize=(6 * n_axes, 5.5))
    axes = np.atleast_1d(axes)
    ax_i = 0
    if payload.get("albumentations"):
        ax = axes[ax_i]
        ax_i += 1
        rows = [r for r in payload["albumentations"]["rows"] if r["dtype"] == "uint8"]
        labels = [f"{r['resampler']} {r['size']}" for r in rows]
        y = np.arange(len(rows))
        ax.barh(y - 0.2, [r["wrapper_ratio"] for r in rows], 0.4, label="ours / bare backend")
        ax.barh(y + 0.2, [r["vs_MaskDropout"] for r in rows], 0.4, label="ours / MaskDropout")
        ax.axvline(1.10, color="red", ls="--", lw=1, label="goal 1.10 (wrapper)")
        ax.axvline(1.0, color="black", lw=0.5)
        ax.set_xscale("log")
        ax.set_yticks(y, labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_title("Albumentations, uint8, per image (time ratio)", fontsize=9)
        ax.legend(fontsize=7)
    if payload.get("kornia"):
        ax = axes[ax_i]
        ax_i += 1
        rows = payload["kornia"]
        names, values = [], []
        for r in rows:
            names += [f"swap/RT b{r['batch']}", f"swap p.5/p1 b{r['batch']}"]
            values += [r["swap_vs_RandomTransplantation"], r["swap_p0.5_vs_p1"]]
            if "gan_vs_generator" in r:
                names += [f"gan/generator b{r['batch']}", f"gan p.5/p1 b{r['batch']}"]
                values += [r["gan_vs_generator"], r["gan_p0.5_vs_p1"]]
        ax.barh(np.arange(len(values)), values, color="tab:green")
        ax.set_yticks(np.arange(len(values)), names, fontsize=8)
        ax.axvline(1.0, color="black", lw=0.5)
        ax.axvline(0.6, color="red", ls="--", lw=1, label="goal p.5/p1 0.6")
        ax.invert_yaxis()
        ax.set_title(f"Kornia, {rows[0]['size']} px, {rows[0]['device']} (time ratio)", fontsize=9)
        ax.legend(fontsize=7)
    if curves:
        ax = axes[ax_i]
        ax_i += 1
        for r in curves:
            c = r["swap_gate_curve"]
            x = np.array(c["selected"]) / r["batch"]
            ax.plot(x, np.array(c["ms"]) / c["ms"][-1], "o-", label=f"swap, batch {r['batch']}")
        ax.plot([0, 1], [0, 1], color="gray", ls=":", lw=1, label="proportional")
        ax.plot([0.5], [0.6], "r*", ms=10, label="goal at p = 0.5")
        ax.set_xlabel("fraction of the batch selected (gate fixed)")
        ax.set_ylabel("time / time with every sample selected")
        ax.set_title("Kornia swap: cost against the samples the gate selects", fontsize=9)
        ax.legend(fontsize=7)
    ax = axes[ax_i]
    if payload.get("end_to_end"):
        e2e = payload["end_to_end"]
        keys = [k for k in e2e if k.endswith("_images_per_s")]
        ax.barh(np.arange(len(keys)), [e2e[k] for k in keys], color="tab:purple")
        ax.set_yticks(np.arange(len(keys)), [k.removesuffix("_images_per_s") for k in keys], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("images / s (DataLoader, 2 workers, + training step)")
        ax.set_title(f"End to end at {e2e['size']} px", fontsize=9)
    fig.suptitle(f"causal_transforms throughput on {payload['machine']['cpu']} ({payload['machine']['cores']} cores)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="64 and 256 px only, fewer repeats")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (cuda: the Kornia and limit sections)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--min-time", type=float, default=0.25, help="seconds per timing round")
    parser.add_argument("--sections", nargs="+", default=["albumentations", "kornia", "end_to_end", "limit", "memory"])
    parser.add_argument("--memory-probe", help=argparse.SUPPRESS)
    parser.add_argument("--memory-inputs", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_probe:
        memory_probe(args.memory_probe, args.memory_inputs)
        return 0
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: no CUDA device is available here (torch.cuda.is_available() is False)")
        args.sections = [s for s in args.sections if s in ("kornia", "limit")]
    if args.quick:
        args.repeats, args.min_time = 3, 0.1
    cv2.setNumThreads(1)
    t0 = time.perf_counter()
    payload: dict[str, Any] = {
        "benchmark": "throughput",
        "command": "python benchmarks/throughput.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "settings": {k: v for k, v in vars(args).items() if not k.startswith("memory_")},
    }
    if "albumentations" in args.sections:
        print("Albumentations path (CPU, per image)", flush=True)
        sizes = [64, 256] if args.quick else [64, 256, 512]
        payload["albumentations"] = albumentations_section(sizes, args.min_time, args.repeats)
    if "kornia" in args.sections:
        print(f"Kornia path ({device})", flush=True)
        payload["kornia"] = kornia_section([8, 32], 256, device, args.min_time, args.repeats)
    if "end_to_end" in args.sections:
        print("End to end (DataLoader, 2 workers, training step)", flush=True)
        payload["end_to_end"] = end_to_end_section(256, ["spectral", "swap", "gan"], 12 if args.quick else 24)
    if "limit" in args.sections:
        print("Generator against the machine's peak", flush=True)
        payload["limit"] = limit_section(256, device, args.min_time, args.repeats, compiled=not args.quick)
    if "memory" in args.sections:
        print("Peak memory per path (fresh process each)", flush=True)
        payload["memory_mb"] = memory_section()
    payload["inputs"] = "synthetic (photo cache missing)" if SYNTHETIC_INPUTS else "real photos (sample_set)"
    payload["goals"] = goals(payload)
    payload["seconds"] = time.perf_counter() - t0
    stem = "throughput" + ("_quick" if args.quick else "") + ("_cuda" if device.type == "cuda" else "")
    if set(args.sections) != set(parser.get_default("sections")) and device.type != "cuda":
        stem += "_partial"  # a run of some sections never overwrites the committed full results
    write_json(f"{stem}.json", payload)
    plot(payload, RESULTS / f"{stem}.png")
    print("\nGoals")
    for name, g in payload["goals"].items():
        print(f"  {name:36s} {g['value']:8.3f}  goal {g['goal']:8s} {'met' if g['met'] else 'NOT met'}")
    print(f"total {payload['seconds']:.0f} s; wrote {RESULTS / (stem + '.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
