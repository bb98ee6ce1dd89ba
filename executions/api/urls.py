from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from executions.api import compare, executions, labels, me, projects, releases
from executions.api.bulk_labels import urlpatterns as bulk_labels_urlpatterns

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    *compare.urlpatterns,  # before executions/<id>/, which would take "compare" for an id
    *projects.urlpatterns,
    *bulk_labels_urlpatterns,  # before executions/<id>/, which would take it for an id
    *executions.urlpatterns,
    *me.urlpatterns,
    *releases.urlpatterns,
    *labels.urlpatterns,
]
