"""Fetch files out of Debian packages into the cache, without installing anything.

``apt-get download PKG`` puts the ``.deb`` into a download folder inside the cache (never the
working tree); ``dpkg-deb --fsys-tarfile`` streams its file system, and only the members that
match the requested patterns are written to ``<cache>/debian/<PKG>/``. A marker file, written
atomically after a successful extraction, records where the files came from (package,
version, architecture, the ``.deb``'s name and sha256, and every extracted path); a second
call with patterns already covered does nothing and needs no network.

Nothing here runs at import time.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fnmatch
import hashlib
import json
import os
import posixpath
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from causal_transforms.data.cache import cache_dir

__all__ = [
    "MARKER_NAME",
    "debian_dir",
    "debian_provenance",
    "fetch_debian_files",
    "is_fetched",
]

MARKER_NAME = ".causal_transforms_fetch.json"
_PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_TIMEOUT_S = 1800
_apt_updated = False  # ``apt-get update`` runs at most once per process
_HELP = (
    "To fix this: run on Debian or Ubuntu with network access to a Debian mirror (as root, "
    "`apt-get update` first), or fill the cache on such a machine with `causal-transforms fetch-data` "
    "and copy the cache directory {root} here (or point $CAUSAL_TRANSFORMS_CACHE at a copy), or use "
    "your own data: `causal-transforms augment --images DIR --masks DIR`."
)


def _root(cache: str | os.PathLike[str] | None) -> Path:
    return Path(cache).expanduser().resolve() if cache is not None else cache_dir()


def debian_dir(package: str, *, cache: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder a package's files are extracted into (it may not exist yet).

    Args:
        package: The Debian package name.
        cache: The cache root; :func:`~causal_transforms.data.cache.cache_dir` by default.

    Returns:
        ``<cache>/debian/<package>``.

    Example:
        >>> debian_dir("mate-backgrounds", cache="/tmp/c").as_posix()
        '/tmp/c/debian/mate-backgrounds'
    """
    _check_package(package)
    return _root(cache) / "debian" / package


def _check_package(package: object) -> None:
    if not isinstance(package, str) or not _PACKAGE_RE.match(package):
        raise ValueError(f"package: expected a Debian package name such as 'tuxpaint-data', got {package!r}")


def _check_patterns(patterns: object) -> list[str]:
    if isinstance(patterns, str) or not isinstance(patterns, Sequence) or not patterns:
        raise ValueError(f"patterns: expected a non-empty list of path patterns, got {patterns!r}")
    clean = []
    for p in patterns:
        if not isinstance(p, str) or not p.strip("./"):
            raise ValueError(f"patterns: expected non-empty strings, got {p!r}")
        norm = p[2:] if p.startswith("./") else p
        if norm.startswith("/") or ".." in norm.split("/"):
            raise ValueError(f"patterns: expected paths relative to the package root without '..', got {p!r}")
        clean.append(norm)
    return sorted(set(clean))


def _read_marker(target: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((target / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def debian_provenance(package: str, *, cache: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    """Where a fetched package's files came from, or ``None`` when it was never fetched.

    Args:
        package: The Debian package name.
        cache: The cache root; the default cache by default.

    Returns:
        The marker record: ``package``, ``version``, ``architecture``, ``deb`` (file name),
        ``sha256`` (of the ``.deb``), ``patterns``, ``files`` (paths relative to the package
        folder) and ``fetched_at``.

    Example:
        >>> debian_provenance("no-such-package", cache="/tmp/empty-ct-cache") is None
        True
    """
    return _read_marker(debian_dir(package, cache=cache))


def is_fetched(package: str, patterns: Sequence[str], *, cache: str | os.PathLike[str] | None = None) -> bool:
    """Whether the cache already holds the files of ``package`` matching ``patterns``.

    Args:
        package: The Debian package name.
        patterns: Path patterns as for :func:`fetch_debian_files`.
        cache: The cache root; the default cache by default.

    Returns:
        ``True`` when a completed extraction covers every pattern.

    Example:
        >>> is_fetched("tuxpaint-data", ["usr/share/x.jpg"], cache="/tmp/empty-ct-cache")
        False
    """
    wanted = _check_patterns(patterns)
    target = debian_dir(package, cache=cache)
    marker = _read_marker(target)
    if marker is None or not set(wanted) <= set(marker.get("patterns", [])):
        return False
    return all((target / f).is_file() for f in marker.get("files", []))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not Unix: apt is not there either
        yield
        return
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _tail(text: str, lines: int = 12) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return "\n".join("    " + line for line in kept) or "    (no output)"


def _fail(package: str, root: Path | None, what: str, stderr: str = "") -> RuntimeError:
    msg = f"could not fetch the Debian package {package!r}: {what}"
    if stderr:
        msg += f"\n  apt-get said:\n{_tail(stderr)}"
    return RuntimeError(msg if root is None else msg + "\n" + _HELP.format(root=root))


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LC_ALL="C", DEBIAN_FRONTEND="noninteractive")
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=_TIMEOUT_S, env=env, check=False)


def _download(package: str, workdir: Path, root: Path) -> Path:
    if shutil.which("apt-get") is None:
        raise _fail(package, root, "`apt-get` is not available on this machine (not Debian/Ubuntu?)")
    global _apt_updated
    try:
        result = _run(["apt-get", "download", package], workdir)
        if result.returncode != 0 and not _apt_updated and hasattr(os, "geteuid") and os.geteuid() == 0:
            _apt_updated = True
            update = _run(["apt-get", "update"], workdir)
            result = _run(["apt-get", "download", package], workdir)
            if result.returncode != 0:
                result = subprocess.CompletedProcess(
                    result.args, result.returncode, result.stdout, update.stderr + "\n" + result.stderr
                )
    except subprocess.TimeoutExpired:
        raise _fail(package, root, f"`apt-get download {package}` took longer than {_TIMEOUT_S} s") from None
    if result.returncode != 0:
        raise _fail(package, root, f"`apt-get download {package}` failed (exit {result.returncode})", result.stderr)
    debs = sorted(workdir.glob(f"{package}_*.deb"))
    if len(debs) != 1:
        raise _fail(
            package,
            root,
            f"`apt-get download {package}` reported success but left {[d.name for d in debs]} in {workdir}",
            result.stderr,
        )
    return debs[0]


def _parse_deb_name(deb: Path, package: str) -> tuple[str, str]:
    parts = deb.name[: -len(".deb")].split("_")
    if len(parts) != 3 or parts[0] != package:
        return "unknown", "unknown"
    return unquote(parts[1]), parts[2]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _safe_member_path(name: str) -> str | None:
    norm = posixpath.normpath(name[2:] if name.startswith("./") else name)
    if norm in ("", ".") or norm.startswith("/") or norm.split("/")[0] == "..":
        return None
    return norm


def _extract(deb: Path, patterns: list[str], dest: Path, package: str, root: Path) -> list[str]:
    if shutil.which("dpkg-deb") is None:
        raise _fail(package, root, "`dpkg-deb` is not available on this machine (not Debian/Ubuntu?)")
    matched: set[str] = set()
    files: list[str] = []
    links: dict[str, str] = {}
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|*") as tar:
            for member in tar:
                rel = _safe_member_path(member.name)
                if rel is None or member.isdir():
                    continue
                hits = [p for p in patterns if fnmatch.fnmatchcase(rel, p)]
                if not hits:
                    continue
                matched.update(hits)
                if member.issym():
                    links[rel] = posixpath.normpath(posixpath.join(posixpath.dirname(rel), member.linkname))
                    continue
                if not member.isfile():
                    continue
                out = dest / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:  # pragma: no cover - regular files always have data
                    continue
                with source, open(out, "wb") as fh:
                    shutil.copyfileobj(source, fh)
                files.append(rel)
    except tarfile.TarError as exc:
        proc.kill()
        raise _fail(package, root, f"could not read {deb.name}: {exc}") from exc
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr is not None else ""
        proc.wait()
    if proc.returncode != 0:
        raise _fail(package, root, f"`dpkg-deb --fsys-tarfile {deb.name}` failed (exit {proc.returncode})", stderr)
    for rel, target in sorted(links.items()):
        if not (dest / target).is_file():
            raise _fail(
                package,
                None,
                f"{rel} is a symbolic link to {target}, which was not extracted; add a pattern for {target}",
            )
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(dest / target, dest / rel)
        files.append(rel)
    missing = [p for p in patterns if p not in matched]
    if missing:
        version, _ = _parse_deb_name(deb, package)
        raise _fail(
            package,
            None,
            f"version {version} has no file matching {missing} (a wrong path, or the package changed its layout)",
        )
    return sorted(files)


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def fetch_debian_files(
    package: str,
    patterns: Sequence[str],
    *,
    cache: str | os.PathLike[str] | None = None,
) -> Path:
    """Download a Debian package and extract the files matching ``patterns`` into the cache.

    Idempotent: when an earlier call already extracted files for every pattern, this returns
    at once (no network). Asking for new patterns re-extracts the union of old and new ones.
    When ``apt-get download`` fails and the process runs as root, ``apt-get update`` runs once
    and the download is retried. The ``.deb`` is deleted after a successful extraction.

    Args:
        package: The Debian package name, e.g. ``"tuxpaint-data"``.
        patterns: Shell-style patterns (``fnmatch``; ``*`` also matches ``/``) matched against
            paths inside the package without the leading ``./``, e.g.
            ``"usr/share/tuxpaint/templates/*.jpg"``. Every pattern must match at least one
            file. Symbolic links are stored as copies of their (also requested) targets.
        cache: The cache root; :func:`~causal_transforms.data.cache.cache_dir` by default.

    Returns:
        The folder ``<cache>/debian/<package>`` holding the files under their package paths.

    Raises:
        ValueError: A bad package name or pattern.
        RuntimeError: ``apt-get``/``dpkg-deb`` is missing or failed, or a pattern matched
            nothing; the message names the package, shows apt's last lines and says what to do.

    Example:
        >>> folder = fetch_debian_files(  # doctest: +SKIP
        ...     "mate-backgrounds", ["usr/share/backgrounds/mate/nature/Storm.jpg"]
        ... )
        >>> (folder / "usr/share/backgrounds/mate/nature/Storm.jpg").is_file()  # doctest: +SKIP
        True
    """
    _check_package(package)
    wanted = _check_patterns(patterns)
    root = _root(cache)
    target = debian_dir(package, cache=root)
    if is_fetched(package, wanted, cache=root):
        return target
    base = root / "debian"
    with _locked(base / ".locks" / f"{package}.lock"):
        if is_fetched(package, wanted, cache=root):
            return target
        old = _read_marker(target)
        union = sorted(set(wanted) | set(old.get("patterns", []) if old else []))
        downloads = base / ".downloads"
        downloads.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=f"{package}.", dir=downloads))
        staging = Path(tempfile.mkdtemp(prefix=f".{package}.", dir=base))
        staging.chmod(0o755)  # mkdtemp makes it private; the cache is ordinary readable data
        try:
            deb = _download(package, workdir, root)
            version, arch = _parse_deb_name(deb, package)
            files = _extract(deb, union, staging, package, root)
            record = {
                "package": package,
                "version": version,
                "architecture": arch,
                "deb": deb.name,
                "sha256": _sha256(deb),
                "source": f"Debian archive, `apt-get download {package}`",
                "patterns": union,
                "files": files,
                "fetched_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            }
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
            _write_json_atomic(target / MARKER_NAME, record)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            shutil.rmtree(staging, ignore_errors=True)
    return target
