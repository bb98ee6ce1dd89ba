"""The projects page `/` and a project's executions page: what they show, to whom, and a
number of queries that does not grow with the number of executions."""

from __future__ import annotations

import pytest

from executions import services
from executions.events import record_event
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, make_execution

# Queries of a signed-in page: session and user, then the page's own reads (projects and
# one grouped count on `/`). The executions page has room for the list's own features;
# what it may not do is grow with the rows (checked by comparing a small and a big project).
PROJECT_LIST_MAX_QUERIES = 4
PROJECT_PAGE_MAX_QUERIES = 10


def fill(project, count: int) -> None:
    """Executions with labels, phases, children and steps, as a real project has."""
    for i in range(count):
        execution = make_execution(
            project,
            launched_by=f"user{i % 3}",
            labels={"experiment": f"exp-{i % 4}", "model": "bert", "name": f"run {i}"},
        )
        record_event(execution_id=execution.pk, phase="RUNNING")
        if i % 2:
            record_event(execution_id=execution.pk, phase="SUCCEEDED")
        if i % 5 == 0:
            services.step_create(execution_id=execution.pk, name="load")
            make_execution(project, parent=execution.pk, labels={"group": "g"})


@pytest.fixture
def member(client, project):
    user = MembershipFactory(project=project, user=UserFactory(username="anne")).user
    client.force_login(user)
    return user


# The projects page


def test_the_projects_page_lists_the_members_projects_with_counts_by_phase(client, member):
    project = member.memberships.get().project
    MembershipFactory(project=ProjectFactory(slug="vision", name="Vision"), user=member)
    ProjectFactory(slug="secret", name="Secret")
    for _ in range(2):
        record_event(execution_id=make_execution(project).pk, phase="FAILED")
    make_execution(project)
    response = client.get("/")
    page = response.content.decode()
    assert [p.slug for p in response.context["projects"]] == ["nlp", "vision"]
    assert 'href="/p/nlp/"' in page and 'href="/p/vision/"' in page
    assert "Secret" not in page
    nlp = response.context["projects"][0]
    assert (nlp.total, nlp.phase_counts) == (3, [("FAILED", 2), ("UNDEFINED", 1)])
    assert "failed 2" in page


def test_the_projects_page_asks_an_anonymous_visitor_to_sign_in(client, project):
    page = client.get("/").content.decode()
    assert "NLP" not in page
    assert "sign in</a> to see yours" in page


def test_public_read_shows_every_project_to_anyone(client, project, settings):
    settings.EXECBOARD_PUBLIC_READ = True
    assert 'href="/p/nlp/"' in client.get("/").content.decode()
    assert client.get("/p/nlp/").status_code == 200


@pytest.mark.parametrize("count", [1, 15])
def test_the_projects_page_query_count_does_not_grow_with_executions(
    client, member, count, django_assert_max_num_queries
):
    project = member.memberships.get().project
    fill(project, count)
    for slug in ("a", "b", "c"):
        other = ProjectFactory(slug=slug)
        MembershipFactory(project=other, user=member)
        fill(other, count // 3)
    with django_assert_max_num_queries(PROJECT_LIST_MAX_QUERIES):
        response = client.get("/")
    assert response.status_code == 200
    assert len(response.context["projects"]) == 4


# A project's executions page


def test_the_project_page_lists_the_latest_executions_with_their_labels(client, member):
    project = member.memberships.get().project
    project.default_labels.create(key="team", value="nlp")
    older = make_execution(project, labels={"name": "older run"})
    newer = make_execution(project, labels={"model": "bert", "smoke": ""})
    page = client.get("/p/nlp/").content.decode()
    assert page.index(newer.get_absolute_url()) < page.index(older.get_absolute_url())
    assert "older run" in page
    for chip in ("team:nlp", "model:bert", "smoke", "user:anne"):
        assert chip in page


def test_the_project_page_of_a_project_without_a_role_is_a_404(client, member):
    ProjectFactory(slug="secret")
    assert client.get("/p/secret/").status_code == 404
    assert client.get("/p/nope/").status_code == 404


def test_the_project_page_is_hidden_from_anonymous_visitors(client, project):
    make_execution(project)
    assert client.get("/p/nlp/").status_code == 404


def test_the_project_page_query_count_does_not_grow_with_executions(
    client, member, django_assert_max_num_queries
):
    project = member.memberships.get().project
    fill(project, 2)
    with django_assert_max_num_queries(PROJECT_PAGE_MAX_QUERIES) as few:
        assert client.get("/p/nlp/").status_code == 200
    fill(project, 25)
    with django_assert_max_num_queries(PROJECT_PAGE_MAX_QUERIES) as many:
        response = client.get("/p/nlp/")
    assert response.status_code == 200
    assert response.content.decode().count('class="chip') > 25
    assert len(many) == len(few)
