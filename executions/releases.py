"""Releases and stages, in the manner of GTO (SPEC §2, Release).

* A version is SemVer 2.0 written with the conventional ``v`` prefix: ``1.2.3`` and ``v1.2.3``
  are the same version and are stored as ``v1.2.3``. Versions order by SemVer precedence
  (``v1.10.0`` > ``v1.9.0``, ``v2.0.0-rc.1`` < ``v2.0.0``), never by text.
* Build metadata is kept as written (``v1.2.3+build.7``) but, as SemVer says, it plays no part
  in precedence. Two versions of one artifact that differ only in build metadata would be
  impossible to order, so they are duplicates: ``v1.2.3+build1`` conflicts with ``v1.2.3``, and
  ``nn@v1.2.3`` finds the release stored as ``v1.2.3+build1``.
* Stage changes are append-only ``StageEvent`` rows, and a stage holds one version of an
  artifact: the current version in a stage is the one of the latest event for that stage,
  if that event is an assignment. Assigning ``v2`` to ``prod`` replaces ``v1`` there;
  unassigning ``v2`` leaves ``prod`` empty (nothing rolls back by itself). The query
  language's ``@stage:`` (executions/query.py) reads the same rule in SQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import semver
from django.db import transaction
from django.db.models import Min, Q

from executions import labels as label_rules
from executions.errors import Conflict, ExecboardError, NotFound
from executions.models import Execution, Phase, Release, StageEvent
from projects.models import Project

ARTIFACT_SEGMENT = r"[a-z0-9][a-z0-9_.-]*"
ARTIFACT_RE = re.compile(rf"{ARTIFACT_SEGMENT}(?:/{ARTIFACT_SEGMENT})*\Z")
MAX_ARTIFACT_LENGTH = 200
MAX_VERSION_LENGTH = 100
MAX_STAGE_LENGTH = 63
MAX_NOTE_BYTES = 256 * 1024
BUMPS = ("patch", "minor", "major")
FIRST_VERSION = semver.Version(0, 0, 0)


# --- Names and versions -----------------------------------------------------------------------


def parse_version(text: object) -> semver.Version:
    """``1.2.3`` or ``v1.2.3`` as a SemVer version; a clear error for anything else."""
    if not isinstance(text, str) or not text.strip():
        raise ExecboardError("A version is required, such as v1.2.3.", field="version")
    raw = text.strip()
    try:
        return semver.Version.parse(raw.removeprefix("v"))
    except ValueError as exc:
        raise ExecboardError(
            f"{raw!r} is not a semantic version: write MAJOR.MINOR.PATCH with an optional "
            "v prefix, pre-release and build metadata, such as v1.2.3, v2.0.0-rc.1 or "
            "v1.2.3+build.7.",
            field="version",
            code="invalid_version",
        ) from exc


def format_version(version: semver.Version) -> str:
    return f"v{version}"


def normalise_version(text: object) -> str:
    """The stored form of a version: ``1.2.3`` → ``v1.2.3``."""
    version = format_version(parse_version(text))
    if len(version) > MAX_VERSION_LENGTH:
        raise ExecboardError(
            f"A version is at most {MAX_VERSION_LENGTH} characters long.",
            field="version",
            code="invalid_version",
        )
    return version


def version_key(release: Release) -> semver.Version:
    """Sort key of a stored release: SemVer precedence."""
    return parse_version(release.version)


def validate_artifact(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ExecboardError("An artifact name is required.", field="artifact")
    name = name.strip()
    if len(name) > MAX_ARTIFACT_LENGTH or not ARTIFACT_RE.match(name):
        raise ExecboardError(
            f"Artifact {name!r}: a name is lowercase letters, digits, '_', '.' and '-', "
            "starting with a letter or digit, optionally namespaced with '/' (model/nn), "
            f"at most {MAX_ARTIFACT_LENGTH} characters.",
            field="artifact",
            code="invalid_artifact",
        )
    return name


def artifact_from_workflow(workflow: str) -> str:
    """The default artifact of an execution: its workflow name bent to the artifact rule
    (``Train WF/v2`` → ``train-wf/v2``)."""
    segments = []
    for part in workflow.lower().split("/"):
        part = re.sub(r"[^a-z0-9_.-]+", "-", part).lstrip("_.-")
        if part:
            segments.append(part)
    return "/".join(segments)[:MAX_ARTIFACT_LENGTH].rstrip("/") or "artifact"


def validate_stage(stage: object) -> str:
    """A stage name follows the label key rules (``prod``, ``canary-eu``)."""
    if not isinstance(stage, str) or not stage.strip():
        raise ExecboardError("A stage name is required, such as prod.", field="stage")
    stage = stage.strip()
    try:
        label_rules.validate_key(stage)
    except label_rules.LabelError as exc:
        raise ExecboardError(
            f"Invalid stage name: {exc.message.replace('Label key', 'Stage')}",
            field="stage",
            code="invalid_stage",
        ) from exc
    if len(stage) > MAX_STAGE_LENGTH:
        raise ExecboardError(
            f"A stage name is at most {MAX_STAGE_LENGTH} characters long.",
            field="stage",
            code="invalid_stage",
        )
    return stage


def split_ref(ref: object) -> tuple[str, str]:
    """``model/nn@v1.2.3`` → (``model/nn``, ``v1.2.3``)."""
    if not isinstance(ref, str) or "@" not in ref:
        raise ExecboardError(
            f"{ref!r} is not a release: write artifact@version, such as nn@v1.2.3.",
            field="release",
        )
    artifact, _, version = ref.rpartition("@")
    return validate_artifact(artifact), normalise_version(version)


def _validate_note(note: object) -> str:
    if note is None:
        return ""
    if not isinstance(note, str):
        raise ExecboardError("The note must be a string of Markdown.", field="note")
    size = len(note.encode("utf-8"))
    if size > MAX_NOTE_BYTES:
        raise ExecboardError(
            f"The note is {size:,} bytes; at most {MAX_NOTE_BYTES:,} (256 KiB) are allowed.",
            field="note",
            code="too_large",
            status=413,
        )
    return note


# --- Selectors ---------------------------------------------------------------------------------


def same_version(version: str) -> Q:
    """Releases whose stored version equals ``version`` (normalised) when build metadata is
    ignored: ``v1.2.3`` finds ``v1.2.3+build1``."""
    core = version.partition("+")[0]
    return Q(version=core) | Q(version__startswith=f"{core}+")


def release_get(*, project: Project, artifact: str, version: str) -> Release:
    """The release ``artifact@version`` (build metadata ignored), or a 404."""
    artifact = validate_artifact(artifact)
    version = normalise_version(version)
    release = (
        Release.objects.filter(project=project, artifact=artifact)
        .filter(same_version(version))
        .select_related("execution")
        .first()
    )
    if release is None:
        raise NotFound(
            f"No release {artifact}@{version} in project {project.slug}.", field="release"
        )
    return release


def next_version(versions: Iterable[str], bump: str) -> str:
    """The version after the highest of ``versions`` (``v0.0.0`` when there are none).

    A pre-release bumps to its release (``v2.0.0-rc.1`` + major → ``v2.0.0``)."""
    if bump not in BUMPS:
        raise ExecboardError(
            f"Unknown bump {bump!r}; expected one of {', '.join(BUMPS)}.", field="bump"
        )
    latest = max((parse_version(v) for v in versions), default=FIRST_VERSION)
    return format_version(latest.next_version(bump))


def suggested_versions(*, project: Project, artifact: str) -> dict[str, str]:
    """The next version of ``artifact`` for each bump: ``{"patch": "v1.2.4", …}``."""
    versions = list(
        Release.objects.filter(project=project, artifact=artifact).values_list("version", flat=True)
    )
    return {bump: next_version(versions, bump) for bump in BUMPS}


@dataclass(frozen=True)
class StageHolder:
    """The release currently in a stage and when it got there."""

    release: Release
    since: datetime
    by: str


@dataclass
class ArtifactState:
    """One artifact of the registry: its versions and what is in each stage."""

    artifact: str
    releases: list[Release]  # newest SemVer first
    stages: dict[str, StageHolder] = field(default_factory=dict)

    @property
    def latest(self) -> Release | None:
        return self.releases[0] if self.releases else None

    def stages_of(self, release: Release) -> list[str]:
        return [stage for stage, holder in self.stages.items() if holder.release.pk == release.pk]


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    by: str
    action: str  # "register", "assign" or "unassign"
    release: Release
    stage: str | None
    pk: int  # of the release or the stage event: orders entries made in the same instant


@dataclass
class ArtifactDetail:
    state: ArtifactState
    history: list[HistoryEntry]


def _current_stages(events: Iterable[StageEvent]) -> dict[str, StageHolder]:
    """What is in each stage, from one artifact's stage events oldest first.

    Stages keep the order of their first assignment, so ``dev``, ``staging``, ``prod`` read
    the way a release travels."""
    holders: dict[str, StageHolder | None] = {}
    for event in events:
        assigned = event.action == StageEvent.Action.ASSIGN
        holders[event.stage] = StageHolder(event.release, event.at, event.by) if assigned else None
    return {stage: holder for stage, holder in holders.items() if holder is not None}


def _events_oldest_first(releases: Iterable[Release]) -> list[StageEvent]:
    by_pk = {release.pk: release for release in releases}
    events = list(StageEvent.objects.filter(release__in=list(by_pk)).order_by("at", "id"))
    for event in events:
        # Reuse the releases already loaded instead of one query per event.
        event.release = by_pk[event.release_id]
    return events


def _states(
    releases: Iterable[Release], events: list[StageEvent] | None = None
) -> dict[str, ArtifactState]:
    """Artifacts by name with their versions and stages (``events``: already loaded ones)."""
    releases = list(releases)
    if events is None:
        events = _events_oldest_first(releases)
    states: dict[str, ArtifactState] = {}
    for release in sorted(releases, key=version_key, reverse=True):
        states.setdefault(release.artifact, ArtifactState(release.artifact, [])).releases.append(
            release
        )
    for artifact, state in states.items():
        state.stages = _current_stages(e for e in events if e.release.artifact == artifact)
    return dict(sorted(states.items()))


# select_related for pages and the API: each version links to its execution, whose URL needs
# the project's slug, and names its project (one query, not two per release).
SHOWN_WITH_RELEASE = ("execution__project", "project")


def registry(project: Project) -> list[ArtifactState]:
    """Every artifact of the project by name, with its versions and stages (``gto show``)."""
    releases = list(Release.objects.filter(project=project).select_related(*SHOWN_WITH_RELEASE))
    return list(_states(releases).values())


def stage_names(states: Iterable[ArtifactState]) -> list[str]:
    """Every stage in use, in the order the registry shows them as columns."""
    names: list[str] = []
    for state in states:
        names.extend(stage for stage in state.stages if stage not in names)
    return names


def project_stage_names(project: Project) -> list[str]:
    """Every stage the project has used, in the order each was first assigned."""
    rows = (
        StageEvent.objects.filter(release__project=project)
        .values("stage")
        .annotate(first=Min("at"))
        .order_by("first", "stage")
    )
    return [row["stage"] for row in rows]


def artifact_detail(project: Project, artifact: str) -> ArtifactDetail:
    """An artifact's versions, stages and history of registrations and stage changes, newest
    first (``gto history``); a 404 when the artifact has no release."""
    artifact = validate_artifact(artifact)
    releases = list(
        Release.objects.filter(project=project, artifact=artifact).select_related(
            *SHOWN_WITH_RELEASE
        )
    )
    if not releases:
        raise NotFound(f"No artifact {artifact!r} in project {project.slug}.", field="artifact")
    events = _events_oldest_first(releases)
    state = _states(releases, events)[artifact]
    history = [
        HistoryEntry(release.created_at, release.created_by, "register", release, None, release.pk)
        for release in releases
    ] + [HistoryEntry(e.at, e.by, e.action, e.release, e.stage, e.pk) for e in events]
    # Registration comes before a stage change made in the same instant.
    history.sort(key=lambda h: (h.at, h.action != "register", h.pk), reverse=True)
    return ArtifactDetail(state, history)


def releases_of_execution(execution: Execution) -> list[tuple[Release, list[str]]]:
    """The execution's releases, newest first, each with the stages it is currently in."""
    releases = list(execution.releases.order_by("-created_at", "-id"))
    if not releases:
        return []
    artifacts = {release.artifact for release in releases}
    # The stage a release is in depends on its artifact's other versions too.
    siblings = list(Release.objects.filter(project_id=execution.project_id, artifact__in=artifacts))
    states = _states(siblings)
    return [(release, states[release.artifact].stages_of(release)) for release in releases]


# --- Services ----------------------------------------------------------------------------------


def _lock_project(project: Project) -> None:
    """Serialise release writes of a project: duplicate checks and bumps read, then write."""
    Project.objects.select_for_update().filter(pk=project.pk).first()


@transaction.atomic
def release_create(
    *,
    project: Project,
    execution: Execution,
    by: str,
    artifact: str | None = None,
    version: str | None = None,
    bump: str | None = None,
    note: str = "",
    stage: str | None = None,
) -> Release:
    """Register ``execution`` as a version of ``artifact`` (default: its workflow name).

    Give either ``version`` or ``bump`` (``patch``, ``minor``, ``major`` from the highest
    version); with neither, the patch is bumped, as ``gto register`` does. A ``stage``
    assigns the new release to it at once."""
    if execution.project_id != project.pk:
        raise ExecboardError(
            f"Execution {execution.pk} is not in project {project.slug}.", field="execution"
        )
    if execution.phase != Phase.SUCCEEDED:
        raise ExecboardError(
            f"Only a SUCCEEDED execution can be released; {execution.pk} is {execution.phase}.",
            field="execution",
            code="not_succeeded",
        )
    artifact = validate_artifact(
        artifact if artifact not in (None, "") else artifact_from_workflow(execution.workflow)
    )
    if version not in (None, "") and bump not in (None, ""):
        raise ExecboardError("Give a version or a bump, not both.", field="bump")
    if version not in (None, ""):
        version = normalise_version(version)
    note = _validate_note(note)
    if stage not in (None, ""):
        stage = validate_stage(stage)

    _lock_project(project)
    existing = Release.objects.filter(project=project, artifact=artifact)
    if version in (None, ""):
        version = next_version(existing.values_list("version", flat=True), bump or "patch")
    duplicate = existing.filter(same_version(version)).first()
    if duplicate is not None:
        raise Conflict(
            f"{artifact}@{duplicate.version} is already released (execution "
            f"{duplicate.execution_id}); versions differing only in build metadata count as "
            "the same version.",
            field="version",
            code="duplicate_version",
        )
    release = Release.objects.create(
        project=project,
        artifact=artifact,
        version=version,
        execution=execution,
        note=note,
        created_by=by,
    )
    if stage:
        StageEvent.objects.create(
            release=release, stage=stage, action=StageEvent.Action.ASSIGN, by=by
        )
    return release


def _current_holder(release: Release, stage: str) -> StageHolder | None:
    siblings = Release.objects.filter(project_id=release.project_id, artifact=release.artifact)
    return _states(siblings)[release.artifact].stages.get(stage)


@transaction.atomic
def stage_assign(*, release: Release, stage: str, by: str) -> StageEvent:
    """Put ``release`` in ``stage``, replacing the version there; a 409 when it already is."""
    stage = validate_stage(stage)
    _lock_project(release.project)
    holder = _current_holder(release, stage)
    if holder is not None and holder.release.pk == release.pk:
        raise Conflict(
            f"{release} is already in stage {stage}.", field="stage", code="already_in_stage"
        )
    return StageEvent.objects.create(
        release=release, stage=stage, action=StageEvent.Action.ASSIGN, by=by
    )


@transaction.atomic
def stage_unassign(*, release: Release, stage: str, by: str) -> StageEvent:
    """Take ``release`` out of ``stage``, leaving it empty; a 409 when it is not the version
    there."""
    stage = validate_stage(stage)
    _lock_project(release.project)
    holder = _current_holder(release, stage)
    if holder is None or holder.release.pk != release.pk:
        raise Conflict(f"{release} is not in stage {stage}.", field="stage", code="not_in_stage")
    return StageEvent.objects.create(
        release=release, stage=stage, action=StageEvent.Action.UNASSIGN, by=by
    )
