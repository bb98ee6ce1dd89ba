"""Turning command-line text into API values: labels, Markdown text or files, JSON objects."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from execboard.errors import ExecboardError

TEXT_FILE_SUFFIXES = (".md", ".markdown", ".txt")
# A label value that needs no quotes in a query expression (SPEC §3).
BARE_VALUE_RE = re.compile(r"[A-Za-z0-9._/@+-]+\Z")


def parse_label(text: str) -> tuple[str, str]:
    """``"k:v"`` → ``("k", "v")``, split at the first ``:``; a bare ``"k"`` is a plain tag."""
    key, _, value = text.partition(":")
    if not key.strip():
        raise ExecboardError(f"Invalid label {text!r}: expected key:value or key.")
    return key.strip(), value


def parse_labels(texts: Iterable[str]) -> dict[str, str]:
    return dict(parse_label(text) for text in texts)


def text_or_file(value: str) -> str:
    """``-`` reads standard input; a path to a file reads the file (UTF-8); anything else is
    the text itself. A name that looks like a Markdown file but does not exist is an error,
    not a one-line description."""
    if value == "-":
        return sys.stdin.read()
    path = Path(value)
    if path.is_file():
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ExecboardError(f"Cannot read {value}: {exc}") from exc
    if "\n" not in value and value.lower().endswith(TEXT_FILE_SUFFIXES):
        raise ExecboardError(f"No such file: {value}")
    return value


def json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ExecboardError(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ExecboardError(f"{what} must be a JSON object, like '{{\"lr\": 0.1}}'.")
    return value


def label_term(key: str, value: str) -> str:
    """One label as a query term: ``key:value``, quoted when needed; a tag is just ``key``."""
    if value == "":
        return key
    if BARE_VALUE_RE.match(value):
        return f"{key}:{value}"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{key}:"{escaped}"'


def labels_expression(
    labels: Iterable[tuple[str, str]], expression: str | None = None
) -> str | None:
    """``--filter.labels`` pairs AND-ed together and with ``--q``."""
    terms = [label_term(key, value) for key, value in labels]
    if expression:
        terms.insert(0, f"({expression})" if terms else expression)
    return " and ".join(terms) or None
