from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from executions.models import Release, StageEvent
from tests.factories import (
    MembershipFactory,
    UserFactory,
    make_execution,
    make_succeeded_execution,
    make_token,
)

RELEASES = "/api/v1/projects/nlp/releases/"


def post_release(api, execution, **body):
    return api.post(RELEASES, {"execution": execution.pk, **body}, format="json")


@pytest.fixture
def viewer_api(project):
    user = MembershipFactory(project=project, user=UserFactory(username="val"), role="viewer").user
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(user)}")
    return client


def test_an_editor_releases_an_execution_with_a_version(api, project):
    execution = make_succeeded_execution(project)
    response = post_release(api, execution, artifact="nn", version="1.2.3", note="# Good")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["artifact"] == "nn"
    assert body["version"] == "v1.2.3"
    assert body["execution"] == execution.pk
    assert body["created_by"] == "anne"
    assert body["note"] == "# Good"
    assert body["stages"] == []


def test_a_release_defaults_to_the_workflow_name_and_bumps(api, project):
    first = post_release(api, make_succeeded_execution(project), stage="dev").json()
    assert (first["artifact"], first["version"], first["stages"]) == ("train.wf", "v0.0.1", ["dev"])
    second = post_release(api, make_succeeded_execution(project), bump="minor")
    assert second.json()["version"] == "v0.1.0"


def test_a_duplicate_version_is_a_409(api, project):
    post_release(api, make_succeeded_execution(project), artifact="nn", version="v1.0.0")
    response = post_release(api, make_succeeded_execution(project), artifact="nn", version="1.0.0")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate_version"
    assert Release.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"version": "1.2"}, "version"),
        ({"artifact": "Big Model", "version": "v1.0.0"}, "artifact"),
        ({"version": "v1.0.0", "stage": "pro d"}, "stage"),
        ({"version": "v1.0.0", "bump": "minor"}, "bump"),
        ({"bump": "giant"}, "bump"),
        ({"version": "v1.0.0", "execution": "nope"}, "execution"),
        ({"version": "v1.0.0", "colour": "red"}, None),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(api, project, body, field):
    body = {"execution": make_succeeded_execution(project).pk, **body}
    response = api.post(RELEASES, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert not Release.objects.exists()


def test_an_execution_that_did_not_succeed_cannot_be_released(api, project):
    response = post_release(api, make_execution(project), version="v1.0.0")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "not_succeeded"


def test_releasing_needs_the_editor_role_and_a_token(viewer_api, anon_api, project):
    execution = make_succeeded_execution(project)
    assert post_release(viewer_api, execution, version="v1.0.0").status_code == 403
    assert post_release(anon_api, execution, version="v1.0.0").status_code == 401
    assert not Release.objects.exists()


def test_stages_are_assigned_and_unassigned_by_artifact_at_version(api, project):
    post_release(api, make_succeeded_execution(project), artifact="model/nn", version="v1.0.0")
    post_release(api, make_succeeded_execution(project), artifact="model/nn", version="v1.1.0")
    url = "/api/v1/projects/nlp/releases/model/nn@v1.0.0/stages/"
    response = api.post(url, {"stage": "prod"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["stages"] == ["prod"]
    response = api.post(
        "/api/v1/projects/nlp/releases/model/nn@1.1.0/stages/",
        {"stage": "example.com/prod"},
        format="json",
    )
    assert response.json()["stages"] == ["example.com/prod"]
    response = api.delete(url + "prod/")
    assert response.status_code == 200
    assert response.json()["stages"] == []
    response = api.delete("/api/v1/projects/nlp/releases/model/nn@v1.1.0/stages/example.com/prod/")
    assert response.status_code == 200
    assert StageEvent.objects.count() == 4


def test_stage_errors_have_the_right_status(api, viewer_api, project):
    post_release(api, make_succeeded_execution(project), artifact="nn", version="v1.0.0")
    url = "/api/v1/projects/nlp/releases/nn@v1.0.0/stages/"
    assert api.post(url, {"stage": "prod"}, format="json").status_code == 201
    assert api.post(url, {"stage": "prod"}, format="json").status_code == 409
    assert api.post(url, {"stage": ""}, format="json").status_code == 400
    assert api.delete(url + "dev/").status_code == 409
    missing = "/api/v1/projects/nlp/releases/nn@v9.0.0/stages/"
    assert api.post(missing, {"stage": "prod"}, format="json").status_code == 404
    bad = "/api/v1/projects/nlp/releases/nn@latest/stages/"
    assert api.post(bad, {"stage": "prod"}, format="json").status_code == 400
    assert viewer_api.delete(url + "prod/").status_code == 403
    assert StageEvent.objects.count() == 1


def test_the_artifact_shows_versions_stages_and_history(api, viewer_api, project):
    one = make_succeeded_execution(project)
    two = make_succeeded_execution(project)
    post_release(api, one, artifact="model/nn", version="v1.9.0", stage="prod")
    post_release(api, two, artifact="model/nn", version="v1.10.0", stage="staging")
    response = viewer_api.get("/api/v1/projects/nlp/artifacts/model/nn/")
    assert response.status_code == 200
    body = response.json()
    assert body["artifact"] == "model/nn"
    assert body["latest"] == "v1.10.0"
    assert [(v["version"], v["execution"], v["stages"]) for v in body["versions"]] == [
        ("v1.10.0", two.pk, ["staging"]),
        ("v1.9.0", one.pk, ["prod"]),
    ]
    assert body["versions"][0]["created_by"] == "anne"
    assert {stage: s["version"] for stage, s in body["stages"].items()} == {
        "prod": "v1.9.0",
        "staging": "v1.10.0",
    }
    assert all(s["since"] for s in body["stages"].values())
    assert [(h["action"], h["version"], h["stage"]) for h in body["history"]] == [
        ("assign", "v1.10.0", "staging"),
        ("register", "v1.10.0", None),
        ("assign", "v1.9.0", "prod"),
        ("register", "v1.9.0", None),
    ]
    assert viewer_api.get("/api/v1/projects/nlp/artifacts/other/").status_code == 404


def test_the_release_list_and_the_artifact_list(api, project):
    post_release(api, make_succeeded_execution(project), artifact="nn", version="v1.0.0")
    post_release(api, make_succeeded_execution(project), artifact="data", version="v2.0.0")
    listed = api.get(RELEASES).json()["results"]
    assert [(r["artifact"], r["version"]) for r in listed] == [("data", "v2.0.0"), ("nn", "v1.0.0")]
    only = api.get(RELEASES, {"artifact": "nn"}).json()["results"]
    assert [r["artifact"] for r in only] == ["nn"]
    artifacts = api.get("/api/v1/projects/nlp/artifacts/").json()["results"]
    assert [(a["artifact"], a["latest"], a["stages"]) for a in artifacts] == [
        ("data", "v2.0.0", {}),
        ("nn", "v1.0.0", {}),
    ]


def test_a_project_you_cannot_see_is_a_404(project, db):
    outsider = APIClient()
    outsider.credentials(HTTP_AUTHORIZATION=f"Token {make_token(UserFactory(username='eve'))}")
    assert outsider.get(RELEASES).status_code == 404
    assert outsider.get("/api/v1/projects/nlp/artifacts/nn/").status_code == 404
