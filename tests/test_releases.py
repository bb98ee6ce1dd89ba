from __future__ import annotations

import pytest

from executions import releases
from executions.errors import Conflict, ExecboardError, NotFound
from executions.events import record_event
from executions.models import Release, StageEvent
from tests.factories import ProjectFactory, make_execution, make_succeeded_execution


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


def test_the_current_version_in_a_stage_is_the_latest_assigned_after_an_unassign(project):
    v1, v2, v3 = (release(project, v) for v in ["v1.0.0", "v1.1.0", "v2.0.0"])
    releases.stage_assign(release=v1, stage="prod", by="anne")
    releases.stage_assign(release=v2, stage="prod", by="bob")
    releases.stage_assign(release=v3, stage="staging", by="anne")
    releases.stage_assign(release=v3, stage="prod", by="anne")
    state = releases.artifact_detail(project, "nn").state
    assert state.stages["prod"].release == v3
    assert state.stages["staging"].release == v3

    releases.stage_unassign(release=v3, stage="prod", by="bob")
    state = releases.artifact_detail(project, "nn").state
    # v2 was never unassigned from prod: it is back, as in GTO.
    assert state.stages["prod"].release == v2
    assert state.stages["prod"].by == "bob"
    assert state.stages_of(v2) == ["prod"]
    assert state.stages_of(v3) == ["staging"]

    releases.stage_unassign(release=v2, stage="prod", by="bob")
    releases.stage_unassign(release=v1, stage="prod", by="bob")
    state = releases.artifact_detail(project, "nn").state
    assert "prod" not in state.stages
    assert StageEvent.objects.count() == 7


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
