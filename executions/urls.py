from django.urls import path

from executions.views import detail, list

app_name = "executions"
urlpatterns = [
    path("p/<slug:slug>/", list.execution_list, name="list"),
    path("p/<slug:slug>/e/<str:execution_id>/", detail.execution_detail, name="detail"),
]
