"""Refuse oversized API bodies before anything parses them."""

from __future__ import annotations

from django.conf import settings

from executions.api.errors import json_error


class ApiBodySizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return json_error(400, "invalid", "Invalid Content-Length header.")
            if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
                return json_error(
                    413,
                    "too_large",
                    f"The request body is {length:,} bytes; at most "
                    f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} are accepted.",
                )
        return self.get_response(request)
