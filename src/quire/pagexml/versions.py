"""PAGE schema versions: namespaces, and moving a tree from one version to another.

Every document is held in memory in the modern form (``Coords@points``, 2013 and
later); older files are lifted to it on reading. Writing maps the tree onto the
namespace of the version asked for and drops, with one warning, what that version
has no place for.
"""

from __future__ import annotations

import logging
from collections import Counter

from lxml import etree

log = logging.getLogger("quire.pagexml")

NS_BASE = "http://schema.primaresearch.org/PAGE/gts/pagecontent/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
READABLE = (
    "2009-03-16",
    "2010-01-12",
    "2010-03-19",
    "2013-07-15",
    "2016-07-15",
    "2017-07-15",
    "2018-07-15",
    "2019-07-15",
    "2024-07-15",
)
WRITABLE = ("2013-07-15", "2019-07-15")
DEFAULT_VERSION = "2019-07-15"
ALIASES = {"2013": "2013-07-15", "2019": "2019-07-15"}

ANY_REGION = "*Region"
_GROUPS = ("OrderedGroup", "UnorderedGroup", "OrderedGroupIndexed", "UnorderedGroupIndexed")

# What each writable version lacks compared with the newest readable one:
# {parent or element local name: names}; ANY_REGION stands for every *Region.
_ELEMENTS_ABSENT: dict[str, dict[str, set[str]]] = {
    "2019-07-15": {
        "Page": {"FormRegion"},
        "TextLine": {"AscentLine", "MeanLine", "DescentLine"},
    },
}
_ATTRIBUTES_ABSENT: dict[str, dict[str, set[str]]] = {
    "2019-07-15": {
        "Page": {"comments", "customLanguages", "customScripts"},
        "TextRegion": {"mirrored", "customLanguages", "customScripts"},
        "TextLine": {
            "orientation",
            "mirrored",
            "secondaryLanguage",
            "customLanguages",
            "customScripts",
        },
        "Word": {"orientation", "mirrored", "customLanguages", "customScripts"},
    },
}
_ELEMENTS_ABSENT["2013-07-15"] = {
    "Metadata": {"UserDefined", "MetadataItem"},
    "Page": {"TextStyle", "UserDefined", "Labels", "MapRegion", "CustomRegion", "FormRegion"},
    ANY_REGION: {"AlternativeImage", "UserDefined", "Labels", "Roles", "MapRegion", "CustomRegion"},
    "TextLine": {
        "AlternativeImage",
        "UserDefined",
        "Labels",
        "AscentLine",
        "MeanLine",
        "DescentLine",
    },
    "Word": {"AlternativeImage", "UserDefined", "Labels"},
    "Glyph": {"AlternativeImage", "Graphemes", "UserDefined", "Labels"},
    "TableRegion": {"Grid"},
    "Relation": {"Labels"},
    **{group: {"UserDefined", "Labels"} for group in _GROUPS},
}
_ATTRIBUTES_ABSENT["2013-07-15"] = {
    "Metadata": {"externalRef"},
    "Page": {
        "imageXResolution",
        "imageYResolution",
        "imageResolutionUnit",
        "orientation",
        "primaryLanguage",
        "secondaryLanguage",
        "primaryScript",
        "secondaryScript",
        "readingDirection",
        "textLineOrder",
        "conf",
        "comments",
        "customLanguages",
        "customScripts",
    },
    ANY_REGION: {"continuation"},
    "TextRegion": {"textLineOrder", "mirrored", "customLanguages", "customScripts"},
    "TextLine": {
        "primaryScript",
        "secondaryScript",
        "readingDirection",
        "index",
        "orientation",
        "mirrored",
        "secondaryLanguage",
        "customLanguages",
        "customScripts",
    },
    "Word": {
        "primaryScript",
        "secondaryScript",
        "readingDirection",
        "orientation",
        "mirrored",
        "customLanguages",
        "customScripts",
    },
    "Glyph": {"script"},
    "TextEquiv": {"index", "dataType", "dataTypeDetails", "comments"},
    "Coords": {"conf"},
    "Baseline": {"conf"},
    "ReadingOrder": {"conf"},
    "AlternativeImage": {"conf"},
    "Relation": {"id"},
    "TextStyle": {"xHeight", "textColourRgb", "bgColourRgb", "underlineStyle"},
    **{group: {"regionRef", "type", "continuation", "custom", "comments"} for group in _GROUPS},
}
# Text style attributes that 2010 kept on TextRegion and 2013 moved to TextStyle.
_STYLE_ON_REGION_2010 = ("textColour", "bgColour", "reverseVideo", "fontSize", "kerning")


def namespace(version: str) -> str:
    return NS_BASE + version


def version_of(ns: str | None) -> str | None:
    """The PAGE version a namespace names (``https`` accepted), or ``None``."""
    if not ns:
        return None
    ns = ns.replace("https://", "http://", 1)
    if not ns.startswith(NS_BASE):
        return None
    version = ns[len(NS_BASE) :].strip("/")
    return version if version in READABLE else None


def normalise_version(version: str) -> str:
    """Accept ``2019`` or ``2019-07-15``; raise ``ValueError`` for what cannot be written."""
    version = ALIASES.get(version, version)
    if version not in WRITABLE:
        raise ValueError(f"cannot write PAGE version {version!r}; choose one of {WRITABLE}")
    return version


def local(element: etree._Element) -> str:
    return etree.QName(element).localname


def is_region(name: str) -> bool:
    return name.endswith("Region")


def rename_namespace(root: etree._Element, old: str, new: str) -> None:
    """Move every element of namespace ``old`` into ``new`` in place."""
    for element in root.iter(etree.Element):
        qname = etree.QName(element)
        if qname.namespace == old:
            element.tag = f"{{{new}}}{qname.localname}"
    for attribute in list(root.attrib):
        if etree.QName(attribute).localname == "schemaLocation":
            del root.attrib[attribute]
            root.set(f"{{{XSI}}}schemaLocation", f"{new} {new}/pagecontent.xsd")
    etree.cleanup_namespaces(root, top_nsmap={None: new})


# PAGE 2013 named scripts in words; 2016 and later use ISO 15924 ("Latn - Latin").
SCRIPTS_2013 = {
    "Arabic": "Arab - Arabic",
    "Bengali": "Beng - Bengali",
    "Chinese-simplified": "Hans - Han (Simplified variant)",
    "Chinese-traditional": "Hant - Han (Traditional variant)",
    "Cyrillic": "Cyrl - Cyrillic",
    "Devangari": "Deva - Devanagari (Nagari)",
    "Ethiopic": "Ethi - Ethiopic",
    "Greek": "Grek - Greek",
    "Gujarati": "Gujr - Gujarati",
    "Gurmukhi": "Guru - Gurmukhi",
    "Hebrew": "Hebr - Hebrew",
    "Latin": "Latn - Latin",
    "Thai": "Thai - Thai",
}
_SCRIPT_ATTRIBUTES = ("primaryScript", "secondaryScript", "script")


def map_scripts(root: etree._Element, ns: str, from_version: str, to_version: str) -> None:
    """Rename script values between the 2013 words and the ISO 15924 codes of 2016+."""
    if (from_version < "2016-07-15") == (to_version < "2016-07-15"):
        return
    table = (
        SCRIPTS_2013
        if to_version >= "2016-07-15"
        else {new: old for old, new in SCRIPTS_2013.items()}
    )
    for element in root.iter(f"{{{ns}}}*"):
        for attribute in _SCRIPT_ATTRIBUTES:
            value = element.get(attribute)
            if value is not None and value != "other":
                element.set(
                    attribute, table.get(value, value if to_version >= "2016-07-15" else "other")
                )


def lift_2010(root: etree._Element, ns: str) -> None:
    """Bring a 2010 tree into the modern form: ``Point`` children to ``points``,
    region text style attributes to ``TextStyle``."""
    for coords in root.iter(f"{{{ns}}}Coords"):
        points = coords.findall(f"{{{ns}}}Point")
        if points:
            coords.set("points", " ".join(f"{p.get('x')},{p.get('y')}" for p in points))
            for point in points:
                coords.remove(point)
            coords.text = None
    for frame in root.iter(f"{{{ns}}}FrameRegion"):  # gone in 2013: kept as a custom region
        extra = {k: frame.attrib.pop(k) for k in list(frame.attrib) if k != "id"}
        frame.tag = f"{{{ns}}}CustomRegion"
        frame.set("type", "frame")
        if extra:
            frame.set("custom", "frame {" + " ".join(f"{k}:{x};" for k, x in extra.items()) + "}")
    for region in root.iter(f"{{{ns}}}TextRegion"):
        style = {
            name: region.attrib.pop(name) for name in _STYLE_ON_REGION_2010 if name in region.attrib
        }
        if style:
            element = etree.SubElement(region, f"{{{ns}}}TextStyle", style)
            element.tail = region[-2].tail if len(region) > 1 else None


def map_relations(root: etree._Element, ns: str, to_version: str) -> None:
    """``RegionRef`` pairs (2010–2016) and ``Source``/``TargetRegionRef`` (2018+)."""
    modern = to_version >= "2018-07-15"
    for relation in root.iter(f"{{{ns}}}Relation"):
        refs = [
            child
            for child in relation
            if isinstance(child.tag, str)
            and local(child) in ("RegionRef", "SourceRegionRef", "TargetRegionRef")
        ]
        names = ("SourceRegionRef", "TargetRegionRef") if modern else ("RegionRef", "RegionRef")
        for ref, name in zip(refs, names, strict=False):
            ref.tag = f"{{{ns}}}{name}"
        if modern and relation.get("id") is None:
            relation.set("id", f"relation_{id(relation):x}")


def drop_absent(root: etree._Element, ns: str, version: str) -> Counter[str]:
    """Remove what ``version`` has no place for; return counts of what went."""
    elements = _ELEMENTS_ABSENT.get(version, {})
    attributes = _ATTRIBUTES_ABSENT.get(version, {})
    dropped: Counter[str] = Counter()
    for element in list(root.iter(f"{{{ns}}}*")):
        name = local(element)
        keys = [name, ANY_REGION] if is_region(name) else [name]
        for key in keys:
            for attribute in attributes.get(key, ()):
                if attribute in element.attrib:
                    del element.attrib[attribute]
                    dropped[f"{name}@{attribute}"] += 1
        children_absent = set().union(*(elements.get(key, set()) for key in keys))
        for child in list(element):
            if (
                isinstance(child.tag, str)
                and etree.QName(child).namespace == ns
                and local(child) in children_absent
            ):
                element.remove(child)
                dropped[local(child)] += 1
    return dropped


# --- PAGE 2009-03-16: lower-case vocabulary ------------------------------------------

_LEGACY_ELEMENTS = {
    "pcGts": "PcGts",
    "pcMetadata": "Metadata",
    "pcCreator": "Creator",
    "pcCreated": "Created",
    "pcLastChange": "LastChange",
    "pcComments": "Comments",
    "page": "Page",
    "coords": "Coords",
    "point": "Point",
    "text_equiv": "TextEquiv",
    "unicode": "Unicode",
    "plain_text": "PlainText",
    "reading_order": "ReadingOrder",
}
_LEGACY_PREFIXES = {
    "txt": "Text",
    "img": "Image",
    "sep": "Separator",
    "noise": "Noise",
    "graph": "Graphic",
    "chart": "Chart",
    "table": "Table",
    "math": "Maths",
    "lined": "LineDrawing",
    "unk": "Unknown",
}
_LEGACY_ATTRIBUTES = {
    "image_filename": "imageFilename",
    "image_width": "imageWidth",
    "image_height": "imageHeight",
    "orientation": "orientation",
    "type": "type",
    "reading_direction": "readingDirection",
    "reading_orientation": "readingOrientation",
    "primary_language": "primaryLanguage",
    "primary_script": "primaryScript",
    "colour_type": "colourDepth",
    "emb_text": "embText",
    "indented": "indented",
    "reverse_video": "reverseVideo",
    "colour": "colour",
    "bgcolour": "bgColour",
}
_LEGACY_VALUE_CASE = {"readingDirection", "type"}
_TEXT_TYPES_2010 = {
    "paragraph",
    "heading",
    "caption",
    "header",
    "footer",
    "page-number",
    "drop-capital",
    "credit",
    "floating",
    "signature-mark",
    "catch-word",
    "marginalia",
    "footnote",
    "footnote-continued",
    "TOC-entry",
    "other",
}


def lift_2009(root: etree._Element) -> tuple[etree._Element, list[str]]:
    """Translate a PAGE 2009-03-16 tree into 2010-03-19 form (then lifted like 2010).

    Returns the new root and a list of attributes that had no counterpart.
    """
    old = namespace("2009-03-16")
    new = namespace("2010-03-19")
    unmapped: list[str] = []
    for element in root.iter(f"{{{old}}}*"):
        name = local(element)
        if name.endswith("_region"):
            prefix = name[: -len("_region")]
            kind = "".join(part.capitalize() for part in prefix.split("_"))
            element.tag = f"{{{new}}}{kind}Region"
        else:
            element.tag = f"{{{new}}}{_LEGACY_ELEMENTS.get(name, name)}"
        for attribute in list(element.attrib):
            value = element.attrib.pop(attribute)
            key = (
                attribute.split("_", 1)[1]
                if attribute.split("_", 1)[0] in _LEGACY_PREFIXES
                else attribute
            )
            if attribute in ("id", "x", "y") or etree.QName(attribute).namespace:
                element.set(attribute, value)
            elif key in _LEGACY_ATTRIBUTES and _legacy_allowed(local(element), key):
                target = _LEGACY_ATTRIBUTES[key]
                if target in _LEGACY_VALUE_CASE:
                    value = value.lower().replace("_", "-")
                if target == "type" and value not in _TEXT_TYPES_2010:
                    element.set("custom", f"structure {{type:{value};}}")
                    value = "other"
                if target == "colour" and local(element) == "TextRegion":
                    target = "textColour"
                element.set(target, _legacy_value(target, value))
            else:
                unmapped.append(f"{local(element)}@{attribute}={value}")
    for attribute in ("version",):
        root.attrib.pop(attribute, None)
    etree.cleanup_namespaces(root, top_nsmap={None: new})
    return root, unmapped


def _legacy_allowed(element: str, key: str) -> bool:
    if element == "Page":
        return key.startswith("image_")
    if element == "TextRegion":
        return key in (
            "orientation",
            "reading_direction",
            "reading_orientation",
            "type",
            "primary_language",
            "primary_script",
            "indented",
            "reverse_video",
            "colour",
            "bgcolour",
        )
    if element == "ImageRegion":
        return key in ("orientation", "colour_type", "emb_text", "bgcolour")
    if element == "SeparatorRegion":
        return key in ("orientation", "colour")
    return False


def _legacy_value(target: str, value: str) -> str:
    if target == "orientation":
        return str(float(value))
    if target in ("indented", "reverseVideo", "embText"):
        return "true" if value.lower() in ("yes", "true") else "false"
    if target in ("colour", "bgColour", "textColour"):
        return value.lower()
    if target == "colourDepth":
        return {
            "bi-level": "bilevel",
            "gray-scale": "greyscale",
            "24_bit_colour": "colour",
            "8_bit_colour": "colour",
        }.get(value.lower(), "other")
    return value
