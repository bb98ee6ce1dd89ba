"""``execboard run``: any command as an execution, as a subprocess against a live server; and
against a real server process that is killed and restarted during the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests

from execboard import client as client_module
from execboard.config import Config
from execboard.errors import ServerUnreachable
from execboard.run import Runner
from executions.models import TERMINAL_PHASES, Event, Execution
from tests.cli_support import EXECBOARD, Board, ServerProcess, wait_for
from tests.factories import make_execution, make_token

PY = sys.executable


@pytest.fixture
def board(live_server, project, editor):
    project.default_labels.create(key="team", value="nlp")
    project.default_labels.create(key="model", value="base")
    return Board(live_server.url, make_token(editor))


def run(board: Board, *command: str, options=(), **kwargs) -> subprocess.CompletedProcess:
    return board.cli("run", "-p", "nlp", "-d", "development", *options, "--", *command, **kwargs)


def python(code: str) -> list[str]:
    return [PY, "-c", textwrap.dedent(code)]


def phases(execution: Execution) -> list[str]:
    return [event.phase for event in Event.objects.filter(execution=execution, step=None)]


def wait_until_started(path: Path) -> str:
    wait_for(path.exists, f"the command to write {path.name}")
    wait_for(lambda: path.read_text().strip() != "", f"the command to write into {path.name}")
    return path.read_text().strip()


db = pytest.mark.django_db(transaction=True)


@db
def test_a_successful_command_reports_running_then_succeeded_and_prints_the_url(board):
    done = run(board, *python("print('hello from the command')"))
    assert done.returncode == 0
    assert done.stdout == "hello from the command\n"
    execution = Execution.objects.get()
    assert execution.phase == "SUCCEEDED"
    assert phases(execution) == ["RUNNING", "SUCCEEDED"]
    assert execution.inputs == {"command": [PY, "-c", "print('hello from the command')"]}
    assert f"{board.url}/p/nlp/e/{execution.id}/" in done.stderr.splitlines()[-1]
    assert "SUCCEEDED" in done.stderr.splitlines()[-1]


@db
def test_a_failing_command_passes_its_exit_code_and_fails_with_the_tail_of_stderr(board):
    script = """
        import sys
        for n in range(30):
            print(f"progress {n}", file=sys.stderr)
        print("out", flush=True)
        sys.exit(3)
    """
    done = run(board, *python(script))
    assert done.returncode == 3
    assert done.stdout == "out\n"
    assert "progress 0\n" in done.stderr  # stderr is passed through whole
    execution = Execution.objects.get()
    assert execution.phase == "FAILED"
    assert execution.error.splitlines() == ["Exit code 3."] + [
        f"progress {n}" for n in range(10, 30)
    ]
    assert phases(execution) == ["RUNNING", "FAILED"]


@db
def test_the_execution_carries_labels_merged_with_the_defaults_name_description_and_metadata(
    board, tmp_path
):
    (tmp_path / "README.md").write_text("# Sweep\n\nlr **0.1**\n", encoding="utf-8")
    options = [
        "--label",
        "model:bert",
        "-l",
        "smoke",
        "--label",
        "note:a:b",
        "--name",
        "lr sweep 3",
        "--workflow",
        "train.wf",
        "--description",
        "README.md",
        "--metadata",
        '{"lr": 0.1}',
    ]
    done = run(board, "true", options=options, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    execution = Execution.objects.get()
    assert execution.labels == {
        "team": "nlp",
        "model": "bert",
        "smoke": "",
        "note": "a:b",
        "name": "lr sweep 3",
        "user": "anne",
    }
    assert execution.description == "# Sweep\n\nlr **0.1**\n"
    assert execution.user_metadata == {"lr": 0.1}
    assert execution.workflow == "train.wf"


@db
def test_a_description_given_as_text_and_a_parent(board, project):
    parent = make_execution(project)
    done = run(board, "true", options=["--description", "Quick *check*", "--parent", parent.id])
    assert done.returncode == 0, done.stderr
    child = Execution.objects.exclude(pk=parent.pk).get()
    assert child.description == "Quick *check*"
    assert child.parent_id == parent.id
    assert child.mode == "CHILD"
    assert child.workflow == "true"


@db
def test_stdin_is_passed_to_the_command(board):
    done = run(board, *python("print(input().upper())"), input="hello\n")
    assert done.stdout == "HELLO\n"
    assert done.returncode == 0


@db
def test_a_command_that_does_not_exist_fails_with_127(board):
    done = run(board, "no-such-command-here")
    assert done.returncode == 127
    assert "command not found: no-such-command-here" in done.stderr
    execution = Execution.objects.get()
    assert execution.phase == "FAILED"
    assert execution.error == "Command not found: no-such-command-here"


@db
def test_bad_input_stops_before_the_command_runs_and_creates_nothing(board, tmp_path):
    marker = tmp_path / "ran"
    touch = [PY, "-c", f"open({str(marker)!r}, 'w')"]
    cases = [
        (["--metadata", "[1, 2]"], "--metadata must be a JSON object"),
        (["--metadata", "{nope"], "--metadata is not valid JSON"),
        (["--description", "MISSING.md"], "No such file: MISSING.md"),
        (["--label", "bad key!:x"], "Label key 'bad key!'"),
        (["--label", "user:mallory"], "user"),
    ]
    for options, message in cases:
        done = run(board, *touch, options=options, cwd=tmp_path)
        assert done.returncode == 125, (options, done.stderr)
        assert done.stderr.startswith("execboard: error: ")
        assert message in done.stderr
    done = board.cli("run", "-p", "elsewhere", "-d", "development", "--", *touch)
    message = board.api_error("POST", "executions/", json={"project": "elsewhere"})
    assert (done.returncode, done.stderr) == (125, f"execboard: error: {message}\n")
    done = board.cli("run", "-p", "nlp", "-d", "development")
    assert done.returncode == 125
    assert "Nothing to run" in done.stderr
    assert not marker.exists()
    assert not Execution.objects.exists()


@db
def test_the_command_gets_the_execution_in_its_environment_and_its_steps_join_it(board, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, os
            import execboard

            @execboard.step(metadata={"rows": 3})
            def load():
                return [1, 2, 3]

            with execboard.execution("nlp", "development", workflow="train") as ex:
                with execboard.step("train"):
                    load()
                    load()
                print(json.dumps({
                    "env": {k: v for k, v in os.environ.items() if k.startswith("EXECBOARD_")},
                    "id": execboard.current.execution_id,
                    "url": execboard.current.url,
                    "username": execboard.current.username,
                }))
            """
        )
    )
    done = run(board, PY, str(script))
    assert done.returncode == 0, done.stderr
    execution = Execution.objects.get()
    seen = json.loads(done.stdout)
    assert seen["env"] == {
        "EXECBOARD_EXECUTION_ID": execution.id,
        "EXECBOARD_EXECUTION_URL": f"{board.url}/p/nlp/e/{execution.id}/",
        "EXECBOARD_RETRY_SECONDS": "120",
        "EXECBOARD_TOKEN": board.token,
        "EXECBOARD_URL": board.url,
    }
    assert (seen["id"], seen["url"], seen["username"]) == (
        execution.id,
        seen["env"]["EXECBOARD_EXECUTION_URL"],
        "anne",
    )
    steps = {step.name: step for step in execution.steps.select_related("parent")}
    assert sorted(steps) == ["load", "load_1", "train"]
    assert steps["load_1"].parent.name == "train"
    assert steps["load_1"].user_metadata == {"rows": 3}
    assert phases(execution) == ["RUNNING", "SUCCEEDED"]


def _start_waiting_command(board: Board, tmp_path: Path) -> tuple[subprocess.Popen, str]:
    """Run a command that says it started, then sleeps; in its own process group, as a
    terminal's foreground job is."""
    started = tmp_path / "started"
    code = (
        "import os, pathlib, sys, time; "
        "pathlib.Path(sys.argv[1]).write_text(os.environ['EXECBOARD_EXECUTION_ID']); "
        "time.sleep(600)"
    )
    process = subprocess.Popen(
        [*EXECBOARD, "run", "-p", "nlp", "-d", "development", "--", PY, "-c", code, str(started)],
        env=board.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    return process, wait_until_started(started)


@db
def test_ctrl_c_aborts_the_execution_and_exits_like_the_command(board, tmp_path):
    process, execution_id = _start_waiting_command(board, tmp_path)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does to a foreground job
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGINT
    execution = Execution.objects.get(pk=execution_id)
    assert execution.phase == "ABORTED"
    assert phases(execution) == ["RUNNING", "ABORTED"]
    assert "ABORTED" in stderr


@db
def test_sigterm_is_passed_to_the_command_and_aborts_the_execution(board, tmp_path):
    process, execution_id = _start_waiting_command(board, tmp_path)
    process.send_signal(signal.SIGTERM)  # to execboard alone, as a CI runner cancelling a job
    process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM
    execution = Execution.objects.get(pk=execution_id)
    assert execution.phase == "ABORTED"
    assert Event.objects.get(execution=execution, phase="ABORTED").message == (
        "Aborted by SIGTERM (exit status 143)."
    )


@pytest.fixture
def server(tmp_path):
    """A real server process on its own database, with project nlp and a token for anne."""
    server = ServerProcess(tmp_path)
    try:
        server.manage("migrate", "--noinput")
        server.manage("create_project", "nlp")
        token = server.manage("create_token", "anne").splitlines()[-1]
        server.manage("grant", "anne", "nlp", "editor")
        server.start()
        yield server, Board(server.url, token)
    finally:
        server.close()


def test_the_final_event_survives_a_server_restart_during_the_run(server, tmp_path):
    server, board = server
    started, go = tmp_path / "started", tmp_path / "go"
    code = textwrap.dedent(
        """
        import os, pathlib, sys, time
        pathlib.Path(sys.argv[1]).write_text(os.environ["EXECBOARD_EXECUTION_ID"])
        while not pathlib.Path(sys.argv[2]).exists():
            time.sleep(0.05)
        print("loss is nan", file=sys.stderr)
        sys.exit(3)
        """
    )
    process = subprocess.Popen(
        [*EXECBOARD, "run", "-p", "nlp", "-d", "development", "--", PY, "-c", code, started, go],
        env=board.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    execution_id = wait_until_started(started)
    api = requests.Session()
    api.headers["Authorization"] = f"Token {board.token}"
    url = f"{board.url}/api/v1/executions/{execution_id}/"
    assert api.get(url).json()["phase"] == "RUNNING"
    api.close()

    server.kill()
    go.touch()
    # Read execboard's stderr until it reports that it is retrying: the command has ended
    # and the server is down.
    seen = []
    for line in process.stderr:
        seen.append(line)
        if "Retrying in" in line:
            break
    assert "Retrying in" in seen[-1], "".join(seen)
    server.start()
    _, rest = process.communicate(timeout=300)

    assert process.returncode == 3, "".join(seen) + rest
    with requests.Session() as api:
        api.headers["Authorization"] = f"Token {board.token}"
        execution = api.get(url).json()
        events = api.get(f"{url}events/").json()
    assert execution["phase"] == "FAILED"
    assert execution["error"] == "Exit code 3.\nloss is nan"
    assert [e["phase"] for e in events if e["phase"] in TERMINAL_PHASES] == ["FAILED"]
    assert [e["phase"] for e in events] == ["RUNNING", "FAILED"]


class FlakyClient:
    """Fails the first ``failures[phase]`` deliveries of each phase, as a server that is down."""

    config = Config(url="http://execboard.invalid", token="t", retry_seconds=60)

    def __init__(self, failures: dict[str, int]) -> None:
        self.failures = failures
        self.attempts: list[dict] = []

    def post_event(self, execution_id: str, **event) -> dict:
        self.attempts.append(event)
        if self.failures.get(event["phase"], 0):
            self.failures[event["phase"]] -= 1
            raise ServerUnreachable("Cannot reach Execboard.")
        return {}


def test_unreachable_server_events_are_sent_later_in_order_under_the_same_event_id(
    monkeypatch, tmp_path
):
    monkeypatch.setattr(client_module.time, "sleep", lambda seconds: None)
    client = FlakyClient({"RUNNING": 1, "FAILED": 2})
    execution = {"id": "abc", "url": "http://execboard.invalid/p/nlp/e/abc/"}
    marker = tmp_path / "ran"
    command = [PY, "-c", f"open({str(marker)!r}, 'w'); raise SystemExit(4)"]

    assert Runner(client, execution, command).run() == 4
    assert marker.exists()
    phases = [attempt["phase"] for attempt in client.attempts]
    assert phases == ["RUNNING", "RUNNING", "FAILED", "FAILED", "FAILED"]
    running, failed = client.attempts[1], client.attempts[-1]
    assert client.attempts[0] == running
    assert all(attempt == failed for attempt in client.attempts[2:])
    assert running["occurred_at"] < failed["occurred_at"]
    assert failed["message"] == "Exit code 4."
