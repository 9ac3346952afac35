"""Wire: a worker's result as bytes, checked where it is made, materialised only outside the coordinator process."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import pytest
from nepse_fakes import SAMPLES, html_response, json_response

from nepse_ray.nepse.endpoints import CATALOGUE
from nepse_ray.nepse.errors import NepseInvalidResponseError
from nepse_ray.nepse.tables import PageBatch, page_batch
from nepse_ray.pool.request import FORMS, Form
from nepse_ray.pool.wire import COMPRESS_FROM, Wire, packer

FLOORSHEET = CATALOGUE["floorsheet"]
BODY = json_response(SAMPLES["floorsheet"])


def travelled(wire: Wire) -> object:
    """What a caller gets once Ray has pickled the worker's result and unpickled it in the caller's process."""
    return pickle.loads(pickle.dumps(wire))


def test_model_form_ships_the_body_and_becomes_the_model_where_it_lands() -> None:
    wire = packer("model")(FLOORSHEET, BODY)
    assert (wire.endpoint, wire.form, wire.payload) == ("floorsheet", "model", BODY.body)
    assert travelled(wire) == FLOORSHEET.parse(SAMPLES["floorsheet"])


def test_raw_form_ships_and_lands_as_the_checked_body() -> None:
    wire = packer("raw")(FLOORSHEET, BODY)
    assert travelled(wire) == BODY.body
    assert json.loads(travelled(wire)) == SAMPLES["floorsheet"]  # type: ignore[arg-type]


def big_floorsheet(rows: int) -> dict[str, object]:
    sample = SAMPLES["floorsheet"]
    trade = sample["floorsheets"]["content"][0]
    content = [{**trade, "contractId": trade["contractId"] + n} for n in range(rows)]
    page = {**sample["floorsheets"], "content": content, "size": rows, "totalElements": rows}
    return {**sample, "floorsheets": page}


@pytest.mark.parametrize("form", ["model", "raw"])
def test_a_long_body_travels_compressed_and_lands_as_the_same_result(form: Form) -> None:
    body = big_floorsheet(500)
    response = json_response(body)
    assert len(response.body) >= COMPRESS_FROM

    wire = packer(form)(FLOORSHEET, response)

    assert wire.size == len(response.body) and wire.nbytes < len(response.body) // 3  # under Ray's 100 KiB inline
    assert wire.body == response.body
    landed = travelled(wire)
    assert landed == (response.body if form == "raw" else FLOORSHEET.parse(body))


def test_a_short_body_travels_as_it_is() -> None:
    wire = packer("raw")(FLOORSHEET, BODY)
    assert len(BODY.body) < COMPRESS_FROM and (wire.payload, wire.size) == (BODY.body, 0)


def test_arrow_form_lands_as_the_page_batch_the_worker_built() -> None:
    wire = packer("arrow")(FLOORSHEET, BODY)
    batch = travelled(wire)
    expected = page_batch("floorsheet", SAMPLES["floorsheet"])
    assert isinstance(batch, PageBatch)
    assert batch.rows.equals(expected.rows)
    assert (batch.number, batch.total_pages, batch.total_elements, dict(batch.extras)) == (
        expected.number,
        expected.total_pages,
        expected.total_elements,
        dict(expected.extras),
    )


@pytest.mark.parametrize("form", FORMS)
def test_every_form_is_checked_in_the_worker(form: Form) -> None:
    with pytest.raises(NepseInvalidResponseError, match="HTML page") as caught:
        packer(form)(FLOORSHEET, html_response(200, "<html>maintenance</html>"))
    assert caught.value.retryable and caught.value.status == 200
    with pytest.raises(NepseInvalidResponseError):
        packer(form)(FLOORSHEET, json_response({"floorsheets": {"content": "not a list"}}))


def test_the_repr_does_not_show_the_payload() -> None:
    wire = packer("raw")(FLOORSHEET, BODY)
    assert repr(wire) == f"Wire('floorsheet', 'raw', {len(BODY.body)} bytes)" and wire.nbytes == len(BODY.body)


PASS_THROUGH = """
import pickle, sys
from nepse_ray.pool import wire
shipped = sys.stdin.buffer.read()
wire.pass_through()
held = pickle.loads(shipped)
again = pickle.loads(pickle.dumps(held))  # what the coordinator hands on is the same bytes, still unopened
print(type(held).__name__, type(again).__name__, held.payload == again.payload, len(held.payload))
"""


def test_in_the_coordinator_process_a_result_stays_bytes() -> None:
    wire = packer("model")(FLOORSHEET, BODY)
    done = subprocess.run(
        [sys.executable, "-c", PASS_THROUGH], input=pickle.dumps(wire), capture_output=True, check=True
    )
    assert done.stdout.decode().split() == ["Wire", "Wire", "True", str(len(BODY.body))]
