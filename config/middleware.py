"""API middleware: refuse oversized bodies before anything parses them, and answer every
API error in the JSON error shape, even those raised before a DRF view runs."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponseBadRequest

from executions.api.errors import json_error


class ApiBodySizeLimitMiddleware:
    """The Content-Length is checked against EXECBOARD_MAX_BODY_BYTES before DRF reads a
    byte. A chunked body has no length to check, and Django would read it as empty, so the
    API asks for a length instead (411) rather than act on a body it never saw."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
                return json_error(
                    411,
                    "length_required",
                    "Chunked request bodies are not accepted; send a Content-Length header.",
                )
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return json_error(400, "invalid", "Invalid Content-Length header.")
            if length < 0:
                return json_error(400, "invalid", "Invalid Content-Length header.")
            if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
                return json_error(
                    413,
                    "too_large",
                    f"The request body is {length:,} bytes; at most "
                    f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} are accepted.",
                )
        return self.get_response(request)


class ApiNotFoundMiddleware:
    """A URL under /api/ that matches no endpoint gets the JSON error shape, not Django's
    HTML 404 page (DRF views format their own errors through the exception handler)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 404
            and request.path.startswith("/api/")
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return json_error(404, "not_found", f"No API endpoint at {request.path}.")
        return response


class RejectNulMiddleware:
    """A NUL character in the path or the query string is refused with a 400 before any
    view runs: PostgreSQL cannot compare text with it, so a lookup would fail with a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "%00" in query or "\x00" in query:
            message = "The URL contains a NUL character (%00)."
            if request.path.startswith("/api/"):
                return json_error(400, "invalid", message)
            return HttpResponseBadRequest(message, content_type="text/plain")
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Send EXECBOARD_CSP with every HTML response: even if user text ever slipped past
    escaping and sanitising, the browser would run no inline or foreign script."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = settings.EXECBOARD_CSP
        if policy and response.get("Content-Type", "").startswith("text/html"):
            response.headers.setdefault("Content-Security-Policy", policy)
        return response
