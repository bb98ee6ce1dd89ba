"""Every endpoint of the URLconf, found at test time, with its path parameters filled in
from fixtures by name, so that security tests cover endpoints added later by themselves."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, reverse

# URL prefixes outside Execboard's own access model, and why.
EXCLUDED_PREFIXES = {
    "admin/": "the Django admin: staff only, with Django's own permissions",
    "accounts/": "sign-in and sign-out pages: public by design (CSRF tested separately)",
    "static/": "static files",
    "__debug__/": "debug toolbar",
}

API_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
PAGE_METHODS = ("GET", "POST")


@dataclass(frozen=True)
class Endpoint:
    name: str  # namespaced URL name, e.g. "executions:detail" or "api-execution-events"
    route: str  # the route as written, for messages
    params: tuple[str, ...]

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")

    @property
    def methods(self) -> tuple[str, ...]:
        return API_METHODS if self.is_api else PAGE_METHODS

    def url(self, values: Mapping[str, object]) -> str:
        missing = [p for p in self.params if p not in values]
        if missing:
            raise AssertionError(
                f"{self.name} ({self.route}) has path parameter(s) {missing} that the security "
                "tests do not know how to fill; add them to PATH_VALUES in "
                "tests/test_security_matrix.py so the new endpoint is tested, not skipped."
            )
        return reverse(self.name, kwargs={p: values[p] for p in self.params})

    def __str__(self) -> str:
        return self.name


def _route_text(pattern) -> str:
    return str(pattern.pattern).lstrip("^").removesuffix("\\Z").removesuffix("$")


def _walk(patterns, prefix: str, namespace: str) -> Iterator[tuple[str, str, URLPattern]]:
    for entry in patterns:
        route = prefix + _route_text(entry)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, route, inner)
        else:
            yield route, namespace, entry


def endpoints() -> list[Endpoint]:
    """Every URL pattern outside EXCLUDED_PREFIXES. A pattern without a name cannot be
    reversed with its parameters, so it is an error rather than a silent gap."""
    found = []
    for route, namespace, pattern in _walk(get_resolver().url_patterns, "", ""):
        if any(route.startswith(prefix) for prefix in EXCLUDED_PREFIXES):
            continue
        if not pattern.name:
            raise AssertionError(f"The URL pattern {route!r} has no name; name it.")
        params = tuple(pattern.pattern.regex.groupindex)
        found.append(Endpoint(f"{namespace}{pattern.name}", route, params))
    return sorted(found, key=lambda e: e.name)
