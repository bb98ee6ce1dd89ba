"""Schemathesis against the OpenAPI schema at /api/v1/schema/, through the WSGI app: for
generated requests to every operation, no 5xx and every response matches the schema."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from executions import releases
from executions.events import record_event
from executions.services import step_create
from tests.factories import make_execution, make_token

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def keep_test_connection():
    """Django closes database connections at the end of each WSGI request; on PostgreSQL that
    would end the test's transaction. django.test.Client avoids it the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(project, editor, keep_test_connection) -> dict:
    """An editor's token on a project with a released execution and steps; generated requests
    are pointed at these objects so that they reach the views' logic, not only their 404s."""
    execution = make_execution(project, labels={"team": "nlp"}, description="# notes")
    step = step_create(execution_id=execution.pk, name="load")
    step_create(execution_id=execution.pk, name="parse", parent=step.pk)
    record_event(execution_id=execution.pk, phase="SUCCEEDED")
    execution.refresh_from_db()
    releases.release_create(
        project=project, execution=execution, by="anne", artifact="nn", version="v1.0.0"
    )
    cache.clear()
    return {
        "token": make_token(editor),
        "path": {"slug": project.slug, "execution_id": execution.pk},
    }


# Generating the schema reads no data, so it loads once, at collection.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@pytest.mark.django_db
def test_the_api_answers_every_generated_request_as_its_schema_says(case, world):
    for name, value in world["path"].items():
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = value
    # identity: schemathesis's WSGI transport does not undo GZipMiddleware's compression.
    headers = {"Authorization": f"Token {world['token']}", "Accept-Encoding": "identity"}
    case.call_and_validate(headers=headers, checks=CHECKS)
