"""The Python API: executions and steps as context managers and decorators, Ray-shaped metadata,
Metaflow-style namespaces and ``current``.

    with execboard.execution("nlp", "development", workflow="train", labels={"model": "bert"}):
        with execboard.step("load", metadata={"rows": 1000}):
            ...

Under ``execboard run`` (``EXECBOARD_EXECUTION_ID`` in the environment) steps attach to the
execution that ``run`` created and reports; ``execution(...)`` then creates nothing.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from execboard.client import Client, new_event_id, now_iso, with_retry
from execboard.config import EXECUTION_ID_VAR, TOKEN_VAR, URL_VAR, Config
from execboard.errors import ExecboardError, NamespaceError

F = TypeVar("F", bound=Callable[..., Any])

NAMESPACE_KEYS = ("user", "production")


class Execution:
    """A handle on a running execution: ``id``, ``project``, ``domain``, ``url``, ``step()``."""

    def __init__(self, client: Client, data: Mapping[str, Any], *, attached: bool = False) -> None:
        self.client = client
        self.data = dict(data)
        self.id: str = data["id"]
        self.project: str = data["project"]
        self.domain: str = data["domain"]
        self.url: str = data["url"]
        # Attached: created and reported by someone else (`execboard run`); only steps are ours.
        self.attached = attached

    def __repr__(self) -> str:
        return f"<Execution {self.id} {self.project}/{self.domain}>"

    def step(
        self,
        name: str,
        *,
        metadata: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> StepScope:
        """A step of this execution, as a context manager or a decorator."""
        return StepScope(name, metadata=metadata, options=options, execution=self)


class Step:
    """A running step: its final ``name`` (``load_1`` when ``load`` was taken) and execution."""

    def __init__(self, execution: Execution, name: str) -> None:
        self.execution = execution
        self.name = name

    def __repr__(self) -> str:
        return f"<Step {self.name} of {self.execution.id}>"

    def set_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Replace the step's user metadata (e.g. with results known only at the end)."""
        self.execution.client.update_step(self.execution.id, self.name, user_metadata=metadata)


_current_execution: ContextVar[Execution | None] = ContextVar("execboard_execution", default=None)
_current_step: ContextVar[Step | None] = ContextVar("execboard_step", default=None)

# Module state, as in Metaflow's client: the default client (rebuilt when the environment
# changes), the namespace chosen by set_namespace, and the execution named by the environment.
_UNSET = object()
_namespace: Any = _UNSET
_default: dict[str, Any] = {}


def client() -> Client:
    """The client configured by ``EXECBOARD_URL`` and ``EXECBOARD_TOKEN``."""
    key = (os.environ.get(URL_VAR), os.environ.get(TOKEN_VAR))
    if _default.get("key") != key:
        close()
        _default.update(key=key, client=Client(Config.load()))
    return _default["client"]


def close() -> None:
    """Close the default client's connections; the next call opens new ones."""
    if "client" in _default:
        _default["client"].close()
    _default.clear()


def _attached_execution() -> Execution | None:
    """The execution named by ``EXECBOARD_EXECUTION_ID`` (set by ``execboard run``), if any."""
    execution_id = os.environ.get(EXECUTION_ID_VAR)
    if not execution_id:
        return None
    cached = _default.get("attached")
    if cached is None or cached.id != execution_id or cached.client is not client():
        cached = Execution(client(), client().get_execution(execution_id), attached=True)
        _default["attached"] = cached
    return cached


def _active_execution() -> Execution | None:
    return _current_execution.get() or _attached_execution()


# Executions


@contextmanager
def execution(
    project: str,
    domain: str,
    *,
    workflow: str | None = None,
    labels: Mapping[str, str] | None = None,
    description: str = "",
    metadata: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    parent: str | None = None,
    workflow_version: str = "",
) -> Iterator[Execution]:
    """Create an execution, report RUNNING, then SUCCEEDED, FAILED (with the exception's
    message) or ABORTED (Ctrl-C). Under ``execboard run`` it joins that execution instead."""
    attached = _attached_execution() if _current_execution.get() is None else None
    if attached is not None:
        token = _current_execution.set(attached)
        try:
            yield attached
        finally:
            _current_execution.reset(token)
        return

    api = client()
    data = api.create_execution(
        project=project,
        domain=domain,
        workflow=workflow or _default_workflow(),
        labels=labels,
        description=description,
        user_metadata=metadata,
        inputs=inputs,
        parent=parent,
        workflow_version=workflow_version,
    )
    handle = Execution(api, data)
    api.post_event(handle.id, "RUNNING")
    token = _current_execution.set(handle)
    try:
        yield handle
    except BaseException as exc:
        _report_end(handle, None, exc)
        raise
    else:
        _report_end(handle, None, None)
    finally:
        _current_execution.reset(token)


def _default_workflow() -> str:
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return script if script and script != "-c" else "python"


def _outcome(exc: BaseException | None) -> tuple[str, str]:
    """The terminal phase and message for leaving a block with ``exc`` (None: success)."""
    if exc is None:
        return "SUCCEEDED", ""
    if isinstance(exc, KeyboardInterrupt):
        return "ABORTED", "Interrupted (KeyboardInterrupt)."
    if isinstance(exc, SystemExit):
        if exc.code in (None, 0):
            return "SUCCEEDED", ""
        return "FAILED", f"SystemExit: {exc.code}"
    text = str(exc)
    return "FAILED", f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _report_end(execution: Execution, step: Step | None, exc: BaseException | None) -> None:
    """Send the terminal event, retrying while the server is unreachable. A failure to report
    never hides the exception that ended the block: it is then only printed."""
    phase, message = _outcome(exc)
    api = execution.client
    event_id, occurred_at = new_event_id(), now_iso()

    def send() -> None:
        api.post_event(
            execution.id,
            phase,
            message=message,
            step=step.name if step else None,
            occurred_at=occurred_at,
            event_id=event_id,
        )

    try:
        with_retry(send, retry_for=api.config.retry_seconds)
    except ExecboardError as error:
        if exc is None:
            raise
        what = f"step {step.name}" if step else f"execution {execution.id}"
        print(f"execboard: could not report {phase} for {what}: {error}", file=sys.stderr)


# Steps


class StepScope:
    """A step as a context manager (``with step("load") as s:``) or a decorator
    (``@step("load")``, ``@step``). Steps nest: a step entered inside another is its child.
    Each entry creates a new step, so a repeated name becomes ``load_1``, ``load_2``, …"""

    def __init__(
        self,
        name: str | None,
        *,
        metadata: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        execution: Execution | None = None,
    ) -> None:
        self.name = name
        self.metadata = dict(metadata or {})
        self.options = dict(options or {})
        self.execution = execution
        self._entered: list[tuple[Step, Any]] = []

    def __call__(self, func: F) -> F:
        name = self.name or func.__name__

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            # A scope per call: calls from several threads or recursive calls don't share one.
            scope = StepScope(
                name, metadata=self.metadata, options=self.options, execution=self.execution
            )
            with scope:
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def __enter__(self) -> Step:
        if not self.name:
            raise ExecboardError("A step needs a name: step('load').")
        execution = self.execution or _active_execution()
        if execution is None:
            raise ExecboardError(
                f"Step {self.name!r} has no execution: enter it inside "
                "`with execboard.execution(...)` or run the script under `execboard run`."
            )
        parent = _current_step.get()
        parent_name = parent.name if parent and parent.execution.id == execution.id else None
        data = execution.client.create_step(
            execution.id,
            self.name,
            parent=parent_name,
            options=self.options,
            user_metadata=self.metadata,
        )
        step = Step(execution, data["name"])
        execution.client.post_event(execution.id, "RUNNING", step=step.name)
        self._entered.append((step, _current_step.set(step)))
        return step

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        step, token = self._entered.pop()
        _current_step.reset(token)
        _report_end(step.execution, step, exc)


def step(
    name: str | Callable[..., Any] | None = None,
    *,
    metadata: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
) -> Any:
    """``with step("load", metadata={...}):``, ``@step("load")`` or ``@step`` (the function's
    name), in the current execution."""
    if callable(name):
        return StepScope(None)(name)
    return StepScope(name, metadata=metadata, options=options)


# Namespaces (Metaflow): a label that scopes what the client fetches.


def set_namespace(namespace: str | None) -> None:
    """``set_namespace("user:bob")``, ``set_namespace("production:nightly")``, any label such as
    ``"team:nlp"``, or ``None`` for the global namespace."""
    global _namespace
    if namespace is not None and (not isinstance(namespace, str) or not namespace.strip()):
        raise ExecboardError("A namespace is a label such as 'user:anne', or None for global.")
    _namespace = namespace.strip() if namespace is not None else None


def default_namespace() -> str:
    """Go back to your own namespace (``user:<you>``, or your production token's) and return it."""
    global _namespace
    _namespace = _UNSET
    return get_namespace() or ""


def get_namespace() -> str | None:
    """The current namespace; None is global."""
    if _namespace is _UNSET:
        return client().me()["namespace"]
    return _namespace


def in_namespace(labels: Mapping[str, str], namespace: str | None) -> bool:
    """Whether an execution with these labels is visible in ``namespace`` (None: global).
    ``key:value`` needs that label; a bare ``key`` needs the key with any value."""
    if namespace is None:
        return True
    key, colon, value = namespace.partition(":")
    return key in labels and (not colon or labels[key] == value)


def check_namespace(
    execution: Mapping[str, Any],
    namespace: str | None,
    hint: str = "Use execboard.set_namespace(None) for the global namespace.",
) -> None:
    """Raise NamespaceError when the execution is outside ``namespace``."""
    if in_namespace(execution["labels"], namespace):
        return
    labels = execution["labels"]
    own = next((f"{key}:{labels[key]}" for key in NAMESPACE_KEYS if key in labels), None)
    where = f"it is in {own}, not in" if own else "it is not in"
    raise NamespaceError(
        f"Execution {execution['id']} is outside the current namespace: {where} {namespace}. "
        + hint
    )


def get_execution(execution_id: str) -> dict[str, Any]:
    """The execution as JSON, if it is in the current namespace."""
    data = client().get_execution(execution_id)
    check_namespace(data, get_namespace())
    return data


def get_metadata(execution_id: str, name: str | None = None) -> dict[str, Any]:
    """Ray's ``workflow.get_metadata``: the execution's ``status``, ``stats`` (``start_time``,
    ``end_time``), ``user_metadata`` and ``steps``; or, with ``name``, that step's ``name``,
    ``step_options``, ``user_metadata`` and ``stats``."""
    get_execution(execution_id)
    return client().get_metadata(execution_id, name)


# current (Metaflow): where the code runs.


class Current:
    """``execboard.current.execution_id``, ``.project``, ``.domain``, ``.step_name``,
    ``.username``, ``.url``: None outside an execution."""

    @property
    def execution(self) -> Execution | None:
        return _active_execution()

    @property
    def execution_id(self) -> str | None:
        execution = self.execution
        return execution.id if execution else None

    @property
    def project(self) -> str | None:
        execution = self.execution
        return execution.project if execution else None

    @property
    def domain(self) -> str | None:
        execution = self.execution
        return execution.domain if execution else None

    @property
    def url(self) -> str | None:
        execution = self.execution
        return execution.url if execution else None

    @property
    def step_name(self) -> str | None:
        step = _current_step.get()
        return step.name if step else None

    @property
    def username(self) -> str | None:
        execution = self.execution
        return execution.client.me()["username"] if execution else None

    def __bool__(self) -> bool:
        return self.execution is not None

    def __repr__(self) -> str:
        if not self:
            return "<current: no execution>"
        return f"<current: execution {self.execution_id} step {self.step_name}>"


current = Current()
