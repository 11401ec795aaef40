"""Devices and processes: CUDA inside a forked DataLoader worker gets a message with the fix."""

from __future__ import annotations

import multiprocessing

import pytest
import torch

from causal_transforms.core.devices import CUDAInForkedWorkerError, check_device
from causal_transforms.registry import get_resampler


class _AsksForCuda(torch.utils.data.Dataset):
    """A dataset whose items ask the GAN backend for CUDA, as a misplaced GPU transform would."""

    def __init__(self, via: str) -> None:
        self.via = via

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> torch.Tensor:
        if self.via == "gan":
            return get_resampler("gan").draw(torch.tensor([i]), 8, 8, device="cuda")
        return check_device("cuda")


@pytest.mark.parametrize("via", ["gan", "check_device"])
def test_cuda_in_a_forked_worker_names_the_fix(via):
    loader = torch.utils.data.DataLoader(
        _AsksForCuda(via), batch_size=1, num_workers=1, multiprocessing_context=multiprocessing.get_context("fork")
    )
    with pytest.raises(CUDAInForkedWorkerError) as info:
        next(iter(loader))
    message = str(info.value)
    assert "forked process" in message
    assert "RandomCausalResample on the batch after the DataLoader" in message
    assert "multiprocessing_context='spawn'" in message


def test_cpu_is_fine_in_a_forked_worker():
    loader = torch.utils.data.DataLoader(
        [0, 1], batch_size=1, num_workers=1, multiprocessing_context=multiprocessing.get_context("fork")
    )
    assert [int(x) for x in loader] == [0, 1]
    assert check_device("cpu") == torch.device("cpu")


def test_bad_or_missing_devices_are_named():
    with pytest.raises(ValueError, match=r"device: expected a torch device such as 'cpu' or 'cuda', got 'gpu0'"):
        check_device("gpu0")
    if not torch.cuda.is_available():  # the usual CI machine
        with pytest.raises(ValueError, match=r"device: expected an available device, got 'cuda'"):
            check_device("cuda")
        with pytest.raises(ValueError, match=r"device: expected an available device"):
            get_resampler("gan").draw(torch.tensor([0]), 8, 8, device="cuda")
    else:
        assert check_device("cuda").type == "cuda"
