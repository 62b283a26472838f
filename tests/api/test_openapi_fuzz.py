"""Schemathesis fuzzes every operation in /v1/openapi.json through the real WSGI app.

No response may be a 5xx, and every response must match the status codes, content type and
body schema the document declares. Operations are driven with Hypothesis directly (one
property per operation) rather than through the schemathesis pytest plugin.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from callops.accounts import services as accounts

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def wsgi_app(db):
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from callops.wsgi import application

    # As Django's test client does: the test's transaction must survive each in-process request.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield application
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.mark.slow
def test_every_operation_survives_fuzzing(wsgi_app, personas, sandbox_agent):
    _, secret = accounts.create_api_key(personas.org, "fuzz")
    headers = {"Authorization": f"Bearer {secret}"}
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", wsgi_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6
    seen = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def fuzz(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        fuzz()
        seen.append(f"{operation.method.upper()} {operation.path}")
    assert "POST /calls" in seen or "POST /v1/calls" in seen, seen


def _focus(doc: dict, agent_id: str, call_ids: list[str]) -> dict:
    """The same document with ids narrowed to real ones, so fuzzing reaches the success paths."""
    import copy

    doc = copy.deepcopy(doc)
    create = doc["paths"]["/v1/calls"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    create["properties"]["agent_id"] = {"const": agent_id}
    create["properties"]["to"] = {"enum": ["+12025550100", "+12025550101", "+12025550106"]}
    for ops in doc["paths"].values():
        for op in ops.values():
            for param in op.get("parameters", []):
                if param["in"] == "path" and param["name"] == "call_id":
                    param["schema"] = {"enum": call_ids}
                if param["in"] == "path" and param["name"] == "agent_id":
                    param["schema"] = {"const": agent_id}
    return doc


@pytest.mark.slow
def test_success_paths_match_the_schema(wsgi_app, personas, sandbox_agent):
    from callops.calls import services

    _, secret = accounts.create_api_key(personas.org, "fuzz")
    headers = {"Authorization": f"Bearer {secret}"}
    calls = [services.create_call(org=personas.org, agent=sandbox_agent, to_number="+12025550100",
                                  metadata={"n": i}) for i in range(3)]
    services.apply_status(calls[0], "completed", source="poll", fields={"answered_by": "human"})
    raw = schemathesis.openapi.from_wsgi("/v1/openapi.json", wsgi_app).raw_schema
    doc = _focus(raw, str(sandbox_agent.public_id),
                 [str(c.public_id) for c in calls])
    schema = schemathesis.openapi.from_dict(doc)
    schema.app = wsgi_app
    statuses = set()
    for result in schema.get_all_operations():
        _fuzzer(result.ok(), headers, statuses)()
    # The narrowed ids must actually reach the 2xx paths, or this test proves nothing.
    assert {("POST", 201), ("GET", 200)} <= statuses, statuses


def _fuzzer(operation, headers, statuses):
    """A Hypothesis property for one operation that records the statuses it saw."""
    method = operation.method.upper()

    @given(case=operation.as_strategy())
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    def fuzz(case):
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        statuses.add((method, response.status_code))

    return fuzz
