from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import MembershipFactory, ProjectFactory, UserFactory, make_token


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def project(db):
    return ProjectFactory(slug="nlp", name="NLP")


@pytest.fixture
def editor(project):
    return MembershipFactory(project=project, user=UserFactory(username="anne")).user


@pytest.fixture
def api(editor):
    """An API client authenticated with a token of an editor of ``project``."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(editor)}")
    return client


@pytest.fixture
def anon_api(db):
    return APIClient()
