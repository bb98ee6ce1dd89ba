"""The execution page: what it shows, editing the description and labels in place (htmx
fragments and plain forms), history, steps and timeline, permissions and query count."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from executions import services
from executions.models import Change, Event, Label, Phase, Step
from executions.textdiff import line_diff
from executions.timeline import build_timeline, step_tree
from projects.models import DefaultLabel, Role
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, make_execution

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def execution(project):
    return make_execution(
        project,
        labels={"team": "nlp", "name": "lr sweep 3"},
        description="# Sweep\n\nTried *three* rates.",
        workflow_version="v7",
        inputs={"lr": 0.001, "layers": [1, 2], "note": "<b>raw</b>"},
        user_metadata={"accuracy": 0.91},
    )


@pytest.fixture
def signed_in(client, editor):
    client.force_login(editor)
    return client


@pytest.fixture
def viewer(project):
    return MembershipFactory(
        project=project, role=Role.VIEWER, user=UserFactory(username="vic")
    ).user


def url(name: str, execution) -> str:
    return reverse(f"executions:{name}", args=[execution.project.slug, execution.pk])


def state(execution) -> tuple:
    execution.refresh_from_db()
    return (
        execution.description,
        execution.description_version,
        execution.labels,
        sorted(Label.objects.filter(execution=execution).values_list("key", "value")),
        Change.objects.filter(execution=execution).count(),
    )


# Reading --------------------------------------------------------------------------------


def test_the_header_shows_what_ran_where_and_when(signed_in, project, execution):
    parent = make_execution(project, labels={"name": "the parent"})
    child = make_execution(project, parent=parent.pk, workflow="eval.wf")
    services.labels_update(execution_id=child.pk, by="anne", set_labels={"name": "kid"})
    Event.objects.create(execution=child, phase=Phase.FAILED, occurred_at=timezone.now())
    child.phase, child.error = Phase.FAILED, "CUDA out of memory"
    child.save(update_fields=["phase", "error"])
    body = signed_in.get(child.get_absolute_url()).content.decode()
    assert '<h1 id="execution-title" class="exec-title">kid</h1>' in body
    assert f'<code id="execution-id">{child.pk}</code>' in body
    assert f'data-copy="{child.pk}"' in body
    assert "eval.wf" in body and "CHILD" in body and "anne" in body
    assert 'class="phase phase-failed phase-large">FAILED<' in body
    assert f'href="{parent.get_absolute_url()}">the parent</a>' in body
    assert "CUDA out of memory" in body


def test_the_description_is_rendered_markdown_in_an_htmx_disabled_container(signed_in, execution):
    body = signed_in.get(execution.get_absolute_url()).content.decode()
    assert '<div class="markdown" hx-disable><h1>Sweep</h1>' in body
    assert "<em>three</em>" in body


def test_inputs_and_user_metadata_are_shown_as_escaped_foldable_json(signed_in, execution):
    body = signed_in.get(execution.get_absolute_url()).content.decode()
    assert '<span class="j-key">lr</span>: <span class="j-num">0.001</span>' in body
    assert '<span class="j-str">"&lt;b&gt;raw&lt;/b&gt;"</span>' in body
    assert "<b>raw</b>" not in body
    assert '<details class="j-node" open><summary>[…] <span class="muted">2 items' in body
    assert '<span class="j-key">accuracy</span>: <span class="j-num">0.91</span>' in body


def test_label_chips_link_to_the_filtered_list(signed_in, project, execution):
    services.labels_update(execution_id=execution.pk, by="anne", set_labels={"smoke": ""})
    body = signed_in.get(execution.get_absolute_url()).content.decode()
    assert 'href="/p/nlp/?q=team%3Anlp"' in body
    assert 'href="/p/nlp/?q=name%3A%22lr+sweep+3%22"' in body  # name:"lr sweep 3"
    assert 'href="/p/nlp/?q=smoke"' in body  # a tag: has the label


def test_default_labels_are_marked_and_namespace_labels_cannot_be_removed(signed_in, project):
    DefaultLabel.objects.create(project=project, key="cost-center", value="ml")
    execution = make_execution(project)
    body = signed_in.get(execution.get_absolute_url()).content.decode()
    default_item = re.search(
        r'<li class="label-item is-default" data-label="cost-center">.*?</li>', body, re.S
    )
    assert default_item and ">default</span>" in default_item.group()
    assert 'aria-label="Remove cost-center:ml"' in default_item.group()
    namespace_item = re.search(
        r'<li class="label-item is-namespace" data-label="user">.*?</li>', body, re.S
    )
    assert namespace_item and ">namespace</span>" in namespace_item.group()
    assert "Remove" not in namespace_item.group() and "Change" not in namespace_item.group()


def test_the_label_count_leaves_out_namespace_labels(signed_in, execution):
    body = signed_in.get(execution.get_absolute_url()).content.decode()
    assert "2 of at most 16" in body


def test_the_label_input_suggests_the_projects_most_used_labels(signed_in, project, execution):
    for _ in range(3):
        make_execution(project, labels={"model": "bert"})
    make_execution(project, labels={"model": "gpt"})
    body = signed_in.get(execution.get_absolute_url()).content.decode()
    options = re.findall(r'<option value="([^"]*)">', body)
    assert options.index("model:bert") < options.index("model:gpt")
    assert not any(option.startswith("user:") for option in options)
    assert 'data-suggest-url="/p/nlp/label-suggestions/"' in body


def test_steps_show_as_a_nested_table_and_a_timeline_with_one_bar_per_step(signed_in, execution):
    start = timezone.now() - timedelta(minutes=10)
    load = Step.objects.create(
        execution=execution,
        name="load",
        phase=Phase.SUCCEEDED,
        started_at=start,
        ended_at=start + timedelta(minutes=2),
        options={"num_cpus": 4},
    )
    Step.objects.create(
        execution=execution,
        name="shard",
        parent=load,
        phase=Phase.FAILED,
        started_at=start,
        ended_at=start + timedelta(minutes=1),
    )
    Step.objects.create(
        execution=execution,
        name="train",
        phase=Phase.RUNNING,
        started_at=start + timedelta(minutes=2),
    )
    Step.objects.create(execution=execution, name="publish", phase=Phase.QUEUED)
    body = signed_in.get(execution.get_absolute_url()).content.decode()
    svg = re.search(r"<svg class=\"timeline-svg\".*?</svg>", body, re.S).group()
    bars = re.findall(r'<rect class="bar (bar-\w+) phase-(\w+)"', svg)
    assert bars == [
        ("bar-done", "succeeded"),
        ("bar-done", "failed"),
        ("bar-open", "running"),
        ("bar-pending", "queued"),
    ]
    assert re.findall(r'data-step="([^"]+)"', svg) == ["load", "shard", "train", "publish"]
    assert '<td class="step-cell" style="--depth: 1">' in body  # shard is nested under load
    assert "2m 00s" in body  # load's duration in the table
    assert '<span class="j-key">num_cpus</span>' in body


def test_an_execution_without_steps_says_so_and_draws_no_timeline(signed_in, execution):
    body = signed_in.get(execution.get_absolute_url()).content.decode()
    assert "No steps reported." in body
    assert "<svg" not in body


def test_events_are_listed_newest_first_with_stale_ones_marked(signed_in, execution):
    now = timezone.now()
    step = Step.objects.create(execution=execution, name="load")
    Event.objects.create(
        execution=execution, phase=Phase.QUEUED, occurred_at=now - timedelta(2), message="queued up"
    )
    Event.objects.create(
        execution=execution, phase=Phase.RUNNING, occurred_at=now, step=step, message="go"
    )
    Event.objects.create(
        execution=execution, phase=Phase.UNDEFINED, occurred_at=now - timedelta(3), applied=False
    )
    body = signed_in.get(execution.get_absolute_url()).content.decode()
    events = body[body.index('id="events"') : body.index('id="children"')]
    assert events.index("go") < events.index("queued up") < events.index("(stale)")
    assert "<td>load</td>" in events


def test_children_are_listed_with_a_link_to_the_list_filtered_by_parent(
    signed_in, project, execution
):
    child = make_execution(project, parent=execution.pk, labels={"name": "child one"})
    body = signed_in.get(execution.get_absolute_url()).content.decode()
    assert f'href="{child.get_absolute_url()}">child one</a>' in body
    assert f'href="/p/nlp/?q=%40parent%3A{execution.pk}"' in body


def test_history_shows_label_changes_and_description_diffs_newest_first(signed_in, execution):
    services.labels_update(execution_id=execution.pk, by="bob", set_labels={"team": "vision"})
    services.description_update(
        execution_id=execution.pk,
        text="# Sweep\n\nTried *four* rates.",
        expected_version=0,
        by="chen",
    )
    services.labels_update(execution_id=execution.pk, by="dara", remove=["team"])
    body = signed_in.get(execution.get_absolute_url()).content.decode()
    history = body[body.index('id="history"') :]
    assert history.index("dara") < history.index("chen") < history.index("bob")
    assert 'removed <span class="chip chip-removed">team:vision</span>' in history
    assert (
        'from <span class="chip chip-removed">nlp</span> '
        'to <span class="chip chip-added">vision</span>' in history
    )
    assert re.search(r'diff-removed".*?removed: </span>Tried \*three\* rates\.', history, re.S)
    assert re.search(r'diff-added".*?added: </span>Tried \*four\* rates\.', history, re.S)


def test_the_page_query_count_does_not_grow_with_steps_labels_events_children_or_history(
    client, editor, project, django_assert_max_num_queries
):
    client.force_login(editor)

    def build(n: int):
        execution = make_execution(project, labels={f"k{i}": "v" for i in range(n)})
        for i in range(n):
            step = Step.objects.create(execution=execution, name=f"s{i}", started_at=timezone.now())
            Step.objects.create(execution=execution, name=f"s{i}-inner", parent=step)
            Event.objects.create(
                execution=execution, step=step, phase=Phase.RUNNING, occurred_at=timezone.now()
            )
            make_execution(project, parent=execution.pk)
            services.labels_update(execution_id=execution.pk, by="anne", set_labels={f"k{i}": "w"})
            services.description_update(
                execution_id=execution.pk, text=f"v{i}", expected_version=i, by="anne"
            )
        return execution

    small, large = build(1), build(14)
    with django_assert_max_num_queries(12):
        assert client.get(small.get_absolute_url()).status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get(large.get_absolute_url()).status_code == 200


# Permissions ----------------------------------------------------------------------------


def test_an_editor_sees_the_edit_controls(signed_in, execution):
    body = signed_in.get(execution.get_absolute_url()).content.decode()
    assert f'href="{url("description-edit", execution)}"' in body
    assert 'name="label"' in body and 'aria-label="Remove team:nlp"' in body


def test_a_viewer_sees_no_edit_controls(client, viewer, execution):
    client.force_login(viewer)
    response = client.get(execution.get_absolute_url())
    assert response.status_code == 200
    body = response.content.decode()
    assert url("description-edit", execution) not in body
    assert 'name="label"' not in body and "Remove" not in body and "label-remove" not in body


def test_anonymous_visitors_see_no_edit_controls_under_public_read(client, execution, settings):
    settings.EXECBOARD_PUBLIC_READ = True
    body = client.get(execution.get_absolute_url()).content.decode()
    assert "# Sweep" not in body and "<h1>Sweep</h1>" in body
    assert url("description-edit", execution) not in body and 'name="label"' not in body


def test_the_page_is_a_404_for_strangers_and_for_an_execution_of_another_project(
    client, project, execution
):
    client.force_login(UserFactory(username="stranger"))
    assert client.get(execution.get_absolute_url()).status_code == 404
    client.force_login(MembershipFactory(project=ProjectFactory(slug="other")).user)
    assert client.get(reverse("executions:detail", args=["other", execution.pk])).status_code == 404


EDITS = [
    ("get", "description-edit", {}),
    ("post", "description-edit", {"description": "x", "description_version": 0}),
    ("get", "labels", {}),
    ("post", "labels", {"label": "a:b"}),
    ("post", "label-remove", {"key": "team"}),
]


@pytest.mark.parametrize(("method", "name", "data"), EDITS)
def test_the_edit_endpoints_are_a_403_for_a_viewer(client, viewer, execution, method, name, data):
    client.force_login(viewer)
    before = state(execution)
    assert getattr(client, method)(url(name, execution), data).status_code == 403
    assert state(execution) == before


@pytest.mark.parametrize(("method", "name", "data"), EDITS)
def test_the_edit_endpoints_refuse_anonymous_visitors(
    client, execution, settings, method, name, data
):
    before = state(execution)
    assert getattr(client, method)(url(name, execution), data).status_code == 404
    settings.EXECBOARD_PUBLIC_READ = True
    assert getattr(client, method)(url(name, execution), data).status_code == 403
    assert state(execution) == before


def test_edit_forms_need_the_csrf_token(editor, execution):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(editor)
    before = state(execution)
    response = client.post(url("labels", execution), {"label": "a:b"})
    assert response.status_code == 403
    assert state(execution) == before


def test_the_page_sends_the_csrf_token_with_every_htmx_request(signed_in, execution):
    body = signed_in.get(execution.get_absolute_url()).content.decode()
    assert re.search(r"<body hx-headers='\{\"X-CSRFToken\": \"\w+\"\}'>", body)
    assert body.count('name="csrfmiddlewaretoken"') >= 3  # add, remove, sign out


# Editing the description ------------------------------------------------------------------


def test_without_javascript_edit_opens_the_page_in_edit_mode(signed_in, execution):
    response = signed_in.get(url("description-edit", execution))
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" in body and 'id="steps"' in body
    assert '<textarea name="description"' in body
    assert re.search(
        r'<textarea name="description"[^>]*>\s*# Sweep\n\nTried \*three\* rates\.</textarea>', body
    )
    assert 'name="description_version" value="0"' in body
    assert "<h1>Sweep</h1>" in body  # the preview of the current text


def test_with_htmx_edit_returns_only_the_editor_fragment(signed_in, execution):
    body = signed_in.get(url("description-edit", execution), headers=HTMX).content.decode()
    assert body.lstrip().startswith('<section id="description" class="card editing"')
    assert "<html" not in body
    assert 'hx-post="' + url("description-edit", execution) + '"' in body
    assert 'hx-target="#description-preview"' in body  # live preview


def test_a_plain_form_save_redirects_to_the_page_which_shows_the_new_text(signed_in, execution):
    response = signed_in.post(
        url("description-edit", execution),
        {"description": "Now **bold**.\r\n\r\n- a\r\n- b", "description_version": 0},
    )
    assert response.status_code == 302
    assert response["Location"] == execution.get_absolute_url() + "#description"
    execution.refresh_from_db()
    assert (execution.description, execution.description_version) == (
        "Now **bold**.\n\n- a\n- b",
        1,
    )
    change = Change.objects.get(execution=execution)
    assert (change.by, change.field, change.old) == (
        "anne",
        "description",
        "# Sweep\n\nTried *three* rates.",
    )
    body = signed_in.get(execution.get_absolute_url()).content.decode()
    assert "<strong>bold</strong>" in body


def test_an_htmx_save_returns_the_rendered_description_and_refreshes_the_history(
    signed_in, execution
):
    response = signed_in.post(
        url("description-edit", execution),
        {"description": "Saved *text*", "description_version": 0},
        headers=HTMX,
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="description" class="card"')
    assert '<div class="markdown" hx-disable><p>Saved <em>text</em></p></div>' in body
    assert (
        '<section id="history" class="card" aria-labelledby="history-heading" hx-swap-oob="true">'
        in body
    )
    assert "edited the description" in body


def test_saving_the_same_text_changes_nothing(signed_in, execution):
    before = state(execution)
    signed_in.post(
        url("description-edit", execution),
        {"description": "# Sweep\r\n\r\nTried *three* rates.", "description_version": 0},
    )
    assert state(execution) == before


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain form", "htmx"])
def test_preview_renders_the_text_without_saving_it(signed_in, execution, headers):
    before = state(execution)
    response = signed_in.post(
        url("description-edit", execution),
        {
            "description": "Draft <script>x()</script> *idea*",
            "description_version": 0,
            "action": "preview",
        },
        headers=headers,
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert '<div class="markdown" hx-disable><p>Draft  <em>idea</em></p></div>' in body
    if headers:
        assert body.lstrip().startswith('<div id="description-preview"')
    else:
        assert re.search(
            r"<textarea[^>]*>\s*Draft &lt;script&gt;x\(\)&lt;/script&gt; \*idea\*</textarea>", body
        )
    assert state(execution) == before


def test_cancel_brings_back_the_rendered_description(signed_in, execution):
    response = signed_in.get(url("description", execution), headers=HTMX)
    assert response.content.decode().lstrip().startswith('<section id="description" class="card"')
    assert "<h1>Sweep</h1>" in response.content.decode()
    plain = signed_in.get(url("description", execution))
    assert plain.status_code == 302 and plain["Location"].endswith("#description")


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain form", "htmx"])
def test_a_concurrent_save_is_a_conflict_that_keeps_both_texts(signed_in, execution, headers):
    services.description_update(
        execution_id=execution.pk, text="Their **words**", expected_version=0, by="bob"
    )
    before = state(execution)
    response = signed_in.post(
        url("description-edit", execution),
        {"description": "My own words", "description_version": 0},
        headers=headers,
    )
    body = response.content.decode()
    assert response.status_code == 409
    assert "Someone else saved this description while you were editing." in body
    assert "bob saved version 1" in body
    assert (
        '<div class="markdown conflict-theirs" hx-disable><p>Their <strong>words</strong></p></div>'
        in body
    )
    assert re.search(r"<textarea[^>]*>\s*My own words</textarea>", body)
    assert 'name="description_version" value="1"' in body  # saving again is deliberate
    assert re.search(r'diff-added".*?added: </span>My own words', body, re.S)
    assert state(execution) == before


def test_saving_again_after_a_conflict_replaces_the_text_on_purpose(signed_in, execution):
    services.description_update(
        execution_id=execution.pk, text="theirs", expected_version=0, by="bob"
    )
    signed_in.post(
        url("description-edit", execution), {"description": "mine", "description_version": 0}
    )
    response = signed_in.post(
        url("description-edit", execution), {"description": "mine", "description_version": 1}
    )
    assert response.status_code == 302
    execution.refresh_from_db()
    assert (execution.description, execution.description_version) == ("mine", 2)


def test_a_missing_version_is_a_clear_error(signed_in, execution):
    before = state(execution)
    response = signed_in.post(
        url("description-edit", execution), {"description": "x"}, headers=HTMX
    )
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert state(execution) == before


# Editing labels -------------------------------------------------------------------------


def test_adding_a_label_with_a_plain_form_redirects_back(signed_in, execution):
    response = signed_in.post(url("labels", execution), {"label": "stage: eval one"})
    assert response.status_code == 302
    assert response["Location"].endswith("#labels")
    execution.refresh_from_db()
    assert execution.labels["stage"] == "eval one"
    assert Change.objects.get(execution=execution, key="stage").new == "eval one"


def test_adding_a_label_with_htmx_returns_the_labels_and_refreshes_history_and_title(
    signed_in, execution
):
    response = signed_in.post(url("labels", execution), {"label": "name:renamed"}, headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="labels"')
    assert 'data-label="name"' in body and "renamed" in body
    assert 'hx-swap-oob="true">renamed</h1>' in body
    assert (
        '<section id="history" class="card" aria-labelledby="history-heading" hx-swap-oob="true">'
        in body
    )
    assert 'from <span class="chip chip-removed">lr sweep 3</span>' in body


def test_a_bare_key_adds_a_tag(signed_in, execution):
    signed_in.post(url("labels", execution), {"label": "smoke"})
    execution.refresh_from_db()
    assert execution.labels["smoke"] == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bad key:x", "a key name starts and ends with a letter or digit"),
        ("user:bob", "reserved for namespaces"),
        ("", "Write a label as key:value"),
        (":value", "A label key cannot be empty."),
        ("team:" + "v" * 257, "at most 256 are allowed"),
    ],
)
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain form", "htmx"])
def test_a_bad_label_shows_the_error_keeps_the_input_and_changes_nothing(
    signed_in, execution, text, message, headers
):
    before = state(execution)
    response = signed_in.post(url("labels", execution), {"label": text}, headers=headers)
    body = response.content.decode()
    assert response.status_code == 400
    assert message in body
    if text:
        assert f'value="{text}"' in body
    assert state(execution) == before


def test_too_many_labels_is_an_error_that_changes_nothing(signed_in, project):
    execution = make_execution(project, labels={f"k{i}": "v" for i in range(16)})
    before = state(execution)
    response = signed_in.post(url("labels", execution), {"label": "one:more"}, headers=HTMX)
    assert response.status_code == 400
    assert "at most 16 labels" in response.content.decode()
    assert state(execution) == before


def test_the_edit_link_opens_one_label_value_for_editing(signed_in, execution):
    body = signed_in.get(url("labels", execution) + "?edit=team", headers=HTMX).content.decode()
    assert body.lstrip().startswith('<section id="labels"')
    assert '<input type="hidden" name="key" value="team">' in body
    assert re.search(r'<input id="label-value-input" name="value"[^>]*value="nlp"', body, re.S)
    page = signed_in.get(url("labels", execution) + "?edit=team").content.decode()
    assert "<html" in page and 'name="key" value="team"' in page
    unknown = signed_in.get(url("labels", execution) + "?edit=nope", headers=HTMX).content.decode()
    assert 'name="key"' in unknown and 'name="value"' not in unknown


def test_changing_a_value_in_place_saves_it(signed_in, execution):
    response = signed_in.post(
        url("labels", execution), {"key": "team", "value": "vision"}, headers=HTMX
    )
    assert response.status_code == 200
    execution.refresh_from_db()
    assert execution.labels["team"] == "vision"
    change = Change.objects.get(execution=execution)
    assert (change.key, change.old, change.new) == ("team", "nlp", "vision")


def test_a_bad_changed_value_keeps_the_edit_form_open_with_the_error(signed_in, execution):
    before = state(execution)
    response = signed_in.post(
        url("labels", execution), {"key": "team", "value": "a\tb"}, headers=HTMX
    )
    body = response.content.decode()
    assert response.status_code == 400
    form = re.search(
        r'<form method="post" action="[^"]+" class="label-edit".*?</form>', body, re.S
    ).group()
    assert "control or unprintable character U+0009" in form
    assert state(execution) == before


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain form", "htmx"])
def test_removing_a_label_in_place(signed_in, execution, headers):
    response = signed_in.post(url("label-remove", execution), {"key": "team"}, headers=headers)
    assert response.status_code == (200 if headers else 302)
    execution.refresh_from_db()
    assert "team" not in execution.labels
    assert not Label.objects.filter(execution=execution, key="team").exists()
    change = Change.objects.get(execution=execution)
    assert (change.key, change.old, change.new, change.by) == ("team", "nlp", None, "anne")


def test_a_namespace_label_cannot_be_removed_from_the_page(signed_in, execution):
    before = state(execution)
    response = signed_in.post(url("label-remove", execution), {"key": "user"}, headers=HTMX)
    assert response.status_code == 400
    assert "reserved for namespaces" in response.content.decode()
    assert state(execution) == before


def test_removing_a_label_someone_already_removed_is_a_conflict(signed_in, execution):
    services.labels_update(execution_id=execution.pk, by="bob", remove=["team"])
    response = signed_in.post(url("label-remove", execution), {"key": "team"}, headers=HTMX)
    assert response.status_code == 409
    assert "The execution has no label &#x27;team&#x27; to remove." in response.content.decode()


# The helpers behind the page -----------------------------------------------------------


def test_step_tree_puts_children_under_their_parent_in_order(execution):
    a = Step.objects.create(execution=execution, name="a")
    b = Step.objects.create(execution=execution, name="b")
    a1 = Step.objects.create(execution=execution, name="a1", parent=a)
    Step.objects.create(execution=execution, name="a1x", parent=a1)
    Step.objects.create(execution=execution, name="b1", parent=b)
    rows = step_tree(list(execution.steps.all()))
    assert [(row.step.name, row.depth) for row in rows] == [
        ("a", 0),
        ("a1", 1),
        ("a1x", 2),
        ("b", 0),
        ("b1", 1),
    ]


def test_step_tree_keeps_every_step_even_in_a_parent_loop():
    looped = [Step(pk=1, name="a", parent_id=2), Step(pk=2, name="b", parent_id=1)]
    root = Step(pk=3, name="root")
    rows = step_tree([root, *looped])
    assert [(row.step.name, row.depth) for row in rows] == [("root", 0), ("a", 0), ("b", 0)]


def test_the_timeline_scales_bars_to_time_and_draws_running_steps_up_to_now(execution):
    t0 = timezone.now()
    done = Step(name="a", started_at=t0, ended_at=t0 + timedelta(seconds=30), pk=1)
    running = Step(name="b", started_at=t0 + timedelta(seconds=30), pk=2)
    pending = Step(name="c", pk=3)
    timeline = build_timeline([done, running, pending], until=t0 + timedelta(seconds=60))
    first, second, third = timeline.bars
    assert timeline.total_seconds == 60
    assert first.width == pytest.approx(second.width, abs=0.01)
    assert second.x == pytest.approx(first.x + first.width, abs=0.01)
    assert (first.state, second.state, third.state) == ("done", "open", "pending")
    assert "30s so far" in second.tooltip and "not started" in third.tooltip
    assert [tick.label for tick in timeline.ticks] == ["0", "10s", "20s", "30s", "40s", "50s", "1m"]


def test_the_description_diff_shows_changed_lines_with_a_little_context():
    old = "\n".join(f"line {i}" for i in range(10))
    new = old.replace("line 5", "line five")
    kinds = [(line.kind, line.text) for line in line_diff(old, new)]
    assert kinds == [
        ("gap", "3 unchanged lines"),
        ("same", "line 3"),
        ("same", "line 4"),
        ("removed", "line 5"),
        ("added", "line five"),
        ("same", "line 6"),
        ("same", "line 7"),
        ("gap", "2 unchanged lines"),
    ]
    assert line_diff("same", "same") == []
    assert [line.kind for line in line_diff(None, "a\nb")] == ["added", "added"]
