import pytest
import torch

from causal_transforms.core.roles import RoleSpec


def test_binary_default_nonzero_is_causal():
    keep = RoleSpec().keep_map(torch.tensor([[0, 1, 255, -3]]))
    assert keep.tolist() == [[0.0, 1.0, 1.0, 1.0]]
    assert keep.dtype == torch.float32


def test_binary_explicit_causal_values():
    keep = RoleSpec(causal_values=(0,)).keep_map(torch.tensor([0, 1, 2]))
    assert keep.tolist() == [1.0, 0.0, 0.0]
    keep = RoleSpec(causal_values=(1, 2)).keep_map(torch.tensor([0.0, 1.0, 2.0]))
    assert keep.tolist() == [0.0, 1.0, 1.0]


def test_labels_with_roles_and_string_keys():
    spec = RoleSpec(roles={"0": "resample", 1: "keep", 2: 0.25})
    assert spec.mode == "labels"
    assert spec.keep_map(torch.tensor([2, 1, 0])).tolist() == [0.25, 1.0, 0.0]


def test_labels_missing_role_names_labels():
    with pytest.raises(ValueError, match=r"roles: labels \[3\] occur in mask but have no role"):
        RoleSpec(roles={0: "resample", 1: "keep"}).keep_map(torch.tensor([0, 1, 3]))


def test_roles_naming_absent_labels_raise_unless_relaxed():
    spec = RoleSpec(roles={0: "resample", 1: "keep", 7: "keep"})
    with pytest.raises(ValueError, match=r"occur in mask \(strict_roles=True\), got labels \[7\] that are absent"):
        spec.keep_map(torch.tensor([0, 1]))
    relaxed = RoleSpec(roles={0: "resample", 1: "keep", 7: "keep"}, strict_roles=False)
    assert relaxed.keep_map(torch.tensor([0, 1])).tolist() == [0.0, 1.0]


def test_labels_reject_non_integer_values():
    with pytest.raises(ValueError, match="integer labels"):
        RoleSpec(roles={0: "keep"}).keep_map(torch.tensor([0.5]))


@pytest.mark.parametrize("role", ["maybe", 1.5, -0.1, None, True])
def test_bad_role_values(role):
    with pytest.raises(ValueError, match="roles"):
        RoleSpec(roles={0: role})


def test_alpha_range_checked_and_uint8_scaled():
    assert RoleSpec(mode="alpha").keep_map(torch.tensor([0, 255], dtype=torch.uint8)).tolist() == [0.0, 1.0]
    assert RoleSpec(mode="alpha").keep_map(torch.tensor([0.5])).tolist() == [0.5]
    with pytest.raises(ValueError, match=r"mask: expected values in \[0, 1\] for mode 'alpha'"):
        RoleSpec(mode="alpha").keep_map(torch.tensor([1.5]))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_masks_raise(bad):
    with pytest.raises(ValueError, match="mask: expected finite values"):
        RoleSpec().keep_map(torch.tensor([0.0, bad]))


def test_option_conflicts_are_named():
    with pytest.raises(ValueError, match="mask_mode"):
        RoleSpec(mode="soft")
    with pytest.raises(ValueError, match="causal_values"):
        RoleSpec(mode="alpha", causal_values=(1,))
    with pytest.raises(ValueError, match="roles"):
        RoleSpec(mode="binary", roles={0: "keep"})
    with pytest.raises(ValueError, match="causal_values"):
        RoleSpec(causal_values=())


MASK_DTYPES = [torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.uint16]
MASK_DTYPES += [torch.float16, torch.bfloat16, torch.float32, torch.float64]


@pytest.mark.parametrize("dtype", MASK_DTYPES)
def test_binary_keep_map_is_nonzero_for_every_dtype(dtype):
    """The fast route (sign/abs, byte views) must equal ``mask != 0`` and never alias the mask."""
    g = torch.Generator().manual_seed(0)
    values = torch.randint(-3, 4, (2, 1, 9, 11), generator=g)
    if dtype == torch.bool:
        mask = values > 0
    elif dtype in (torch.uint8, torch.uint16):
        mask = values.abs().to(dtype)
    else:
        mask = values.to(dtype)
    if dtype.is_floating_point:
        mask[0, 0, 0, :3] = torch.tensor([-0.0, 0.25, -1e-3], dtype=dtype)
    if dtype == torch.int64:
        mask[0, 0, 1, 0] = torch.iinfo(torch.int64).min  # abs() would overflow
    if dtype == torch.int8:
        mask[0, 0, 1, 0] = -128
    keep = RoleSpec().keep_map(mask)
    assert keep.dtype == torch.float32 and keep.shape == mask.shape
    assert torch.equal(keep, (mask != 0).to(torch.float32))
    assert keep.data_ptr() != mask.data_ptr()
    # a channels-last view and a non-contiguous slice give the same answer
    assert torch.equal(RoleSpec().keep_map(mask[:, :, :, ::2]), (mask[:, :, :, ::2] != 0).float())
