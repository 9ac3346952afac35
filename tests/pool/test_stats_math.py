"""percentile(): linear interpolation between closest ranks, like numpy's default."""

from __future__ import annotations

import pytest

from nepse_ray.pool.stats_math import percentile


def test_empty_has_no_percentile() -> None:
    assert percentile([], 50) is None


def test_single_value_is_every_percentile() -> None:
    assert [percentile([3.0], q) for q in (0, 50, 99, 100)] == [3.0, 3.0, 3.0, 3.0]


def test_linear_interpolation_on_unsorted_input() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 2.5
    assert percentile(values, 100) == 4.0
    assert percentile(values, 25) == pytest.approx(1.75)


def test_tail_percentiles_of_a_uniform_sample() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile(values, 99) == pytest.approx(99.01)


@pytest.mark.parametrize("q", [-1, 100.5])
def test_q_outside_0_100_is_rejected(q: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], q)
