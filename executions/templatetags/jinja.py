"""``{% jinja "executions/partials/_rows.jinja" %}``: a Jinja2 fragment inside a Django
template, rendered with that template's context (see config/jinja2.py for why)."""

from __future__ import annotations

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag(takes_context=True)
def jinja(context, template_name: str) -> SafeString:
    # Safe: Jinja2 escaped every value it wrote (the backend's autoescape is on).
    return mark_safe(render_to_string(template_name, context.flatten(), using="jinja2"))
