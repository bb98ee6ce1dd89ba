"""The ``execboard`` command (get, label, describe, errors) as a subprocess against a live server.
``execboard run`` has its own file, tests/test_cli_run.py."""

from __future__ import annotations

import csv
import io
import json

import pytest

from executions.models import Execution
from tests.cli_support import Board
from tests.factories import MembershipFactory, UserFactory, make_execution, make_token

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def board(live_server, editor):
    return Board(live_server.url, make_token(editor))


@pytest.fixture
def executions(project):
    """Three executions, oldest first."""
    return [
        make_execution(project, labels={"model": "bert", "name": "lr sweep 3"}, workflow="a.wf"),
        make_execution(project, labels={"model": "gpt", "team": "nlp"}, workflow="b.wf"),
        make_execution(project, labels={"model": "bert", "note": 'a, "quoted" value'}),
    ]


def ok(done) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def failed(done, message: str) -> None:
    assert done.returncode == 1
    assert done.stderr == f"execboard: error: {message}\n"
    assert done.stdout == ""


def test_get_executions_prints_a_table_latest_first(board, executions):
    lines = ok(board.cli("get", "executions", "-p", "nlp")).splitlines()
    assert lines[0].split() == [
        "ID",
        "NAME",
        "WORKFLOW",
        "PHASE",
        "STARTED",
        "DURATION",
        "BY",
        "LABELS",
    ]
    assert [line.split()[0] for line in lines[1:]] == [e.id for e in reversed(executions)]
    assert "lr sweep 3" in lines[3]
    assert lines[3].endswith("model:bert name:lr sweep 3 user:anne")


def test_get_executions_as_csv_is_parseable_by_the_csv_module(board, executions):
    rows = list(
        csv.DictReader(io.StringIO(ok(board.cli("get", "executions", "-p", "nlp", "-o", "csv"))))
    )
    assert [row["id"] for row in rows] == [e.id for e in reversed(executions)]
    assert rows[0]["phase"] == "UNDEFINED"
    assert rows[0]["duration"] == ""
    assert json.loads(rows[0]["labels"]) == {
        "model": "bert",
        "note": 'a, "quoted" value',
        "user": "anne",
    }
    assert rows[2]["display_name"] == "lr sweep 3"
    assert rows[2]["url"].endswith(f"/p/nlp/e/{executions[0].id}/")


def test_get_executions_as_json_gives_the_apis_executions(board, executions):
    rows = json.loads(ok(board.cli("get", "executions", "-p", "nlp", "-o", "json")))
    assert [row["id"] for row in rows] == [e.id for e in reversed(executions)]
    assert rows[1]["labels"] == {"model": "gpt", "team": "nlp", "user": "anne"}


def test_filter_labels_and_q_narrow_the_list(board, executions):
    def ids(*args):
        rows = json.loads(ok(board.cli("get", "executions", "-p", "nlp", "-o", "json", *args)))
        return [row["id"] for row in rows]

    first, second, third = (e.id for e in executions)
    assert ids("--filter.labels", "model:bert") == [third, first]
    assert ids("--filter.labels", "model:bert", "--filter.labels", "name:lr sweep 3") == [first]
    assert ids("--filter.labels", 'note:a, "quoted" value') == [third]
    assert ids("--q", "model:gpt or note") == [third, second]
    assert ids("--q", "model:gpt or note", "--filter.labels", "model:bert") == [third]
    assert ids("--filters", "eq(workflow, b.wf)") == [second]
    assert ids("--filters", "value_in(workflow,a.wf;b.wf)", "--q", "model:bert") == [first]


def test_sort_limit_domain_and_namespace(board, project, executions):
    MembershipFactory(project=project, user=UserFactory(username="bob"))
    bobs = make_execution(project, launched_by="bob", domain="staging", workflow="c.wf")

    def ids(*args):
        rows = json.loads(ok(board.cli("get", "executions", "-p", "nlp", "-o", "json", *args)))
        return [row["id"] for row in rows]

    every = [e.id for e in executions] + [bobs.id]
    assert ids("--sort", "created_at", "--asc") == every
    assert ids("--sort", "workflow", "--asc", "--limit", "2") == every[:2]
    assert ids("--limit", "1") == [bobs.id]
    assert ids("-d", "staging") == [bobs.id]
    assert ids("--namespace", "user:bob") == [bobs.id]
    assert ids("--namespace", "user:anne") == every[2::-1]


def test_a_bad_query_gets_the_servers_message(board, executions):
    done = board.cli("get", "executions", "-p", "nlp", "--q", "model:bert and (")
    assert done.returncode == 1
    assert done.stderr.startswith("execboard: error: ")
    assert "Traceback" not in done.stderr


def test_get_execution_shows_its_fields(board, project):
    execution = make_execution(
        project,
        labels={"model": "bert"},
        description="# Notes\n\nline two",
        user_metadata={"lr": 0.1},
    )
    fields = ok(board.cli("get", "execution", execution.id))
    assert f"id:          {execution.id}\n" in fields
    assert "labels:      model:bert user:anne\n" in fields
    assert 'metadata:    {"lr": 0.1}\n' in fields
    assert fields.endswith("description: # Notes\n\n             line two\n")
    data = json.loads(ok(board.cli("get", "execution", execution.id, "-o", "json")))
    assert data["id"] == execution.id
    assert data["description_version"] == 0


def test_get_execution_outside_the_namespace_is_a_clear_error(board, project):
    execution = make_execution(project)
    failed(
        board.cli("get", "execution", execution.id, "--namespace", "user:bob"),
        f"Execution {execution.id} is outside the current namespace: it is in user:anne, not "
        "in user:bob. Leave out --namespace to see it.",
    )
    assert ok(board.cli("get", "execution", execution.id, "--namespace", "user:anne"))


def test_label_add_adds_and_changes_labels(board, project):
    execution = make_execution(project, labels={"model": "bert"})
    out = ok(board.cli("label", "add", execution.id, "model:gpt", "note:two words", "smoke"))
    assert out == "model:gpt note:two words smoke user:anne\n"
    execution.refresh_from_db()
    assert execution.labels == {"model": "gpt", "user": "anne", "note": "two words", "smoke": ""}


def test_label_rm_removes_labels_with_history(board, project):
    execution = make_execution(project, labels={"model": "bert", "smoke": ""})
    assert ok(board.cli("label", "rm", execution.id, "model:bert", "smoke")) == "user:anne\n"
    assert [c.key for c in execution.changes.all()] == ["smoke", "model"]


def test_label_rm_with_a_wrong_value_or_a_missing_key_removes_nothing(board, project):
    execution = make_execution(project, labels={"model": "bert", "smoke": ""})
    failed(
        board.cli("label", "rm", execution.id, "smoke", "model:gpt"),
        f"Label model of execution {execution.id} is 'bert', not 'gpt'; nothing removed.",
    )
    failed(
        board.cli("label", "rm", execution.id, "smoke", "absent"),
        f"Execution {execution.id} has no label 'absent'.",
    )
    execution.refresh_from_db()
    assert execution.labels == {"model": "bert", "smoke": "", "user": "anne"}


def test_label_errors_are_the_servers_messages(board, project):
    execution = make_execution(project)
    done = board.cli("label", "add", execution.id, "user:mallory")
    assert done.returncode == 1
    assert "user" in done.stderr and "Traceback" not in done.stderr
    done = board.cli("label", "add", execution.id, "bad key!:x")
    assert done.returncode == 1
    assert "Label key 'bad key!'" in done.stderr
    execution.refresh_from_db()
    assert execution.labels == {"user": "anne"}


def test_describe_with_text(board, project):
    execution = make_execution(project)
    out = ok(board.cli("describe", execution.id, "Better **notes**"))
    assert out == f"Description of {execution.id} saved (version 1).\n"
    execution.refresh_from_db()
    assert (execution.description, execution.description_version) == ("Better **notes**", 1)


def test_describe_reads_a_markdown_file_or_stdin(board, project, tmp_path):
    execution = make_execution(project, description="old")
    (tmp_path / "NOTES.md").write_text("# Run notes\n\n- lr 0.1\n", encoding="utf-8")
    ok(board.cli("describe", execution.id, "NOTES.md", cwd=tmp_path))
    execution.refresh_from_db()
    assert execution.description == "# Run notes\n\n- lr 0.1\n"
    out = ok(board.cli("describe", execution.id, "-", input="from *stdin*"))
    assert out == f"Description of {execution.id} saved (version 2).\n"
    out = ok(board.cli("describe", execution.id, "-", input="from *stdin*"))
    assert out == f"Description of {execution.id} unchanged (version 2).\n"
    execution.refresh_from_db()
    assert (execution.description, execution.description_version) == ("from *stdin*", 2)
    assert [c.new for c in execution.changes.all()] == ["from *stdin*", "# Run notes\n\n- lr 0.1\n"]


def test_describe_with_a_missing_markdown_file_is_an_error(board, project, tmp_path):
    execution = make_execution(project, description="old")
    failed(
        board.cli("describe", execution.id, "MISSING.md", cwd=tmp_path), "No such file: MISSING.md"
    )
    execution.refresh_from_db()
    assert execution.description == "old"


def test_a_missing_token_is_a_clear_error_without_traceback(board):
    env = board.env()
    del env["EXECBOARD_TOKEN"]
    failed(
        board.cli("get", "executions", "-p", "nlp", env=env),
        "No API token: set EXECBOARD_TOKEN or pass --token. An operator issues one with "
        "`manage.py create_token USERNAME`.",
    )


def test_flags_override_the_environment(board, executions):
    env = board.env(EXECBOARD_URL="http://127.0.0.1:1", EXECBOARD_TOKEN="wrong")
    rows = ok(
        board.cli(
            "--url", board.url, "--token", board.token, "get", "executions", "-p", "nlp", env=env
        )
    )
    assert executions[0].id in rows


def test_an_unreachable_server_is_a_clear_error_without_traceback(board):
    failed(
        board.cli("--url", "http://127.0.0.1:1", "get", "execution", "abc"),
        "Cannot reach Execboard at http://127.0.0.1:1.",
    )


def test_api_errors_are_passed_through(board, project):
    failed(
        board.cli("--token", "nope", "get", "executions", "-p", "nlp"),
        board.api_error("GET", "executions/?project=nlp", token="nope"),
    )
    failed(
        board.cli("get", "execution", "nosuchid"), board.api_error("GET", "executions/nosuchid/")
    )
    failed(
        board.cli("get", "executions", "-p", "elsewhere"),
        board.api_error("GET", "executions/?project=elsewhere"),
    )
    viewer = UserFactory(username="vic")
    MembershipFactory(project=project, user=viewer, role="viewer")
    execution = make_execution(project)
    viewer_token = make_token(viewer)
    message = board.api_error(
        "PUT", f"executions/{execution.id}/labels/", viewer_token, json={"labels": {"a": "b"}}
    )
    assert "editor" in message
    failed(board.cli("--token", viewer_token, "label", "add", execution.id, "a:b"), message)
    assert Execution.objects.get().labels == {"user": "anne"}


def test_python_dash_m_execboard_and_version(board):
    done = board.cli("--version")
    assert done.returncode == 0
    assert done.stdout.startswith("execboard ")
