"""``{% execution_releases execution %}``: the execution page's releases panel (badges and the
"Release this execution" form), also returned alone by the release view for htmx."""

from __future__ import annotations

from django import template

from executions.models import Execution
from executions.views.releases import PANEL_TEMPLATE, release_panel_context

register = template.Library()


@register.inclusion_tag(PANEL_TEMPLATE, takes_context=True)
def execution_releases(context: template.Context, execution: Execution) -> dict:
    panel = release_panel_context(execution, context["request"].user)
    # The form's {% csrf_token %} needs the page's token.
    panel["csrf_token"] = context.get("csrf_token")
    return panel
