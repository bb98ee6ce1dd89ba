"""factory_boy factories; executions go through the real service so labels are consistent."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from executions import services
from executions.events import record_event
from projects.models import ApiToken, Membership, Project, Role


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"project-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    project = factory.SubFactory(ProjectFactory)
    role = Role.EDITOR


def make_token(user, **kwargs) -> str:
    """Issue a token and return its key."""
    return ApiToken.issue(user=user, name=kwargs.pop("name", "test"), **kwargs)[1]


def make_execution(
    project,
    *,
    launched_by: str = "anne",
    domain: str = "development",
    workflow: str = "train.wf",
    labels=None,
    **kwargs,
):
    return services.execution_create(
        project=project,
        domain=domain,
        workflow=workflow,
        launched_by=launched_by,
        labels=labels or {},
        **kwargs,
    )


def make_succeeded_execution(project, **kwargs):
    """An execution that ran to SUCCEEDED through real events (releasable)."""
    execution = make_execution(project, **kwargs)
    record_event(execution_id=execution.pk, phase="RUNNING")
    record_event(execution_id=execution.pk, phase="SUCCEEDED")
    execution.refresh_from_db()
    return execution
