from django.urls import path

from executions.views import compare, detail, list, releases, saved
from executions.views.bulk_labels import bulk_labels

app_name = "executions"
urlpatterns = [
    path("p/<slug:slug>/", list.execution_list, name="list"),
    path(
        "p/<slug:slug>/export.<str:fmt>",
        list.execution_export,
        name="export",
    ),
    path("p/<slug:slug>/compare/", compare.compare, name="compare"),
    path("p/<slug:slug>/bulk-labels/", bulk_labels, name="bulk-labels"),
    path("p/<slug:slug>/label-suggestions/", list.label_suggestions, name="label-suggestions"),
    path("p/<slug:slug>/column-suggestions/", list.column_suggestions, name="column-suggestions"),
    path("p/<slug:slug>/views/", saved.saved_views, name="saved-views"),
    path("p/<slug:slug>/views/save/", saved.saved_view_save, name="saved-view-save"),
    path(
        "p/<slug:slug>/views/<int:view_id>/delete/",
        saved.saved_view_delete,
        name="saved-view-delete",
    ),
    path("p/<slug:slug>/e/<str:execution_id>/", detail.execution_detail, name="detail"),
    path(
        "p/<slug:slug>/e/<str:execution_id>/description/",
        detail.description,
        name="description",
    ),
    path(
        "p/<slug:slug>/e/<str:execution_id>/description/edit/",
        detail.description_edit,
        name="description-edit",
    ),
    path("p/<slug:slug>/e/<str:execution_id>/labels/", detail.labels, name="labels"),
    path(
        "p/<slug:slug>/e/<str:execution_id>/labels/remove/",
        detail.label_remove,
        name="label-remove",
    ),
    path("p/<slug:slug>/registry/", releases.registry, name="registry"),
    path("p/<slug:slug>/artifacts/<path:artifact>/", releases.artifact_page, name="artifact"),
    path(
        "p/<slug:slug>/releases/<int:release_id>/stage/",
        releases.stage_change,
        name="release-stage",
    ),
    path(
        "p/<slug:slug>/e/<str:execution_id>/release/",
        releases.execution_release,
        name="execution-release",
    ),
]
