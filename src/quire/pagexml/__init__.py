"""PAGE XML: read every version from 2009 to 2024, edit safely, write 2019 or 2013."""

from quire.pagexml.custom import Custom, custom_get, custom_set, format_custom, parse_custom
from quire.pagexml.document import (
    Glyph,
    Node,
    Page,
    PageDocument,
    PageXMLError,
    Region,
    TextLine,
    Word,
    format_points,
    now,
    parse_points,
    unreadable_points,
)
from quire.pagexml.versions import DEFAULT_VERSION, READABLE, WRITABLE

__all__ = [
    "DEFAULT_VERSION",
    "READABLE",
    "WRITABLE",
    "Custom",
    "Glyph",
    "Node",
    "Page",
    "PageDocument",
    "PageXMLError",
    "Region",
    "TextLine",
    "Word",
    "custom_get",
    "custom_set",
    "format_custom",
    "format_points",
    "now",
    "parse_custom",
    "parse_points",
    "unreadable_points",
]
