"""Roles granted and revoked by operators, and API tokens that end when they should."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from projects.models import ApiToken, Membership, Role
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, make_execution

pytestmark = pytest.mark.django_db


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def create_body(slug: str) -> dict:
    return {"project": slug, "domain": "development", "workflow": "train.wf"}


@pytest.fixture
def bob():
    return UserFactory(username="bob")


@pytest.fixture
def nlp():
    return ProjectFactory(slug="nlp")


# grant / revoke


def test_grant_gives_a_user_a_role_on_a_project(bob, nlp):
    call_command("grant", "bob", "nlp", "viewer")
    assert Membership.objects.get(user=bob, project=nlp).role == Role.VIEWER


def test_grant_again_changes_the_role_instead_of_adding_a_second_one(bob, nlp):
    call_command("grant", "bob", "nlp", "viewer")
    call_command("grant", "bob", "nlp", "admin")
    assert list(Membership.objects.filter(user=bob).values_list("role", flat=True)) == ["admin"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody", "nlp", "viewer"], "No user 'nobody'"),
        (["bob", "missing", "viewer"], "No project 'missing'"),
        (["bob", "nlp", "owner"], "invalid choice"),
    ],
)
def test_grant_refuses_unknown_users_projects_and_roles(bob, nlp, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("grant", *args)
    assert not Membership.objects.exists()


def test_revoke_takes_the_role_away(bob, nlp):
    MembershipFactory(user=bob, project=nlp, role=Role.EDITOR)
    call_command("revoke", "bob", "nlp")
    assert not Membership.objects.exists()


def test_revoke_of_a_role_the_user_does_not_have_is_an_error(bob, nlp):
    with pytest.raises(CommandError, match="bob has no role on nlp"):
        call_command("revoke", "bob", "nlp")


def test_a_granted_viewer_reads_but_cannot_write_and_after_revoke_sees_nothing(bob, nlp):
    client = token_client(ApiToken.issue(user=bob, name="t")[1])
    assert client.get("/api/v1/projects/nlp/").status_code == 404

    call_command("grant", "bob", "nlp", "viewer")
    assert client.get("/api/v1/projects/nlp/").status_code == 200
    refused = client.post("/api/v1/executions/", create_body("nlp"), format="json")
    assert refused.status_code == 403
    assert "editor" in refused.json()["error"]["message"]

    call_command("grant", "bob", "nlp", "editor")
    assert client.post("/api/v1/executions/", create_body("nlp"), format="json").status_code == 201

    call_command("revoke", "bob", "nlp")
    assert client.get("/api/v1/projects/nlp/").status_code == 404
    assert client.get("/api/v1/projects/").json()["results"] == []


def test_a_superuser_sees_every_project_without_a_role(nlp):
    ProjectFactory(slug="vision")
    root = UserFactory(username="root", is_superuser=True)
    client = token_client(ApiToken.issue(user=root, name="t")[1])
    slugs = [p["slug"] for p in client.get("/api/v1/projects/").json()["results"]]
    assert slugs == ["nlp", "vision"]
    assert (
        client.post("/api/v1/executions/", create_body("vision"), format="json").status_code == 201
    )


# tokens


def test_a_token_is_stored_only_as_its_hash(bob):
    token, key = ApiToken.issue(user=bob, name="ci")
    token.refresh_from_db()
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert key not in {str(value) for value in stored.values()}


def test_an_expired_token_is_refused(bob, nlp):
    MembershipFactory(user=bob, project=nlp)
    _, key = ApiToken.issue(user=bob, name="t", expires_at=timezone.now() - timedelta(seconds=1))
    response = token_client(key).get("/api/v1/projects/")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Invalid, expired or revoked token."


def test_a_token_works_until_its_expiry(bob, nlp):
    MembershipFactory(user=bob, project=nlp)
    _, key = ApiToken.issue(user=bob, name="t", expires_at=timezone.now() + timedelta(hours=1))
    assert token_client(key).get("/api/v1/projects/").status_code == 200


def test_a_revoked_token_is_refused(bob, nlp):
    MembershipFactory(user=bob, project=nlp)
    token, key = ApiToken.issue(user=bob, name="t")
    client = token_client(key)
    assert client.get("/api/v1/projects/").status_code == 200
    ApiToken.objects.filter(pk=token.pk).revoke()
    assert client.get("/api/v1/projects/").status_code == 401


def test_a_token_scoped_to_one_project_cannot_see_or_touch_another(bob, nlp):
    vision = ProjectFactory(slug="vision")
    MembershipFactory(user=bob, project=nlp)
    MembershipFactory(user=bob, project=vision)
    hidden = make_execution(vision)
    _, key = ApiToken.issue(user=bob, name="t", projects=[nlp])
    client = token_client(key)

    assert [p["slug"] for p in client.get("/api/v1/projects/").json()["results"]] == ["nlp"]
    assert client.get("/api/v1/projects/vision/").status_code == 404
    assert client.get(f"/api/v1/executions/{hidden.pk}/").status_code == 404
    assert client.get("/api/v1/executions/").json()["count"] == 0
    refused = client.post("/api/v1/executions/", create_body("vision"), format="json")
    assert refused.status_code == 404
    assert client.post("/api/v1/executions/", create_body("nlp"), format="json").status_code == 201


def test_a_token_scoped_to_one_project_cannot_record_events_in_another(bob, nlp):
    vision = ProjectFactory(slug="vision")
    MembershipFactory(user=bob, project=nlp)
    MembershipFactory(user=bob, project=vision)
    hidden, own = make_execution(vision), make_execution(nlp)
    _, key = ApiToken.issue(user=bob, name="t", projects=[nlp])
    client = token_client(key)

    refused = client.post(
        f"/api/v1/executions/{hidden.pk}/events/", {"phase": "RUNNING"}, format="json"
    )
    assert refused.status_code == 404
    assert not hidden.events.exists()
    accepted = client.post(
        f"/api/v1/executions/{own.pk}/events/", {"phase": "RUNNING"}, format="json"
    )
    assert accepted.status_code == 201


def test_a_password_change_ends_the_users_tokens(bob, nlp):
    MembershipFactory(user=bob, project=nlp)
    _, key = ApiToken.issue(user=bob, name="t")
    client = token_client(key)
    assert client.get("/api/v1/projects/").status_code == 200
    bob.set_password("a new secret")
    bob.save()
    assert client.get("/api/v1/projects/").status_code == 401
    _, fresh = ApiToken.issue(user=bob, name="after")
    assert token_client(fresh).get("/api/v1/projects/").status_code == 200


def test_deactivating_a_user_ends_their_tokens(bob, nlp):
    MembershipFactory(user=bob, project=nlp)
    _, key = ApiToken.issue(user=bob, name="t")
    bob.is_active = False
    bob.save()
    assert token_client(key).get("/api/v1/projects/").status_code == 401


def test_a_password_change_ends_the_users_sessions(bob, nlp):
    MembershipFactory(user=bob, project=nlp)
    browser = Client()
    browser.force_login(bob)
    assert browser.get("/p/nlp/").status_code == 200
    bob.set_password("a new secret")
    bob.save()
    assert browser.get("/p/nlp/").status_code == 404
    assert browser.get("/api/v1/projects/").json()["results"] == []


def test_deactivating_a_user_ends_their_sessions(bob, nlp):
    MembershipFactory(user=bob, project=nlp)
    browser = Client()
    browser.force_login(bob)
    bob.is_active = False
    bob.save()
    assert browser.get("/p/nlp/").status_code == 404


def test_create_token_can_scope_a_token_and_give_it_an_expiry(bob, nlp, capsys):
    ProjectFactory(slug="vision")
    call_command("create_token", "bob", "--project", "nlp", "--expires-in-days", "7")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    token = ApiToken.objects.for_key(key)
    assert [p.slug for p in token.projects.all()] == ["nlp"]
    assert timedelta(days=6) < token.expires_at - timezone.now() <= timedelta(days=7)


def test_create_token_refuses_an_unknown_project(bob):
    with pytest.raises(CommandError, match="No project 'nope'"):
        call_command("create_token", "bob", "--project", "nope")
    assert not ApiToken.objects.exists()


# public reading


def test_public_read_lets_anyone_read_but_not_write(settings, nlp):
    settings.EXECBOARD_PUBLIC_READ = True
    execution = make_execution(nlp)
    anonymous = APIClient()
    assert anonymous.get(f"/api/v1/executions/{execution.pk}/").status_code == 200
    assert Client().get("/p/nlp/").status_code == 200
    response = anonymous.post("/api/v1/executions/", create_body("nlp"), format="json")
    assert response.status_code == 401

    outsider = UserFactory(username="outsider")
    client = token_client(ApiToken.issue(user=outsider, name="t")[1])
    assert client.get(f"/api/v1/executions/{execution.pk}/").status_code == 200
    patch = {"description": "defaced", "description_version": 0}
    refused = client.patch(f"/api/v1/executions/{execution.pk}/", patch, format="json")
    assert refused.status_code == 403
    execution.refresh_from_db()
    assert execution.description == ""


# an admin-only action


def test_only_a_project_admin_replaces_the_default_labels(bob, nlp):
    nlp.default_labels.create(key="team", value="nlp")
    client = token_client(ApiToken.issue(user=bob, name="t")[1])
    body = {"default_labels": {"team": "core", "tier": ""}}
    url = "/api/v1/projects/nlp/default-labels/"
    assert client.put(url, body, format="json").status_code == 404
    for role, status in ((Role.VIEWER, 403), (Role.EDITOR, 403)):
        call_command("grant", "bob", "nlp", role)
        assert client.put(url, body, format="json").status_code == status
        assert nlp.default_labels_dict() == {"team": "nlp"}
    call_command("grant", "bob", "nlp", "admin")
    response = client.put(url, body, format="json")
    assert response.status_code == 200
    assert response.json()["default_labels"] == {"team": "core", "tier": ""}
    created = client.post("/api/v1/executions/", create_body("nlp"), format="json").json()
    assert created["labels"] == {"team": "core", "tier": "", "user": "bob"}


@pytest.mark.parametrize(
    "labels",
    [{"user": "forged"}, {"bad key!": "x"}, {f"k{i}": "v" for i in range(17)}, ["team"]],
    ids=["reserved", "bad-key", "too-many", "not-an-object"],
)
def test_invalid_default_labels_are_refused_and_change_nothing(bob, nlp, labels):
    nlp.default_labels.create(key="team", value="nlp")
    MembershipFactory(user=bob, project=nlp, role=Role.ADMIN)
    client = token_client(ApiToken.issue(user=bob, name="t")[1])
    response = client.put(
        "/api/v1/projects/nlp/default-labels/", {"default_labels": labels}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "default_labels"
    assert nlp.default_labels_dict() == {"team": "nlp"}


def test_a_token_issued_in_the_admin_shows_its_key_once_and_works(bob, nlp, client):
    MembershipFactory(user=bob, project=nlp)
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    client.force_login(root)
    response = client.post(
        "/admin/projects/apitoken/add/",
        {"user": bob.pk, "name": "from-admin", "production_namespace": "", "projects": []},
        follow=True,
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    key = next(word for m in shown for word in m.split() if word.startswith("eb_"))
    token = ApiToken.objects.get(name="from-admin")
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert token_client(key).get("/api/v1/projects/").status_code == 200
    listing = client.get("/admin/projects/apitoken/").content.decode()
    assert key not in listing
