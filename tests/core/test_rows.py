import itertools

from hypothesis import given
from hypothesis import strategies as st

from causal_transforms.core.rows import row_runs


@given(st.sets(st.integers(0, 40)))
def test_row_runs_cover_the_rows_in_order_with_maximal_runs(positions):
    rows = sorted(positions)
    runs = row_runs(rows)
    rebuilt = [(j + k, first + k) for j, first, length in runs for k in range(length)]
    assert rebuilt == list(enumerate(rows))
    for (_, first, length), (_, nxt, _) in itertools.pairwise(runs):
        assert nxt > first + length  # a gap between runs, or they would be one


def test_row_runs_of_nothing():
    assert row_runs([]) == []


def test_check_rows_names_what_is_wrong():
    import pytest
    import torch

    from causal_transforms.core.rows import check_rows

    assert check_rows(torch.tensor([3, 0, 3]), 4) == [3, 0, 3]  # any order unless ascending is asked
    assert check_rows(torch.tensor([], dtype=torch.int64), 4, ascending=True) == []
    expected = r"^rows: expected a 1-D int64 \(or int32\) tensor of batch positions, got"
    with pytest.raises(ValueError, match=expected + " torch.bool"):
        check_rows(torch.tensor([True]), 4)
    with pytest.raises(ValueError, match=r"^index: expected positions in \[0, 4\), got \[-1\]"):
        check_rows(torch.tensor([-1]), 4, name="index")
    with pytest.raises(ValueError, match=expected + " list"):
        check_rows([0, 1], 4)


def test_check_rows_refuses_small_integer_dtypes():
    import pytest
    import torch

    from causal_transforms.core.rows import check_rows

    for dtype in (torch.int8, torch.int16, torch.uint8):
        with pytest.raises(ValueError, match=r"^rows: expected a 1-D int64 \(or int32\) tensor"):
            check_rows(torch.tensor([0, 1], dtype=dtype), 4)
    assert check_rows(torch.tensor([0, 1], dtype=torch.int32), 4) == [0, 1]
