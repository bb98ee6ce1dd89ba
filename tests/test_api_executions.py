"""The ingestion API of SPEC §5: create one and many, get, steps, metadata, descriptions and
labels, with every field rule of SPEC §2 answered by a clear 4xx that changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from executions.events import record_event
from executions.models import Execution, Label
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, make_execution

EXECUTION_KEYS = {
    "id",
    "project",
    "domain",
    "workflow",
    "workflow_version",
    "phase",
    "created_at",
    "started_at",
    "ended_at",
    "duration",
    "launched_by",
    "mode",
    "parent",
    "display_name",
    "labels",
    "description",
    "description_version",
    "user_metadata",
    "inputs",
    "error",
    "url",
}


def body(**overrides):
    data = {"project": "nlp", "domain": "development", "workflow": "train.wf"}
    data.update(overrides)
    return data


def create(api, **overrides):
    # json.dumps escapes what the test client's renderer cannot encode (lone surrogates).
    return api.post(
        "/api/v1/executions/", json.dumps(body(**overrides)), content_type="application/json"
    )


def assert_refused(response, status: int, message: str, field: str | None) -> None:
    assert response.status_code == status, response.json()
    assert response.json()["error"]["message"] == message
    assert response.json()["error"]["field"] == field
    assert not Execution.objects.exists()


# Create one


def test_create_returns_the_execution_in_the_shape_of_the_spec(api, project):
    project.default_labels.create(key="team", value="nlp")
    response = create(
        api,
        workflow_version="v3",
        labels={"model": "bert", "smoke": "", "name": "lr sweep 3"},
        description="# Markdown",
        user_metadata={"accuracy": 0.9},
        inputs={"epochs": 3},
    )
    assert response.status_code == 201
    data = response.json()
    assert set(data) == EXECUTION_KEYS
    execution = Execution.objects.get()
    assert data["id"] == execution.pk
    assert len(data["id"]) == 10 and data["id"].isalnum()
    assert data["project"] == "nlp"
    assert data["labels"] == {
        "team": "nlp",
        "model": "bert",
        "smoke": "",
        "name": "lr sweep 3",
        "user": "anne",
    }
    assert data["display_name"] == "lr sweep 3"
    assert (data["phase"], data["mode"], data["parent"]) == ("UNDEFINED", "MANUAL", None)
    assert (data["started_at"], data["ended_at"], data["duration"]) == (None, None, None)
    assert (data["description"], data["description_version"]) == ("# Markdown", 0)
    assert (data["user_metadata"], data["inputs"]) == ({"accuracy": 0.9}, {"epochs": 3})
    assert data["launched_by"] == "anne"
    assert data["url"] == f"http://testserver/p/nlp/e/{execution.pk}/"


def test_a_child_execution_names_its_parent_and_defaults_to_child_mode(api, project):
    parent = make_execution(project)
    response = create(api, parent=parent.pk)
    assert response.status_code == 201
    assert (response.json()["parent"], response.json()["mode"]) == (parent.pk, "CHILD")


def test_an_explicit_mode_is_kept(api, project):
    assert create(api, mode="SCHEDULED").json()["mode"] == "SCHEDULED"


@pytest.mark.parametrize(
    ("overrides", "status", "message", "field"),
    [
        ({"project": None}, 400, "project is required: the slug of a project.", "project"),
        ({"project": "nope"}, 404, "No project 'nope'.", "project"),
        (
            {"domain": "dev"},
            400,
            "Unknown domain 'dev'; expected one of development, staging, production.",
            "domain",
        ),
        ({"workflow": "  "}, 400, "workflow is required.", "workflow"),
        ({"workflow": "w" * 256}, 400, "workflow is at most 255 characters long.", "workflow"),
        (
            {"workflow": "train\n.wf"},
            400,
            "workflow cannot contain control characters.",
            "workflow",
        ),
        ({"workflow": 3}, 400, "workflow must be a string.", "workflow"),
        (
            {"parent": "nosuchid"},
            400,
            "No execution 'nosuchid' in project nlp to be the parent.",
            "parent",
        ),
        (
            {"mode": "AUTO"},
            400,
            "Unknown mode 'AUTO'; expected one of MANUAL, SCHEDULED, RELAUNCH, CHILD.",
            "mode",
        ),
        ({"user_metadata": [1, 2]}, 400, "user_metadata must be a JSON object.", "user_metadata"),
        ({"user_metadata": "x"}, 400, "user_metadata must be a JSON object.", "user_metadata"),
        ({"inputs": [1]}, 400, "inputs must be a JSON object.", "inputs"),
        (
            {"description": {"a": 1}},
            400,
            "The description must be a string of Markdown.",
            "description",
        ),
        (
            {"labels": {"user": "mallory"}},
            400,
            "The label key 'user' is reserved for namespaces and set by Execboard itself.",
            "labels",
        ),
        (
            {"labels": {"production": "x"}},
            400,
            "The label key 'production' is reserved for namespaces and set by Execboard itself.",
            "labels",
        ),
        (
            {"labels": {"bad key": "x"}},
            400,
            "Label key 'bad key': a key name starts and ends with a letter or digit and "
            "contains only letters, digits, '-', '_' and '.'.",
            "labels",
        ),
        ({"labels": ["team:nlp"]}, 400, "Labels must be an object of key to value.", "labels"),
        ({"surprise": 1}, 400, "Unknown field(s): surprise.", None),
        # What PostgreSQL cannot store is refused up front, never a 500.
        (
            {"description": "a\x00b"},
            400,
            "description cannot contain the NUL character (U+0000).",
            "description",
        ),
        (
            {"description": "a\ud800b"},
            400,
            "description contains an unpaired surrogate (U+D800), which is not valid Unicode.",
            "description",
        ),
        (
            {"user_metadata": {"a": ["\x00"]}},
            400,
            "user_metadata cannot contain the NUL character (U+0000).",
            "user_metadata",
        ),
        (
            {"inputs": {"k\x00": 1}},
            400,
            "inputs cannot contain the NUL character (U+0000).",
            "inputs",
        ),
        (
            {"inputs": {"k": "\udfff"}},
            400,
            "inputs contains an unpaired surrogate (U+DFFF), which is not valid Unicode.",
            "inputs",
        ),
        (
            {"workflow": "train\ud800"},
            400,
            "workflow contains an unpaired surrogate (U+D800), which is not valid Unicode.",
            "workflow",
        ),
    ],
)
def test_a_bad_field_is_refused_with_a_clear_message(api, overrides, status, message, field):
    assert_refused(create(api, **overrides), status, message, field)


def test_a_parent_from_another_project_is_refused(api, project):
    other = make_execution(ProjectFactory(slug="other"))
    response = create(api, parent=other.pk)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "parent"
    assert Execution.objects.count() == 1


def test_a_description_of_256_kib_is_accepted_and_one_byte_more_is_a_413(api, project):
    assert create(api, description="x" * 256 * 1024).status_code == 201
    Execution.objects.all().delete()
    response = create(api, description="é" * (128 * 1024) + "x")
    assert_refused(
        response,
        413,
        "The description is 262,145 bytes; at most 262,144 (256 KiB) are allowed.",
        "description",
    )
    assert response.json()["error"]["code"] == "too_large"


@pytest.mark.parametrize("field", ["user_metadata", "inputs"])
def test_json_objects_are_limited_to_64_kib(api, project, field):
    # {"k":"xxx…"} is 8 bytes of JSON around the string.
    assert create(api, **{field: {"k": "x" * (64 * 1024 - 8)}}).status_code == 201
    Execution.objects.all().delete()
    response = create(api, **{field: {"k": "x" * (64 * 1024 - 7)}})
    assert_refused(
        response,
        413,
        f"{field} is 65,537 bytes of JSON; at most 65,536 (64 KiB) are allowed.",
        field,
    )


def test_the_label_count_limit_is_enforced_by_the_api(api, project, settings):
    settings.EXECBOARD_MAX_LABELS = 2
    project.default_labels.create(key="team", value="nlp")
    assert_refused(
        create(api, labels={"a": "", "b": ""}),
        400,
        "An execution can have at most 2 labels (project defaults included); this one would "
        "have 3.",
        "labels",
    )


def test_a_viewer_cannot_create_an_execution(api, project, editor):
    editor.memberships.update(role="viewer")
    response = create(api)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert not Execution.objects.exists()


def test_a_user_without_a_role_is_told_the_project_does_not_exist(api):
    ProjectFactory(slug="secret")
    assert_refused(create(api, project="secret"), 404, "No project 'secret'.", "project")


def test_anonymous_create_is_a_401(anon_api, project):
    response = anon_api.post("/api/v1/executions/", body(), format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert not Execution.objects.exists()


# Bulk create


def test_bulk_create_returns_the_executions_in_order(api, project):
    items = [body(labels={"i": str(i)}) for i in range(5)]
    response = api.post("/api/v1/executions/bulk/", {"executions": items}, format="json")
    assert response.status_code == 201
    created = response.json()["executions"]
    assert [e["labels"]["i"] for e in created] == ["0", "1", "2", "3", "4"]
    assert all(set(e) == EXECUTION_KEYS for e in created)
    assert Execution.objects.count() == 5
    assert Label.objects.count() == 10


def test_bulk_created_executions_read_back_as_they_were_returned(api, project):
    items = [
        body(
            labels={"team": "nlp" if i % 2 else "cv", "tag": None},
            inputs={"lr": i / 10, "layers": [1, 2]},
            user_metadata={"note": f"run {i}"},
            description=f"# Run {i}",
        )
        for i in range(3)
    ]
    response = api.post("/api/v1/executions/bulk/", {"executions": items}, format="json")
    assert response.status_code == 201
    for created in response.json()["executions"]:
        detail = api.get(f"/api/v1/executions/{created['id']}/")
        assert detail.json() == created
    listed = api.get("/api/v1/executions/", {"project": "nlp", "q": "team:nlp and tag"})
    assert [e["inputs"]["lr"] for e in listed.json()["results"]] == [0.1]


def test_bulk_create_is_all_or_nothing_and_names_the_failing_index(api, project):
    items = [body(), body(), body(labels={"user": "x"}), body()]
    response = api.post("/api/v1/executions/bulk/", {"executions": items}, format="json")
    assert_refused(
        response,
        400,
        "Execution 2: The label key 'user' is reserved for namespaces and set by Execboard itself.",
        "executions[2].labels",
    )
    assert not Label.objects.exists()


def test_bulk_create_names_the_index_of_an_unknown_project(api, project):
    items = [body(), body(project="nope")]
    response = api.post("/api/v1/executions/bulk/", {"executions": items}, format="json")
    assert_refused(response, 404, "Execution 1: No project 'nope'.", "executions[1].project")


def test_bulk_create_names_the_index_of_an_item_that_is_not_an_object(api, project):
    response = api.post("/api/v1/executions/bulk/", {"executions": [body(), 7]}, format="json")
    assert_refused(
        response, 400, "Execution 1: Each execution must be a JSON object.", "executions[1]"
    )


def test_bulk_create_of_more_than_1000_is_a_413(api, project):
    items = [body()] * 1001
    response = api.post("/api/v1/executions/bulk/", {"executions": items}, format="json")
    assert_refused(response, 413, "At most 1000 executions per request; got 1001.", "executions")


def test_bulk_create_of_1000_is_accepted(api, project):
    response = api.post("/api/v1/executions/bulk/", {"executions": [body()] * 1000}, format="json")
    assert response.status_code == 201
    assert Execution.objects.count() == 1000


@pytest.mark.parametrize("executions", [[], None, {"project": "nlp"}])
def test_bulk_create_needs_a_non_empty_list(api, project, executions):
    response = api.post("/api/v1/executions/bulk/", {"executions": executions}, format="json")
    assert_refused(response, 400, "executions must be a non-empty list.", "executions")


def test_anonymous_bulk_create_is_a_401(anon_api, project):
    response = anon_api.post("/api/v1/executions/bulk/", {"executions": []}, format="json")
    assert response.status_code == 401


def test_bulk_create_reads_each_projects_defaults_once(api, project, django_assert_max_num_queries):
    project.default_labels.create(key="team", value="nlp")
    items = [body() for _ in range(50)]
    with django_assert_max_num_queries(12):
        response = api.post("/api/v1/executions/bulk/", {"executions": items}, format="json")
    assert response.status_code == 201
    assert all(e["labels"]["team"] == "nlp" for e in response.json()["executions"])


# Get


def test_get_returns_the_execution(api, project):
    execution = make_execution(project, labels={"model": "bert"})
    response = api.get(f"/api/v1/executions/{execution.pk}/")
    assert response.status_code == 200
    assert response.json()["id"] == execution.pk
    assert response.json()["labels"] == {"model": "bert", "user": "anne"}


def test_get_of_an_execution_in_a_project_without_a_role_is_a_404(api):
    execution = make_execution(ProjectFactory(slug="secret"))
    response = api.get(f"/api/v1/executions/{execution.pk}/")
    assert response.status_code == 404


# Steps


def test_a_repeated_step_name_gets_a_suffix(api, project):
    execution = make_execution(project)
    url = f"/api/v1/executions/{execution.pk}/steps/"
    names = [api.post(url, {"name": "load"}, format="json").json()["name"] for _ in range(3)]
    assert names == ["load", "load_1", "load_2"]
    assert api.post(url, {"name": "load_1"}, format="json").json()["name"] == "load_1_1"
    assert api.post(url, {"name": "train"}, format="json").json()["name"] == "train"


def test_a_step_is_created_with_its_parent_options_and_metadata(api, project):
    execution = make_execution(project)
    url = f"/api/v1/executions/{execution.pk}/steps/"
    api.post(url, {"name": "train"}, format="json")
    response = api.post(
        url,
        {"name": "epoch", "parent": "train", "options": {"num_cpus": 2}, "user_metadata": {"a": 1}},
        format="json",
    )
    assert response.status_code == 201
    data = response.json()
    assert (data["name"], data["parent"], data["phase"]) == ("epoch", "train", "UNDEFINED")
    assert (data["options"], data["user_metadata"]) == ({"num_cpus": 2}, {"a": 1})
    listed = api.get(url).json()
    assert [s["name"] for s in listed] == ["train", "epoch"]


@pytest.mark.parametrize(
    ("payload", "message", "field"),
    [
        ({}, "name is required.", "name"),
        ({"name": "x", "options": [1]}, "options must be a JSON object.", "options"),
        ({"name": "x", "parent": "nope"}, "No step 'nope' in this execution.", "parent"),
    ],
)
def test_a_bad_step_is_refused(api, project, payload, message, field):
    execution = make_execution(project)
    response = api.post(f"/api/v1/executions/{execution.pk}/steps/", payload, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == message
    assert response.json()["error"]["field"] == field
    assert not execution.steps.exists()


def test_a_step_update_changes_its_metadata(api, project):
    execution = make_execution(project)
    api.post(f"/api/v1/executions/{execution.pk}/steps/", {"name": "load"}, format="json")
    response = api.patch(
        f"/api/v1/executions/{execution.pk}/steps/load/",
        {"user_metadata": {"rows": 10}},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["user_metadata"] == {"rows": 10}
    assert api.get(f"/api/v1/executions/{execution.pk}/steps/nope/").status_code == 404


# Metadata in Ray's shape


def test_metadata_leaves_out_the_times_not_yet_known(api, project):
    execution = make_execution(project, user_metadata={"owner": "anne"})
    response = api.get(f"/api/v1/executions/{execution.pk}/metadata/")
    assert response.json() == {
        "execution_id": execution.pk,
        "status": "UNDEFINED",
        "stats": {},
        "user_metadata": {"owner": "anne"},
        "steps": [],
    }


def test_metadata_has_epoch_times_and_the_steps(api, project):
    execution = make_execution(project)
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 2, tzinfo=UTC)
    record_event(execution_id=execution.pk, phase="RUNNING", occurred_at=start)
    url = f"/api/v1/executions/{execution.pk}/steps/"
    api.post(url, {"name": "load", "options": {"num_cpus": 1}}, format="json")
    record_event(execution_id=execution.pk, phase="SUCCEEDED", occurred_at=end)
    data = api.get(f"/api/v1/executions/{execution.pk}/metadata/").json()
    assert data["status"] == "SUCCEEDED"
    assert data["stats"] == {"start_time": start.timestamp(), "end_time": end.timestamp()}
    assert data["steps"] == [
        {
            "name": "load",
            "status": "UNDEFINED",
            "step_options": {"num_cpus": 1},
            "user_metadata": {},
            "stats": {},
        }
    ]


def test_metadata_of_one_step_by_name(api, project):
    execution = make_execution(project)
    api.post(
        f"/api/v1/executions/{execution.pk}/steps/",
        {"name": "load", "user_metadata": {"rows": 5}},
        format="json",
    )
    start = datetime(2026, 1, 1, tzinfo=UTC)
    step = execution.steps.get()
    record_event(execution_id=execution.pk, phase="RUNNING", occurred_at=start, step_id=step.pk)
    data = api.get(f"/api/v1/executions/{execution.pk}/metadata/", {"name": "load"}).json()
    assert {"name", "step_options", "user_metadata", "stats"} <= set(data)
    assert data["name"] == "load"
    assert data["user_metadata"] == {"rows": 5}
    assert data["stats"] == {"start_time": start.timestamp()}
    missing = api.get(f"/api/v1/executions/{execution.pk}/metadata/", {"name": "nope"})
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "No step 'nope' in this execution."


# Description and labels after the run


def test_a_description_patch_with_the_current_version_saves_and_bumps_it(api, project):
    execution = make_execution(project, description="old")
    url = f"/api/v1/executions/{execution.pk}/"
    response = api.patch(url, {"description": "new", "description_version": 0}, format="json")
    assert response.status_code == 200
    assert (response.json()["description"], response.json()["description_version"]) == ("new", 1)
    response = api.patch(url, {"description": "newer"}, format="json", HTTP_IF_MATCH='"1"')
    assert response.json()["description_version"] == 2


def test_a_stale_description_patch_is_a_409_with_the_current_text(api, project):
    execution = make_execution(project, description="old")
    url = f"/api/v1/executions/{execution.pk}/"
    api.patch(url, {"description": "theirs", "description_version": 0}, format="json")
    response = api.patch(url, {"description": "mine", "description_version": 0}, format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert (error["code"], error["description"], error["description_version"]) == (
        "description_conflict",
        "theirs",
        1,
    )
    execution.refresh_from_db()
    assert execution.description == "theirs"


@pytest.mark.parametrize("version", [None, 1.5, "one", True, -1])
def test_a_description_patch_needs_a_whole_version(api, project, version):
    execution = make_execution(project, description="old")
    response = api.patch(
        f"/api/v1/executions/{execution.pk}/",
        {"description": "new", "description_version": version},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "description_version"
    execution.refresh_from_db()
    assert execution.description == "old"


def test_labels_are_added_changed_and_removed_with_history(api, project):
    execution = make_execution(project, labels={"model": "bert"})
    url = f"/api/v1/executions/{execution.pk}/labels/"
    response = api.put(url, {"labels": {"model": "gpt", "smoke": ""}}, format="json")
    assert response.json()["labels"] == {"model": "gpt", "user": "anne", "smoke": ""}
    response = api.delete(f"{url}smoke/")
    assert response.json()["labels"] == {"model": "gpt", "user": "anne"}
    history = api.get(f"/api/v1/executions/{execution.pk}/history/").json()
    assert [(h["field"], h["key"], h["old"], h["new"], h["by"]) for h in history] == [
        ("label", "smoke", "", None, "anne"),
        ("label", "smoke", None, "", "anne"),
        ("label", "model", "bert", "gpt", "anne"),
    ]
    assert dict(Label.objects.filter(execution=execution).values_list("key", "value")) == {
        "model": "gpt",
        "user": "anne",
    }


@pytest.mark.parametrize("key", ["user", "production"])
def test_namespace_labels_cannot_be_set_or_removed(api, project, key):
    execution = make_execution(project)
    url = f"/api/v1/executions/{execution.pk}/labels/"
    assert api.put(url, {"labels": {key: "x"}}, format="json").status_code == 400
    assert api.delete(f"{url}{key}/").status_code == 400
    execution.refresh_from_db()
    assert execution.labels == {"user": "anne"}


def test_a_viewer_cannot_change_labels(api, project, editor):
    execution = make_execution(project)
    editor.memberships.update(role="viewer")
    response = api.put(
        f"/api/v1/executions/{execution.pk}/labels/", {"labels": {"a": ""}}, format="json"
    )
    assert response.status_code == 403


def test_a_member_of_another_project_only_sees_its_own(api, project):
    other = ProjectFactory(slug="vision")
    MembershipFactory(project=other, user=UserFactory(username="bob"))
    execution = make_execution(other)
    assert api.get(f"/api/v1/executions/{execution.pk}/metadata/").status_code == 404
