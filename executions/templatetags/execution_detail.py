"""Filters for the execution page: durations, Markdown and collapsible JSON."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from execboard.fields import format_duration
from executions.markdown import render_markdown

register = template.Library()

# Deeper than this, a JSON value is shown as compact text instead of nested folds.
MAX_TREE_DEPTH = 12
OPEN_DEPTH = 2


@register.filter
def duration(seconds: float | None) -> str:
    """The list's duration text; ``—`` where there is none."""
    return format_duration(seconds) or "—"


@register.filter
def markdown(text: str) -> SafeString:
    return render_markdown(text)


def _scalar(value: Any) -> SafeString:
    if isinstance(value, str):
        return format_html('<span class="j-str">"{}"</span>', value)
    if isinstance(value, bool) or value is None:
        return format_html('<span class="j-lit">{}</span>', json.dumps(value))
    return format_html('<span class="j-num">{}</span>', json.dumps(value))


def _tree(value: Any, depth: int) -> SafeString:
    if not isinstance(value, dict | list):
        return _scalar(value)
    if not value:
        return format_html(
            '<span class="j-lit">{}</span>', "{}" if isinstance(value, dict) else "[]"
        )
    if depth >= MAX_TREE_DEPTH:
        return format_html('<code class="j-deep">{}</code>', json.dumps(value))
    pairs = value.items() if isinstance(value, dict) else enumerate(value)
    key_class = "j-key" if isinstance(value, dict) else "j-index"
    items = format_html_join(
        "",
        '<li><span class="{}">{}</span>: {}</li>',
        ((key_class, key, _tree(item, depth + 1)) for key, item in pairs),
    )
    noun = ("key" if isinstance(value, dict) else "item") + ("" if len(value) == 1 else "s")
    brackets = "{…}" if isinstance(value, dict) else "[…]"
    return format_html(
        '<details class="j-node"{}><summary>{} <span class="muted">{} {}</span></summary>'
        '<ul class="j-items">{}</ul></details>',
        " open" if depth < OPEN_DEPTH else "",
        brackets,
        len(value),
        noun,
        items,
    )


@register.filter
def json_tree(value: Any) -> SafeString:
    """A JSON value as nested, foldable lists (open two levels deep). The outermost object
    is listed without a fold of its own: the page puts it in a foldable card already."""
    if isinstance(value, dict) and value:
        items = format_html_join(
            "",
            '<li><span class="j-key">{}</span>: {}</li>',
            ((key, _tree(item, 1)) for key, item in value.items()),
        )
        return format_html('<ul class="j-items j-root">{}</ul>', items)
    return _tree(value, 0)
