"""Markdown → safe HTML: the one function the page, the live preview and anything else use.

python-markdown renders (tables, fenced code, lists, links; raw HTML passes through), then
nh3 sanitises the result against an allowlist: no script or style, no event-handler
attributes, only http(s)/mailto and relative URLs (so no ``javascript:`` or ``data:``), and
every link gets ``rel="noopener nofollow"``. Templates put the result inside an element with
``hx-disable`` so that htmx ignores any ``hx-*`` attribute that might survive in the future.
"""

from __future__ import annotations

import markdown as markdown_lib
import nh3
from django.utils.safestring import SafeString, mark_safe

EXTENSIONS = ["tables", "fenced_code", "sane_lists"]

ALLOWED_TAGS = frozenset(
    {
        *("p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6"),
        *("strong", "em", "b", "i", "u", "s", "del", "ins", "mark", "sub", "sup", "small"),
        *("code", "pre", "kbd", "samp", "blockquote", "span", "div"),
        *("ul", "ol", "li", "dl", "dt", "dd"),
        *("table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption"),
        *("a", "img", "abbr", "details", "summary"),
    }
)
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "ol": {"start"},
    "th": {"style", "colspan", "rowspan"},
    "td": {"style", "colspan", "rowspan"},
    "code": {"class"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener nofollow"


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    # Fenced code says its language as class="language-x"; no other class is kept.
    if attribute == "class":
        names = [name for name in value.split() if name.startswith("language-")]
        return " ".join(names) or None
    return value


def render_markdown(text: str) -> SafeString:
    """Render Markdown to sanitised HTML that is safe to put in a page as is."""
    if not text:
        return mark_safe("")
    html = markdown_lib.markdown(text, extensions=EXTENSIONS, output_format="html")
    cleaned = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_keep_attribute,
        filter_style_properties={"text-align"},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )
    return mark_safe(cleaned)  # nh3 has just sanitised it against the allowlist
