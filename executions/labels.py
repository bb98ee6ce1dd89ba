"""Label syntax (SPEC §2): parsing `key:value`, validation, and merging project defaults.

Keys follow the Kubernetes label key rules: an optional DNS-subdomain prefix and `/`, then a
name of at most 63 characters. Values are any printable text up to 256 characters."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping

from django.conf import settings

from executions.errors import ExecboardError

KEY_NAME_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?\Z")
DNS_LABEL_RE = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?\Z")
MAX_NAME_LENGTH = 63
MAX_PREFIX_LENGTH = 253
MAX_VALUE_LENGTH = 256
# Control, format, surrogate, private-use, unassigned, line and paragraph separators: none is
# printable. The zero-width joiners are format characters that emoji sequences and several
# scripts need, so they are allowed.
UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
ALLOWED_FORMAT_CHARS = frozenset({"\u200c", "\u200d"})

# System labels that scope what people see (Metaflow's namespaces); only Execboard sets them.
NAMESPACE_KEYS = frozenset({"user", "production"})


class LabelError(ExecboardError):
    code = "invalid_label"
    status = 400

    def __init__(self, message: str, field: str = "labels") -> None:
        super().__init__(message, field=field)


def validate_key(key: str) -> str:
    if not isinstance(key, str) or key == "":
        raise LabelError("A label key cannot be empty.")
    prefix, slash, name = key.rpartition("/")
    if slash and (
        not prefix
        or len(prefix) > MAX_PREFIX_LENGTH
        or not all(DNS_LABEL_RE.match(part) for part in prefix.split("."))
    ):
        raise LabelError(
            f"Label key {key!r}: the prefix before '/' must be a DNS subdomain "
            f"(lowercase letters, digits, '-' and '.', at most {MAX_PREFIX_LENGTH} characters)."
        )
    if len(name) > MAX_NAME_LENGTH:
        raise LabelError(
            f"Label key {key!r}: the name is {len(name)} characters long, "
            f"at most {MAX_NAME_LENGTH} are allowed."
        )
    if not KEY_NAME_RE.match(name):
        raise LabelError(
            f"Label key {key!r}: a key name starts and ends with a letter or digit and "
            "contains only letters, digits, '-', '_' and '.'."
        )
    return key


def validate_value(key: str, value: str) -> str:
    if not isinstance(value, str):
        raise LabelError(f"Label {key!r}: the value must be a string.")
    if len(value) > MAX_VALUE_LENGTH:
        raise LabelError(
            f"Label {key!r}: the value is {len(value)} characters long, "
            f"at most {MAX_VALUE_LENGTH} are allowed."
        )
    if value.isascii() and value.isprintable():
        return value  # the common case: no ASCII character outside Cc is unprintable
    for char in value:
        if (
            unicodedata.category(char) in UNPRINTABLE_CATEGORIES
            and char not in ALLOWED_FORMAT_CHARS
        ):
            raise LabelError(
                f"Label {key!r}: the value contains the control or unprintable character "
                f"U+{ord(char):04X}."
            )
    return value


def validate_user_key(key: str) -> str:
    """A key a client may set: valid, and not one of the reserved namespace keys."""
    validate_key(key)
    if key in NAMESPACE_KEYS:
        raise LabelError(
            f"The label key {key!r} is reserved for namespaces and set by Execboard itself."
        )
    return key


def parse_label(text: str) -> tuple[str, str]:
    """`key:value` split at the first colon; a bare `key` is a tag with an empty value."""
    if not isinstance(text, str):
        raise LabelError("A label is written as key:value.")
    key, _, value = text.partition(":")
    key = validate_key(key.strip())
    return key, validate_value(key, value)


def validate_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """Labels a client sets: valid keys other than the namespace keys; a null value is a tag."""
    if not isinstance(labels, Mapping):
        raise LabelError("Labels must be an object of key to value.")
    checked: dict[str, str] = {}
    for key, value in labels.items():
        _valid_user_key(key)
        checked[key] = validate_value(key, "" if value is None else value)
    return checked


@functools.lru_cache(maxsize=4096)
def _valid_user_key(key: str) -> str:
    """``validate_user_key``, remembered: a bulk request repeats the same few keys in each of
    its 1,000 executions. Only keys that passed are remembered (a refusal raises)."""
    return validate_user_key(key)


def check_count(labels: Iterable[str]) -> None:
    """At most EXECBOARD_MAX_LABELS labels, project defaults included, namespaces excluded."""
    count = sum(1 for key in labels if key not in NAMESPACE_KEYS)
    limit = settings.EXECBOARD_MAX_LABELS
    if count > limit:
        raise LabelError(
            f"An execution can have at most {limit} labels (project defaults included); "
            f"this one would have {count}."
        )


def effective_labels(defaults: Mapping[str, str], launch: Mapping[str, str]) -> dict[str, str]:
    """Project defaults overridden key by key by the labels given at launch."""
    merged = dict(defaults)
    merged.update(launch)
    return merged


def format_label(key: str, value: str) -> str:
    return f"{key}:{value}" if value else key
