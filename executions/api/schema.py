"""OpenAPI post-processing: every operation documents the error shape it can answer with.

Each API error is `{"error": {"code", "message", "field"}}` (executions/api/errors.py); the
statuses below can come from any endpoint (authentication, access, limits, throttling),
so they are added to every operation once instead of being repeated on each view."""

from __future__ import annotations

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string", "nullable": True},
            },
            "required": ["code", "message", "field"],
            "additionalProperties": True,
        }
    },
    "required": ["error"],
}

ERROR_STATUSES = {
    "400": "The request is invalid; the message says why.",
    "401": "No valid API token.",
    "403": "The token's user may read the project but not do this.",
    "404": "No such object, or no role on its project.",
    "405": "The method is not allowed here.",
    "409": "A concurrent change or a state that forbids this change.",
    "411": "A chunked body: send a Content-Length.",
    "413": "The body or a field is larger than allowed.",
    "415": "The body is not JSON.",
    "429": "Too many writes with this token; retry after the Retry-After header.",
}


def add_error_responses(result: dict, generator, request, public) -> dict:
    """drf-spectacular POSTPROCESSING_HOOKS entry."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    reference = {"$ref": "#/components/schemas/Error"}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": reference}},
                    },
                )
    return result
