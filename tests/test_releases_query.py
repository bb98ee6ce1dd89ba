"""The release qualifiers of the query language (@released, @release:, @stage:) against the
releases and stages that executions.releases writes."""

from __future__ import annotations

import pytest

from executions import releases
from tests.factories import ProjectFactory, make_succeeded_execution


def ids(api, q):
    response = api.get("/api/v1/executions/", {"project": "nlp", "q": q})
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


def release(execution, artifact, version, **kwargs):
    return releases.release_create(
        project=execution.project,
        execution=execution,
        artifact=artifact,
        version=version,
        by="anne",
        **kwargs,
    )


@pytest.fixture
def runs(project):
    """nn v1.0.0 (prod) and v1.1.0 (staging), model/nn v1.0.0+b7, and two unreleased runs,
    one of them carrying user labels named `release` and `stage`."""
    names = ["nn1", "nn2", "ns", "plain", "lookalike"]
    labels = {"lookalike": {"release": "nn", "stage": "prod"}, "nn2": {"team": "nlp"}}
    made = {n: make_succeeded_execution(project, labels=labels.get(n, {})) for n in names}
    release(made["nn1"], "nn", "v1.0.0", stage="prod")
    release(made["nn2"], "nn", "v1.1.0", stage="staging")
    release(made["ns"], "model/nn", "1.0.0+b7")
    return {n: e.pk for n, e in made.items()}


def test_released_matches_executions_with_any_release(api, runs):
    assert ids(api, "@released") == {runs["nn1"], runs["nn2"], runs["ns"]}
    assert ids(api, "not @released") == {runs["plain"], runs["lookalike"]}


def test_release_matches_any_version_of_an_artifact_or_one_version(api, runs):
    assert ids(api, "@release:nn") == {runs["nn1"], runs["nn2"]}
    assert ids(api, "@release:nn@v1.1.0") == {runs["nn2"]}
    assert ids(api, "@release:nn@1.1.0") == {runs["nn2"]}
    assert ids(api, "@release:model/nn") == {runs["ns"]}
    assert ids(api, "@release:nn@v9.0.0") == set()


def test_stage_matches_the_version_currently_in_the_stage(api, project, runs):
    assert ids(api, "@stage:prod") == {runs["nn1"]}
    assert ids(api, "@stage:staging") == {runs["nn2"]}
    v11 = releases.release_get(project=project, artifact="nn", version="v1.1.0")
    releases.stage_assign(release=v11, stage="prod", by="bob")
    assert ids(api, "@stage:prod") == {runs["nn2"]}
    releases.stage_unassign(release=v11, stage="prod", by="bob")
    assert ids(api, "@stage:prod") == set()


def test_a_stage_of_another_project_does_not_leak_in(api, runs):
    other = make_succeeded_execution(ProjectFactory(slug="cv"))
    release(other, "nn", "v1.0.0", stage="prod")
    assert ids(api, "@stage:prod") == {runs["nn1"]}


def test_release_qualifiers_combine_with_labels(api, runs):
    assert ids(api, "team:nlp and @stage:staging") == {runs["nn2"]}
    assert ids(api, "team:nlp and @stage:prod") == set()
    assert ids(api, "@stage:prod or @release:model/nn") == {runs["nn1"], runs["ns"]}


def test_user_labels_named_release_or_stage_do_not_collide_with_qualifiers(api, runs):
    assert ids(api, "release:nn") == {runs["lookalike"]}
    assert ids(api, "stage:prod") == {runs["lookalike"]}
    assert runs["lookalike"] not in ids(api, "@release:nn")
    assert runs["lookalike"] not in ids(api, "@stage:prod")


def test_a_bad_version_in_a_release_qualifier_is_a_clear_400(api, runs):
    response = api.get("/api/v1/executions/", {"project": "nlp", "q": "@release:nn@latest"})
    assert response.status_code == 400
    assert "not a semantic version" in response.json()["error"]["message"]


def test_a_release_qualifier_ignores_build_metadata_like_the_registry(api, runs):
    assert ids(api, "@release:model/nn@v1.0.0") == {runs["ns"]}


def test_the_list_page_shows_release_badges_and_filters_by_stage(client, editor, runs):
    client.force_login(editor)
    html = client.get("/p/nlp/", {"q": "@stage:prod"}).content.decode()
    assert '<span class="release-badge">nn@v1.0.0</span>' in html
    assert "nn@v1.1.0" not in html
