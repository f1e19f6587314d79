"""The PAGE ``custom`` attribute: ``key {name:value; name:value;} key {…}``.

Transkribus and Loghi store reading order, structure types and text styles there.
A key may repeat (``textStyle`` for several character ranges), so the parsed form
is an ordered list of ``(key, {name: value})`` pairs. Values escape ``\\``, ``;``,
``{``, ``}`` and ``:`` as ``\\uXXXX``, as Transkribus does.
"""

from __future__ import annotations

import re

_ENTRY = re.compile(r"\s*([^\s{}]+)\s*\{([^}]*)\}")
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_SPECIAL = "\\;{}:"

Custom = list[tuple[str, dict[str, str]]]


def parse_custom(text: str | None) -> Custom:
    """Parse a ``custom`` attribute value; text that does not fit the form is ignored."""
    entries: Custom = []
    for match in _ENTRY.finditer(text or ""):
        fields: dict[str, str] = {}
        for part in match.group(2).split(";"):
            name, sep, value = part.partition(":")
            if sep and name.strip():
                fields[name.strip()] = _ESCAPE.sub(
                    lambda m: chr(int(m.group(1), 16)), value.strip()
                )
        entries.append((match.group(1), fields))
    return entries


def format_custom(entries: Custom) -> str:
    """Write entries back to the attribute form."""
    parts = []
    for key, fields in entries:
        body = " ".join(f"{name}:{_escape(str(value))};" for name, value in fields.items())
        parts.append(f"{key} {{{body}}}")
    return " ".join(parts)


def _escape(value: str) -> str:
    return "".join(f"\\u{ord(ch):04x}" if ch in _SPECIAL else ch for ch in value)


def custom_get(entries: Custom, key: str) -> dict[str, str] | None:
    """The fields of the first entry named ``key``, or ``None``."""
    return next((fields for name, fields in entries if name == key), None)


def custom_set(entries: Custom, key: str, fields: dict[str, str] | None) -> Custom:
    """Replace every entry named ``key`` by one with ``fields`` (``None`` removes it)."""
    kept = [(name, value) for name, value in entries if name != key]
    if fields is None:
        return kept
    position = next((i for i, (name, _) in enumerate(entries) if name == key), len(kept))
    kept.insert(min(position, len(kept)), (key, dict(fields)))
    return kept
