"""I1 and I2: ingestion over HTTP against gunicorn, the way `make serve` runs Execboard.

Executions go into their own project (``bench-ingest``) and are deleted afterwards, so the
measured workload stays the same from run to run. Request bodies are encoded before the
clock starts: the figures are the server's throughput, not the client's JSON encoder's.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.generate import Workload

INGEST_PROJECT = "bench-ingest"
BULK_SIZE = 1000
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Ingestion:
    executions: int
    seconds: float
    requests: int

    @property
    def per_second(self) -> float:
        return self.executions / self.seconds


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(env: dict[str, str], workers: int):
    """A gunicorn serving Execboard on a free loopback port; yields its base URL."""
    port = _free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def _items(count: int, seed: int) -> list[dict]:
    """Workload executions as API create bodies (20 labels each; the server adds `user`)."""
    return [
        {
            "project": INGEST_PROJECT,
            "domain": execution.domain,
            "workflow": execution.workflow,
            "labels": {k: v for k, v in execution.labels.items() if k != "user"},
        }
        for execution in Workload(count, seed)
    ]


def _check(response: requests.Response, expected: int) -> None:
    if response.status_code != expected:
        raise RuntimeError(
            f"{response.request.method} {response.url}: {response.status_code} "
            f"{response.text[:300]}"
        )


def bulk(base: str, token: str, batches: int, seed: int) -> Ingestion:
    """I1: ``batches`` requests of 1,000 executions x 20 labels, one after the other."""
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    items = _items(batches * BULK_SIZE, seed)
    bodies = [
        json.dumps({"executions": items[i : i + BULK_SIZE]})
        for i in range(0, len(items), BULK_SIZE)
    ]
    session = requests.Session()
    started = time.perf_counter()
    for body in bodies:
        _check(session.post(f"{base}/api/v1/executions/bulk/", data=body, headers=headers), 201)
    return Ingestion(len(items), time.perf_counter() - started, len(bodies))


def lifecycle(base: str, token: str, count: int, clients: int, seed: int) -> Ingestion:
    """I2: ``count`` executions each created, then RUNNING, then SUCCEEDED, by ``clients``
    concurrent clients (a workflow engine reporting several runs at once)."""
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    bodies = [json.dumps(item) for item in _items(count, seed)]
    running = json.dumps({"phase": "RUNNING"})
    succeeded = json.dumps({"phase": "SUCCEEDED"})

    local = threading.local()

    def one(body: str) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        response = session.post(f"{base}/api/v1/executions/", data=body, headers=headers)
        _check(response, 201)
        events = f"{base}/api/v1/executions/{response.json()['id']}/events/"
        _check(session.post(events, data=running, headers=headers), 201)
        _check(session.post(events, data=succeeded, headers=headers), 201)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, bodies))
    return Ingestion(count, time.perf_counter() - started, 3 * count)
