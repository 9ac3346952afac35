"""The typed method tables stay in step with CATALOGUE and SESSION_METHODS, and mypy sees every method's type.

Every catalogue endpoint and session method is a method on the client, the pool facade and ``api.remote``, with the
table's parameters and defaults; its return annotation is the table's type; the TokenManager answers every session
method with that type. A strict mypy run over calls of every method proves the types reach a user's code: the value
forms return the model, ``api.remote`` returns ``ray.ObjectRef`` of it, and an ``Any`` anywhere would fail.
"""

from __future__ import annotations

import inspect
import textwrap
import typing
from pathlib import Path
from typing import Any

import mypy.api
import pytest

from nepse_ray.nepse.auth import TokenManager
from nepse_ray.nepse.client import NepseClient
from nepse_ray.nepse.endpoints import CATALOGUE, SESSION_METHODS
from nepse_ray.nepse.methods import CatalogueMethods, RequestMethod, SessionMethods
from nepse_ray.pool.api import NepseWorkerAPI, RemoteMethods

REPO = Path(__file__).resolve().parents[2]
FORMS = (NepseClient, NepseWorkerAPI, RemoteMethods)
#: A value for each required parameter in the generated calls.
REQUIRED_VALUES = {"index_id": "58", "security_id": "131", "business_date": '"2026-11-30"'}


def method(table: type, name: str) -> RequestMethod[..., Any]:
    found = inspect.getattr_static(table, name, None)
    assert isinstance(found, RequestMethod), f"{table.__name__} has no typed method {name}"
    return found


def stub_parameters(name: str, table: type) -> list[inspect.Parameter]:
    return list(inspect.signature(method(table, name).stub).parameters.values())[1:]


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_endpoint_has_a_method_with_the_catalogues_parameters_and_type(name: str) -> None:
    endpoint = CATALOGUE[name]
    for form in FORMS:
        assert inspect.getattr_static(form, name) is method(CatalogueMethods, name), (form, name)
    parameters = {p.name: p for p in stub_parameters(name, CatalogueMethods)}
    assert list(parameters) == [p.name for p in endpoint.params]
    for param in endpoint.params:
        default = parameters[param.name].default
        if param.required:
            assert default is inspect.Parameter.empty, (name, param.name)
        else:
            assert default == param.default, (name, param.name)
    assert typing.get_type_hints(method(CatalogueMethods, name).stub)["return"] == endpoint.response
    assert getattr(NepseClient, name).__doc__ == endpoint.doc


@pytest.mark.parametrize("name", sorted(SESSION_METHODS))
def test_every_session_method_has_a_method_and_a_token_manager_answer_of_its_type(name: str) -> None:
    row = SESSION_METHODS[name]
    for form in FORMS:
        assert inspect.getattr_static(form, name) is method(SessionMethods, name), (form, name)
    assert stub_parameters(name, SessionMethods) == []
    assert typing.get_type_hints(method(SessionMethods, name).stub)["return"] == row.returns
    assert typing.get_type_hints(getattr(TokenManager, name))["return"] == row.returns


def test_the_tables_have_no_methods_beyond_their_rows() -> None:
    for table, rows in ((CatalogueMethods, CATALOGUE), (SessionMethods, SESSION_METHODS)):
        typed = {n for n, v in vars(table).items() if isinstance(v, RequestMethod)}
        assert typed == set(rows), table.__name__


def test_a_method_binds_its_arguments_with_the_defaults() -> None:
    class Echo(CatalogueMethods, SessionMethods):
        def _request(self, name: str, params: dict[str, Any]) -> Any:
            return name, params

    echo: Any = Echo()
    assert echo.floorsheet(3, business_date="2026-11-30") == (
        "floorsheet",
        {"page": 3, "size": 500, "business_date": "2026-11-30", "stock_id": None, "buyer_broker": None,
         "seller_broker": None},
    )  # fmt: skip
    assert echo.get_market_id() == ("get_market_id", {})
    with pytest.raises(TypeError):
        echo.market_depth()
    assert str(inspect.signature(NepseClient.index_history)).startswith("(self, index_id: 'int', page: 'int' = 0")


def _calls() -> str:
    lines = []
    for table, rows in ((CatalogueMethods, CATALOGUE), (SessionMethods, SESSION_METHODS)):
        for name in rows:
            stub = method(table, name).stub
            returns = inspect.signature(stub).return_annotation
            args = ", ".join(
                f"{p.name}={REQUIRED_VALUES[p.name]}" for p in stub_parameters(name, table) if p.default is p.empty
            )
            lines += [
                f"assert_type(client.{name}({args}), {returns})",
                f"assert_type(api.{name}({args}), {returns})",
                f"assert_type(api.remote.{name}({args}), ray.ObjectRef[{returns}])",
            ]
    return "\n".join(f"    {line}" for line in lines)


def test_mypy_sees_every_methods_type_in_each_form(tmp_path: Path) -> None:
    snippet = tmp_path / "typed_use.py"
    snippet.write_text(
        textwrap.dedent(
            """\
            import ray
            from typing_extensions import assert_type

            from nepse_ray import NepseClient, NepseWorkerAPI
            from nepse_ray.nepse import models as m
            from nepse_ray.nepse.tokens import Salts


            def use(client: NepseClient, api: NepseWorkerAPI) -> None:
                assert_type(client.call("floorsheet"), m.FloorsheetResponse)  # the untyped form: must be reported
            """
        )
        + _calls()
        + "\n"
    )
    out, err, status = mypy.api.run(["--config-file", str(REPO / "pyproject.toml"), str(snippet)])
    errors = [line for line in out.splitlines() if ": error:" in line]
    # Exactly one error, on the untyped call: the checker would report any typed method that returned Any too.
    assert len(errors) == 1, out + err
    assert "typed_use.py:10:" in errors[0] and '"Any"' in errors[0], out
    assert status == 1
