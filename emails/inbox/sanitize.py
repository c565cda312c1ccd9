"""Received HTML made safe to show: nh3 (Ammonia, a maintained allow-list sanitiser) drops scripts, event
handlers, forms, styles and unknown tags. Inline images (`cid:` links) are embedded as data: URIs from the message's
own parts; remote images are dropped, so opening a conversation never tells the sender (no tracking pixels)."""

import base64
from collections.abc import Mapping

import nh3

# Inline images up to this size are embedded; a larger one is left out of the page (it stays an attachment).
MAX_INLINE_IMAGE_BYTES = 512 * 1024
_ATTRIBUTES = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan", "align", "valign"},
    "th": {"colspan", "rowspan", "align", "valign"},
    "table": {"summary", "width"},
}


def html_sanitize(html: str, *, inline_images: Mapping[str, tuple[str, bytes]] | None = None) -> str:
    """Safe HTML for display. `inline_images` maps a Content-ID to (content type, bytes)."""
    images = inline_images or {}

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src":
            if value.lower().startswith("cid:"):
                found = images.get(value[4:].strip("<>"))
                if found is None or not found[0].startswith("image/") or len(found[1]) > MAX_INLINE_IMAGE_BYTES:
                    return None
                return f"data:{found[0]};base64,{base64.b64encode(found[1]).decode('ascii')}"
            return None  # remote (or data:) images are not loaded
        if attribute == "href" and value.lower().startswith(("cid:", "data:")):
            return None
        return value

    return nh3.clean(
        html,
        attributes=_ATTRIBUTES,
        attribute_filter=keep,
        url_schemes={"http", "https", "mailto", "tel", "cid", "data"},
        clean_content_tags={"script", "style", "title", "head"},
        link_rel="noopener noreferrer nofollow",
    )
