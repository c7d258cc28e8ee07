"""schemathesis against the hotline's part of the live OpenAPI document: no 5xx, every
status documented, every response in its schema."""

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

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Tokens]]:
    db, tokens = make_database(tmp_path_factory.mktemp("hotline-schema"))
    server = start_server(db)
    try:
        with server.client() as c:
            # Something to find: a message each way.
            for sender, recipient in (("coalition", "russia"), ("russia", "coalition")):
                body = {"kind": "concern", "recipient": recipient, "subject": "Massing"}
                r = c.post("/hotline", json=body, headers=tokens.headers(sender, "operator"))
                assert r.status_code == 201, r.text
        yield server, tokens
    finally:
        server.stop()


def test_no_5xx_and_responses_match_their_schema(live: tuple[Server, Tokens]) -> None:
    server, tokens = live
    schema = (
        schemathesis.openapi.from_url(server.url + "/openapi.json")
        .include(path_regex=r"^/api/v1/hotline")
        .exclude(path="/api/v1/hotline/events")
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    headers = tokens.headers("russia", "operator")
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
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            exercise()
        except Unsatisfiable:
            assert mode == schemathesis.GenerationMode.NEGATIVE
        except Exception as exc:  # every operation's failure, then all of them at once
            failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
