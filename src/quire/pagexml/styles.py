"""Text styles: Loghi's style markers and PAGE's ``textStyle`` ranges.

Loghi's ground truth (and what its models read) puts a marker before every styled
character: U+2403 strikethrough, U+2404 subscript, U+2405 underlined, U+2406
superscript; a character with several styles has several markers. PageXML keeps the
clean text and ranges in ``custom``: ``textStyle {offset:7; length:3; underlined:true;}``
(as Transkribus and Loghi's tooling write them); a style of the whole element is
also its ``TextStyle`` attribute.
"""

from __future__ import annotations

from itertools import groupby

MARKERS = {"\u2403": "strikethrough", "\u2404": "subscript", "\u2405": "underlined",
           "\u2406": "superscript"}  # fmt: skip
STYLES = {style: marker for marker, style in MARKERS.items()}

Span = tuple[int, int, str]  # offset, length, style


def from_markers(text: str) -> tuple[str, list[Span]]:
    """Clean text and its style ranges from text with markers (a marker with no
    character after it styles nothing)."""
    clean: list[str] = []
    styled: list[tuple[int, str]] = []
    pending: list[str] = []
    for char in text:
        if char in MARKERS:
            pending.append(MARKERS[char])
            continue
        styled.extend((len(clean), style) for style in dict.fromkeys(pending))
        clean.append(char)
        pending = []
    spans = []
    for style in STYLES:
        offsets = [offset for offset, s in styled if s == style]
        for _, run in groupby(enumerate(offsets), key=lambda pair: pair[1] - pair[0]):
            run_offsets = [offset for _, offset in run]
            spans.append((run_offsets[0], len(run_offsets), style))
    return "".join(clean), sorted(spans)


def to_markers(text: str, spans: list[Span]) -> str:
    """Text with a marker before every character of each style range."""
    before: dict[int, list[str]] = {}
    for offset, length, style in spans:
        for index in range(max(offset, 0), min(offset + length, len(text))):
            before.setdefault(index, []).append(STYLES[style])
    return "".join(
        "".join(STYLES[s] for s in STYLES if STYLES[s] in before.get(i, ())) + char
        for i, char in enumerate(text)
    )


def spans_of_custom(entries: list[tuple[str, dict[str, str]]]) -> list[Span]:
    """The style ranges of ``textStyle`` entries of a ``custom`` attribute."""
    spans = []
    for key, fields in entries:
        if key != "textStyle":
            continue
        try:
            offset, length = int(fields.get("offset", "")), int(fields.get("length", ""))
        except ValueError:
            continue
        spans.extend((offset, length, style) for style in STYLES if fields.get(style) == "true")
    return spans


def custom_of_spans(spans: list[Span]) -> list[tuple[str, dict[str, str]]]:
    """``textStyle`` entries for style ranges (one per range and style)."""
    return [
        ("textStyle", {"offset": str(offset), "length": str(length), style: "true"})
        for offset, length, style in spans
    ]
