"""Pages that lie: more rows than the ``size`` asked for, and totals of ``10**400`` or ``Infinity``.

Each is a :class:`PagingError` (a named response error, not retried) where the page is read, in the model form of
``NepseClient`` and in the Arrow form the pool's workers ship; a pull through a real pool ends with it as the cause
of its ``IncompletePullError`` and keeps no row of the hostile pages; ``nepse-ray pull`` prints one line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nepse_ray.cli import main
from nepse_ray.nepse.client import NepseClient
from nepse_ray.nepse.errors import PagingError
from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.pool.wire import packer
from nepse_ray.pulls import IncompletePullError, pull_floorsheet
from nepse_ray.sim import Simulator


def read(client: NepseClient, form: str, name: str, **params: Any) -> Any:
    """A page in ``form``: the client's model, or the Arrow batch a pool worker would ship."""
    if form == "model":
        return client.call(name, **params)
    return client.fetch(name, params, packer("arrow")).materialise()


@pytest.mark.parametrize("form", ["model", "arrow"])
def test_a_page_with_more_rows_than_asked_for_is_a_paging_error(
    hostile_sim: Callable[..., Simulator], client_of: Callable[..., NepseClient], form: str
) -> None:
    client = client_of(hostile_sim("oversized-pages"))
    with pytest.raises(PagingError, match="page 1 holds 20000 rows, more than the size=500 asked for") as info:
        read(client, form, "floorsheet", page=1, size=500)
    assert not info.value.retryable and info.value.endpoint == "floorsheet"


@pytest.mark.parametrize(
    ("kind", "form", "shown"),
    [
        ("huge-numbers", "model", "a number too large to use"),
        ("huge-numbers", "arrow", "a number too large to use"),
        ("infinite-numbers", "arrow", "inf"),
    ],
)
def test_huge_and_infinite_totals_are_a_paging_error(
    hostile_sim: Callable[..., Simulator], client_of: Callable[..., NepseClient], kind: str, form: str, shown: str
) -> None:
    client = client_of(hostile_sim(kind))
    with pytest.raises(PagingError, match=f"totalElements is {shown}, not a count between 0 and 2,147,483,647"):
        read(client, form, "today_price", size=100)


@pytest.mark.ray
def test_a_pull_keeps_no_row_of_oversized_pages(
    hostile_sim: Callable[..., Simulator], nepse_pool_factory: Callable[..., NepseWorkerAPI]
) -> None:
    sim = hostile_sim("oversized-pages", trades=1_000, day_source="nepal")
    api = nepse_pool_factory(sim, max_workers=1, rate_per_token=50.0)
    with pytest.raises(IncompletePullError) as info:
        pull_floorsheet(api)
    assert isinstance(info.value.__cause__, PagingError)
    assert info.value.partial is not None and info.value.partial.rows == 0


@pytest.mark.ray
def test_nepse_ray_pull_names_a_huge_total_in_one_line(
    capsys: pytest.CaptureFixture[str],
    hostile_sim: Callable[..., Simulator],
    nepse_ray_cluster: dict[str, Any],
    tmp_path: Path,
) -> None:
    sim = hostile_sim("huge-numbers", day_source="nepal")
    out = tmp_path / "prices.csv"
    argv = ["pull", "today-price", "--out", str(out), "--base-url", sim.base_url]
    assert main([*argv, "--address", nepse_ray_cluster["gcs_address"], "--max-workers", "1", "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nepse-ray pull: IncompletePullError: "), err
    assert "PagingError: today_price: the page's totalElements is a number too large to use" in err[0]
    assert not out.exists()
