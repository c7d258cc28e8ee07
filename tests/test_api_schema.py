"""schemathesis against the live OpenAPI document: no 5xx, every response in its schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api_support import Server, Tokens, make_database, start_server


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: schemathesis.SerializationContext, value: object) -> bytes:
    del ctx
    return str(value).encode("utf-8", "surrogatepass")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Tokens]]:
    db, tokens = make_database(tmp_path_factory.mktemp("schema"))
    server = start_server(db, "--clock", "reports", "--max-reports", "200")
    try:
        yield server, tokens
    finally:
        server.stop()


@pytest.fixture(scope="module")
def api_schema(live: tuple[Server, Tokens]) -> schemathesis.BaseSchema:
    server, _ = live
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    # The streams never end by themselves; revoking tokens would revoke the test's own.
    return (
        schema.exclude(path="/api/v1/events")
        .exclude(path="/api/v1/hotline/events")
        .exclude(method="DELETE")
    )


@pytest.fixture(scope="module")
def admin(live: tuple[Server, Tokens]) -> dict[str, str]:
    return live[1].headers("coalition", "admin")


CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


def test_no_5xx_and_responses_match_their_schema(
    api_schema: schemathesis.BaseSchema, admin: dict[str, str]
) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20
    labels = {operation.label for operation in operations}
    assert {"GET /api/v1/hotline/transcript", "POST /api/v1/hotline"} <= labels
    failures: list[str] = []
    modes = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
    for operation, mode in [(op, mode) for op in operations for mode in modes]:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=15,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=admin, checks=CHECKS)

        try:
            exercise()
        except Unsatisfiable:
            # nothing to get wrong in an operation without parameters or body
            assert mode == schemathesis.GenerationMode.NEGATIVE
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
