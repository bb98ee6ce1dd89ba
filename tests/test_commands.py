"""The operators' commands: create_project, create_token, seed_demo; and the migrations
match the models."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from executions.models import Event, Execution, Label, Release, StageEvent, Step
from projects.models import ApiToken, Project
from tests.factories import MembershipFactory, ProjectFactory, UserFactory


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# create_project


def test_create_project_creates_it_with_ordered_default_labels(db):
    output = run(
        "create_project",
        "nlp-models",
        "--name",
        "NLP models",
        "--default-label",
        "team:nlp",
        "--default-label",
        "url:http://x.org:80",
        "--default-label",
        "smoke",
    )
    assert output == "Created project nlp-models\n"
    project = Project.objects.get(slug="nlp-models")
    assert project.name == "NLP models"
    assert list(project.default_labels.values_list("key", "value")) == [
        ("team", "nlp"),
        ("url", "http://x.org:80"),
        ("smoke", ""),
    ]


def test_create_project_again_updates_the_name_and_replaces_the_defaults(db):
    run("create_project", "nlp", "--default-label", "team:nlp", "--default-label", "a:b")
    assert Project.objects.get(slug="nlp").name == "nlp"
    output = run("create_project", "nlp", "--name", "NLP", "--default-label", "team:vision")
    assert output == "Updated project nlp\n"
    project = Project.objects.get(slug="nlp")
    assert project.name == "NLP"
    assert project.default_labels_dict() == {"team": "vision"}


def test_create_project_without_default_labels_keeps_the_existing_ones(db):
    run("create_project", "nlp", "--default-label", "team:nlp")
    run("create_project", "nlp", "--name", "NLP")
    assert Project.objects.get(slug="nlp").default_labels_dict() == {"team": "nlp"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["Bad_Slug"],
            "A project slug is 1-63 lowercase letters, digits or '-', starting with a letter "
            "or digit.",
        ),
        (["nlp!"], "A project slug is 1-63 lowercase letters"),
        (["a" * 64], "A project slug is 1-63 lowercase letters"),
        (["nlp", "--default-label", "bad key:x"], "Label key 'bad key': a key name starts"),
        (["nlp", "--default-label", "user:anne"], "The label key 'user' is reserved"),
        (["nlp", "--default-label", "k:" + "v" * 257], "Label 'k': the value is 257 characters"),
        (
            ["nlp", "--default-label", "a:1", "--default-label", "a:2"],
            "Each default label key once; repeated: a.",
        ),
    ],
)
def test_create_project_refuses_bad_input_and_changes_nothing(db, args, message):
    with pytest.raises(CommandError) as info:
        run("create_project", *args)
    assert str(info.value).startswith(message)
    assert not Project.objects.exists()


def test_create_project_refuses_more_defaults_than_the_label_limit(db, settings):
    settings.EXECBOARD_MAX_LABELS = 1
    with pytest.raises(CommandError, match="at most 1 labels"):
        run("create_project", "nlp", "--default-label", "a", "--default-label", "b")
    assert not Project.objects.exists()


# create_token


def test_create_token_prints_a_working_key_as_its_last_line(db):
    project = ProjectFactory(slug="nlp")
    MembershipFactory(project=project, user=UserFactory(username="anne"))
    output = run("create_token", "anne")
    key = output.splitlines()[-1]
    assert ApiToken.objects.get().key_hash != key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.post(
        "/api/v1/executions/",
        {"project": "nlp", "domain": "development", "workflow": "train.wf"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["labels"] == {"user": "anne"}


def test_create_token_creates_a_missing_user_without_a_password(db):
    output = run("create_token", "ci-bot")
    assert output.splitlines()[0] == "Created user ci-bot"
    user = get_user_model().objects.get(username="ci-bot")
    assert not user.has_usable_password()
    assert ApiToken.objects.for_key(output.splitlines()[-1]).user == user


def test_a_production_token_stamps_executions_with_its_namespace(db):
    project = ProjectFactory(slug="nlp")
    MembershipFactory(project=project, user=UserFactory(username="bot"))
    key = run("create_token", "bot", "--production", "nightly").splitlines()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.post(
        "/api/v1/executions/",
        {"project": "nlp", "domain": "production", "workflow": "train.wf"},
        format="json",
    )
    assert response.json()["labels"] == {"production": "nightly"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bad name"], "Invalid username 'bad name'"),
        (["bot", "--production", "night\nly"], "the value contains the control"),
    ],
)
def test_create_token_refuses_bad_input(db, args, message):
    with pytest.raises(CommandError, match=message):
        run("create_token", *args)
    assert not ApiToken.objects.exists()
    assert not get_user_model().objects.exists()


# seed_demo


def test_seed_demo_fills_projects_and_is_idempotent(db):
    output = run("seed_demo", "--executions", "90")
    assert output.startswith("Seeded 3 projects with 90 executions.")
    assert set(Project.objects.values_list("slug", flat=True)) == {
        "nlp-models",
        "vision",
        "data-pipelines",
    }
    counts = (Execution.objects.count(), Label.objects.count(), Event.objects.count())
    assert counts[0] == 90
    assert Step.objects.exists()
    assert Execution.objects.filter(parent__isnull=False).exists()
    assert Execution.objects.filter(phase="FAILED").exists()
    # Each project's main workflow has released versions, in staging and prod.
    assert Release.objects.filter(project__slug="vision", artifact="train_detector.wf").exists()
    assert set(StageEvent.objects.values_list("stage", flat=True)) == {"staging", "prod"}
    assert Execution.objects.exclude(description="").exists()
    for execution in Execution.objects.all():
        rows = dict(Label.objects.filter(execution=execution).values_list("key", "value"))
        assert rows == execution.labels
        assert ("user" in rows) != ("production" in rows)

    assert run("seed_demo") == "Demo data already present; nothing to do.\n"
    assert (Execution.objects.count(), Label.objects.count(), Event.objects.count()) == counts


def test_the_demo_users_can_sign_in_and_see_the_projects(db, client):
    run("seed_demo", "--executions", "30")
    assert client.login(username="anne", password="anne")
    response = client.get("/")
    assert b"NLP models" in response.content
    assert client.get("/p/nlp-models/").status_code == 200


# migrations


def test_the_migrations_match_the_models(db):
    out = StringIO()
    call_command("makemigrations", check=True, dry_run=True, stdout=out)
    assert "No changes detected" in out.getvalue()
