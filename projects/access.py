"""Who may do what on a project: one place, used by pages, htmx partials and the API.

Roles rank viewer < editor < admin; superusers are admins everywhere; inactive users have
no role. A user with no role on a project is told it does not exist (404), so that its
existence does not leak; a user who may read but not write is refused (403).
``EXECBOARD_PUBLIC_READ`` lets everyone read every project and changes nothing else. An API
token limited to some projects (``ApiToken.projects``) sees the others as missing."""

from __future__ import annotations

import functools

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404

from projects.models import ROLE_RANK, ApiToken, Membership, Project, Role


def role_of(user, project: Project) -> str | None:
    """The user's role on the project (superusers are admins everywhere)."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMIN
    cache = getattr(user, "_execboard_roles", None)
    if cache is None:
        cache = user._execboard_roles = {}
    if project.pk not in cache:
        # At most one row (unique per user and project): no ORDER BY to build and sort.
        roles = Membership.objects.filter(user=user, project=project).values_list("role", flat=True)
        cache[project.pk] = next(iter(roles), None)
    return cache[project.pk]


def has_role(user, project: Project, role: str) -> bool:
    actual = role_of(user, project)
    return actual is not None and ROLE_RANK[actual] >= ROLE_RANK[role]


def can_read(user, project: Project, token: ApiToken | None = None) -> bool:
    if token is not None and not token_allows(token, project):
        return False
    return settings.EXECBOARD_PUBLIC_READ or role_of(user, project) is not None


def can_edit(user, project: Project, token: ApiToken | None = None) -> bool:
    if token is not None and not token_allows(token, project):
        return False
    return has_role(user, project, Role.EDITOR)


def token_allows(token: ApiToken, project: Project) -> bool:
    """A token limited to some projects works for those only."""
    scoped = scoped_project_ids(token)
    return not scoped or project.pk in scoped


def scoped_project_ids(token: ApiToken) -> frozenset[int]:
    """The projects the token is limited to (empty: all of the user's). Read once per
    request (the token is fetched per request), not once per check; and not at all when
    the token was fetched with ``has_projects`` (see ``with_scope``) and has none, which is
    the common case."""
    scoped = getattr(token, "_scoped_project_ids", None)
    if scoped is None:
        if getattr(token, "has_projects", True):
            scoped = frozenset(token.projects.values_list("pk", flat=True))
        else:
            scoped = frozenset()
        token._scoped_project_ids = scoped
    return scoped


def with_scope(tokens: QuerySet[ApiToken]) -> QuerySet[ApiToken]:
    """Tokens annotated with whether they are limited to some projects, so that checking an
    unlimited token's scope needs no query of its own."""
    return tokens.annotate(has_projects=_has_projects())


@functools.cache
def _has_projects() -> Exists:
    """Built once: each query that uses it resolves its own copy."""
    return Exists(ApiToken.projects.through.objects.filter(apitoken=OuterRef("pk")))


def readable_projects(user, token: ApiToken | None = None) -> QuerySet[Project]:
    """Every project the user (through this token, if any) may read, for lists and counts."""
    projects = Project.objects.visible_to(user)
    if token is not None:
        scoped = scoped_project_ids(token)
        if scoped:
            projects = projects.filter(pk__in=scoped)
    return projects


def check_access(
    user, project: Project, role: str = Role.VIEWER, token: ApiToken | None = None
) -> None:
    """Raise 404 when the user may not see the project, 403 when they may see but not act."""
    if not can_read(user, project, token):
        raise Http404("No such project.")
    if role != Role.VIEWER and not (
        has_role(user, project, role) and (token is None or token_allows(token, project))
    ):
        raise PermissionDenied(f"This needs the {role} role on project {project.slug}.")


def project_for(
    user,
    slug: str,
    role: str = Role.VIEWER,
    token: ApiToken | None = None,
    projects: QuerySet[Project] | None = None,
) -> Project:
    """The project named ``slug`` (from ``projects``, default all) if the user may act on it
    in ``role``; 404 when it may not read it."""
    try:
        project = (Project.objects.all() if projects is None else projects).get(slug=slug)
    except Project.DoesNotExist:
        raise Http404("No such project.") from None
    check_access(user, project, role, token)
    return project
