"""Every API error as `{"error": {"code", "message", "field"}}` with the right status."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from executions.errors import ExecboardError


def error_body(code: str, message: str, field: str | None = None, **extra) -> dict:
    return {"error": {"code": code, "message": message, "field": field, **extra}}


def _first_message(detail) -> tuple[str, str | None]:
    """Flatten DRF's nested validation details into one message and the field it names."""
    if isinstance(detail, dict):
        field, inner = next(iter(detail.items()))
        message, subfield = _first_message(inner)
        name = field if field != "non_field_errors" else None
        if subfield and name:
            name = f"{name}.{subfield}"
        return message, name or subfield
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail), None


# DRF's codes where Execboard's own errors use another word for the same status.
CODE_ALIASES = {"permission_denied": "forbidden"}


def exception_handler(exc, context):
    response = _error_response(exc)
    if response is not None:
        # As DRF's own handler does: roll back an ATOMIC_REQUESTS transaction.
        set_rollback()
    return response


def _error_response(exc) -> Response | None:
    headers = {}
    if isinstance(exc, ExecboardError):
        return Response({"error": exc.as_dict()}, status=exc.status)
    if isinstance(exc, Http404):
        message = str(exc) or "Not found."
        return Response(error_body("not_found", message), status=404)
    if isinstance(exc, PermissionDenied):
        return Response(error_body("forbidden", str(exc) or "Permission denied."), status=403)
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body("too_large", "The request body is too large."), status=413)
    if isinstance(exc, exceptions.ValidationError):
        message, field = _first_message(exc.detail)
        return Response(error_body("invalid", message, field), status=400)
    if isinstance(exc, exceptions.APIException):
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        code = exc.default_code if isinstance(exc.default_code, str) else "error"
        code = CODE_ALIASES.get(code, code)
        message, _ = _first_message(exc.detail)
        return Response(error_body(code, message), status=exc.status_code, headers=headers)
    return None


def json_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)
