"""Who the request's token belongs to, so that clients can default to the caller's namespace."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.exceptions import NotAuthenticated
from rest_framework.response import Response

from executions.api.access import request_token
from executions.services import namespace_label


@extend_schema(
    responses=inline_serializer(
        "Me", {"username": serializers.CharField(), "namespace": serializers.CharField()}
    )
)
@api_view(["GET"])
def me(request):
    """The caller's username and default namespace (`production:<name>` for a production
    token, `user:<username>` otherwise), as Metaflow's client defaults to it."""
    if not request.user.is_authenticated:
        raise NotAuthenticated("Send an API token: 'Authorization: Token <key>'.")
    token = request_token(request)
    key, value = namespace_label(
        launched_by=request.user.get_username(),
        production_namespace=token.production_namespace if token else "",
    )
    return Response({"username": request.user.get_username(), "namespace": f"{key}:{value}"})


urlpatterns = [path("me/", me, name="api-me")]
