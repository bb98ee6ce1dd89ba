"""Every API error is `{"error": {"code", "message", "field"}}` with the right status, whether
Execboard, DRF or Django's URL resolver produces it, and a rejected request changes nothing."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from executions.models import Execution
from tests.factories import MembershipFactory, UserFactory, make_execution, make_token


def assert_error(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message", "field"} <= set(body["error"])
    assert body["error"]["code"] == code
    assert body["error"]["field"] == field
    assert body["error"]["message"]
    return body["error"]


def create_body(**overrides):
    return {"project": "nlp", "domain": "development", "workflow": "train.wf", **overrides}


def test_malformed_json_is_a_400(api, project):
    response = api.post("/api/v1/executions/", "{not json", content_type="application/json")
    error = assert_error(response, 400, "parse_error")
    assert error["message"].startswith("JSON parse error")
    assert not Execution.objects.exists()


def test_a_body_that_is_not_an_object_is_a_400(api, project):
    response = api.post("/api/v1/executions/", [create_body()], format="json")
    error = assert_error(response, 400, "invalid")
    assert error["message"] == "The request body must be a JSON object."


def test_a_validation_error_names_its_field(api, project):
    response = api.post("/api/v1/executions/", create_body(domain="nope"), format="json")
    assert_error(response, 400, "invalid", "domain")


def test_a_drf_serializer_error_names_its_field(api, project):
    execution = make_execution(project)
    response = api.post(
        f"/api/v1/executions/{execution.pk}/events/", {"message": "no phase"}, format="json"
    )
    error = assert_error(response, 400, "invalid", "phase")
    assert error["message"] == "This field is required."


def test_a_form_encoded_body_is_a_415(api, project):
    response = api.post(
        "/api/v1/executions/", "project=nlp", content_type="application/x-www-form-urlencoded"
    )
    error = assert_error(response, 415, "unsupported_media_type")
    assert "application/x-www-form-urlencoded" in error["message"]
    assert not Execution.objects.exists()


def test_a_method_the_endpoint_does_not_have_is_a_405(api, project):
    error = assert_error(api.delete("/api/v1/executions/"), 405, "method_not_allowed")
    assert error["message"] == 'Method "DELETE" not allowed.'
    assert_error(api.get("/api/v1/executions/bulk/"), 405, "method_not_allowed")


def test_a_write_without_a_token_is_a_401_asking_for_one(anon_api, project):
    response = anon_api.post("/api/v1/executions/", create_body(), format="json")
    error = assert_error(response, 401, "not_authenticated")
    assert "Authorization: Token <key>" in error["message"]
    assert response["WWW-Authenticate"] == "Token"


def test_an_unknown_token_is_a_401(anon_api, project):
    anon_api.credentials(HTTP_AUTHORIZATION="Token eb_not-a-real-key")
    response = anon_api.get("/api/v1/projects/")
    assert_error(response, 401, "authentication_failed")


def test_a_malformed_authorization_header_is_a_401(anon_api, project):
    anon_api.credentials(HTTP_AUTHORIZATION="Token two words")
    assert_error(anon_api.get("/api/v1/projects/"), 401, "authentication_failed")


def test_a_viewer_writing_is_a_403(anon_api, project):
    viewer = MembershipFactory(project=project, user=UserFactory(username="vic"), role="viewer")
    anon_api.credentials(HTTP_AUTHORIZATION=f"Token {make_token(viewer.user)}")
    execution = make_execution(project)
    response = anon_api.post(
        f"/api/v1/executions/{execution.pk}/events/", {"phase": "RUNNING"}, format="json"
    )
    error = assert_error(response, 403, "forbidden")
    assert error["message"] == "This needs the editor role on project nlp."
    assert not execution.events.exists()


def test_an_unknown_execution_is_a_404(api, project):
    error = assert_error(api.get("/api/v1/executions/nosuchid00/"), 404, "not_found")
    assert error["message"] == "No such execution."


def test_an_unknown_project_is_a_404(api, project):
    assert_error(api.get("/api/v1/projects/nope/"), 404, "not_found")


@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/v1/executions/x/y/z/", "/api/"])
def test_an_unknown_api_url_is_a_json_404(api, path):
    error = assert_error(api.get(path), 404, "not_found")
    assert error["message"] == f"No API endpoint at {path}."


def test_pages_outside_the_api_keep_the_html_404(client, db):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_an_event_after_a_terminal_phase_is_a_409(api, project):
    execution = make_execution(project)
    url = f"/api/v1/executions/{execution.pk}/events/"
    api.post(url, {"phase": "SUCCEEDED"}, format="json")
    error = assert_error(
        api.post(url, {"phase": "FAILED"}, format="json"), 409, "already_terminal", "phase"
    )
    assert error["phase"] == "SUCCEEDED"


def test_a_body_over_the_size_limit_is_a_413_before_it_is_parsed(api, project, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.post("/api/v1/executions/", create_body(description="x" * 2000), format="json")
    error = assert_error(response, 413, "too_large")
    assert "at most 1,000 are accepted" in error["message"]
    assert not Execution.objects.exists()


def test_too_many_executions_in_one_bulk_request_is_a_413(api, project):
    response = api.post(
        "/api/v1/executions/bulk/", {"executions": [create_body()] * 1001}, format="json"
    )
    assert_error(response, 413, "too_many", "executions")
    assert not Execution.objects.exists()


def test_a_session_write_without_a_csrf_token_is_a_403(editor, project):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(editor)
    response = client.post("/api/v1/executions/", create_body(), format="json")
    error = assert_error(response, 403, "forbidden")
    assert error["message"].startswith("CSRF Failed")
    assert not Execution.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/executions/a%00b/",
        "/api/v1/executions/?project=a%00",
        "/api/v1/projects/nlp/?x=%00",
    ],
)
def test_a_nul_character_in_an_api_url_is_a_400_not_a_500(api, project, url):
    error = assert_error(api.get(url), 400, "invalid")
    assert error["message"] == "The URL contains a NUL character (%00)."


def test_a_nul_character_in_a_page_url_is_a_400_not_a_500(client, editor, project):
    client.force_login(editor)
    response = client.get("/p/nlp/e/a%00/")
    assert response.status_code == 400
    assert response.content == b"The URL contains a NUL character (%00)."


@pytest.mark.parametrize(
    ("overrides", "status", "field"),
    [({"project": "a\x00"}, 404, "project"), ({"parent": "a\x00"}, 400, "parent")],
)
def test_a_nul_character_in_a_looked_up_body_field_is_a_clear_error(
    api, project, overrides, status, field
):
    response = api.post("/api/v1/executions/", create_body(**overrides), format="json")
    assert_error(response, status, "not_found" if status == 404 else "invalid", field)
    assert not Execution.objects.exists()


def test_a_nul_character_in_a_step_parent_is_a_clear_error(api, project):
    execution = make_execution(project)
    response = api.post(
        f"/api/v1/executions/{execution.pk}/steps/", {"name": "x", "parent": "a\x00"}, format="json"
    )
    assert_error(response, 400, "invalid", "parent")
    assert not execution.steps.exists()


def test_an_accept_header_the_api_cannot_satisfy_is_a_406(api, project):
    response = api.get("/api/v1/projects/", HTTP_ACCEPT="application/xml")
    assert_error(response, 406, "not_acceptable")
