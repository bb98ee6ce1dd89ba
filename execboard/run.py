"""``execboard run``: any command as an execution.

Create the execution, report RUNNING, run the command with stdin, stdout and stderr passed
through, then report SUCCEEDED, FAILED (exit code and the last lines of stderr) or ABORTED
(Ctrl-C, SIGTERM, SIGHUP), and exit with the command's status. The server may go away while the
command runs: the command is not disturbed, and the events are delivered at the end, retried
with backoff under fixed ``event_id``s, so that the server records each of them exactly once.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Any, BinaryIO

from execboard.client import Client, new_event_id, now_iso, with_retry
from execboard.config import EXECUTION_ID_VAR, EXECUTION_URL_VAR, TOKEN_VAR, URL_VAR
from execboard.errors import ApiError, ExecboardError
from execboard.parsing import json_object, parse_labels, text_or_file

# As `docker run`: 125 when execboard fails before the command ran, 126 when the command
# cannot be executed, 127 when it is not found; otherwise the command's own status.
ERROR_STATUS = 125
CANNOT_EXECUTE = 126
NOT_FOUND = 127
STDERR_TAIL_LINES = 20
STDERR_TAIL_BYTES = 8192
# How long the stderr pump may outlive the command (a background child can keep the pipe open).
STDERR_DRAIN_SECONDS = 5.0
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a command as an execution",
        description="Run COMMAND and report it as an execution: RUNNING, then SUCCEEDED, FAILED "
        "or ABORTED. Exits with the command's status (125 if execboard fails before it runs).",
    )
    parser.add_argument("-p", "--project", required=True)
    parser.add_argument("-d", "--domain", required=True)
    parser.add_argument(
        "-l", "--label", action="append", default=[], metavar="KEY:VALUE", help="repeatable"
    )
    parser.add_argument("--name", help="display name (the label name:NAME)")
    parser.add_argument("--workflow", help="what ran (default: the command line)")
    parser.add_argument("--description", metavar="TEXT|FILE.md", help="Markdown text or file")
    parser.add_argument("--metadata", metavar="JSON", help="user metadata, a JSON object")
    parser.add_argument("--parent", metavar="EXEC", help="the parent execution's id")
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARGS…]")
    parser.set_defaults(handler=run_command, error_status=ERROR_STATUS)


def run_command(client: Client, args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise ExecboardError("Nothing to run: execboard run -p PROJECT -d DOMAIN -- COMMAND …")
    labels = parse_labels(args.label)
    if args.name:
        labels["name"] = args.name
    execution = client.create_execution(
        project=args.project,
        domain=args.domain,
        workflow=args.workflow or default_workflow(command),
        labels=labels,
        description=text_or_file(args.description) if args.description else "",
        user_metadata=json_object(args.metadata, "--metadata") if args.metadata else None,
        inputs={"command": command},
        parent=args.parent,
    )
    return Runner(client, execution, command).run()


def default_workflow(command: list[str]) -> str:
    """The command line on one line (whitespace collapsed), as long as a workflow name may be."""
    return " ".join(shlex.join(command).split())[:255]


@dataclass(frozen=True)
class Outcome:
    status: int
    phase: str
    message: str


class Runner:
    def __init__(self, client: Client, execution: dict[str, Any], command: list[str]) -> None:
        self.client = client
        self.execution = execution
        self.command = command

    def say(self, text: str) -> None:
        print(f"execboard: {text}", file=sys.stderr, flush=True)

    def run(self) -> int:
        self.say(f"execution {self.execution['id']}: {self.execution['url']}")
        running = _event("RUNNING")
        running_sent = self._send_once(running)
        outcome = self._run_command()
        final = _event(outcome.phase, outcome.message)
        self._deliver(([] if running_sent else [running]) + [final])
        self.say(
            f"execution {self.execution['id']} {outcome.phase} "
            f"(exit status {outcome.status}): {self.execution['url']}"
        )
        return outcome.status

    def _send_once(self, event: dict[str, str]) -> bool:
        try:
            self.client.post_event(self.execution["id"], **event)
        except ExecboardError as error:
            self.say(f"could not report {event['phase']} ({error}); running the command anyway.")
            return False
        return True

    def _deliver(self, events: list[dict[str, str]]) -> None:
        """Send the events in order, each retried while the server is unreachable; the same
        ``event_id`` on every attempt makes a retry of an event that did arrive harmless."""

        def waiting(error: Exception, seconds: float) -> None:
            self.say(f"{error} Retrying in {seconds:.0f}s (Ctrl-C to give up).")

        for event in events:
            try:
                with_retry(
                    lambda event=event: self.client.post_event(self.execution["id"], **event),
                    retry_for=self.client.config.retry_seconds,
                    on_retry=waiting,
                )
            except ApiError as error:
                self.say(f"could not report {event['phase']}: {error}")
            except ExecboardError as error:
                self.say(f"gave up reporting {event['phase']}: {error}")
                return
            except KeyboardInterrupt:
                self.say(f"gave up reporting {event['phase']}.")
                return

    def _run_command(self) -> Outcome:
        env = {
            **os.environ,
            URL_VAR: self.client.config.url,
            TOKEN_VAR: self.client.config.token,
            EXECUTION_ID_VAR: self.execution["id"],
            EXECUTION_URL_VAR: self.execution["url"],
        }
        received: list[int] = []
        process: subprocess.Popen | None = None

        def on_signal(signum: int, frame: Any) -> None:
            received.append(signum)
            # Ctrl-C reaches the whole foreground process group, the command included;
            # a SIGTERM or SIGHUP sent to execboard alone is passed on.
            if process is not None and signum != signal.SIGINT:
                process.send_signal(signum)

        previous = {sig: signal.signal(sig, on_signal) for sig in FORWARDED_SIGNALS}
        try:
            try:
                process = subprocess.Popen(self.command, env=env, stderr=subprocess.PIPE)
            except FileNotFoundError:
                self.say(f"command not found: {self.command[0]}")
                return Outcome(NOT_FOUND, "FAILED", f"Command not found: {self.command[0]}")
            except OSError as exc:
                self.say(f"cannot run {self.command[0]}: {exc.strerror}")
                return Outcome(
                    CANNOT_EXECUTE, "FAILED", f"Cannot run {self.command[0]}: {exc.strerror}"
                )
            pump = StderrPump(process.stderr, sys.stderr.buffer)
            pump.start()
            returncode = process.wait()
            pump.join(STDERR_DRAIN_SECONDS)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return _outcome(returncode, received, pump.tail())


def _event(phase: str, message: str = "") -> dict[str, str]:
    """An event stamped now, with its idempotency key fixed before the first attempt."""
    return {
        "phase": phase,
        "message": message,
        "occurred_at": now_iso(),
        "event_id": new_event_id(),
    }


def _outcome(returncode: int, signals_received: list[int], stderr_tail: str) -> Outcome:
    # A command killed by signal N exits as a shell reports it: 128 + N.
    status = returncode if returncode >= 0 else 128 - returncode
    if signals_received:
        name = signal.Signals(signals_received[0]).name
        return Outcome(status, "ABORTED", f"Aborted by {name} (exit status {status}).")
    if returncode == 0:
        return Outcome(status, "SUCCEEDED", "")
    if returncode < 0:
        reason = f"Killed by {signal.Signals(-returncode).name} (exit status {status})."
    else:
        reason = f"Exit code {returncode}."
    return Outcome(status, "FAILED", f"{reason}\n{stderr_tail}" if stderr_tail else reason)


class StderrPump(threading.Thread):
    """Copies the command's stderr to ours as it comes, keeping its last lines for the error."""

    def __init__(self, source: BinaryIO, sink: BinaryIO) -> None:
        super().__init__(daemon=True)
        self.source = source
        self.sink = sink
        self.buffer = b""

    def run(self) -> None:
        fd = self.source.fileno()
        while chunk := os.read(fd, 65536):
            try:
                self.sink.write(chunk)
                self.sink.flush()
            except OSError:
                pass  # our stderr is gone; keep reading so that the command never blocks
            self.buffer = (self.buffer + chunk)[-STDERR_TAIL_BYTES:]

    def tail(self) -> str:
        lines = self.buffer.decode("utf-8", errors="replace").rstrip().splitlines()
        return "\n".join(lines[-STDERR_TAIL_LINES:])
