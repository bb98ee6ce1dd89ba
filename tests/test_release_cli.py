"""The release commands of the ``execboard`` CLI, run as a subprocess against a live server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from executions import releases
from executions.models import Release, StageEvent
from tests.factories import make_execution, make_succeeded_execution, make_token

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cli(live_server, editor):
    env = {
        **os.environ,
        "EXECBOARD_URL": live_server.url,
        "EXECBOARD_TOKEN": make_token(editor),
        "EXECBOARD_RETRY_SECONDS": "0",
    }

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "execboard", *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


def test_release_with_a_version_a_stage_and_a_note_file(cli, project, tmp_path):
    execution = make_succeeded_execution(project)
    note = tmp_path / "NOTE.md"
    note.write_text("# Best model so far\n", encoding="utf-8")
    result = cli("release", execution.pk, "model/nn@1.2.3", "--stage", "prod", "--note", str(note))
    assert result.returncode == 0, result.stderr
    assert f"Released model/nn@v1.2.3 ({execution.pk}) in prod." in result.stdout
    assert result.stdout.rstrip().endswith("/p/nlp/artifacts/model/nn/")
    release = Release.objects.get()
    assert (release.artifact, release.version, release.note) == (
        "model/nn",
        "v1.2.3",
        "# Best model so far\n",
    )
    assert releases.artifact_detail(project, "model/nn").state.stages["prod"].release == release


def test_release_with_a_bump_and_the_default_artifact(cli, project):
    first = cli("release", make_succeeded_execution(project).pk)
    assert first.returncode == 0, first.stderr
    assert "Released train.wf@v0.0.1" in first.stdout
    second = cli("release", make_succeeded_execution(project).pk, "train.wf", "--bump", "minor")
    assert second.returncode == 0, second.stderr
    assert "Released train.wf@v0.1.0" in second.stdout


def test_promote_then_show_and_history(cli, project):
    cli("release", make_succeeded_execution(project).pk, "nn@v1.9.0", "--stage", "prod")
    cli("release", make_succeeded_execution(project).pk, "nn@v1.10.0")
    cli("release", make_succeeded_execution(project).pk, "data@v0.1.0")
    promoted = cli("promote", "nn@v1.10.0", "staging", "-p", "nlp")
    assert promoted.returncode == 0, promoted.stderr
    assert promoted.stdout.strip() == "nn@v1.10.0 is now in staging."

    registry = cli("show", "-p", "nlp").stdout.splitlines()
    assert registry[0].split() == ["ARTIFACT", "LATEST", "PROD", "STAGING"]
    assert registry[1].split() == ["data", "v0.1.0", "-", "-"]
    assert registry[2].split() == ["nn", "v1.10.0", "v1.9.0", "v1.10.0"]

    versions = cli("show", "nn", "-p", "nlp").stdout.splitlines()
    assert [line.split()[0] for line in versions] == ["VERSION", "v1.10.0", "v1.9.0"]
    assert versions[1].endswith("staging")

    history = cli("history", "nn", "-p", "nlp").stdout.splitlines()
    assert [line.split()[2:4] for line in history[1:]] == [
        ["assign", "v1.10.0"],
        ["register", "v1.10.0"],
        ["assign", "v1.9.0"],
        ["register", "v1.9.0"],
    ]


def test_unassign_empties_the_stage(cli, project):
    cli("release", make_succeeded_execution(project).pk, "nn@v1.0.0", "--stage", "prod")
    unassigned = cli("unassign", "nn@v1.0.0", "prod", "-p", "nlp")
    assert unassigned.returncode == 0, unassigned.stderr
    assert unassigned.stdout.strip() == "nn@v1.0.0 is no longer in prod."
    shown = json.loads(cli("show", "nn", "-p", "nlp", "-o", "json").stdout)
    assert shown["stages"] == {}
    assert shown["versions"][0]["stages"] == []
    history = cli("history", "nn", "-p", "nlp").stdout.splitlines()
    assert history[1].split()[2:4] == ["unassign", "v1.0.0"]
    again = cli("unassign", "nn@v1.0.0", "prod", "-p", "nlp")
    assert again.returncode == 1
    assert "is not in stage prod" in again.stderr
    assert StageEvent.objects.count() == 2


def test_errors_are_one_line_on_stderr_and_change_nothing(cli, project):
    unfinished = cli("release", make_execution(project).pk, "nn@v1.0.0")
    assert unfinished.returncode == 1
    assert "Only a SUCCEEDED execution can be released" in unfinished.stderr
    assert "Traceback" not in unfinished.stderr

    cli("release", make_succeeded_execution(project).pk, "nn@v1.0.0")
    duplicate = cli("release", make_succeeded_execution(project).pk, "nn@1.0.0")
    assert duplicate.returncode == 1
    assert "nn@v1.0.0 is already released" in duplicate.stderr

    both = cli("release", make_succeeded_execution(project).pk, "nn@v2.0.0", "--bump", "minor")
    assert both.returncode == 1
    assert "not both" in both.stderr

    no_version = cli("promote", "nn", "prod", "-p", "nlp")
    assert no_version.returncode == 1
    assert "names no version" in no_version.stderr
    missing = cli("promote", "nn@v9.9.9", "prod", "-p", "nlp")
    assert missing.returncode == 1
    assert "No release nn@v9.9.9" in missing.stderr
    assert Release.objects.count() == 1
