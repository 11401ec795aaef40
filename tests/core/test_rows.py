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
