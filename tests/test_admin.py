"""The Django admin: default labels validated with the API's rules, tokens shown once,
executions read-only."""

from __future__ import annotations

import re

import pytest

from projects.models import ApiToken, DefaultLabel, Project
from tests.factories import ProjectFactory, UserFactory, make_execution


@pytest.fixture
def admin_client(client, db):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def project_form(labels, *, slug="nlp", name="NLP", initial=0, ids=()):
    """The add/change form of a project with its default labels inline."""
    data = {
        "slug": slug,
        "name": name,
        "description": "",
        "created_at_0": "2026-01-01",
        "created_at_1": "00:00:00",
        "default_labels-TOTAL_FORMS": str(len(labels)),
        "default_labels-INITIAL_FORMS": str(initial),
        "default_labels-MIN_NUM_FORMS": "0",
        "default_labels-MAX_NUM_FORMS": "1000",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for i, (key, value) in enumerate(labels):
        data[f"default_labels-{i}-key"] = key
        data[f"default_labels-{i}-value"] = value
        data[f"default_labels-{i}-position"] = str(i)
        if i < len(ids):
            data[f"default_labels-{i}-id"] = str(ids[i])
            data[f"default_labels-{i}-project"] = str(Project.objects.get(slug=slug).pk)
    return data


def errors_of(response) -> str:
    """The error text the admin shows, without markup."""
    assert response.status_code == 200, "the form was accepted"
    return re.sub(r"<[^>]+>", " ", response.content.decode())


def test_a_project_is_added_with_its_default_labels_in_order(admin_client):
    labels = [("team", "nlp"), ("example.com/tier", "gold"), ("smoke", "")]
    response = admin_client.post("/admin/projects/project/add/", project_form(labels))
    assert response.status_code == 302
    project = Project.objects.get(slug="nlp")
    assert list(project.default_labels.values_list("key", "value")) == labels
    assert make_execution(project).labels == {
        "team": "nlp",
        "example.com/tier": "gold",
        "smoke": "",
        "user": "anne",
    }


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("bad key", "a key name starts and ends with a letter or digit"),
        ("-team", "a key name starts and ends with a letter or digit"),
        ("Example.com/team", "the prefix before &#x27;/&#x27; must be a DNS subdomain"),
        ("x" * 64, "the name is 64 characters long, at most 63 are allowed"),
        ("user", "is reserved for namespaces and set by Execboard itself"),
        ("production", "is reserved for namespaces and set by Execboard itself"),
    ],
)
def test_a_bad_default_label_key_is_refused_on_add(admin_client, key, message):
    response = admin_client.post(
        "/admin/projects/project/add/", project_form([("team", "nlp"), (key, "x")])
    )
    assert message in errors_of(response)
    assert not Project.objects.exists()


def test_a_value_with_a_control_character_is_refused(admin_client):
    response = admin_client.post("/admin/projects/project/add/", project_form([("team", "a\tb")]))
    assert "the value contains the control or unprintable character U+0009" in errors_of(response)
    assert not Project.objects.exists()


def test_a_repeated_key_is_refused(admin_client):
    response = admin_client.post(
        "/admin/projects/project/add/", project_form([("team", "nlp"), ("team", "vision")])
    )
    assert "Each key once; repeated: team." in errors_of(response)
    assert not Project.objects.exists()


def test_more_default_labels_than_an_execution_may_have_are_refused(admin_client, settings):
    settings.EXECBOARD_MAX_LABELS = 2
    labels = [("a", ""), ("b", ""), ("c", "")]
    response = admin_client.post("/admin/projects/project/add/", project_form(labels))
    assert (
        "An execution can have at most 2 labels (project defaults included); this one would "
        "have 3." in errors_of(response)
    )
    assert not Project.objects.exists()


def test_the_change_form_validates_default_labels_too(admin_client):
    project = ProjectFactory(slug="nlp", name="NLP")
    label = DefaultLabel.objects.create(project=project, key="team", value="nlp")
    url = f"/admin/projects/project/{project.pk}/change/"

    bad = project_form([("team", "nlp"), ("user", "x")], initial=1, ids=[label.pk])
    assert "is reserved for namespaces" in errors_of(admin_client.post(url, bad))
    assert list(project.default_labels.values_list("key", flat=True)) == ["team"]

    good = project_form([("team", "vision"), ("tier", "gold")], initial=1, ids=[label.pk])
    assert admin_client.post(url, good).status_code == 302
    assert project.default_labels_dict() == {"team": "vision", "tier": "gold"}


def test_a_new_token_shows_its_key_once_and_the_key_works(admin_client, project, editor):
    response = admin_client.post(
        "/admin/projects/apitoken/add/",
        {"user": editor.pk, "name": "ci", "production_namespace": "nightly"},
        follow=True,
    )
    token = ApiToken.objects.get(name="ci")
    key = re.search(r"(eb_[A-Za-z0-9_-]+)", response.content.decode()).group(1)
    assert token.key_hash != key and key not in token.key_hash
    assert ApiToken.objects.for_key(key) == token
    page = admin_client.get(f"/admin/projects/apitoken/{token.pk}/change/").content.decode()
    assert key not in page


def test_executions_are_read_only_in_the_admin(admin_client, project):
    execution = make_execution(project, labels={"model": "bert"})
    assert admin_client.get("/admin/executions/execution/").status_code == 200
    page = admin_client.get(f"/admin/executions/execution/{execution.pk}/change/")
    assert page.status_code == 200
    assert admin_client.get("/admin/executions/execution/add/").status_code == 403
    response = admin_client.post(f"/admin/executions/execution/{execution.pk}/delete/", {"post": 1})
    assert response.status_code == 403


def test_a_production_namespace_follows_the_label_value_rules(admin_client, editor):
    response = admin_client.post(
        "/admin/projects/apitoken/add/",
        {"user": editor.pk, "name": "ci", "production_namespace": "night\tly"},
    )
    assert "the value contains the control or unprintable character U+0009" in errors_of(response)
    assert not ApiToken.objects.exists()
