from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from executions import releases
from executions.errors import Conflict, ExecboardError, NotFound
from executions.events import record_event
from executions.models import Release, StageEvent
from tests.factories import (
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_execution,
    make_succeeded_execution,
)


def release(project, version, artifact="nn", **kwargs):
    return releases.release_create(
        project=project,
        execution=make_succeeded_execution(project),
        artifact=artifact,
        version=version,
        by="anne",
        **kwargs,
    )


# --- SemVer ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("1.2.3", "v1.2.3"),
        ("v1.2.3", "v1.2.3"),
        (" v1.3.0-rc.1 ", "v1.3.0-rc.1"),
        ("2.0.0-alpha+build.7", "v2.0.0-alpha+build.7"),
    ],
)
def test_a_version_is_normalised_with_a_v_prefix(text, stored):
    assert releases.normalise_version(text) == stored


@pytest.mark.parametrize("text", ["", "1.2", "v1", "1.2.3.4", "01.2.3", "vv1.2.3", "latest", 123])
def test_a_version_that_is_not_semver_is_refused_with_a_clear_message(text):
    with pytest.raises(ExecboardError) as error:
        releases.normalise_version(text)
    assert error.value.field == "version"


def test_versions_order_by_semver_precedence_not_by_text(project):
    for version in ["v1.9.0", "v2.0.0", "v1.10.0", "v2.0.0-rc.1", "v2.0.0-alpha", "v0.9.9"]:
        release(project, version)
    detail = releases.artifact_detail(project, "nn")
    assert [r.version for r in detail.state.releases] == [
        "v2.0.0",
        "v2.0.0-rc.1",
        "v2.0.0-alpha",
        "v1.10.0",
        "v1.9.0",
        "v0.9.9",
    ]
    assert detail.state.latest.version == "v2.0.0"


def test_1_2_3_and_v1_2_3_are_the_same_version(project):
    release(project, "1.2.3")
    with pytest.raises(Conflict) as error:
        release(project, "v1.2.3")
    assert error.value.code == "duplicate_version"
    assert Release.objects.get().version == "v1.2.3"


def test_versions_differing_only_in_build_metadata_are_duplicates(project):
    release(project, "v1.2.3+build1")
    with pytest.raises(Conflict):
        release(project, "v1.2.3")
    with pytest.raises(Conflict):
        release(project, "v1.2.3+build2")
    found = releases.release_get(project=project, artifact="nn", version="1.2.3")
    assert found.version == "v1.2.3+build1"


def test_the_same_version_of_another_artifact_or_project_is_not_a_duplicate(project):
    release(project, "v1.0.0", artifact="nn")
    release(project, "v1.0.0", artifact="model/nn")
    release(ProjectFactory(slug="cv"), "v1.0.0", artifact="nn")
    assert Release.objects.filter(version="v1.0.0").count() == 3


# --- Names -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["nn", "model/nn", "a.b_c-d", "0x", "team/model/bert-2"])
def test_artifact_names_follow_the_rule(name):
    assert releases.validate_artifact(name) == name


@pytest.mark.parametrize("name", ["", "NN", "-nn", "nn/", "/nn", "model//nn", "nn@v1", "a b"])
def test_bad_artifact_names_are_refused(name):
    with pytest.raises(ExecboardError) as error:
        releases.validate_artifact(name)
    assert error.value.field == "artifact"


@pytest.mark.parametrize(
    ("workflow", "artifact"),
    [
        ("train.wf", "train.wf"),
        ("Train WF/v2", "train-wf/v2"),
        ("_x__y", "x__y"),
        ("!!!", "artifact"),
    ],
)
def test_the_default_artifact_is_the_workflow_name_bent_to_the_rule(workflow, artifact):
    assert releases.artifact_from_workflow(workflow) == artifact
    releases.validate_artifact(artifact)


@pytest.mark.parametrize("stage", ["", "pro d", "-prod", "prod-", "x" * 64, "a/" + "b" * 62])
def test_bad_stage_names_are_refused(stage):
    with pytest.raises(ExecboardError) as error:
        releases.validate_stage(stage)
    assert error.value.field == "stage"


# --- Creating releases -----------------------------------------------------------------------


@pytest.mark.parametrize("phase", ["UNDEFINED", "RUNNING", "FAILED"])
def test_an_execution_that_did_not_succeed_cannot_be_released(project, phase):
    execution = make_execution(project)
    if phase != "UNDEFINED":
        record_event(execution_id=execution.pk, phase="RUNNING")
    if phase == "FAILED":
        record_event(execution_id=execution.pk, phase="FAILED")
    execution.refresh_from_db()
    with pytest.raises(ExecboardError) as error:
        releases.release_create(project=project, execution=execution, version="v1.0.0", by="anne")
    assert error.value.code == "not_succeeded"
    assert not Release.objects.exists()


def test_the_artifact_defaults_to_the_workflow_name(project):
    execution = make_succeeded_execution(project, workflow="Train.WF")
    created = releases.release_create(project=project, execution=execution, by="anne")
    assert (created.artifact, created.version) == ("train.wf", "v0.0.1")


@pytest.mark.parametrize(
    ("bump", "expected"), [("patch", "v1.10.1"), ("minor", "v1.11.0"), ("major", "v2.0.0")]
)
def test_bump_picks_the_next_version_from_the_highest_one(project, bump, expected):
    for version in ["v1.9.0", "v1.10.0", "v1.2.0"]:
        release(project, version)
    assert release(project, None, bump=bump).version == expected


def test_bump_from_a_pre_release_gives_its_release(project):
    release(project, "v2.0.0-rc.1")
    assert release(project, None, bump="major").version == "v2.0.0"


def test_a_first_bump_starts_from_zero(project):
    assert release(project, None, bump="minor").version == "v0.1.0"


def test_a_version_and_a_bump_together_or_an_unknown_bump_are_refused(project):
    with pytest.raises(ExecboardError):
        release(project, "v1.0.0", bump="minor")
    with pytest.raises(ExecboardError) as error:
        release(project, None, bump="huge")
    assert error.value.field == "bump"
    assert not Release.objects.exists()


def test_an_execution_of_another_project_cannot_be_released_here(project):
    other = make_succeeded_execution(ProjectFactory(slug="cv"))
    with pytest.raises(ExecboardError):
        releases.release_create(project=project, execution=other, version="v1.0.0", by="anne")


def test_a_release_with_a_stage_is_in_that_stage_at_once(project):
    created = release(project, "v1.0.0", stage="prod", note="# Blessed")
    state = releases.artifact_detail(project, "nn").state
    assert state.stages["prod"].release == created
    assert created.note == "# Blessed"


def test_a_bad_stage_at_creation_changes_nothing(project):
    with pytest.raises(ExecboardError):
        release(project, "v1.0.0", stage="no way")
    assert not Release.objects.exists()


# --- Stages ----------------------------------------------------------------------------------


def test_the_current_version_in_a_stage_follows_assignments_and_an_unassign(project):
    v1, v2, v3 = (release(project, v) for v in ["v1.0.0", "v1.1.0", "v2.0.0"])
    releases.stage_assign(release=v1, stage="prod", by="anne")
    releases.stage_assign(release=v2, stage="prod", by="bob")
    releases.stage_assign(release=v3, stage="staging", by="anne")
    releases.stage_assign(release=v3, stage="prod", by="anne")
    state = releases.artifact_detail(project, "nn").state
    assert state.stages["prod"].release == v3
    assert state.stages["staging"].release == v3
    assert state.stages_of(v3) == ["prod", "staging"]
    assert state.stages_of(v2) == []

    # v2 was replaced in prod: it is not there to unassign.
    with pytest.raises(Conflict):
        releases.stage_unassign(release=v2, stage="prod", by="bob")
    releases.stage_unassign(release=v3, stage="prod", by="bob")
    state = releases.artifact_detail(project, "nn").state
    # Unassigning empties the stage; nothing rolls back by itself.
    assert "prod" not in state.stages
    assert state.stages_of(v3) == ["staging"]

    releases.stage_assign(release=v1, stage="prod", by="carol")
    state = releases.artifact_detail(project, "nn").state
    assert state.stages["prod"].release == v1
    assert state.stages["prod"].by == "carol"
    assert StageEvent.objects.count() == 6


def test_stage_history_lists_registrations_and_stage_changes_newest_first(project):
    v1 = release(project, "v1.0.0")
    v2 = release(project, "v1.1.0")
    releases.stage_assign(release=v1, stage="prod", by="bob")
    releases.stage_assign(release=v2, stage="prod", by="anne")
    releases.stage_unassign(release=v2, stage="prod", by="anne")
    history = releases.artifact_detail(project, "nn").history
    assert [(h.action, h.release.version, h.stage, h.by) for h in history] == [
        ("unassign", "v1.1.0", "prod", "anne"),
        ("assign", "v1.1.0", "prod", "anne"),
        ("assign", "v1.0.0", "prod", "bob"),
        ("register", "v1.1.0", None, "anne"),
        ("register", "v1.0.0", None, "anne"),
    ]


def test_assigning_the_version_already_in_a_stage_is_a_conflict(project):
    v1 = release(project, "v1.0.0", stage="prod")
    with pytest.raises(Conflict) as error:
        releases.stage_assign(release=v1, stage="prod", by="anne")
    assert error.value.code == "already_in_stage"
    assert StageEvent.objects.count() == 1


def test_unassigning_a_stage_the_release_is_not_in_is_a_conflict(project):
    v1 = release(project, "v1.0.0")
    with pytest.raises(Conflict) as error:
        releases.stage_unassign(release=v1, stage="prod", by="anne")
    assert error.value.code == "not_in_stage"
    assert not StageEvent.objects.exists()


def test_the_registry_shows_each_artifact_with_its_latest_version_and_stages(project):
    release(project, "v1.0.0", artifact="nn", stage="prod")
    release(project, "v1.1.0", artifact="nn", stage="dev")
    release(project, "v0.3.0", artifact="data/corpus")
    states = releases.registry(project)
    assert [(s.artifact, s.latest.version) for s in states] == [
        ("data/corpus", "v0.3.0"),
        ("nn", "v1.1.0"),
    ]
    assert {stage: h.release.version for stage, h in states[1].stages.items()} == {
        "prod": "v1.0.0",
        "dev": "v1.1.0",
    }
    assert releases.stage_names(states) == ["prod", "dev"]


def test_an_unknown_artifact_or_release_is_not_found(project):
    with pytest.raises(NotFound):
        releases.artifact_detail(project, "nn")
    release(project, "v1.0.0")
    with pytest.raises(NotFound):
        releases.release_get(project=project, artifact="nn", version="v1.0.1")


def test_the_registry_of_a_project_takes_a_fixed_number_of_queries(
    project, django_assert_max_num_queries
):
    for n in range(5):
        release(project, f"v1.{n}.0", artifact=f"a{n % 2}", stage="prod")
    with django_assert_max_num_queries(2):
        states = releases.registry(project)
        for state in states:
            for item in state.releases:
                assert item.execution.display_name
                assert item.project.slug == "nlp"


# --- Pages -----------------------------------------------------------------------------------


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


@pytest.fixture
def viewer_client(client, project):
    viewer = MembershipFactory(project=project, user=UserFactory(username="val"), role="viewer")
    client.force_login(viewer.user)
    return client


def test_the_registry_page_shows_latest_versions_and_stage_columns(editor_client, project):
    release(project, "v1.9.0", artifact="model/nn", stage="prod")
    release(project, "v1.10.0", artifact="model/nn", stage="staging")
    release(project, "v0.1.0", artifact="corpus")
    response = editor_client.get("/p/nlp/registry/")
    assert response.status_code == 200
    rows = {row["state"].artifact: row for row in response.context["rows"]}
    assert response.context["stages"] == ["prod", "staging"]
    assert rows["model/nn"]["state"].latest.version == "v1.10.0"
    assert [h.release.version for h in rows["model/nn"]["cells"]] == ["v1.9.0", "v1.10.0"]
    assert rows["corpus"]["cells"] == [None, None]
    html = response.content.decode()
    assert '<a href="/p/nlp/artifacts/model/nn/">model/nn</a>' in html
    assert "<th>prod</th><th>staging</th>" in html


def test_the_registry_page_says_when_nothing_is_released(editor_client, project):
    response = editor_client.get("/p/nlp/registry/")
    assert "Nothing released yet" in response.content.decode()


def test_the_registry_page_takes_a_fixed_number_of_queries(
    editor_client, project, django_assert_max_num_queries
):
    for n in range(6):
        release(project, f"v1.{n}.0", artifact=f"a{n % 3}", stage=f"s{n % 2}")
    with django_assert_max_num_queries(6):
        editor_client.get("/p/nlp/registry/")


def test_the_artifact_page_lists_versions_in_semver_order_with_executions_and_history(
    editor_client, project
):
    old = release(project, "v1.9.0", stage="prod")
    new = release(project, "v1.10.0")
    releases.stage_assign(release=new, stage="prod", by="bob")
    response = editor_client.get("/p/nlp/artifacts/nn/")
    assert response.status_code == 200
    assert [v["release"] for v in response.context["versions"]] == [new, old]
    assert response.context["versions"][0]["stages"] == ["prod"]
    html = response.content.decode()
    assert html.index('id="v1.10.0"') < html.index('id="v1.9.0"')
    assert old.execution.get_absolute_url() in html
    assert [(h.action, h.release.version) for h in response.context["detail"].history] == [
        ("assign", "v1.10.0"),
        ("register", "v1.10.0"),
        ("assign", "v1.9.0"),
        ("register", "v1.9.0"),
    ]
    assert editor_client.get("/p/nlp/artifacts/other/").status_code == 404


def test_a_stage_is_assigned_after_a_confirmation(editor_client, project):
    v1 = release(project, "v1.0.0", stage="prod")
    v2 = release(project, "v1.1.0")
    url = f"/p/nlp/releases/{v2.pk}/stage/"
    confirm = editor_client.get(url, {"action": "assign", "stage": "prod"})
    assert confirm.status_code == 200
    text = confirm.content.decode()
    assert "Assign <strong>nn@v1.1.0</strong> to stage <strong>prod</strong>?" in text
    assert "It replaces v1.0.0" in text
    assert StageEvent.objects.count() == 1

    response = editor_client.post(url, {"action": "assign", "stage": "prod"})
    assert response.status_code == 302
    assert response["Location"] == "/p/nlp/artifacts/nn/"
    state = releases.artifact_detail(project, "nn").state
    assert state.stages["prod"].release == v2
    assert state.stages["prod"].by == "anne"
    assert v1 != v2


def test_a_stage_is_unassigned_after_a_confirmation(editor_client, project):
    v1 = release(project, "v1.0.0", stage="prod")
    url = f"/p/nlp/releases/{v1.pk}/stage/"
    confirm = editor_client.get(url, {"action": "unassign", "stage": "prod"})
    assert "Unassign <strong>nn@v1.0.0</strong> from stage <strong>prod</strong>?" in (
        confirm.content.decode()
    )
    editor_client.post(url, {"action": "unassign", "stage": "prod"})
    assert "prod" not in releases.artifact_detail(project, "nn").state.stages


def test_the_confirmation_is_a_fragment_for_htmx(editor_client, project):
    v1 = release(project, "v1.0.0")
    response = editor_client.get(
        f"/p/nlp/releases/{v1.pk}/stage/", {"stage": "prod"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div class="confirm" id="stage-confirm">')
    assert "<html" not in html


def test_a_bad_or_conflicting_stage_change_shows_the_error_and_changes_nothing(
    editor_client, project
):
    v1 = release(project, "v1.0.0", stage="prod")
    url = f"/p/nlp/releases/{v1.pk}/stage/"
    bad = editor_client.post(url, {"action": "assign", "stage": "no way"})
    assert bad.status_code == 400
    assert "Invalid stage name" in bad.content.decode()
    again = editor_client.post(url, {"action": "assign", "stage": "prod"})
    assert again.status_code == 409
    assert "already in stage prod" in again.content.decode()
    assert StageEvent.objects.count() == 1


def test_stage_changes_need_the_editor_role(viewer_client, client, project):
    v1 = release(project, "v1.0.0")
    url = f"/p/nlp/releases/{v1.pk}/stage/"
    assert viewer_client.get(url, {"stage": "prod"}).status_code == 403
    assert viewer_client.post(url, {"stage": "prod"}).status_code == 403
    client.logout()
    assert client.post(url, {"stage": "prod"}).status_code == 302
    assert not StageEvent.objects.exists()


def render_panel(request_user, execution):
    request = RequestFactory().get("/")
    request.user = request_user
    template = Template("{% load releases %}{% execution_releases execution %}")
    return template.render(Context({"request": request, "execution": execution}))


def test_the_release_panel_suggests_the_next_versions_of_the_workflow_artifact(editor, project):
    release(project, "v1.2.3", artifact="train.wf")
    html = render_panel(editor, make_succeeded_execution(project))
    assert 'name="artifact" value="train.wf"' in html
    assert '<option value="patch">patch → v1.2.4</option>' in html
    assert '<option value="minor">minor → v1.3.0</option>' in html
    assert "Release this execution" in html


def test_the_release_panel_has_no_form_for_viewers_or_unfinished_executions(editor, project):
    viewer = MembershipFactory(project=project, user=UserFactory(username="val"), role="viewer")
    succeeded = make_succeeded_execution(project)
    assert "Release this execution" not in render_panel(viewer.user, succeeded)
    unfinished = render_panel(editor, make_execution(project))
    assert "Release this execution" not in unfinished
    assert "Only a succeeded execution can be released." in unfinished


def test_the_release_panel_shows_badges_with_current_stages(editor, project):
    execution = make_succeeded_execution(project)
    releases.release_create(
        project=project, execution=execution, artifact="nn", version="v1.0.0", stage="prod", by="a"
    )
    html = render_panel(editor, execution)
    assert '<a class="release-badge" href="/p/nlp/artifacts/nn/#v1.0.0"' in html
    assert '<span class="stage-chip">prod</span>' in html


def test_releasing_from_the_page_redirects_back_to_the_execution(editor_client, project):
    execution = make_succeeded_execution(project)
    response = editor_client.post(
        f"/p/nlp/e/{execution.pk}/release/",
        {"artifact": "nn", "version": "", "bump": "minor", "stage": "dev", "note": "ok"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/p/nlp/e/{execution.pk}/#releases"
    created = Release.objects.get()
    assert (created.artifact, created.version, created.note) == ("nn", "v0.1.0", "ok")
    assert releases.artifact_detail(project, "nn").state.stages["dev"].release == created


def test_a_typed_version_wins_over_the_bump_menu(editor_client, project):
    execution = make_succeeded_execution(project)
    editor_client.post(
        f"/p/nlp/e/{execution.pk}/release/", {"artifact": "nn", "version": "2.0.0", "bump": "patch"}
    )
    assert Release.objects.get().version == "v2.0.0"


def test_releasing_from_the_page_with_htmx_returns_the_panel_with_the_badge(editor_client, project):
    execution = make_succeeded_execution(project)
    response = editor_client.post(
        f"/p/nlp/e/{execution.pk}/release/",
        {"artifact": "nn", "version": "v1.0.0", "bump": "patch"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="releases"')
    assert "nn@v1.0.0</a>" in html


def test_a_refused_release_from_the_page_keeps_what_was_typed(editor_client, project):
    release(project, "v1.0.0")
    execution = make_succeeded_execution(project)
    response = editor_client.post(
        f"/p/nlp/e/{execution.pk}/release/",
        {"artifact": "nn", "version": "1.0.0", "bump": "patch", "note": "my careful note"},
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "nn@v1.0.0 is already released" in html
    assert "my careful note</textarea>" in html
    assert Release.objects.count() == 1


def test_releasing_from_the_page_needs_the_editor_role(viewer_client, project):
    execution = make_succeeded_execution(project)
    response = viewer_client.post(f"/p/nlp/e/{execution.pk}/release/", {"version": "v1.0.0"})
    assert response.status_code == 403
    assert not Release.objects.exists()


def test_the_project_page_links_to_the_registry(editor_client, project):
    html = editor_client.get("/p/nlp/").content.decode()
    assert 'href="/p/nlp/registry/"' in html


def test_stage_names_of_a_project_come_in_the_order_first_used(project):
    release(project, "v1.0.0", artifact="a", stage="dev")
    release(project, "v1.0.0", artifact="b", stage="prod")
    release(project, "v1.1.0", artifact="a", stage="dev")
    release(ProjectFactory(slug="cv"), "v1.0.0", stage="elsewhere")
    assert releases.project_stage_names(project) == ["dev", "prod"]


def test_the_artifact_page_takes_a_fixed_number_of_queries(
    editor_client, project, django_assert_max_num_queries
):
    for n in range(6):
        release(project, f"v1.{n}.0", stage=f"s{n % 3}")
    with django_assert_max_num_queries(7):
        editor_client.get("/p/nlp/artifacts/nn/")


def test_the_release_panel_takes_a_fixed_number_of_queries(
    editor, project, django_assert_max_num_queries
):
    execution = make_succeeded_execution(project)
    for n in range(4):
        releases.release_create(
            project=project, execution=execution, artifact=f"a{n}", version="v1.0.0", by="anne"
        )
        release(project, f"v2.{n}.0", artifact=f"a{n}", stage="prod")
    with django_assert_max_num_queries(7):
        html = render_panel(editor, execution)
    assert html.count('class="release-badge"') == 4


def test_a_release_note_is_rendered_as_sanitised_markdown(editor_client, project):
    release(project, "v1.0.0", note="**blessed** <script>alert(1)</script>")
    html = editor_client.get("/p/nlp/artifacts/nn/").content.decode()
    assert "<strong>blessed</strong>" in html
    assert "<script>alert(1)" not in html
