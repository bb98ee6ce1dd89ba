"""Role, endpoint and HTTP verb, for every endpoint of the URLconf (walked at test time, so
endpoints added later are covered without touching this file).

Roles: anonymous, a member of project B only, viewer, editor and admin of project A, a
superuser; and, with ``EXECBOARD_PUBLIC_READ``, anonymous and the B member again. Each cell
asserts the status the access model promises (SPEC §7, projects/access.py):

* enough role → the request gets past access control (no 401/403/404/405, no 5xx);
* a role on A, but not enough → 403;
* no role on A → 404, so that A's existence does not leak (anonymous: 401 from the API when
  it writes, or the sign-in redirect from a page);
* a verb an endpoint does not support → 405 for everyone;

and on every refusal that nothing changed in the database. Responses to a caller who may
not read A never contain A's data. Allowed writes run in a savepoint that is rolled back,
so every cell starts from the same data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from django.db import transaction
from django.test import Client
from rest_framework.test import APIClient

from executions import releases
from executions.events import record_event
from executions.models import Execution, SavedView
from executions.services import step_create
from projects.models import ApiToken, Role
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, make_execution
from tests.snapshots import database_snapshot
from tests.urlwalk import Endpoint, endpoints

pytestmark = pytest.mark.django_db

# Text that only project A's data contains; a response to someone who may not read A
# must never include it.
SECRET = "zq-secret-of-alpha"

ROLE_RANK = {None: 0, Role.VIEWER: 1, Role.EDITOR: 2, Role.ADMIN: 3}

# Where the required role is not the default (GET: viewer; other verbs: editor).
REQUIRED_ROLE = {
    # Forms and confirmations shown only to those who may submit them.
    ("executions:release-stage", "GET"): Role.EDITOR,
    ("executions:description-edit", "GET"): Role.EDITOR,
    ("executions:labels", "GET"): Role.EDITOR,
    # Curating a project's defaults is for its admins.
    ("api-project-default-labels", "PUT"): Role.ADMIN,
}

# Bodies that reach the access check of endpoints whose project is named in the body, and
# plausible bodies for the others (an allowed caller may still get a 400: access passed).
API_BODIES = {
    ("api-execution-list", "POST"): lambda d: {
        "project": d.alpha.slug,
        "domain": "development",
        "workflow": "w",
    },
    ("api-execution-bulk-labels", "POST"): lambda d: {
        "ids": [d.execution.pk],
        "add": {"reviewed": "yes"},
    },
    ("api-execution-bulk", "POST"): lambda d: {
        "executions": [{"project": d.alpha.slug, "domain": "development", "workflow": "w"}]
    },
    ("api-execution-detail", "PATCH"): lambda d: {
        "description": "changed",
        "description_version": d.execution.description_version,
    },
    ("api-execution-events", "POST"): lambda d: {"phase": "RUNNING", "event_id": "m-1"},
    ("api-execution-steps", "POST"): lambda d: {"name": "train"},
    ("api-execution-step", "PATCH"): lambda d: {"user_metadata": {"rows": 1}},
    ("api-execution-labels", "PUT"): lambda d: {"labels": {"reviewed": "yes"}},
    ("api-execution-labels", "POST"): lambda d: {"labels": {"reviewed": "yes"}},
    ("api-release-list", "POST"): lambda d: {
        "execution": d.execution.pk,
        "artifact": "nn",
        "version": "v2.0.0",
    },
    ("api-release-stages", "POST"): lambda d: {"stage": "staging"},
    ("api-project-default-labels", "PUT"): lambda d: {"default_labels": {"team": "core"}},
}
PAGE_BODIES = {
    ("executions:execution-release", "POST"): lambda d: {"artifact": "nn", "version": "v2.0.0"},
    ("executions:release-stage", "POST"): lambda d: {"stage": "staging"},
}

# Query parameters that name project A for endpoints without path parameters. Any other
# endpoint without path parameters is a listing: everyone may call it, and it lists only
# what the caller may read (checked by the SECRET rule).
QUERY_PARAMS = {
    "api-label-suggestions": lambda d: {"project": d.alpha.slug},
}


ANONYMOUS, OUTSIDER, VIEWER, EDITOR, ADMIN, SUPERUSER = (
    "anonymous",
    "member of B only",
    "viewer of A",
    "editor of A",
    "admin of A",
    "superuser",
)
ROLE_ON_A = {VIEWER: Role.VIEWER, EDITOR: Role.EDITOR, ADMIN: Role.ADMIN, SUPERUSER: Role.ADMIN}


@dataclass
class World:
    alpha: object
    beta: object
    execution: Execution
    beta_execution: Execution
    release: object
    saved_view: SavedView
    users: dict
    clients: dict
    baseline: dict | None = None

    def path_values(self) -> dict:
        """Path parameters by name; an endpoint with a parameter not here fails loudly."""
        return {
            "slug": self.alpha.slug,
            "execution_id": self.execution.pk,
            "key": "team",
            "name": "load",
            "artifact": "nn",
            "version": "v1.0.0",
            "stage": "prod",
            "release_id": self.release.pk,
            "view_id": self.saved_view.pk,
            "fmt": "csv",
        }


@pytest.fixture
def world() -> World:
    alpha = ProjectFactory(slug="alpha", name=f"Alpha {SECRET}", description=SECRET)
    beta = ProjectFactory(slug="beta", name="Beta")
    alpha.default_labels.create(key="owner", value=SECRET)
    execution = make_execution(
        alpha,
        labels={"team": SECRET, "experiment": "exp"},
        description=f"# {SECRET}",
        user_metadata={"note": SECRET},
        inputs={"lr": SECRET},
    )
    step_create(execution_id=execution.pk, name="load", user_metadata={"s": SECRET})
    record_event(execution_id=execution.pk, phase="RUNNING", event_id="r")
    record_event(execution_id=execution.pk, phase="SUCCEEDED", event_id="s", message=SECRET)
    execution.refresh_from_db()
    release = releases.release_create(
        project=alpha,
        execution=execution,
        by="anne",
        artifact="nn",
        version="v1.0.0",
        note=SECRET,
        stage="prod",
    )
    saved_view = SavedView.objects.create(
        project=alpha, name=SECRET, query_string=f"q=team:{SECRET}", created_by="anne"
    )
    beta_execution = make_execution(beta, labels={"team": "beta"})

    users = {
        OUTSIDER: UserFactory(username="outsider"),
        VIEWER: UserFactory(username="viewer"),
        EDITOR: UserFactory(username="editor"),
        ADMIN: UserFactory(username="admin"),
        SUPERUSER: UserFactory(username="root", is_superuser=True, is_staff=True),
    }
    MembershipFactory(user=users[OUTSIDER], project=beta, role=Role.ADMIN)
    for name in (VIEWER, EDITOR, ADMIN):
        MembershipFactory(user=users[name], project=alpha, role=ROLE_ON_A[name])
    tokens = {name: ApiToken.issue(user=user, name="m")[1] for name, user in users.items()}
    clients = make_clients(users, tokens)
    return World(alpha, beta, execution, beta_execution, release, saved_view, users, clients)


def make_clients(users: dict, tokens: dict) -> dict:
    """Per role, an API client carrying a token (as scripts do) and a browser with a session.
    Made once, outside the savepoints that allowed calls roll back (which would take the
    session rows with them)."""
    clients = {}
    for role in (ANONYMOUS, *users):
        api, browser = APIClient(), Client()
        if role != ANONYMOUS:
            api.credentials(HTTP_AUTHORIZATION=f"Token {tokens[role]}")
            browser.force_login(users[role])
        clients[role, True], clients[role, False] = api, browser
    return clients


def client_for(world: World, role: str, endpoint: Endpoint):
    return world.clients[role, endpoint.is_api]


def call(world: World, role: str, endpoint: Endpoint, method: str, htmx: bool = False):
    """One request; ``htmx`` sends it as htmx does, asking the page for its fragment."""
    url = endpoint.url(world.path_values())
    client = client_for(world, role, endpoint)
    if method == "GET":
        headers = {"HX-Request": "true"} if htmx else {}
        params = QUERY_PARAMS.get(endpoint.name, lambda d: {})(world)
        return client.get(url, params, headers=headers)
    if endpoint.is_api:
        body = API_BODIES.get((endpoint.name, method), lambda d: {})(world)
        return client.generic(method, url, json.dumps(body), content_type="application/json")
    body = PAGE_BODIES.get((endpoint.name, method), lambda d: {})(world)
    return client.post(url, body, headers={"HX-Request": "true"} if htmx else {})


def call_and_roll_back(world: World, role: str, endpoint: Endpoint, method: str, htmx=False):
    with transaction.atomic():
        response = call(world, role, endpoint, method, htmx)
        transaction.set_rollback(True)
    return response


def is_login_redirect(response) -> bool:
    return response.status_code == 302 and "/accounts/login/" in response.get("Location", "")


def passed_access_control(response) -> bool:
    return (
        response.status_code not in (401, 403, 404, 405)
        and response.status_code < 500
        and not is_login_redirect(response)
    )


def expectation(role: str, required: str, endpoint: Endpoint, method: str, public: bool) -> str:
    """What the role must get: "allowed", "403", "404" or "anonymous refusal"."""
    if method == "GET" and not endpoint.params and endpoint.name not in QUERY_PARAMS:
        return "listing"
    if role in ROLE_ON_A:
        return "allowed" if ROLE_RANK[ROLE_ON_A[role]] >= ROLE_RANK[required] else "403"
    if public and required == Role.VIEWER:
        return "allowed"
    if role == ANONYMOUS:
        return "anonymous refusal"
    return "403" if public else "404"


def check_cell(response, expected: str, endpoint: Endpoint, public: bool) -> str | None:
    """None when the response meets the expectation, else what went wrong."""
    status = response.status_code
    if expected == "405":
        # Authentication may come first: an endpoint for signed-in callers only can
        # answer 401 or the sign-in redirect before it looks at the verb.
        if status in (401, 405) or is_login_redirect(response):
            return None
        return f"expected 405 (the superuser got it), got {status}"
    if expected == "allowed" and not passed_access_control(response):
        return f"expected to pass access control, got {status}"
    if expected == "403" and status != 403:
        return f"expected 403, got {status}"
    if expected == "404" and status != 404:
        return f"expected 404 (existence must not leak), got {status}"
    if expected == "anonymous refusal":
        refusal = 403 if public else 404
        allowed = (401, refusal) if endpoint.is_api else (refusal,)
        if status not in allowed and not is_login_redirect(response):
            return f"expected {allowed} or the sign-in redirect, got {status}"
    if expected == "listing" and (status >= 500 or status in (403, 405)):
        return f"expected a listing, got {status}"
    return None


ENDPOINT_METHODS = [(e, m) for e in endpoints() for m in e.methods]
PRIVATE_ROLES = [VIEWER, EDITOR, ADMIN, SUPERUSER, ANONYMOUS, OUTSIDER]
PUBLIC_READ_ROLES = [ANONYMOUS, OUTSIDER]


def check_role(world, endpoint, method, role, required, supported, public) -> str | None:
    """Call as ``role`` (pages also as htmx, which gets a fragment); allowed calls are rolled
    back, so ``world.baseline`` stays current."""
    expected = expectation(role, required, endpoint, method, public) if supported else "405"
    refused = expected not in ("allowed", "listing")
    problems = []
    for htmx in (False,) if endpoint.is_api else (False, True):
        kind = " (htmx)" if htmx else ""
        if refused:
            response = call(world, role, endpoint, method, htmx)
        else:
            response = call_and_roll_back(world, role, endpoint, method, htmx)
        problem = check_cell(response, expected, endpoint, public)
        if problem:
            problems.append(problem + kind)
        if refused and database_snapshot() != world.baseline:
            problems.append(f"refused with {response.status_code} but the data changed{kind}")
        may_read_alpha = role in ROLE_ON_A or public
        if not may_read_alpha and SECRET.encode() in response.content:
            problems.append(f"the response contains project A's data{kind}")
    if not problems:
        return None
    mode = " (public read)" if public else ""
    return f"{role}{mode}: " + "; ".join(problems)


@pytest.mark.parametrize(
    ("endpoint", "method"), ENDPOINT_METHODS, ids=[f"{m} {e}" for e, m in ENDPOINT_METHODS]
)
def test_every_role_gets_what_the_access_model_promises(world, settings, endpoint, method):
    required = REQUIRED_ROLE.get(
        (endpoint.name, method), Role.VIEWER if method == "GET" else Role.EDITOR
    )
    supported = call_and_roll_back(world, SUPERUSER, endpoint, method).status_code != 405
    world.baseline = database_snapshot()
    failures = []
    for public, roles in ((False, PRIVATE_ROLES), (True, PUBLIC_READ_ROLES)):
        settings.EXECBOARD_PUBLIC_READ = public
        for role in roles:
            failures.append(check_role(world, endpoint, method, role, required, supported, public))
    failures = [f for f in failures if f]
    assert not failures, f"{method} /{endpoint.route}:\n  " + "\n  ".join(failures)


def test_the_matrix_covers_the_endpoints_it_was_written_for():
    names = {e.name for e in endpoints()}
    assert {
        "api-execution-list",
        "api-execution-detail",
        "api-execution-labels",
        "api-release-stages",
        "executions:list",
        "executions:detail",
    } <= names


def test_lists_and_counts_never_include_another_projects_executions(world):
    client = world.clients[OUTSIDER, True]
    listed = client.get("/api/v1/executions/").json()
    assert [row["id"] for row in listed["results"]] == [world.beta_execution.pk]
    assert listed["count"] == 1
    projects = client.get("/api/v1/projects/").json()["results"]
    assert [p["slug"] for p in projects] == ["beta"]
    suggestions = client.get("/api/v1/labels/", {"project": "beta", "key": "team"})
    assert suggestions.status_code == 200
    assert SECRET not in suggestions.content.decode()
    page = world.clients[OUTSIDER, False]
    home = page.get("/")
    assert home.status_code == 200
    assert SECRET.encode() not in home.content
    assert b"/p/alpha/" not in home.content
    for url in ("/p/beta/export.csv", "/p/beta/export.json", "/p/beta/label-suggestions/"):
        response = page.get(url, {"key": "team"})
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert SECRET.encode() not in body, url
        assert world.execution.pk.encode() not in body, url
