from __future__ import annotations


def test_an_execution_created_through_the_api_carries_default_and_namespace_labels(api, project):
    project.default_labels.create(key="team", value="nlp")
    response = api.post(
        "/api/v1/executions/",
        {
            "project": "nlp",
            "domain": "development",
            "workflow": "train.wf",
            "labels": {"model": "bert", "smoke": ""},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["labels"] == {"team": "nlp", "model": "bert", "smoke": "", "user": "anne"}
    assert body["phase"] == "UNDEFINED"
    listed = api.get("/api/v1/executions/", {"project": "nlp"}).json()
    assert [row["id"] for row in listed["results"]] == [body["id"]]
    assert listed["count"] == 1
