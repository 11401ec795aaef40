"""Devices and processes: thread count after fork, and CUDA where it cannot work."""

from __future__ import annotations

import os

import torch

__all__ = ["CUDAInForkedWorkerError", "check_device", "single_thread_after_fork"]

_forked_child = False  # reset once the thread count is fixed
_is_forked = False  # stays set for the life of the process


def _mark_forked_child() -> None:
    global _forked_child, _is_forked
    _forked_child = _is_forked = True


class CUDAInForkedWorkerError(RuntimeError):
    """CUDA was asked for inside a forked process (a DataLoader worker under the fork start method).

    Example:
        >>> issubclass(CUDAInForkedWorkerError, RuntimeError)
        True
    """


def check_device(device: torch.device | str, name: str = "device") -> torch.device:
    """Return ``device`` as a :class:`torch.device`, refusing CUDA where it cannot work.

    Inside a forked process (a ``DataLoader`` worker with the default start method on Linux),
    CUDA fails with PyTorch's "Cannot re-initialize CUDA in forked subprocess" once the parent
    has used it, and otherwise gives every worker its own CUDA context. This says what to do.

    Args:
        device: The requested device.
        name: The argument name for errors.

    Returns:
        The device.

    Raises:
        CUDAInForkedWorkerError: CUDA requested in a forked process.
        ValueError: CUDA requested but not available.

    Example:
        >>> check_device("cpu")
        device(type='cpu')
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"{name}: expected a torch device such as 'cpu' or 'cuda', got {device!r}") from exc
    if dev.type != "cuda":
        return dev
    if _is_forked:
        raise CUDAInForkedWorkerError(
            f"{name}: CUDA was requested inside a forked process (pid {os.getpid()}, e.g. a DataLoader "
            "worker), where it cannot be (re)initialised. Expected one of: run "
            "causal_transforms.kornia.RandomCausalResample on the batch after the DataLoader, on the GPU "
            "(the usual Kornia pattern); keep per-sample transforms in workers on the CPU; or create the "
            "DataLoader with multiprocessing_context='spawn'"
        )
    if not torch.cuda.is_available():
        raise ValueError(f"{name}: expected an available device, got {device!r} but torch.cuda.is_available() is False")
    return dev


# A forked child (a process pool, a DataLoader worker) inherits torch's OpenMP state but not its
# threads; the first parallel op can then hang. DataLoader workers avoid this with one thread,
# and so do we, in any forked child that runs a resample.
os.register_at_fork(after_in_child=_mark_forked_child)


def single_thread_after_fork() -> None:
    """In a forked child, drop torch to one intra-op thread before the first op (see above).

    Example:
        >>> single_thread_after_fork()  # a no-op in a process that was not forked
    """
    global _forked_child
    if _forked_child:
        _forked_child = False
        if torch.get_num_threads() > 1:
            torch.set_num_threads(1)
