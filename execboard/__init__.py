"""Execboard's Python client and CLI (HTTP only; importable without Django).

import execboard

with execboard.execution("nlp", "development", workflow="train", labels={"model": "bert"}):
    with execboard.step("load", metadata={"rows": 1000}):
        ...
"""

__version__ = "0.1.0"

from execboard.api import (
    Execution,
    Step,
    current,
    default_namespace,
    execution,
    get_execution,
    get_metadata,
    get_namespace,
    set_namespace,
    step,
)
from execboard.client import Client
from execboard.errors import (
    ApiError,
    ConfigError,
    ExecboardError,
    NamespaceError,
    ServerUnreachable,
)

__all__ = [
    "ApiError",
    "Client",
    "ConfigError",
    "ExecboardError",
    "Execution",
    "NamespaceError",
    "ServerUnreachable",
    "Step",
    "current",
    "default_namespace",
    "execution",
    "get_execution",
    "get_metadata",
    "get_namespace",
    "set_namespace",
    "step",
]
