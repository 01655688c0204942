"""Markdown written by staff (notifications, news, FAQ, help pages) rendered to safe HTML.

python-markdown turns the text into HTML (raw HTML inside the Markdown passes through it), then nh3
keeps only an explicit allow-list: formatting tags, tables, images, links with http/https/mailto or
relative URLs. Scripts, iframes, inline event handlers (`onerror=`…), `style=` and `javascript:` URLs
never reach a page; every link gets rel="noopener noreferrer". The portal's CSP is a second line of
defence, not the first.
"""
from __future__ import annotations

import markdown
import nh3
from markupsafe import Markup

ALLOWED_TAGS = frozenset({
    "p", "br", "hr", "strong", "b", "em", "i", "u", "s", "del", "sub", "sup", "small", "mark",
    "ul", "ol", "li", "blockquote", "code", "pre", "h1", "h2", "h3", "h4", "h5", "h6",
    "a", "img", "table", "thead", "tbody", "tr", "th", "td", "dl", "dt", "dd", "abbr", "span",
})
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "th": {"align", "colspan", "rowspan"},
    "td": {"align", "colspan", "rowspan"},
    "ol": {"start"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Removed together with their content (the text of a script is not a message to the customer).
DROPPED_WITH_CONTENT = frozenset({"script", "style", "iframe", "object", "embed", "template", "noscript"})
EXTENSIONS = ["extra", "sane_lists", "nl2br"]


def sanitise_html(html: str) -> str:
    """Keep only the allow-listed tags, attributes and URL schemes of `html`."""
    return nh3.clean(html, tags=set(ALLOWED_TAGS), clean_content_tags=set(DROPPED_WITH_CONTENT),
                     attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
                     url_schemes=set(URL_SCHEMES), link_rel="noopener noreferrer", strip_comments=True)


def render_markdown(text: str | None) -> Markup:
    """Markdown → sanitised HTML, safe to put in a template as is."""
    if not text:
        return Markup("")
    html = markdown.markdown(text, extensions=EXTENSIONS, output_format="html")
    return Markup(sanitise_html(html))


def plain_text(text: str | None) -> str:
    """The text of rendered Markdown without any tag (e-mail text parts, previews in lists)."""
    if not text:
        return ""
    html = markdown.markdown(text, extensions=EXTENSIONS, output_format="html")
    cleaned = nh3.clean(html, tags=set(), clean_content_tags=set(DROPPED_WITH_CONTENT))
    from html import unescape

    return unescape(cleaned).strip()
