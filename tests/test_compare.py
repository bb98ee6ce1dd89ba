"""Compare (SPEC §10): the rows built from executions and their steps, and the page
/p/<project>/compare/?ids=… that shows them side by side with differences marked."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from executions.compare import FIELDS, Row, compare, parse_ids
from executions.errors import ExecboardError
from executions.models import Execution, Step
from executions.templatetags.execution_detail import duration
from projects.models import Role
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, make_execution

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
HTMX = {"HX-Request": "true"}


def add_step(execution: Execution, name: str, seconds: float | None) -> Step:
    end = T0 + timedelta(seconds=seconds) if seconds is not None else None
    return Step.objects.create(execution=execution, name=name, started_at=T0, ended_at=end)


# Parsing ids -----------------------------------------------------------------------------


def test_ids_are_split_at_commas_and_may_be_repeated_as_parameters():
    assert parse_ids(["a1, a2"]) == ["a1", "a2"]
    assert parse_ids(["a1", "a2,a3"]) == ["a1", "a2", "a3"]


@pytest.mark.parametrize(
    "values",
    [[], [""], ["a1"], ["a1,a2,a3,a4,a5"], ["a1,a1"], ["a1,,a2"], ["a1,a\x002"], ["a1,A2"]],
)
def test_a_bad_list_of_ids_is_an_error_about_the_ids_field(values):
    with pytest.raises(ExecboardError) as error:
        parse_ids(values)
    assert error.value.field == "ids" and error.value.status == 400


# Rows ------------------------------------------------------------------------------------


def execution(**attributes) -> Execution:
    """An unsaved execution: building rows needs no database."""
    defaults = {"id": "x", "workflow": "train.wf", "domain": "development", "created_at": T0}
    return Execution(**(defaults | attributes))


def test_rows_are_fields_then_sorted_labels_inputs_and_metadata_keys_then_steps():
    one = execution(id="a", labels={"b": "1", "a": "2"}, inputs={"z": 1}, user_metadata={"m": 1})
    two = execution(id="b", labels={"c": ""}, inputs={}, user_metadata={"m": 1, "k": [1]})
    steps = [Step(execution_id="b", name="train"), Step(execution_id="a", name="load")]
    rows = compare([one, two], steps).rows
    assert [(row.section, row.key) for row in rows] == [
        *(("field", key) for key in FIELDS),
        ("label", "a"),
        ("label", "b"),
        ("label", "c"),
        ("input", "z"),
        ("meta", "k"),
        ("meta", "m"),
        ("step", "train"),
        ("step", "load"),
    ]
    assert rows[len(FIELDS)] == Row("label", "a", ("2", None), differs=True)
    assert rows[-3] == Row("meta", "m", (1, 1), differs=False)


def test_a_row_differs_when_any_value_is_not_the_same_json_value_as_the_first():
    values = {
        "same": ([1, 2], [1, 2], [1, 2]),
        "last": ("a", "a", "b"),
        "bool": (1, True, 1),
        "string": (1, "1", 1),
        "order": ({"a": 1, "b": 2}, {"b": 2, "a": 1}, {"a": 1, "b": 2}),
        "null": (None, None, 0),
    }
    executions = [
        execution(id=str(i), inputs={key: value[i] for key, value in values.items()})
        for i in range(3)
    ]
    differs = {
        row.key: row.differs for row in compare(executions, []).rows if row.section == "input"
    }
    assert differs == {
        "same": False,
        "last": True,
        "bool": True,
        "string": True,
        "order": False,
        "null": True,
    }


def test_times_are_the_same_when_they_are_the_same_instant():
    from zoneinfo import ZoneInfo

    paris = T0.astimezone(ZoneInfo("Europe/Paris"))
    rows = compare([execution(id="a", created_at=T0), execution(id="b", created_at=paris)], [])
    created = next(row for row in rows.rows if row.key == "created_at")
    assert created.differs is False


def test_a_metadata_column_that_is_not_an_object_has_no_keys():
    rows = compare([execution(id="a", user_metadata=[1]), execution(id="b")], []).rows
    assert not [row for row in rows if row.section == "meta"]


def test_only_differences_keeps_the_rows_that_differ():
    comparison = compare([execution(id="a", labels={"k": "1"}), execution(id="b")], [])
    assert [row.key for row in comparison.only_differences().rows] == ["k"]


# The page --------------------------------------------------------------------------------


@pytest.fixture
def signed_in(client, editor):
    client.force_login(editor)
    return client


@pytest.fixture
def trio(project):
    first = make_execution(
        project,
        labels={"name": "baseline", "team": "nlp", "model": "bert"},
        inputs={"lr": 0.001, "layers": [1, 2], "note": "<b>raw</b>"},
        user_metadata={"accuracy": 0.91},
    )
    second = make_execution(
        project,
        labels={"name": "bigger", "team": "nlp", "model": "gpt"},
        inputs={"lr": 0.01, "layers": [1, 2], "note": "<b>raw</b>"},
        user_metadata={"accuracy": 0.93, "loss": 0.2},
    )
    third = make_execution(
        project, labels={"team": "nlp", "model": "bert"}, inputs={"layers": [1, 2]}
    )
    for e, seconds in ((first, 75), (second, 3723), (third, None)):
        add_step(e, "train", seconds)
    return first, second, third


def page_url(project, *executions, only: str | None = None) -> str:
    ids = ",".join(e.pk for e in executions)
    suffix = f"&only={only}" if only else ""
    return f"{reverse('executions:compare', args=[project.slug])}?ids={ids}{suffix}"


def row_html(body: str, key: str) -> str:
    match = re.search(
        rf'<tr class="compare-row[^"]*"[^>]*data-key="{re.escape(key)}".*?</tr>', body, re.S
    )
    assert match, f"no row {key!r}"
    return match.group(0)


def test_the_page_shows_one_column_per_execution_linking_to_its_page(signed_in, project, trio):
    response = signed_in.get(page_url(project, *trio))
    assert response.status_code == 200
    body = response.content.decode()
    assert "<h1>Compare 3 executions</h1>" in body
    for e in trio:
        assert f'<a href="{e.get_absolute_url()}">{e.display_name}</a>' in body
        assert f"<code>{e.pk}</code>" in body
    assert body.count('<span class="phase phase-undefined">UNDEFINED</span>') >= 3
    heads = re.findall(r'<th scope="colgroup"[^>]*>([A-Za-z ]+) <', body)
    assert heads == ["Fields", "Labels", "Inputs", "User metadata", "Step durations"]


def test_cells_of_a_row_that_differs_are_marked_not_only_by_colour(signed_in, project, trio):
    body = signed_in.get(page_url(project, *trio)).content.decode()
    model = row_html(body, "model")
    assert 'class="compare-row differs"' in model
    assert model.count('<td class="differs">') == 3
    assert '<span class="visually-hidden"> (differs)</span>' in model
    assert '<span class="diff-mark" aria-hidden="true">≠</span>' in model
    team = row_html(body, "team")
    assert "differs" not in team and "<td>" in team


def test_values_are_shown_compactly_and_durations_formatted(signed_in, project, trio):
    body = signed_in.get(page_url(project, *trio)).content.decode()
    assert '<code class="compare-json">[1, 2]</code>' in row_html(body, "layers")
    assert '<code class="compare-json">0.001</code>' in row_html(body, "lr")
    note = row_html(body, "note")  # strings as they are, escaped
    assert '<span class="compare-text">&lt;b&gt;raw&lt;/b&gt;</span>' in note
    assert "<b>raw</b>" not in body
    train = row_html(body, "train")
    assert duration(75) in train and duration(3723) in train and "not set" in train
    assert "not set" in row_html(body, "loss")  # a key only one execution has


def test_only_differences_hides_the_rows_whose_values_are_equal(signed_in, project, trio):
    everything = signed_in.get(page_url(project, *trio)).content.decode()
    only = signed_in.get(page_url(project, *trio, only="diff")).content.decode()
    assert 'data-key="team"' in everything and 'data-key="team"' not in only
    assert 'data-key="layers"' in everything and 'data-key="layers"' not in only
    assert 'data-key="workflow"' in everything and 'data-key="workflow"' not in only
    assert 'data-key="model"' in only and 'data-key="lr"' in only
    assert 'aria-current="true">Only differences' in only
    assert f'href="{page_url(project, *trio)}"' in only  # the way back to every row


def test_a_section_with_nothing_to_show_says_so(signed_in, project):
    a, b = make_execution(project), make_execution(project)
    body = signed_in.get(page_url(project, a, b, only="diff")).content.decode()
    assert "No differences." in body  # labels: only user:anne, the same
    assert "None." in body  # no steps at all


def test_htmx_gets_the_comparison_fragment_of_the_same_page(signed_in, project, trio):
    response = signed_in.get(page_url(project, *trio, only="diff"), headers=HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="comparison"')
    assert "<html" not in body and 'data-key="model"' in body
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ("one", "Compare takes 2 to 4 executions; got 1."),
        ("a1,a2,a3,a4,a5", "Compare takes 2 to 4 executions; got 5."),
        ("", "Give 2 to 4 execution ids to compare: ids=a,b,c."),
        ("a1,a1", "ids names &#x27;a1&#x27; more than once"),
    ],
)
def test_a_wrong_list_of_ids_is_an_inline_error_with_a_way_back(signed_in, project, ids, message):
    response = signed_in.get(reverse("executions:compare", args=[project.slug]), {"ids": ids})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'role="alert"' in body and message in body
    assert f'href="{reverse("executions:list", args=[project.slug])}"' in body
    assert "compare-table" not in body


def test_an_execution_of_another_project_is_a_404(signed_in, editor, project, trio):
    other = ProjectFactory(slug="vision")
    MembershipFactory(project=other, user=editor)
    elsewhere = make_execution(other)
    assert signed_in.get(page_url(project, trio[0], elsewhere)).status_code == 404
    missing = f"{reverse('executions:compare', args=[project.slug])}?ids={trio[0].pk},zzzzzzzzzz"
    assert signed_in.get(missing).status_code == 404


def test_a_project_the_user_cannot_read_is_a_404(client, project, trio):
    client.force_login(UserFactory(username="stranger"))
    assert client.get(page_url(project, *trio)).status_code == 404


def test_a_viewer_can_compare(client, project, trio):
    viewer = MembershipFactory(project=project, role=Role.VIEWER, user=UserFactory()).user
    client.force_login(viewer)
    assert client.get(page_url(project, *trio)).status_code == 200


def test_the_page_links_to_the_same_comparison_as_json(signed_in, project, trio):
    body = signed_in.get(page_url(project, *trio)).content.decode()
    ids = ",".join(e.pk for e in trio)
    assert f'href="{reverse("api-execution-compare")}?ids={ids}"' in body


def test_the_page_costs_the_same_few_queries_for_two_or_four_executions(
    signed_in, project, django_assert_num_queries
):
    executions = [make_execution(project, labels={"k": str(i)}) for i in range(4)]
    for e in executions:
        for name in ("load", "train", "eval"):
            add_step(e, name, 5)
    # Session, user, project, membership, executions, steps.
    for count in (2, 4):
        with django_assert_num_queries(6):
            assert signed_in.get(page_url(project, *executions[:count])).status_code == 200


def test_ids_may_come_as_the_lists_checkboxes_send_them(signed_in, project, trio):
    url = reverse("executions:compare", args=[project.slug])
    response = signed_in.get(url, {"ids": [e.pk for e in trio]})
    assert response.status_code == 200
    assert "<h1>Compare 3 executions</h1>" in response.content.decode()
