"""Bulk labels: the text form of the changes, the rules of the update, and the page
(p/<slug>/bulk-labels/) with its preview, confirm and inline errors."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from executions.bulk_labels import (
    LabelChanges,
    labels_bulk_update,
    parse_keys_text,
    parse_labels_text,
    select_ids,
)
from executions.errors import ExecboardError
from executions.labels import LabelError
from executions.models import Change, Execution, Label
from projects.models import Role
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, make_execution

pytestmark = pytest.mark.django_db

PAGE = "/p/nlp/bulk-labels/"
HTMX = {"HX-Request": "true", "HX-Target": "bulk-dialog"}


def snapshot() -> tuple:
    return (
        sorted((e.pk, sorted(e.labels.items())) for e in Execution.objects.all()),
        sorted(Label.objects.values_list("execution_id", "key", "value")),
        Change.objects.count(),
    )


@pytest.fixture
def runs(project):
    return [
        make_execution(project, labels={"team": "nlp", "model": "bert"}),
        make_execution(project, labels={"team": "nlp"}),
        make_execution(project, labels={"team": "cv"}),
    ]


@pytest.fixture
def signed_in(client, editor):
    client.force_login(editor)
    return client


# The text form ----------------------------------------------------------------------------


def test_labels_text_reads_pairs_tags_and_quoted_values():
    text = ' team:nlp  smoke url:http://x/y name:"lr sweep \\"3\\"" empty: '
    assert parse_labels_text(text) == {
        "team": "nlp",
        "smoke": "",
        "url": "http://x/y",
        "name": 'lr sweep "3"',
        "empty": "",
    }
    assert parse_labels_text("   ") == {}


@pytest.mark.parametrize("text", ['name:"unclosed', "b@d:x", ":v", "k:\x07", 'a"b:c'])
def test_labels_text_that_breaks_the_label_rules_is_refused(text):
    with pytest.raises(LabelError) as raised:
        parse_labels_text(text)
    assert raised.value.field == "add"


def test_keys_text_takes_spaces_and_commas():
    assert parse_keys_text(" a, b  c,,") == ["a", "b", "c"]


def test_changes_say_what_changes_for_one_execution():
    changes = LabelChanges.validated({"team": "nlp", "stage": "eval"}, ["model", "absent"])
    labels, changed = changes.applied_to({"team": "nlp", "model": "bert", "user": "anne"})
    assert labels == {"team": "nlp", "user": "anne", "stage": "eval"}
    assert changed == [("model", "bert", None), ("stage", None, "eval")]
    assert changes.applied_to({"team": "nlp", "stage": "eval"})[1] == []


def test_the_update_writes_nothing_for_executions_that_would_not_change(project, runs):
    result = labels_bulk_update(
        selection=select_ids([r.pk for r in runs], Execution.objects.all()),
        changes=LabelChanges.validated({"team": "nlp"}),
        by="anne",
        authorize=lambda project: None,
    )
    assert (result.matched, result.changed) == (3, 1)
    assert list(Change.objects.values_list("execution_id", "key", "old", "new")) == [
        (runs[2].pk, "team", "cv", "nlp")
    ]


def test_the_update_asks_about_every_project_of_the_selection(project, runs):
    other = make_execution(ProjectFactory(slug="cv"))
    asked = []
    labels_bulk_update(
        selection=select_ids([runs[0].pk, other.pk], Execution.objects.all()),
        changes=LabelChanges.validated({"k": "v"}),
        by="anne",
        authorize=lambda project: asked.append(project.slug),
        dry_run=True,
    )
    assert sorted(asked) == ["cv", "nlp"]


def test_a_refusal_by_authorize_changes_nothing(project, runs):
    def refuse(project):
        raise ExecboardError("no", status=403)

    before = snapshot()
    with pytest.raises(ExecboardError):
        labels_bulk_update(
            selection=select_ids([runs[0].pk], Execution.objects.all()),
            changes=LabelChanges.validated({"k": "v"}),
            by="anne",
            authorize=refuse,
        )
    assert snapshot() == before


# The page ---------------------------------------------------------------------------------


def test_someone_signed_out_does_not_see_the_project(client, runs):
    assert client.get(PAGE, {"ids": runs[0].pk}).status_code == 404


def test_with_public_read_someone_signed_out_is_told_it_needs_the_editor_role(
    client, runs, settings
):
    settings.EXECBOARD_PUBLIC_READ = True
    page = client.get(PAGE, {"ids": runs[0].pk})
    assert page.status_code == 200
    assert "needs the editor role" in page.content.decode()
    assert 'name="add"' not in page.content.decode()
    before = snapshot()
    response = client.post(PAGE, {"ids": runs[0].pk, "add": "k:v", "action": "confirm"})
    assert response.status_code == 403
    assert snapshot() == before


def test_the_form_names_the_selected_executions(signed_in, runs):
    response = signed_in.get(PAGE, {"ids": f"{runs[0].pk},{runs[1].pk}"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "2 selected executions" in page
    assert 'name="add"' in page and 'name="remove"' in page
    assert f'name="ids" value="{runs[0].pk},{runs[1].pk}"' in page


def test_the_form_names_the_filters_of_everything_matching(signed_in, runs):
    response = signed_in.get(PAGE, {"q": "team:nlp", "phase": "UNDEFINED", "limit": "25"})
    page = response.content.decode()
    assert "Every execution of NLP matching" in page
    assert "q: team:nlp" in page and "phase: UNDEFINED" in page
    assert 'name="q" value="team:nlp"' in page and 'name="limit" value="25"' in page


def test_add_and_remove_can_be_filled_in_by_the_link(signed_in, runs):
    page = signed_in.get(PAGE, {"ids": runs[0].pk, "remove": "model"}).content.decode()
    assert 'name="remove" id="id_remove" value="model"' in page


def test_an_htmx_request_gets_the_fragment_for_a_dialog(signed_in, runs):
    response = signed_in.get(PAGE, {"ids": runs[0].pk}, headers=HTMX)
    page = response.content.decode()
    assert page.lstrip().startswith('<section id="bulk-labels"')
    assert "<html" not in page


def test_preview_shows_how_many_would_change_and_changes_nothing(signed_in, runs):
    before = snapshot()
    response = signed_in.post(
        PAGE, {"q": "team:nlp", "add": "team:nlp reviewed", "remove": "", "action": "preview"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "This will change <strong>2</strong> of 2 executions" in page
    assert 'value="confirm"' in page
    assert '<input type="hidden" name="add" value="team:nlp reviewed">' in page
    assert snapshot() == before


def test_preview_says_when_nothing_would_change(signed_in, runs):
    response = signed_in.post(PAGE, {"q": "team:nlp", "add": "team:nlp", "action": "preview"})
    page = response.content.decode()
    assert "none of the 2 executions would change" in page
    assert 'value="confirm"' not in page


def test_confirm_applies_with_history_and_goes_back_to_the_list(signed_in, runs):
    response = signed_in.post(
        PAGE,
        {
            "q": "team:nlp",
            "sort_by.key": "duration",
            "add": "stage:eval",
            "remove": "model",
            "action": "confirm",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/p/nlp/?" + urlencode(
        {"q": "team:nlp", "sort_by.key": "duration"}
    )
    for execution in runs:
        execution.refresh_from_db()
    assert runs[0].labels == {"team": "nlp", "stage": "eval", "user": "anne"}
    assert runs[1].labels["stage"] == "eval" and "stage" not in runs[2].labels
    assert sorted(Change.objects.values_list("execution_id", "key", "by")) == sorted(
        [
            (runs[0].pk, "model", "anne"),
            (runs[0].pk, "stage", "anne"),
            (runs[1].pk, "stage", "anne"),
        ]
    )
    assert Label.objects.filter(key="stage", value="eval").count() == 2


def test_confirm_on_selected_ids_changes_only_those(signed_in, runs):
    signed_in.post(PAGE, {"ids": [runs[0].pk, runs[2].pk], "add": "k:v", "action": "confirm"})
    assert sorted(Label.objects.filter(key="k").values_list("execution_id", flat=True)) == sorted(
        [runs[0].pk, runs[2].pk]
    )


def test_an_htmx_confirm_sends_the_browser_back_to_the_list(signed_in, runs):
    response = signed_in.post(
        PAGE, {"ids": runs[0].pk, "q": "team:nlp", "add": "k:v", "action": "confirm"}, headers=HTMX
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/p/nlp/?q=team%3Anlp"
    runs[0].refresh_from_db()
    assert runs[0].labels["k"] == "v"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"add": 'name:"unclosed'}, "Cannot read a label"),
        ({"add": "b@d:x"}, "a key name starts and ends with a letter or digit"),
        ({"add": "user:bob"}, "reserved for namespaces"),
        ({"remove": "production"}, "reserved for namespaces"),
        ({"add": "", "remove": ""}, "Nothing to do"),
        ({"add": "team:x", "remove": "team"}, "both added and removed"),
        ({"add": "k:v", "q": "team:nlp and ("}, "Syntax error at column 15"),
        ({"add": "k:v", "phase": "NOPE"}, "Unknown phase"),
    ],
)
@pytest.mark.parametrize("action", ["preview", "confirm"])
def test_errors_are_shown_in_the_form_and_change_nothing(signed_in, runs, fields, message, action):
    before = snapshot()
    response = signed_in.post(PAGE, {"action": action, **fields})
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert 'name="add"' in page  # the form is there again, with what was typed
    assert snapshot() == before


def test_a_selection_over_the_limit_is_refused_in_the_form(signed_in, runs, settings):
    settings.EXECBOARD_BULK_LIMIT = 2
    before = snapshot()
    response = signed_in.post(PAGE, {"add": "k:v", "action": "confirm"})
    assert response.status_code == 400
    assert "more than 2 executions" in response.content.decode()
    assert snapshot() == before


def test_the_label_cap_names_the_execution_in_the_form(signed_in, project, settings):
    settings.EXECBOARD_MAX_LABELS = 2
    full = make_execution(project, labels={"a": "1", "b": "2"})
    make_execution(project, labels={"a": "1"})
    before = snapshot()
    response = signed_in.post(PAGE, {"add": "c:3", "action": "confirm"})
    assert response.status_code == 400
    assert f"Execution {full.pk}: An execution can have at most 2 labels" in (
        response.content.decode()
    )
    assert snapshot() == before


def test_ids_from_another_project_are_refused(signed_in, runs, editor):
    other = ProjectFactory(slug="cv")
    MembershipFactory(project=other, user=editor)
    elsewhere = make_execution(other)
    before = snapshot()
    response = signed_in.post(
        PAGE, {"ids": f"{runs[0].pk},{elsewhere.pk}", "add": "k:v", "action": "confirm"}
    )
    assert response.status_code == 404
    assert f"No execution &#x27;{elsewhere.pk}&#x27;" in response.content.decode()
    assert snapshot() == before


def test_a_viewer_is_told_inline_and_cannot_change_anything(client, project, runs):
    viewer = MembershipFactory(project=project, user=UserFactory(username="vic"), role=Role.VIEWER)
    client.force_login(viewer.user)
    before = snapshot()
    page = client.get(PAGE, {"ids": runs[0].pk})
    assert page.status_code == 200
    assert "needs the editor role" in page.content.decode()
    assert 'name="add"' not in page.content.decode()
    response = client.post(PAGE, {"ids": runs[0].pk, "add": "k:v", "action": "confirm"})
    assert response.status_code == 403
    assert "needs the editor role" in response.content.decode()
    assert snapshot() == before


def test_someone_without_a_role_does_not_see_the_project(client, runs):
    client.force_login(UserFactory(username="stranger"))
    assert client.get(PAGE, {"ids": runs[0].pk}).status_code == 404


def test_the_form_posts_need_the_csrf_token(editor, runs):
    client = Client(enforce_csrf_checks=True)
    client.force_login(editor)
    response = client.post(PAGE, {"ids": runs[0].pk, "add": "k:v", "action": "confirm"})
    assert response.status_code == 403
    assert "k" not in Execution.objects.get(pk=runs[0].pk).labels


def test_the_page_sends_as_many_statements_for_50_executions_as_for_5(
    signed_in, project, django_assert_max_num_queries
):
    form = {"q": "model:m", "add": "stage:eval", "remove": "model"}
    for _ in range(5):
        make_execution(project, labels={"model": "m"})
    with CaptureQueriesContext(connection) as queries:
        signed_in.post(PAGE, {**form, "action": "preview"})
        signed_in.post(PAGE, {**form, "action": "confirm"})
    for _ in range(45):
        make_execution(project, labels={"model": "m"})
    with django_assert_max_num_queries(len(queries)):
        signed_in.post(PAGE, {**form, "action": "preview"})
        signed_in.post(PAGE, {**form, "action": "confirm"})
    assert Label.objects.filter(key="stage").count() == 50
