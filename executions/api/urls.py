from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from executions.api import executions, labels, me, projects, releases

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    *projects.urlpatterns,
    *executions.urlpatterns,
    *me.urlpatterns,
    *releases.urlpatterns,
    *labels.urlpatterns,
]
