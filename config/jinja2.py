"""The Jinja2 environment of Django's Jinja2 backend (``TEMPLATES`` in settings).

Jinja2 renders the list page's hot fragments (its rows, table head and groups: about 1,000
label chips a page), which it compiles to Python; BENCHMARKS.md has the numbers against the
Django template language. These are the few helpers those templates use."""

from __future__ import annotations

from datetime import datetime

from django.utils.dateformat import format as format_date
from django.utils.timezone import template_localtime
from jinja2 import Environment

from execboard.fields import format_duration


def _local(moment: datetime | None, pattern: str) -> str:
    """A time in the current time zone, in Django's ``date`` filter's format."""
    return "" if moment is None else format_date(template_localtime(moment), pattern)


def _plural(n: int, suffix: str = "s") -> str:
    return "" if n == 1 else suffix


def environment(**options) -> Environment:
    env = Environment(**options)
    env.filters.update(duration=format_duration, local=_local, plural=_plural)
    return env
