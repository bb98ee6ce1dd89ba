"""The Python client (``import execboard``) against a live server."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import execboard
from execboard import client as client_module
from executions.models import Event, Execution
from tests.cli_support import Board
from tests.factories import MembershipFactory, UserFactory, make_execution, make_token

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def board(live_server, project, editor, monkeypatch):
    project.default_labels.create(key="team", value="nlp")
    project.default_labels.create(key="model", value="base")
    token = make_token(editor)
    for name in [name for name in os.environ if name.startswith("EXECBOARD_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("EXECBOARD_URL", live_server.url)
    monkeypatch.setenv("EXECBOARD_TOKEN", token)
    monkeypatch.setenv("EXECBOARD_RETRY_SECONDS", "0")
    execboard.default_namespace()
    yield Board(live_server.url, token)
    # Kept-alive connections hold a server thread, and its database connection, open.
    execboard.api.close()


@pytest.fixture
def client(board):
    with execboard.Client() as client:
        yield client


@pytest.fixture
def bobs_execution(project):
    MembershipFactory(project=project, user=UserFactory(username="bob"))
    return make_execution(project, launched_by="bob")


def events_of(execution_id: str) -> list[tuple[str | None, str]]:
    return [
        (event.step.name if event.step else None, event.phase)
        for event in Event.objects.filter(execution_id=execution_id).select_related("step")
    ]


def test_the_package_imports_without_django():
    code = "import sys, execboard, execboard.cli, execboard.run; print('django' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


def test_an_execution_block_reports_running_then_succeeded(board):
    with execboard.execution(
        "nlp",
        "development",
        workflow="train.wf",
        labels={"model": "bert", "smoke": ""},
        description="# Sweep",
        metadata={"lr": 0.1},
    ) as ex:
        assert Execution.objects.get(pk=ex.id).phase == "RUNNING"
    execution = Execution.objects.get(pk=ex.id)
    assert execution.phase == "SUCCEEDED"
    assert execution.labels == {"team": "nlp", "model": "bert", "smoke": "", "user": "anne"}
    assert (execution.workflow, execution.description) == ("train.wf", "# Sweep")
    assert execution.user_metadata == {"lr": 0.1}
    assert ex.url == f"{board.url}/p/nlp/e/{ex.id}/"
    assert events_of(ex.id) == [(None, "RUNNING"), (None, "SUCCEEDED")]


def test_an_exception_fails_the_execution_with_its_message_and_is_raised_again(board):
    with pytest.raises(ValueError, match="bad batch"), execboard.execution("nlp", "development"):
        raise ValueError("bad batch")
    execution = Execution.objects.get()
    assert execution.phase == "FAILED"
    assert execution.error == "ValueError: bad batch"


def test_ctrl_c_aborts_the_execution(board):
    with pytest.raises(KeyboardInterrupt), execboard.execution("nlp", "development"):
        raise KeyboardInterrupt
    assert Execution.objects.get().phase == "ABORTED"


def test_a_bad_execution_is_refused_with_the_servers_message_and_nothing_is_created(board):
    with (
        pytest.raises(execboard.ApiError) as error,
        execboard.execution("nlp", "nowhere"),
    ):
        pytest.fail("the block must not run")
    assert error.value.status == 400
    assert error.value.field == "domain"
    assert "Unknown domain 'nowhere'" in str(error.value)
    assert not Execution.objects.exists()


def test_steps_nest_and_repeated_names_get_suffixes_in_rays_metadata_shape(board):
    @execboard.step(metadata={"kind": "io"}, options={"retries": 2})
    def load():
        return [1, 2, 3]

    @execboard.step
    def epoch(number):
        with execboard.step("batch", metadata={"epoch": number}):
            pass

    with execboard.execution("nlp", "development", metadata={"lr": 0.1}) as ex:
        load()
        epoch(0)
        epoch(1)
        with ex.step("evaluate") as evaluate:
            evaluate.set_metadata({"accuracy": 0.91})

    metadata = execboard.get_metadata(ex.id)
    assert metadata["status"] == "SUCCEEDED"
    assert set(metadata["stats"]) == {"start_time", "end_time"}
    assert metadata["stats"]["start_time"] <= metadata["stats"]["end_time"]
    assert metadata["user_metadata"] == {"lr": 0.1}
    steps = {step["name"]: step for step in metadata["steps"]}
    assert list(steps) == ["load", "epoch", "batch", "epoch_1", "batch_1", "evaluate"]
    assert steps["load"]["step_options"] == {"retries": 2}
    assert steps["load"]["user_metadata"] == {"kind": "io"}
    assert steps["batch"]["parent"] == "epoch"
    assert steps["batch_1"]["parent"] == "epoch_1"
    assert "parent" not in steps["epoch_1"]
    assert steps["evaluate"]["user_metadata"] == {"accuracy": 0.91}
    assert all(step["status"] == "SUCCEEDED" for step in steps.values())

    batch = execboard.get_metadata(ex.id, name="batch_1")
    assert batch["name"] == "batch_1"
    assert batch["user_metadata"] == {"epoch": 1}
    assert batch["step_options"] == {}
    assert set(batch["stats"]) == {"start_time", "end_time"}


def test_a_failing_step_fails_with_the_message_and_so_does_the_execution(board):
    with pytest.raises(RuntimeError), execboard.execution("nlp", "development") as ex:
        with execboard.step("load"):
            pass
        with execboard.step("train"):
            raise RuntimeError("diverged")
    assert events_of(ex.id) == [
        (None, "RUNNING"),
        ("load", "RUNNING"),
        ("load", "SUCCEEDED"),
        ("train", "RUNNING"),
        ("train", "FAILED"),
        (None, "FAILED"),
    ]
    assert execboard.get_metadata(ex.id, name="train")["status"] == "FAILED"
    assert Execution.objects.get(pk=ex.id).error == "RuntimeError: diverged"


def test_current_tells_where_the_code_runs(board):
    assert not execboard.current
    assert execboard.current.execution_id is None
    with execboard.execution("nlp", "staging") as ex:
        assert execboard.current.step_name is None
        with execboard.step("load"):
            seen = {
                "execution_id": execboard.current.execution_id,
                "project": execboard.current.project,
                "domain": execboard.current.domain,
                "step_name": execboard.current.step_name,
                "username": execboard.current.username,
                "url": execboard.current.url,
            }
    assert seen == {
        "execution_id": ex.id,
        "project": "nlp",
        "domain": "staging",
        "step_name": "load",
        "username": "anne",
        "url": ex.url,
    }
    assert execboard.current.execution_id is None


def test_a_step_outside_an_execution_is_a_clear_error(board):
    with (
        pytest.raises(execboard.ExecboardError, match="has no execution"),
        execboard.step("load"),
    ):
        pass


def test_steps_attach_to_the_execution_named_by_the_environment(board, project, monkeypatch):
    outer = make_execution(project)
    monkeypatch.setenv("EXECBOARD_EXECUTION_ID", outer.id)
    with execboard.execution("nlp", "development", workflow="ignored") as ex:
        assert ex.id == outer.id
        with execboard.step("load"):
            assert execboard.current.execution_id == outer.id
    assert Execution.objects.count() == 1
    # The execution's own phase belongs to whoever created it (`execboard run`).
    assert events_of(outer.id) == [("load", "RUNNING"), ("load", "SUCCEEDED")]


def test_the_default_namespace_is_your_own(board, bobs_execution):
    assert execboard.get_namespace() == "user:anne"
    with execboard.execution("nlp", "development") as mine:
        pass
    assert execboard.get_execution(mine.id)["id"] == mine.id
    with pytest.raises(execboard.NamespaceError) as error:
        execboard.get_execution(bobs_execution.id)
    assert str(error.value) == (
        f"Execution {bobs_execution.id} is outside the current namespace: it is in user:bob, "
        "not in user:anne. Use execboard.set_namespace(None) for the global namespace."
    )
    with pytest.raises(execboard.NamespaceError):
        execboard.get_metadata(bobs_execution.id)


def test_the_global_namespace_and_other_namespaces(board, bobs_execution):
    execboard.set_namespace(None)
    assert execboard.get_namespace() is None
    assert execboard.get_metadata(bobs_execution.id)["status"] == "UNDEFINED"
    execboard.set_namespace("user:bob")
    assert execboard.get_execution(bobs_execution.id)["launched_by"] == "bob"
    execboard.set_namespace("team:nlp")
    assert execboard.get_execution(bobs_execution.id)["id"] == bobs_execution.id
    execboard.set_namespace("release")
    with pytest.raises(execboard.NamespaceError, match="not in release"):
        execboard.get_execution(bobs_execution.id)
    assert execboard.default_namespace() == "user:anne"


def test_a_production_token_defaults_to_its_production_namespace(board, editor, monkeypatch):
    monkeypatch.setenv("EXECBOARD_TOKEN", make_token(editor, production_namespace="nightly"))
    assert execboard.default_namespace() == "production:nightly"
    with execboard.execution("nlp", "production") as ex:
        pass
    assert execboard.get_execution(ex.id)["labels"]["production"] == "nightly"


def test_a_namespace_must_be_a_label_or_none(board):
    with pytest.raises(execboard.ExecboardError, match="or None for global"):
        execboard.set_namespace("  ")


def test_a_missing_token_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("EXECBOARD_TOKEN", raising=False)
    with pytest.raises(execboard.ConfigError, match="No API token: set EXECBOARD_TOKEN"):
        execboard.Client(url="http://127.0.0.1:1")


def test_an_unreachable_server_is_a_clear_error():
    client = execboard.Client(url="http://127.0.0.1:1", token="x")
    with pytest.raises(execboard.ServerUnreachable, match=r"Cannot reach Execboard at http"):
        client.get_execution("abc")


def test_api_errors_carry_the_servers_code_message_and_details(board, project, client):
    execution = client.create_execution(project="nlp", domain="development", workflow="w")
    client.update_description(execution["id"], "first", version=0)
    with pytest.raises(execboard.ApiError) as error:
        client.update_description(execution["id"], "second", version=0)
    assert error.value.status == 409
    assert error.value.code == "description_conflict"
    assert error.value.details == {"description": "first", "description_version": 1}
    assert "changed by someone else" in str(error.value)


def test_the_client_follows_the_cursor_across_pages(board, project, client):
    created = [make_execution(project).id for _ in range(5)]
    rows = list(client.iter_executions(project="nlp", limit=4, page_size=2))
    assert [row["id"] for row in rows] == created[::-1][:4]


def test_labels_and_events_through_the_client(board, project, client):
    execution = client.create_execution(project="nlp", domain="development", workflow="w")
    assert client.set_labels(execution["id"], {"exp": "a"})["labels"]["exp"] == "a"
    assert "exp" not in client.remove_label(execution["id"], "exp")["labels"]
    first = client.post_event(execution["id"], "RUNNING", event_id="once")
    again = client.post_event(execution["id"], "RUNNING", event_id="once")
    assert first["id"] == again["id"]
    assert [(c["key"], c["old"], c["new"]) for c in client.history(execution["id"])] == [
        ("exp", "a", None),
        ("exp", None, "a"),
    ]


def test_retries_wait_out_an_unreachable_server_and_keep_other_errors(monkeypatch):
    monkeypatch.setattr(client_module.time, "sleep", lambda seconds: None)
    outcomes = [execboard.ServerUnreachable("down"), execboard.ApiError("busy", status=503), "ok"]
    waits = []

    def call():
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    result = client_module.with_retry(
        call, retry_for=60, on_retry=lambda error, wait: waits.append(wait)
    )
    assert result == "ok"
    assert waits == [1.0, 2.0]

    def refused():
        raise execboard.ApiError("bad phase", status=400)

    with pytest.raises(execboard.ApiError, match="bad phase"):
        client_module.with_retry(refused, retry_for=60)
