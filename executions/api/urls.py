from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from executions.api import compare, executions, labels, me, projects, releases

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    *compare.urlpatterns,  # before executions/<id>/, which would take "compare" for an id
    *projects.urlpatterns,
    *executions.urlpatterns,
    *me.urlpatterns,
    *releases.urlpatterns,
    *labels.urlpatterns,
]
