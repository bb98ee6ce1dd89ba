from __future__ import annotations

from rest_framework.test import APIClient

from tests.factories import UserFactory, make_token


def test_me_tells_the_token_user_and_their_namespace(api):
    assert api.get("/api/v1/me/").json() == {"username": "anne", "namespace": "user:anne"}


def test_me_names_the_production_namespace_of_a_production_token(db):
    client = APIClient()
    user = UserFactory(username="ci")
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {make_token(user, production_namespace='nightly')}"
    )
    assert client.get("/api/v1/me/").json() == {"username": "ci", "namespace": "production:nightly"}


def test_me_without_a_token_is_a_401_with_a_clear_message(anon_api):
    response = anon_api.get("/api/v1/me/")
    assert response.status_code == 401
    assert "API token" in response.json()["error"]["message"]
