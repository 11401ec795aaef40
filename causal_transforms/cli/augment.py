"""``causal-transforms augment``: write counterfactual variants of images to disk.

With no arguments it builds the real-photo sample set (real bird cutouts composited onto real
background photos, see :mod:`causal_transforms.data.tuxbirds`) and writes ``--variants``
counterfactuals of each: the bird's pixels are kept bit-identical, the background is
resampled. With ``--images DIR --masks DIR`` it does the same for the user's own data.

Output layout (all paths relative to ``--out``)::

    sources/<name>.png          the source image
    sources/<name>_mask.png     its keep-map as 0/255 (255 = causal, kept)
    variants/<name>_v<k>.png    variant k = 1..K
    masks/<name>_v<k>.png       the variant's mask: the unchanged source mask
    manifest.jsonl              one JSON line per variant
    contact_sheet.png           original | mask | variant 1..K, one row per source
    provenance.json             where each photo came from (sample set only)

Every file is written atomically. A re-run skips variants whose manifest line matches the
requested settings and whose files exist, and deletes the temporary files (``.<name>.<random>.tmp``)
that a run killed in the middle of a write left behind.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from causal_transforms.cli._common import CLIError, DefaultsHelpFormatter, encode_png, write_if_changed

__all__ = ["IMAGE_EXTENSIONS", "add_parser", "run"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
MANIFEST = "manifest.jsonl"
CONTACT_SHEET = "contact_sheet.png"
_MAX_DONORS = 8
_FLUSH_EVERY_S = 2.0
_SKIP_KEYS = ("resampler", "resampler_options", "seed", "feather", "roles", "source_sha256")
# The temporaries of ``atomic_write_bytes``: ``tempfile.mkstemp(prefix=".<name>.", suffix=".tmp")``.
_TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


@dataclass
class _Source:
    """One source image: a name, how to load it, and extra manifest fields."""

    name: str
    load: Callable[[], tuple[np.ndarray, np.ndarray]]  # (RGB uint8 (H, W, 3), raw mask (H, W) or (H, W, C))
    meta: dict[str, Any] = field(default_factory=dict)
    sample_mask: bool = False  # a 0/1 sample-set mask: written as 0/255 under masks/


# --------------------------------------------------------------------------- arguments


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _parse_resampler_options(items: list[str] | None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CLIError(f"--resampler-option: expected KEY=VALUE, got {item!r}")
        try:
            options[key] = json.loads(raw)
        except ValueError:
            options[key] = raw  # a bare word such as gaussian
    return options


def _parse_causal_values(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    values = []
    for part in text.split(","):
        try:
            number = float(part)
        except ValueError:
            raise CLIError(f"--causal-values: expected comma-separated numbers such as 1,2, got {text!r}") from None
        values.append(int(number) if number.is_integer() else number)
    return tuple(values)


def _role_spec(args: argparse.Namespace):
    from causal_transforms.core.roles import RoleSpec

    roles = None
    if args.roles is not None:
        try:
            roles = json.loads(args.roles)
        except ValueError as exc:
            example = '{"0": "resample", "1": "keep"}'
            raise CLIError(f"--roles: expected JSON such as '{example}', got {args.roles!r}: {exc}") from None
        if not isinstance(roles, dict):
            raise CLIError(f"--roles: expected a JSON object {{label: role}}, got {args.roles!r}")
    try:
        # A folder's masks need not all hold every label named in --roles.
        return RoleSpec(
            mode=args.mask_mode,
            causal_values=_parse_causal_values(args.causal_values),
            roles=roles,
            strict_roles=False,
        )
    except ValueError as exc:
        raise CLIError(f"--mask-mode/--causal-values/--roles: {exc}") from None


def _roles_record(spec) -> dict[str, Any]:
    roles = (
        None if spec.roles is None else {str(k): v for k, v in sorted(spec.roles.items(), key=lambda kv: str(kv[0]))}
    )
    causal = None if spec.causal_values is None else list(spec.causal_values)
    return {"mode": spec.mode, "causal_values": causal, "roles": roles}


# --------------------------------------------------------------------------- sources


def _sample_sources(args: argparse.Namespace) -> tuple[list[_Source], dict[str, Any]]:
    from causal_transforms.data.debian import debian_provenance
    from causal_transforms.data.photos import BACKGROUND_SOURCES, BIRD_SOURCES
    from causal_transforms.data.tuxbirds import sample_set

    samples = sample_set(args.num_images or 12, size=args.size or 256, seed=args.seed, cache=args.cache)
    by_bird = {s.name: s for s in BIRD_SOURCES}
    by_background = {s.name: s for s in BACKGROUND_SOURCES}

    def describe(src) -> dict[str, Any]:
        record = debian_provenance(src.package, cache=args.cache) or {}
        return {
            "name": src.name,
            "package": src.package,
            "version": record.get("version", "unknown"),
            "path": src.path,
            "licence": src.licence,
        }

    sources, provenance = [], []
    for s in samples:
        meta = {"label": s.label, "habitat": s.habitat, "bird": s.bird, "background": s.background}
        sources.append(_Source(s.name, (lambda s=s: (s.image, s.mask)), meta, sample_mask=True))
        provenance.append(
            {
                "source": s.name,
                "label": s.label,
                "habitat": s.habitat,
                "bird": describe(by_bird[s.bird]),
                "background": describe(by_background[s.background]),
            }
        )
    note = (
        "Real photos from Debian packages (fetched with apt-get download, see causal_transforms.data): "
        "bird cutouts composited onto background photos by causal_transforms.data.tuxbirds.sample_set."
    )
    return sources, {"note": note, "samples": provenance}


def _scan(folder: str, flag: str) -> dict[str, Path]:
    path = Path(folder).expanduser()
    if not path.exists():
        raise CLIError(f"{flag}: {folder} does not exist")
    if not path.is_dir():
        raise CLIError(f"{flag}: {folder} is not a directory")
    found: dict[str, Path] = {}
    for p in sorted(path.iterdir()):
        if not p.is_file() or p.suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        if p.stem in found:
            raise CLIError(f"{flag}: two files share the stem {p.stem!r}: {found[p.stem].name} and {p.name}")
        found[p.stem] = p
    if not found:
        raise CLIError(f"{flag}: no image files ({', '.join(IMAGE_EXTENSIONS)}) in {folder}")
    return found


def _names(paths: list[Path], limit: int = 10) -> str:
    shown = ", ".join(p.name for p in paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def _read_image(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise CLIError(f"--images: could not read {path} as an image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _read_mask(path: Path) -> np.ndarray:
    mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise CLIError(f"--masks: could not read {path} as an image")
    if mask.ndim == 3 and mask.shape[2] == 3:
        mask = cv2.cvtColor(mask, cv2.COLOR_BGR2RGB)
    elif mask.ndim == 3 and mask.shape[2] == 4:
        mask = cv2.cvtColor(mask, cv2.COLOR_BGRA2RGBA)
    return mask


def _user_sources(args: argparse.Namespace) -> list[_Source]:
    images = _scan(args.images, "--images")
    masks = _scan(args.masks, "--masks")
    no_mask = [images[s] for s in images if s not in masks]
    no_image = [masks[s] for s in masks if s not in images]
    if no_mask or no_image:
        parts = []
        if no_mask:
            parts.append(f"no mask in {args.masks} for {len(no_mask)} image(s): {_names(no_mask)}")
        if no_image:
            parts.append(f"no image in {args.images} for {len(no_image)} mask(s): {_names(no_image)}")
        raise CLIError(
            "--images/--masks: " + "; ".join(parts) + ". Masks are matched to images by file name without "
            "extension (photo.jpg <-> photo.png)"
        )
    stems = sorted(images)
    if args.num_images:
        stems = stems[: args.num_images]

    def loader(stem: str) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
        def load() -> tuple[np.ndarray, np.ndarray]:
            image, mask = _read_image(images[stem]), _read_mask(masks[stem])
            if mask.shape[:2] != image.shape[:2]:
                raise CLIError(
                    f"--masks: {masks[stem]} is {mask.shape[1]}x{mask.shape[0]} (WxH) but its image "
                    f"{images[stem]} is {image.shape[1]}x{image.shape[0]}; a mask must have its image's size"
                )
            return image, mask

        return load

    return [
        _Source(stem, loader(stem), {"source_file": str(images[stem]), "mask_file": str(masks[stem])}) for stem in stems
    ]


def _mask_2d(raw: np.ndarray, mode: str, where: str) -> np.ndarray:
    if raw.ndim == 2:
        return raw
    channels = raw.shape[2]
    if mode == "alpha" and channels in (2, 4):
        return raw[..., -1]
    if channels == 1:
        return raw[..., 0]
    colour = raw[..., : min(channels, 3)]
    if channels in (2, 4) and not (raw[..., -1] == raw[..., -1].max()).all():
        raise CLIError(
            f"--masks: {where} has an alpha channel that is not opaque; pass --mask-mode alpha to use the "
            "alpha channel as the mask"
        )
    if not (colour == colour[..., :1]).all():
        raise CLIError(
            f"--masks: {where} is a colour image with differing channels; expected a single-channel mask "
            "(grey levels or labels), or an RGBA image with --mask-mode alpha"
        )
    return colour[..., 0]


def _keep_map(raw: np.ndarray, spec, where: str):
    import torch

    mask = _mask_2d(raw, spec.mode, where)
    if spec.mode == "alpha" and mask.dtype == np.uint16:
        mask = mask.astype(np.float32) / 65535.0
    elif mask.dtype not in (np.uint8, np.bool_, np.float32, np.float64, np.int64, np.int32, np.int16):
        mask = mask.astype(np.int64)
    try:
        return spec.keep_map(torch.from_numpy(np.ascontiguousarray(mask)), name=f"mask {where}")
    except (TypeError, ValueError) as exc:
        raise CLIError(f"--masks: {exc}") from None


def _earlier_provenance(path: Path) -> list[dict[str, Any]]:
    """Sample records of an earlier run's provenance.json (none if absent or unreadable)."""
    try:
        samples = json.loads(path.read_text(encoding="utf-8")).get("samples", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [r for r in samples if isinstance(r, dict) and isinstance(r.get("source"), str)]


# --------------------------------------------------------------------------- manifest


def _load_manifest(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise CLIError(f"--out: {path} line {number} is not valid JSON; fix or delete the file") from None
        if not isinstance(record, dict) or "source" not in record or "variant" not in record:
            raise CLIError(f"--out: {path} line {number} has no 'source'/'variant'; fix or delete the file")
        records.append(record)
    return records


def _remove_temporaries(out: Path) -> None:
    """Delete the temporaries that a killed run (SIGKILL, power loss) left in the output folders."""
    for folder in (out, out / "sources", out / "variants", out / "masks"):
        for path in folder.glob(".*.tmp"):
            if _TEMPORARY.match(path.name) and path.is_file():
                path.unlink(missing_ok=True)


def _manifest_text(records: dict[tuple[str, int], dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, sort_keys=True) + "\n" for r in records.values()).encode("utf-8")


# --------------------------------------------------------------------------- generation


def _to_tensor(rgb: np.ndarray):
    import torch

    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).unsqueeze(0).contiguous()


def _donors(sources: list[_Source], index: int, spec, height: int, width: int, device):
    import torch

    n = len(sources)
    images, keeps = [], []
    for d in range(1, min(_MAX_DONORS, n - 1) + 1):
        other = sources[(index + d) % n]
        rgb, raw = other.load()
        keep = _keep_map(raw, spec, other.meta.get("mask_file", other.name)).numpy()
        if rgb.shape[:2] != (height, width):
            rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
            keep = cv2.resize(keep, (width, height), interpolation=cv2.INTER_LINEAR)
        images.append(torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() / 255.0)
        keeps.append(torch.from_numpy(np.ascontiguousarray(keep)).float()[None])
    return torch.stack(images).to(device), torch.stack(keeps).to(device)


def _generate(rgb, keep, resampler, seeds: list[int], feather: int, donors, device) -> list[np.ndarray]:
    import torch

    from causal_transforms.engine import apply_resample

    image = _to_tensor(rgb).to(device)
    keep4 = keep[None, None].to(device)
    # A batch backend with no other image to borrow from runs alone per variant, so the
    # variants do not copy each other.
    batches = [[s] for s in seeds] if resampler.uses_batch and donors is None else [seeds]
    outputs: list[np.ndarray] = []
    for batch in batches:
        b = len(batch)
        out = apply_resample(
            image.expand(b, -1, -1, -1).contiguous(),
            keep4.expand(b, -1, -1, -1).contiguous(),
            resampler,
            torch.tensor(batch, dtype=torch.int64),
            feather=feather,
            donors=donors,
        )
        outputs.extend(o.permute(1, 2, 0).cpu().numpy() for o in out)
    return outputs


def _read_rgb(path: Path) -> np.ndarray | None:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def run(args: argparse.Namespace) -> int:
    """Run the ``augment`` job described by the parsed command line.

    Args:
        args: The parsed command line.

    Returns:
        The exit code, 0.

    Raises:
        CLIError: A bad argument or input file (the message names it).
    """
    import torch
    from tqdm import tqdm

    from causal_transforms.core.seeding import derive_seed
    from causal_transforms.registry import create_resampler, list_resamplers

    started = time.perf_counter()
    if args.sheet_cell < 16:
        raise CLIError(f"--sheet-cell: expected at least 16 pixels, got {args.sheet_cell}")
    if (args.images is None) != (args.masks is None):
        raise CLIError("--images/--masks: give both folders (images and their masks) or neither")
    user_data = args.images is not None
    if user_data and args.size is not None:
        raise CLIError("--size: only used for the built-in sample set; your images keep their own size")
    if args.resampler not in list_resamplers():
        raise CLIError(f"--resampler: unknown name {args.resampler!r}; expected one of {list_resamplers()}")
    options = _parse_resampler_options(args.resampler_option)
    try:
        resampler = create_resampler(args.resampler, **options)
    except (TypeError, ValueError) as exc:
        raise CLIError(f"--resampler-option: {str(exc).removeprefix('resampler_options: ')}") from None
    try:
        device = torch.device(args.device)
    except RuntimeError as exc:
        raise CLIError(f"--device: {exc}") from None
    spec = _role_spec(args)
    roles = _roles_record(spec)

    if user_data:
        sources, provenance = _user_sources(args), None
    else:
        if spec.mode != "binary" or spec.causal_values is not None:
            raise CLIError("--mask-mode/--causal-values/--roles: only used with --images/--masks")
        sources, provenance = _sample_sources(args)

    out = Path(args.out).expanduser()
    for sub in ("sources", "variants", "masks"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    _remove_temporaries(out)
    manifest_path = out / MANIFEST
    records: dict[tuple[str, int], dict[str, Any]] = {}
    for record in _load_manifest(manifest_path):
        records[(str(record["source"]), int(record["variant"]))] = record
    if provenance is not None:
        # Runs accumulate in one folder (other --seed / --num-images): keep every source's record.
        merged = {r["source"]: r for r in _earlier_provenance(out / "provenance.json")}
        merged.update({r["source"]: r for r in provenance["samples"]})
        provenance = {**provenance, "samples": [merged[k] for k in sorted(merged)]}
        write_if_changed(out / "provenance.json", (json.dumps(provenance, indent=2, sort_keys=True) + "\n").encode())

    k_range = range(1, args.variants + 1)
    sheet_rows: list[tuple[str, list[np.ndarray]]] = []
    written = skipped = replaced = 0
    last_flush = time.monotonic()
    bar = tqdm(total=len(sources) * args.variants, unit="variant", desc="augment", disable=args.quiet)
    try:
        for index, source in enumerate(sources):
            rgb, raw_mask = source.load()
            keep = _keep_map(raw_mask, spec, source.meta.get("mask_file", source.name))
            digest = hashlib.sha256(rgb.tobytes() + np.ascontiguousarray(raw_mask).tobytes()).hexdigest()[:16]
            keep_png = encode_png(np.rint(keep.numpy() * 255.0).astype(np.uint8))
            variant_mask = raw_mask * np.uint8(255) if source.sample_mask else raw_mask
            source_png, source_mask_png = f"sources/{source.name}.png", f"sources/{source.name}_mask.png"
            write_if_changed(out / source_png, encode_png(rgb))
            write_if_changed(out / source_mask_png, keep_png)
            wanted: dict[int, dict[str, Any]] = {}
            todo = []
            for k in k_range:
                record = {
                    "source": source.name,
                    "variant": k,
                    "resampler": args.resampler,
                    "resampler_options": options,
                    "seed": derive_seed(args.seed, source.name, k),
                    "base_seed": args.seed,
                    "feather": args.feather,
                    "roles": roles,
                    "source_sha256": digest,
                    "image": f"variants/{source.name}_v{k}.png",
                    "mask": f"masks/{source.name}_v{k}.png",
                    "source_image": source_png,
                    "source_mask": source_mask_png,
                    **source.meta,
                }
                wanted[k] = record
                old = records.get((source.name, k))
                done = (
                    old is not None
                    and all(old.get(key) == record[key] for key in _SKIP_KEYS)
                    and (out / record["image"]).is_file()
                    and (out / record["mask"]).is_file()
                )
                if not done:
                    todo.append(k)
                    replaced += old is not None and (out / record["image"]).is_file()
            skipped += args.variants - len(todo)
            bar.update(args.variants - len(todo))
            variants: dict[int, np.ndarray] = {}
            if todo:
                donors = None
                if resampler.uses_batch and len(sources) > 1:
                    donors = _donors(sources, index, spec, rgb.shape[0], rgb.shape[1], device)
                seeds = [wanted[k]["seed"] for k in todo]
                mask_png = encode_png(np.ascontiguousarray(variant_mask))
                generated = _generate(rgb, keep, resampler, seeds, args.feather, donors, device)
                for k, variant in zip(todo, generated, strict=True):
                    write_if_changed(out / wanted[k]["image"], encode_png(variant))
                    write_if_changed(out / wanted[k]["mask"], mask_png)
                    records[(source.name, k)] = wanted[k]
                    variants[k] = variant
                    written += 1
                    bar.update(1)
            if len(sheet_rows) < args.sheet_rows:
                cells = [rgb, (keep.numpy() * 255.0).round().astype(np.uint8)]
                for k in k_range:
                    image = variants.get(k)
                    if image is None:
                        image = _read_rgb(out / wanted[k]["image"])
                    cells.append(image if image is not None else np.zeros_like(rgb))
                title = source.name
                if "label" in source.meta:
                    title += f"   (bird: {source.meta['label']}, background: {source.meta['habitat']})"
                sheet_rows.append((title, cells))
            if time.monotonic() - last_flush > _FLUSH_EVERY_S:
                write_if_changed(manifest_path, _manifest_text(records))
                last_flush = time.monotonic()
    finally:
        bar.close()
        write_if_changed(manifest_path, _manifest_text(records))

    sheet_path = None
    if sheet_rows:
        from causal_transforms.cli.contact_sheet import make_contact_sheet

        labels = ["original", "mask (white = kept)", *(f"variant {k} ({args.resampler})" for k in k_range)]
        sheet = make_contact_sheet(sheet_rows, labels, cell=args.sheet_cell)
        sheet_path = out / CONTACT_SHEET
        write_if_changed(sheet_path, encode_png(sheet))
    elapsed = time.perf_counter() - started
    print(
        f"{written} variants written, {skipped} skipped (already in {manifest_path}); "
        f"{len(sources)} source images, resampler {args.resampler!r}, {elapsed:.1f} s"
    )
    if replaced:
        print(
            f"note: {replaced} of them replaced variants an earlier run made in {out} with other settings "
            "(resampler, options, seed, feather or roles); use another --out to keep both"
        )
    print(f"output: {out.resolve()}")
    if sheet_path is not None:
        print(f"contact sheet: {sheet_path.resolve()}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``augment`` sub-command.

    Args:
        subparsers: The top-level sub-parser collection.

    Returns:
        The new parser.
    """
    parser = subparsers.add_parser(
        "augment",
        help="write counterfactual variants (object kept, background resampled) to disk",
        description=(
            "Write K counterfactual variants of each image: the causal pixels (the object) are kept "
            "bit-identical, the rest is resampled. Without --images/--masks it uses a built-in set of real "
            "photos (bird cutouts on background photos, fetched from Debian packages into the cache)."
        ),
        formatter_class=DefaultsHelpFormatter,
    )
    job = parser.add_argument_group("job")
    job.add_argument("--out", default="./causal_transforms_output", metavar="DIR", help="output folder")
    job.add_argument(
        "--resampler",
        default="spectral",
        metavar="NAME",
        help="backend (see `causal-transforms list`); spectral by default because each variant then depends only "
        "on its source and seed, so a resumed run equals an uninterrupted one (swap borrows from earlier images)",
    )
    job.add_argument(
        "--resampler-option",
        action="append",
        metavar="KEY=VALUE",
        help="backend option; VALUE is parsed as JSON when it can be (repeatable)",
    )
    job.add_argument("--variants", type=_positive_int, default=4, metavar="K", help="variants per image")
    job.add_argument("--feather", type=_non_negative_int, default=0, metavar="N", help="blend width in pixels")
    job.add_argument("--seed", type=_non_negative_int, default=0, metavar="S", help="base seed")
    job.add_argument("--device", default="cpu", help="torch device the resampler runs on")
    job.add_argument(
        "--num-images",
        type=_positive_int,
        default=None,
        metavar="N",
        help="number of images (sample set: 12)",
    )
    job.add_argument("--quiet", action="store_true", help="no progress bar")
    sample = parser.add_argument_group("built-in sample set")
    sample.add_argument("--size", type=_positive_int, default=None, help="image side in pixels (default 256)")
    sample.add_argument("--cache", metavar="DIR", default=None, help="photo cache (default: see fetch-data)")
    own = parser.add_argument_group("your own data")
    own.add_argument("--images", metavar="DIR", help="folder of images")
    own.add_argument("--masks", metavar="DIR", help="folder of masks, matched to the images by file stem")
    own.add_argument(
        "--mask-mode",
        choices=("binary", "labels", "alpha"),
        default=None,
        help="binary: non-zero (or --causal-values) is causal; labels: --roles; alpha: soft alpha "
        "(the alpha channel of an RGBA mask). Default: labels with --roles, else binary",
    )
    own.add_argument("--causal-values", metavar="V1,V2", help="mask values that mean causal (binary mode)")
    own.add_argument("--roles", metavar="JSON", help='label roles, e.g. \'{"0": "resample", "1": "keep"}\'')
    sheet = parser.add_argument_group("contact sheet")
    sheet.add_argument("--sheet-rows", type=_non_negative_int, default=12, help="rows (source images); 0: none")
    sheet.add_argument("--sheet-cell", type=_positive_int, default=256, help="cell side in pixels (>= 16)")
    parser.set_defaults(func=run)
    return parser
