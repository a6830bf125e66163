"""Plain text from Octane's HTML memo fields, for the `<name>_text` column beside the raw HTML."""

from __future__ import annotations

import re
from html import unescape

_INVISIBLE = re.compile(r"<(script|style|head)\b.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL)
_INVISIBLE_HINT = re.compile(r"<(?:!--|script|style|head)", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")
# Tags that start or end a line of text when rendered (a run of them is one line break);
# every other tag is inline.
_BREAKS = re.compile(
    r"(?:</?(?:br|p|div|li|ul|ol|tr|table|h[1-6]|blockquote|pre|hr)\b[^>]*>)+",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[ \t\u00a0]+")
_LINE_BREAKS = re.compile(r" *\n[\n ]*")


def html_to_text(html: str) -> str:
    """Render `html` as readable plain text: block tags become line breaks, entities decoded.

    Regular expressions rather than an HTML parser: memo fields are small, well-formed
    fragments, and this runs once per row on the transform's hot path (hence the cheap
    `in` tests that skip passes with nothing to do).

    >>> html_to_text("<p>Straße &amp; café</p><p>— ✓</p>")
    'Straße & café\\n— ✓'
    """
    if "<" not in html and "&" not in html:
        return _WHITESPACE.sub(" ", html).strip()
    text = html
    if _INVISIBLE_HINT.search(text):
        text = _INVISIBLE.sub("", text)
    if "\n" in text or "\r" in text or "\t" in text or "  " in text:
        # Source line breaks are just spaces in HTML; only block tags break lines.
        text = _WHITESPACE.sub(" ", text)
    text = _BREAKS.sub("\n", text)
    text = _TAG.sub("", text)
    if "&" in text:
        # Decoded last, so an escaped `&lt;b&gt;` stays visible text, not a tag.
        text = unescape(text)
    if "\u00a0" in text or "  " in text or "\t" in text:
        text = _SPACES.sub(" ", text)
    if " \n" in text or "\n " in text or "\n\n" in text:
        text = _LINE_BREAKS.sub("\n", text)
    return text.strip()
