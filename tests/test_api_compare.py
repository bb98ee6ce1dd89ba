"""GET /api/v1/executions/compare/?ids=… (SPEC §10): the executions as the API writes them and
one row per field, label, input, metadata key and step, with differences marked; bad id lists
are a 400 and an execution the caller cannot read is a 404 exactly like a missing one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from executions.compare import FIELDS
from executions.models import Execution, Step
from projects.models import Role
from tests.factories import (
    MembershipFactory,
    ProjectFactory,
    make_execution,
    make_token,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/executions/compare/"
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def compare(api, *ids: str):
    return api.get(URL, {"ids": ",".join(ids)})


def rows_of(response, section: str) -> dict[str, dict]:
    return {row["key"]: row for row in response.json()["rows"] if row["section"] == section}


def add_step(execution: Execution, name: str, seconds: float | None, start: datetime = T0) -> Step:
    end = start + timedelta(seconds=seconds) if seconds is not None else None
    return Step.objects.create(execution=execution, name=name, started_at=start, ended_at=end)


@pytest.fixture
def pair(project):
    first = make_execution(
        project,
        labels={"team": "nlp", "model": "bert", "smoke": ""},
        inputs={"lr": 0.001, "layers": [1, 2]},
        user_metadata={"accuracy": 0.91, "notes": "ok"},
    )
    second = make_execution(
        project,
        labels={"team": "nlp", "model": "gpt"},
        inputs={"lr": 0.01, "layers": [1, 2]},
        user_metadata={"accuracy": 0.93},
        workflow_version="v2",
    )
    return first, second


def test_it_answers_the_executions_in_the_order_asked_as_the_detail_endpoint_writes_them(api, pair):
    first, second = pair
    response = compare(api, second.pk, first.pk)
    assert response.status_code == 200, response.json()
    assert set(response.json()) == {"executions", "rows"}
    details = [api.get(f"/api/v1/executions/{e.pk}/").json() for e in (second, first)]
    assert response.json()["executions"] == details


def test_rows_come_as_fields_then_labels_inputs_meta_and_steps(api, pair):
    first, second = pair
    add_step(first, "load", 3)
    rows = compare(api, first.pk, second.pk).json()["rows"]
    assert all(set(row) == {"section", "key", "values", "differs"} for row in rows)
    sections = [row["section"] for row in rows]
    assert sections == sorted(sections, key=["field", "label", "input", "meta", "step"].index)
    assert [row["key"] for row in rows if row["section"] == "field"] == list(FIELDS)
    assert [row["key"] for row in rows if row["section"] == "label"] == [
        "model",
        "smoke",
        "team",
        "user",
    ]
    assert [row["key"] for row in rows if row["section"] == "input"] == ["layers", "lr"]
    assert [row["key"] for row in rows if row["section"] == "meta"] == ["accuracy", "notes"]


def test_differs_says_whether_the_values_of_a_row_are_not_all_equal(api, pair):
    first, second = pair
    response = compare(api, first.pk, second.pk)
    labels, inputs = rows_of(response, "label"), rows_of(response, "input")
    assert labels["team"] == {
        "section": "label",
        "key": "team",
        "values": ["nlp", "nlp"],
        "differs": False,
    }
    assert labels["model"]["values"] == ["bert", "gpt"] and labels["model"]["differs"]
    assert inputs["layers"] == {
        "section": "input",
        "key": "layers",
        "values": [[1, 2], [1, 2]],
        "differs": False,
    }
    assert inputs["lr"]["values"] == [0.001, 0.01] and inputs["lr"]["differs"]
    fields = rows_of(response, "field")
    assert fields["workflow"] == {
        "section": "field",
        "key": "workflow",
        "values": ["train.wf", "train.wf"],
        "differs": False,
    }
    assert fields["workflow_version"]["values"] == ["", "v2"]
    assert fields["workflow_version"]["differs"]


def test_a_value_an_execution_lacks_is_null_and_differs_from_one_it_has(api, pair):
    first, second = pair
    response = compare(api, first.pk, second.pk)
    assert rows_of(response, "label")["smoke"]["values"] == ["", None]  # a tag, then nothing
    assert rows_of(response, "label")["smoke"]["differs"] is True
    assert rows_of(response, "meta")["notes"]["values"] == ["ok", None]
    assert rows_of(response, "field")["ended_at"] == {
        "section": "field",
        "key": "ended_at",
        "values": [None, None],
        "differs": False,
    }


def test_a_number_and_a_boolean_or_string_of_it_differ(api, project):
    one = make_execution(project, inputs={"x": 1, "y": {"a": 1, "b": 2}})
    other = make_execution(project, inputs={"x": True, "y": {"b": 2, "a": 1}})
    third = make_execution(project, inputs={"x": "1", "y": {"a": 1, "b": 2}})
    inputs = rows_of(compare(api, one.pk, other.pk, third.pk), "input")
    assert inputs["x"]["values"] == [1, True, "1"] and inputs["x"]["differs"]
    assert inputs["y"]["differs"] is False  # key order is not a difference
    assert rows_of(compare(api, one.pk, third.pk), "input")["y"]["differs"] is False


def test_timestamps_are_written_as_the_execution_json_writes_them(api, pair):
    first, second = pair
    Execution.objects.filter(pk=first.pk).update(
        started_at=T0, ended_at=T0 + timedelta(seconds=90), duration=90.0
    )
    response = compare(api, first.pk, second.pk)
    fields = rows_of(response, "field")
    executions = response.json()["executions"]
    for key in ("created_at", "started_at", "ended_at", "duration"):
        assert fields[key]["values"] == [e[key] for e in executions]
    assert fields["started_at"]["values"] == ["2026-01-01T12:00:00Z", None]
    assert fields["duration"]["values"] == [90.0, None]
    assert fields["created_at"]["differs"] is True


def test_the_parent_field_is_the_parents_id(api, project):
    parent = make_execution(project)
    child = make_execution(project, parent=parent.pk)
    fields = rows_of(compare(api, parent.pk, child.pk), "field")
    assert fields["parent"]["values"] == [None, parent.pk]
    assert fields["mode"]["values"] == ["MANUAL", "CHILD"]


def test_step_rows_carry_each_steps_duration_in_seconds_by_name(api, pair):
    first, second = pair
    add_step(first, "load", 12)
    add_step(first, "train", 300.5, start=T0 + timedelta(seconds=12))
    add_step(second, "load", 12)
    add_step(second, "train", None)  # still running
    add_step(second, "evaluate", 40)
    steps = rows_of(compare(api, first.pk, second.pk), "step")
    assert list(steps) == ["load", "train", "evaluate"]  # the order the executions ran them
    assert steps["load"]["values"] == [12.0, 12.0] and steps["load"]["differs"] is False
    assert steps["train"]["values"] == [300.5, None] and steps["train"]["differs"] is True
    assert steps["evaluate"]["values"] == [None, 40.0]


def test_it_compares_up_to_four_executions(api, project):
    executions = [make_execution(project, labels={"n": str(i % 2)}) for i in range(4)]
    response = compare(api, *(e.pk for e in executions))
    assert response.status_code == 200
    assert [e["id"] for e in response.json()["executions"]] == [e.pk for e in executions]
    assert rows_of(response, "label")["n"]["values"] == ["0", "1", "0", "1"]


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ("one", "Compare takes 2 to 4 executions; got 1."),
        ("a1,a2,a3,a4,a5", "Compare takes 2 to 4 executions; got 5."),
        ("a1,a2,a1", "ids names 'a1' more than once; compare 2 to 4 different executions."),
        ("", "Give 2 to 4 execution ids to compare: ids=a,b,c."),
        ("a1,,a2", "ids has an empty id at position 2; separate ids with single commas."),
        ("a1,a2,", "ids has an empty id at position 3; separate ids with single commas."),
        ("a1,A!2", "'A!2' is not an execution id (lowercase letters and digits)."),
        ("a1,a 2", "'a 2' is not an execution id (lowercase letters and digits)."),
        ("a1," + "x" * 17, f"{'x' * 17!r} is not an execution id (lowercase letters and digits)."),
    ],
)
def test_a_bad_list_of_ids_is_a_400_that_says_what_is_wrong(api, ids, message):
    response = api.get(URL, {"ids": ids})
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "invalid", "message": message, "field": "ids"}}


def test_no_ids_parameter_is_a_400_not_the_detail_route_taking_compare_for_an_id(api):
    response = api.get(URL)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "ids"


def test_the_ids_parameter_may_also_be_repeated(api, pair):
    first, second = pair
    response = api.get(URL, {"ids": [first.pk, second.pk]})
    assert [e["id"] for e in response.json()["executions"]] == [first.pk, second.pk]


def test_an_execution_of_a_private_project_is_a_404_exactly_like_a_missing_one(api, pair):
    first, _ = pair
    private = make_execution(ProjectFactory(slug="secret"), launched_by="bob")
    hidden = compare(api, first.pk, private.pk)
    missing = compare(api, first.pk, "zzzzzzzzzz")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == {
        "error": {"code": "not_found", "message": f"No execution {private.pk!r}.", "field": "ids"}
    }
    assert missing.json() == {
        "error": {"code": "not_found", "message": "No execution 'zzzzzzzzzz'.", "field": "ids"}
    }


def test_a_token_limited_to_another_project_cannot_compare_this_projects_executions(
    editor, project, pair
):
    first, second = pair
    other = ProjectFactory(slug="other")
    MembershipFactory(project=other, user=editor)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(editor, projects=[other])}")
    assert compare(client, first.pk, second.pk).status_code == 404


def test_executions_of_two_readable_projects_can_be_compared(api, editor, pair):
    other = ProjectFactory(slug="vision")
    MembershipFactory(project=other, user=editor, role=Role.VIEWER)
    elsewhere = make_execution(other, labels={"team": "cv"})
    response = compare(api, pair[0].pk, elsewhere.pk)
    assert [e["project"] for e in response.json()["executions"]] == ["nlp", "vision"]
    assert rows_of(response, "label")["team"]["values"] == ["nlp", "cv"]


def test_reading_without_a_role_needs_public_read(anon_api, pair, settings):
    first, second = pair
    assert compare(anon_api, first.pk, second.pk).status_code == 404
    settings.EXECBOARD_PUBLIC_READ = True
    assert compare(anon_api, first.pk, second.pk).status_code == 200


def test_only_get_is_allowed(api, pair):
    first, second = pair
    assert api.post(f"{URL}?ids={first.pk},{second.pk}").status_code == 405


@pytest.mark.parametrize("count", [2, 4])
def test_it_reads_the_executions_in_one_query_and_their_steps_in_one_more(
    project, editor, count, django_assert_num_queries
):
    executions = [
        make_execution(project, labels={"k": str(i)}, inputs={"i": i}, user_metadata={"m": i})
        for i in range(count)
    ]
    for execution in executions:
        for name in ("load", "train", "eval"):
            add_step(execution, name, 5)
    client = APIClient()
    client.force_authenticate(editor)
    # The membership (the access check, once per project), the executions with their
    # projects, their steps.
    with django_assert_num_queries(3):
        response = compare(client, *(e.pk for e in executions))
    assert response.status_code == 200
    assert len(rows_of(response, "step")) == 3
