"""Per-token rate limit on API writes: 429 with Retry-After once a token goes over.

A fixed window counter in the cache (one `incr` per write) rather than DRF's sliding
history, whose cost grows with the rate. Reads are never throttled. The rate is the setting
`EXECBOARD_WRITE_RATE` (`"<n>/<second|minute|hour|day>"`, empty: off), set well above what
an event stream sends so that no event below it is ever refused."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.throttling import BaseThrottle

from executions.api.access import request_token

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def parse_rate(rate: str) -> tuple[int, int] | None:
    """``"600/minute"`` → ``(600, 60)``; an empty rate → None (no limit)."""
    if not rate:
        return None
    try:
        count, period = rate.split("/")
        return int(count), PERIODS[period.strip()[:1]]
    except (ValueError, KeyError) as exc:
        raise ImproperlyConfigured(
            f"EXECBOARD_WRITE_RATE must look like '600/minute', got {rate!r}."
        ) from exc


class WriteRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self.wait_seconds: float | None = None

    def allow_request(self, request, view) -> bool:
        rate = parse_rate(settings.EXECBOARD_WRITE_RATE)
        if rate is None or request.method in SAFE_METHODS:
            return True
        limit, period = rate
        now = time.time()
        window = int(now // period)
        key = f"execboard:writes:{self._ident(request)}:{window}"
        # add() is a no-op when the key exists, so the first write of a window creates it.
        cache.add(key, 0, timeout=period + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, timeout=period + 1)
            count = 1
        if count > limit:
            self.wait_seconds = (window + 1) * period - now
            return False
        return True

    def _ident(self, request) -> str:
        token = request_token(request)
        if token is not None:
            return f"token:{token.key_hash[:16]}"
        if request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return f"ip:{self.get_ident(request)}"

    def wait(self) -> float | None:
        return self.wait_seconds
