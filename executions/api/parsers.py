"""The API's JSON parser: DRF's, plus a nesting depth limit.

Python's decoder recurses once per level, so a body of 10,000 `[` would end in a
RecursionError (a 500); deep but smaller nesting would reach the services and the database.
Both are refused with a 400 that says why."""

from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def json_depth_exceeds(value, limit: int) -> bool:
    """Whether arrays and objects in ``value`` nest more than ``limit`` levels (iteratively)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class DepthLimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.EXECBOARD_MAX_JSON_DEPTH
        message = f"The JSON body nests more than {limit} levels deep."
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(message) from exc
        if json_depth_exceeds(data, limit):
            raise ParseError(message)
        return data
