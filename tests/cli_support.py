"""Helpers for the client and CLI tests: the CLI as a subprocess, and a real server process
for the tests that kill the server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
EXECBOARD = [sys.executable, "-m", "execboard"]


def client_env(url: str, token: str, **extra: str) -> dict[str, str]:
    """The environment a user would have: ours without any EXECBOARD_* leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXECBOARD_")}
    env.update(EXECBOARD_URL=url, EXECBOARD_TOKEN=token, EXECBOARD_RETRY_SECONDS="120")
    env.update(extra)
    return env


@dataclass
class Board:
    """A server URL and an editor's token, with the CLI pointed at them."""

    url: str
    token: str

    def env(self, **extra: str) -> dict[str, str]:
        return client_env(self.url, self.token, **extra)

    def api_error(self, method: str, path: str, token: str | None = None, **kwargs) -> str:
        """The error message the API itself answers, to check that the CLI passes it on."""
        import requests

        headers = {"Authorization": f"Token {token or self.token}"}
        with requests.Session() as session:
            response = session.request(
                method, f"{self.url}/api/v1/{path}", headers=headers, **kwargs
            )
        assert response.status_code >= 400
        return response.json()["error"]["message"]

    def cli(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None, cwd=None
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*EXECBOARD, *args],
            input=input,
            capture_output=True,
            text=True,
            env=env if env is not None else self.env(),
            cwd=cwd,
            timeout=120,
        )


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll until ``predicate()`` holds; a hang becomes a failure naming what never happened."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"Gave up waiting for {what}.")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _accepts_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


class ServerProcess:
    """``manage.py runserver --noreload`` on its own database: an SQLite file, or a PostgreSQL
    database next to the test database when the tests run on PostgreSQL."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.database_url, self._drop = _server_database(workdir)
        env = {k: v for k, v in os.environ.items() if not k.startswith("EXECBOARD_")}
        self.env = {**env, "DATABASE_URL": self.database_url, "DEBUG": "True"}

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self) -> None:
        with open(self.workdir / "server.log", "a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{self.port}"],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(lambda: _accepts_connections(self.port), f"the server on port {self.port}")

    def kill(self) -> None:
        """Die at once, as a crashed server does (no graceful shutdown)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def close(self) -> None:
        self.kill()
        self._drop()


def _server_database(workdir: Path) -> tuple[str, Callable[[], None]]:
    test_url = os.environ.get("DATABASE_URL", "")
    if not test_url.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{workdir / 'server.sqlite3'}", lambda: None

    import psycopg

    parts = urlsplit(test_url)
    name = f"{parts.path.lstrip('/') or 'execboard'}_server"
    maintenance = urlunsplit(parts._replace(path="/postgres"))

    def run(sql: str) -> None:
        with psycopg.connect(maintenance, autocommit=True) as connection:
            connection.execute(sql)

    run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    run(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}")), lambda: run(
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    )
