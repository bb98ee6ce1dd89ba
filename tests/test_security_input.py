"""Hostile input: filters that try to reach other columns or crash the parser, and bodies
too large or too deep. Each gets a clear 4xx and changes nothing; none gets a 500."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from executions.models import Change, Event, Execution, Label, Step
from tests.factories import make_execution, make_token

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def table_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count() for model in (Execution, Label, Event, Step, Change)
    }


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture
def execution(project):
    return make_execution(project, labels={"team": "nlp"}, description="original")


def assert_clear_error(response, status: int | tuple[int, ...]) -> dict:
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, response.content[:500]
    error = response.json()["error"]
    assert error["code"]
    assert len(error["message"]) > 10
    return error


# hostile filters (SPEC §3): 400 with a message, never a 500, never a leak

HOSTILE_PARAMS = [
    {"q": "' OR 1=1--"},
    {"q": "team:nlp' OR '1'='1"},
    {"q": "@created_by__password__startswith:x"},
    {"q": "@user__password:x"},
    {"filters": "eq(created_by__password,x)"},
    {"filters": "contains(launched_by__password,x)"},
    {"filters": "eq(phase,RUNNING' OR 1=1--)"},
    {"filters": "' OR 1=1--"},
    {"sort_by.key": "user__password"},
    {"sort_by.key": "created_by__password"},
    {"sort_by.key": "-created_at"},
    {"sort_by.direction": "DESC; DROP TABLE executions_execution"},
    {"q": "(" * 10_000 + "team:nlp" + ")" * 10_000},
    {"q": "(" * 10_000},
    {"q": "not " * 10_000 + "team:nlp"},
    {"q": " or ".join(f"k{i}:v{i}" for i in range(10_000))[: 100 * 1024]},
    {"q": "team:" + "x" * (100 * 1024)},
    {"filters": "+".join("eq(phase,RUNNING)" for _ in range(6000))},
    {"filters": "value_in(phase," + ";".join(["RUNNING"] * 20_000) + ")"},
    {"limit": "100000"},
    {"limit": "-1"},
    {"limit": "1e3"},
    {"cursor": "' OR 1=1--"},
    {"cursor": "W10"},
    {"domain": "' OR 1=1--"},
    {"namespace": "@phase:RUNNING"},
]


@pytest.mark.parametrize("params", HOSTILE_PARAMS, ids=lambda p: repr(p)[:60])
def test_a_hostile_list_query_gets_a_clear_400_from_the_api(api, project, execution, params):
    response = api.get("/api/v1/executions/", {"project": project.slug, **params})
    assert_clear_error(response, 400)


@pytest.mark.parametrize("params", HOSTILE_PARAMS, ids=lambda p: repr(p)[:60])
def test_a_hostile_list_query_never_breaks_the_list_page(client, editor, project, params):
    make_execution(project)
    client.force_login(editor)
    response = client.get(f"/p/{project.slug}/", params)
    assert response.status_code in (200, 400)
    assert b"Traceback" not in response.content


def test_an_orm_lookup_passed_as_a_query_parameter_is_refused(api, project, execution):
    response = api.get(
        "/api/v1/executions/", {"project": project.slug, "created_by__password__startswith": "x"}
    )
    error = assert_clear_error(response, 400)
    assert "created_by__password__startswith" in error["message"]


@pytest.mark.parametrize(
    "params",
    [
        {"q": "created_by__password__startswith:x"},
        {"q": "user__password"},
        {"namespace": "user__password:x"},
    ],
    ids=repr,
)
def test_orm_lookups_written_as_labels_are_only_label_filters(api, project, execution, params):
    response = api.get("/api/v1/executions/", {"project": project.slug, **params})
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_a_syntax_error_points_at_its_position(api, project):
    response = api.get("/api/v1/executions/", {"project": project.slug, "q": "team:nlp and ("})
    error = assert_clear_error(response, 400)
    assert error["field"] == "q"
    assert any(ch.isdigit() for ch in error["message"])


# oversized and deep bodies (SPEC §7): 413/400, nothing written


def create_payload(project, **extra) -> dict:
    return {"project": project.slug, "domain": "development", "workflow": "w", **extra}


def post_raw(api: APIClient, url: str, body: str, method: str = "post"):
    return getattr(api, method)(url, body, content_type="application/json")


def test_a_10_mb_description_is_refused_before_parsing(api, project, execution):
    before = table_counts()
    body = json.dumps(create_payload(project, description="x" * (10 * MB)))
    assert_clear_error(post_raw(api, "/api/v1/executions/", body), 413)
    assert table_counts() == before


def test_a_10_mb_description_patch_leaves_the_description_alone(api, execution):
    body = json.dumps({"description": "x" * (10 * MB), "description_version": 0})
    response = post_raw(api, f"/api/v1/executions/{execution.pk}/", body, "patch")
    assert_clear_error(response, 413)
    execution.refresh_from_db()
    assert (execution.description, execution.description_version) == ("original", 0)


def test_a_description_over_256_kib_is_refused_with_its_size(api, project, execution):
    before = table_counts()
    body = json.dumps(create_payload(project, description="é" * (200 * 1024)))
    error = assert_clear_error(post_raw(api, "/api/v1/executions/", body), 413)
    assert error["field"] == "description"
    assert table_counts() == before


def test_5_mb_of_metadata_is_refused(api, project, execution):
    before = table_counts()
    metadata = {f"k{i}": "v" * 1000 for i in range(5 * 1024)}
    body = json.dumps(create_payload(project, user_metadata=metadata))
    error = assert_clear_error(post_raw(api, "/api/v1/executions/", body), 413)
    assert error["field"] == "user_metadata"
    assert table_counts() == before


def test_5_mb_of_step_metadata_is_refused(api, execution):
    before = table_counts()
    body = json.dumps({"name": "load", "user_metadata": {"blob": "x" * (5 * MB)}})
    response = post_raw(api, f"/api/v1/executions/{execution.pk}/steps/", body)
    assert_clear_error(response, 413)
    assert table_counts() == before


@pytest.mark.parametrize(
    "body",
    [
        nested(10_000),
        '{"project": "nlp", "domain": "development", "workflow": "w", "user_metadata": '
        + '{"a":' * 10_000
        + "1"
        + "}" * 10_000
        + "}",
        '{"project": "nlp", "domain": "development", "workflow": "w", "inputs": '
        + nested(100)
        + "}",
    ],
    ids=["array-10000-deep", "metadata-10000-deep", "inputs-100-deep"],
)
def test_json_nested_too_deep_is_a_400_and_writes_nothing(api, project, execution, body):
    before = table_counts()
    error = assert_clear_error(post_raw(api, "/api/v1/executions/", body), 400)
    assert "levels deep" in error["message"]
    assert table_counts() == before


def test_moderately_nested_metadata_is_accepted(api, project):
    metadata = {"a": {"b": {"c": {"d": [1, [2, [3]]]}}}}
    response = api.post(
        "/api/v1/executions/", create_payload(project, user_metadata=metadata), format="json"
    )
    assert response.status_code == 201
    assert response.json()["user_metadata"] == metadata


def test_invalid_json_is_a_clear_400(api, execution):
    before = table_counts()
    response = post_raw(api, f"/api/v1/executions/{execution.pk}/events/", '{"phase": ')
    assert_clear_error(response, 400)
    assert table_counts() == before


def test_a_chunked_body_without_a_length_is_refused_not_read_as_empty(api, project):
    before = table_counts()
    response = api.post(
        "/api/v1/executions/",
        create_payload(project),
        format="json",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    assert_clear_error(response, 411)
    assert table_counts() == before


def test_a_bulk_create_of_more_than_1000_is_refused_and_writes_nothing(api, project, execution):
    before = table_counts()
    items = [create_payload(project) for _ in range(1001)]
    response = api.post("/api/v1/executions/bulk/", {"executions": items}, format="json")
    assert_clear_error(response, (400, 413))
    assert table_counts() == before


def test_too_many_labels_are_refused_and_write_nothing(api, project, execution, settings):
    before = table_counts()
    labels = {f"k{i}": "v" for i in range(settings.EXECBOARD_MAX_LABELS + 1)}
    response = api.post(
        "/api/v1/executions/", create_payload(project, labels=labels), format="json"
    )
    assert_clear_error(response, 400)
    assert table_counts() == before


@pytest.mark.parametrize(
    "labels",
    [
        {"k": "v" * 257},
        {"bad key!": "v"},
        {"k": "line\nbreak"},
        {"user": "someone-else"},
        {"production": "forged"},
        {"a" * 64: "v"},
    ],
    ids=[
        "long-value",
        "bad-key",
        "control-char",
        "reserved-user",
        "reserved-production",
        "long-key",
    ],
)
def test_bad_labels_after_the_run_are_refused_and_change_nothing(api, execution, labels):
    before = table_counts()
    response = api.put(
        f"/api/v1/executions/{execution.pk}/labels/", {"labels": labels}, format="json"
    )
    assert_clear_error(response, 400)
    assert table_counts() == before
    execution.refresh_from_db()
    assert execution.labels == {"team": "nlp", "user": "anne"}


# throttling


@pytest.fixture
def low_write_rate(settings):
    settings.EXECBOARD_WRITE_RATE = "3/minute"
    cache.clear()
    yield
    cache.clear()


def test_writes_over_the_rate_get_429_with_retry_after(api, execution, low_write_rate):
    url = f"/api/v1/executions/{execution.pk}/events/"
    for n in range(3):
        response = api.post(url, {"phase": "RUNNING", "event_id": f"e{n}"}, format="json")
        assert response.status_code in (200, 201)
    refused = api.post(url, {"phase": "SUCCEEDED", "event_id": "e3"}, format="json")
    assert_clear_error(refused, 429)
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert not Event.objects.filter(event_id="e3").exists()
    assert api.get(url).status_code == 200, "reads are never throttled"


def test_the_write_rate_is_counted_per_token(api, editor, execution, low_write_rate):
    url = f"/api/v1/executions/{execution.pk}/events/"
    for n in range(4):
        api.post(url, {"phase": "RUNNING", "event_id": f"e{n}"}, format="json")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION="Token " + make_token(editor, name="second"))
    response = other.post(url, {"phase": "RUNNING", "event_id": "other"}, format="json")
    assert response.status_code == 201


def test_the_default_write_rate_lets_an_event_stream_through(api, execution):
    cache.clear()
    url = f"/api/v1/executions/{execution.pk}/events/"
    statuses = {
        api.post(url, {"phase": "RUNNING", "event_id": f"e{n}"}, format="json").status_code
        for n in range(200)
    }
    assert statuses == {201}
    assert execution.events.count() == 200


# open redirects


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "https:evil.example",
        "javascript:alert(1)",
        " https://evil.example/",
    ],
)
def test_signing_in_and_out_never_redirects_to_another_site(client, editor, target):
    editor.set_password("a-long-password")
    editor.save()
    signed_in = client.post(
        f"/accounts/login/?next={target}",
        {"username": editor.username, "password": "a-long-password", "next": target},
    )
    assert signed_in.status_code == 302
    assert signed_in["Location"] == "/"
    signed_out = client.post("/accounts/logout/", {"next": target})
    assert signed_out.status_code == 302
    assert signed_out["Location"] == "/"


# NUL characters: PostgreSQL refuses them in text and jsonb, so they must stop at validation

NUL_READS = [
    ("/api/v1/executions/", {"q": "team:a\x00b"}),
    ("/api/v1/executions/", {"namespace": "user:a\x00"}),
    ("/api/v1/executions/", {"filters": "eq(workflow,a\x00b)"}),
    ("/api/v1/labels/", {"prefix": "a\x00"}),
    ("/api/v1/labels/", {"key": "team", "prefix": "a\x00"}),
    ("/api/v1/projects/nlp/artifacts/a\x00b/", {}),
    ("/api/v1/executions/abc\x00def/", {}),
    ("/p/nlp/", {"q": "team:a\x00b"}),
    ("/p/nlp/label-suggestions/", {"prefix": "a\x00"}),
    ("/p/nlp/export.csv", {"q": "team:a\x00b"}),
    ("/p/nlp/e/abc\x00def/", {}),
    ("/p/nlp/artifacts/a\x00b/", {}),
]


@pytest.mark.parametrize(("url", "params"), NUL_READS, ids=repr)
def test_a_nul_character_in_a_read_is_never_a_server_error(
    api, client, editor, execution, url, params
):
    client.force_login(editor)
    if url.startswith("/api/"):
        response = api.get(url, {"project": "nlp", **params})
    else:
        response = client.get(url, params)
    assert response.status_code < 500


@pytest.mark.parametrize(
    "fields",
    [
        {"workflow": "w\x00"},
        {"description": "a\x00b"},
        {"user_metadata": {"a": "\x00"}},
        {"inputs": {"\x00": 1}},
        {"labels": {"team": "a\x00"}},
    ],
    ids=repr,
)
def test_a_nul_character_in_a_write_is_a_clear_400(api, project, execution, fields):
    before = table_counts()
    body = {"project": project.slug, "domain": "development", "workflow": "w", **fields}
    assert_clear_error(api.post("/api/v1/executions/", body, format="json"), 400)
    assert table_counts() == before
