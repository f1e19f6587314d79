"""Read, edit and write PAGE XML documents.

The document keeps its lxml tree, so everything quire does not own (unknown
elements and attributes, comments, metadata of other tools) survives a read →
write round trip. The wrappers below only touch the parts they are asked to.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

from lxml import etree

from quire.errors import InputError
from quire.io import atomic_write_bytes
from quire.pagexml import styles
from quire.pagexml import versions as v
from quire.pagexml.custom import Custom, custom_get, custom_set, format_custom, parse_custom

log = logging.getLogger("quire.pagexml")

Point = tuple[int, int]
MAX_BYTES = 64 * 1024 * 1024
_POINT = re.compile(r"(-?\d+(?:\.\d*)?)\s*,\s*(-?\d+(?:\.\d*)?)")

# Child order required by the schema (xs:sequence); v.ANY_REGION stands for regions.
_REGION_CHILDREN = [
    "AlternativeImage",
    "Coords",
    "UserDefined",
    "Labels",
    "Roles",
    v.ANY_REGION,
    "TextLine",
    "TextEquiv",
    "TextStyle",
]
_CHILD_ORDER: dict[str, list[str]] = {
    "PcGts": ["Metadata", "Page"],
    "Metadata": ["Creator", "Created", "LastChange", "Comments", "UserDefined", "MetadataItem"],
    "Page": [
        "AlternativeImage",
        "Border",
        "PrintSpace",
        "ReadingOrder",
        "Layers",
        "Relations",
        "TextStyle",
        "UserDefined",
        "Labels",
        v.ANY_REGION,
    ],
    "TextLine": [
        "AlternativeImage",
        "Coords",
        "Baseline",
        "Word",
        "TextEquiv",
        "TextStyle",
        "UserDefined",
        "Labels",
    ],
    "Word": [
        "AlternativeImage",
        "Coords",
        "Glyph",
        "TextEquiv",
        "TextStyle",
        "UserDefined",
        "Labels",
    ],
    "Glyph": [
        "AlternativeImage",
        "Coords",
        "Graphemes",
        "TextEquiv",
        "TextStyle",
        "UserDefined",
        "Labels",
    ],
    "TextEquiv": ["PlainText", "Unicode"],
}


class PageXMLError(InputError):
    """A file that cannot be read as PAGE XML."""


def now(default_epoch: int | None = None) -> str:
    """The current UTC time as xs:dateTime.

    ``SOURCE_DATE_EPOCH`` (seconds) overrides the clock, as for reproducible builds;
    without it, ``default_epoch`` does when given (synthetic data uses 0).
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH", default_epoch)
    moment = (
        dt.datetime.fromtimestamp(int(epoch), dt.UTC)
        if epoch is not None
        else dt.datetime.now(dt.UTC)
    )
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def parse_points(text: str | None) -> list[Point]:
    """``"x,y x,y …"`` to integer points (decimals are rounded)."""
    return [(round(float(x)), round(float(y))) for x, y in _POINT.findall(text or "")]


def unreadable_points(text: str | None) -> str | None:
    """What in a ``points`` attribute is no ``x,y`` pair of plain numbers, or ``None``."""
    tokens = re.sub(r"\s*,\s*", ",", (text or "").strip()).split()
    return " ".join(token for token in tokens if not _POINT.fullmatch(token))[:40] or None


def format_points(points: Sequence[Sequence[float]]) -> str:
    return " ".join(f"{round(x)},{round(y)}" for x, y in points)


def _rank(parent: str, child: str) -> int | None:
    order = _CHILD_ORDER.get(parent, _REGION_CHILDREN if v.is_region(parent) else None)
    if order is None:
        return None
    key = v.ANY_REGION if v.is_region(child) else child
    return order.index(key) if key in order else None


class Node:
    """One PAGE element; subclasses add what their element type holds."""

    kind: ClassVar[str] = ""

    def __init__(self, doc: PageDocument, element: etree._Element) -> None:
        self.doc = doc
        self.element = element

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id!r}>"

    @property
    def tag(self) -> str:
        return v.local(self.element)

    @property
    def id(self) -> str | None:
        return self.element.get("id")

    # children -------------------------------------------------------------

    def _q(self, name: str) -> str:
        return f"{{{self.doc.ns}}}{name}"

    def _child(self, name: str) -> etree._Element | None:
        return self.element.find(self._q(name))

    def _new_child(self, name: str, attributes: dict[str, str] | None = None) -> etree._Element:
        """Create child ``name`` at the place the schema wants it."""
        return _insert(self.element, etree.Element(self._q(name), attributes or {}))

    def _replace_child(self, name: str, attributes: dict[str, str]) -> etree._Element:
        old = self._child(name)
        if old is None:
            return self._new_child(name, attributes)
        new = etree.Element(self._q(name), attributes)
        new.tail = old.tail
        self.element.replace(old, new)
        return new

    # custom ---------------------------------------------------------------

    @property
    def custom(self) -> Custom:
        return parse_custom(self.element.get("custom"))

    @custom.setter
    def custom(self, entries: Custom) -> None:
        if entries:
            self.element.set("custom", format_custom(entries))
        else:
            self.element.attrib.pop("custom", None)

    def custom_get(self, key: str) -> dict[str, str] | None:
        return custom_get(self.custom, key)

    def custom_set(self, key: str, fields: dict[str, str] | None) -> None:
        self.custom = custom_set(self.custom, key, fields)

    # geometry -------------------------------------------------------------

    def _points(self, name: str) -> list[Point]:
        element = self._child(name)
        return parse_points(element.get("points")) if element is not None else []

    def _set_points(self, name: str, points: Sequence[Sequence[float]]) -> None:
        self._replace_child(name, {"points": format_points(points)})

    @property
    def coords(self) -> list[Point]:
        return self._points("Coords")

    @coords.setter
    def coords(self, points: Sequence[Sequence[float]]) -> None:
        self._set_points("Coords", points)

    @property
    def coords_text(self) -> str | None:
        """``Coords/@points`` as written, for saying what is wrong with it."""
        element = self._child("Coords")
        return None if element is None else element.get("points")

    def _regions(self) -> list[Region]:
        return [
            Region(self.doc, e)
            for e in self.element
            if isinstance(e.tag, str) and v.is_region(v.local(e))
        ]


class TextNode(Node):
    """An element that can carry ``TextEquiv`` and ``TextStyle``."""

    def _text_equivs(self) -> list[etree._Element]:
        equivs = self.element.findall(self._q("TextEquiv"))
        return sorted(equivs, key=lambda e: int(e.get("index", "0") or 0))

    @property
    def text(self) -> str | None:
        """The first (lowest ``@index``) ``TextEquiv/Unicode``, or ``None``."""
        equivs = self._text_equivs()
        if not equivs:
            return None
        unicode = equivs[0].find(self._q("Unicode"))
        return (unicode.text or "") if unicode is not None else None

    @property
    def plain_text(self) -> str | None:
        """The first ``TextEquiv/PlainText``, or ``None``."""
        equivs = self._text_equivs()
        plain = equivs[0].find(self._q("PlainText")) if equivs else None
        return (plain.text or "") if plain is not None else None

    @property
    def conf(self) -> float | None:
        equivs = self._text_equivs()
        value = equivs[0].get("conf") if equivs else None
        return float(value) if value not in (None, "") else None

    def set_text(self, text: str, conf: float | None = None) -> None:
        """Replace every ``TextEquiv`` by one holding ``text`` (and ``@conf``)."""
        for equiv in self._text_equivs():
            self.element.remove(equiv)
        equiv = self._new_child("TextEquiv")
        if conf is not None:
            equiv.set("conf", f"{min(max(conf, 0.0), 1.0):.6g}")
        etree.SubElement(equiv, self._q("Unicode")).text = text

    @property
    def text_style(self) -> dict[str, str]:
        element = self._child("TextStyle")
        return dict(element.attrib) if element is not None else {}

    @text_style.setter
    def text_style(self, attributes: dict[str, str]) -> None:
        self._replace_child("TextStyle", attributes)

    @property
    def styled_text(self) -> str | None:
        """The text with Loghi's style markers before its styled characters: the
        ``textStyle`` ranges of ``custom`` and the styles of ``TextStyle``."""
        text = self.text
        if text is None:
            return None
        spans = styles.spans_of_custom(self.custom)
        whole = self.text_style
        spans += [(0, len(text), style) for style in styles.STYLES if whole.get(style) == "true"]
        return styles.to_markers(text, spans)

    def set_styled_text(self, text: str, conf: float | None = None) -> None:
        """Set text that may hold style markers: the clean text goes to ``TextEquiv``,
        the styles to ``textStyle`` ranges, and a style of every character to
        ``TextStyle``. Ranges of the old text go; without markers ``TextStyle`` stays."""
        clean, spans = styles.from_markers(text)
        if clean != self.text or spans:
            self.custom = [e for e in self.custom if e[0] != "textStyle"]
        self.set_text(clean, conf)
        if not spans:
            return
        whole = {style for offset, length, style in spans if (offset, length) == (0, len(clean))}
        self.custom = self.custom + styles.custom_of_spans(
            [span for span in spans if span[2] not in whole]
        )
        attributes = {k: v for k, v in self.text_style.items() if k not in styles.STYLES}
        if whole or self._child("TextStyle") is not None:
            self.text_style = attributes | {style: "true" for style in sorted(whole)}


class Glyph(TextNode):
    kind = "Glyph"


class Word(TextNode):
    kind = "Word"

    def glyphs(self) -> list[Glyph]:
        return [Glyph(self.doc, e) for e in self.element.findall(self._q("Glyph"))]


class TextLine(TextNode):
    kind = "TextLine"

    @property
    def baseline(self) -> list[Point]:
        return self._points("Baseline")

    @baseline.setter
    def baseline(self, points: Sequence[Sequence[float]]) -> None:
        self._set_points("Baseline", points)

    @property
    def region(self) -> Region:
        return Region(self.doc, self.element.getparent())

    @property
    def is_staff(self) -> bool:
        """Whether the line is a staff (``structure {type:staff;}``), not text."""
        return (self.custom_get("structure") or {}).get("type") == "staff"

    def words(self) -> list[Word]:
        return [Word(self.doc, e) for e in self.element.findall(self._q("Word"))]

    def clear_words(self) -> None:
        """Remove every ``Word`` of the line."""
        for word in self.element.findall(self._q("Word")):
            self.element.remove(word)

    def add_word(
        self,
        id: str,
        coords: Sequence[Sequence[float]],
        text: str | None = None,
        conf: float | None = None,
    ) -> Word:
        word = Word(self.doc, self._new_child("Word", {"id": id}))
        word.coords = coords
        if text is not None:
            word.set_text(text, conf)
        return word


class Region(TextNode):
    """Any ``*Region``; ``tag`` tells which (``TextRegion``, ``MusicRegion`` …)."""

    kind = "Region"

    def regions(self) -> list[Region]:
        """Regions nested directly in this one."""
        return self._regions()

    def text_lines(self) -> list[TextLine]:
        return [TextLine(self.doc, e) for e in self.element.findall(self._q("TextLine"))]

    def set_line_order(self, lines: Sequence[TextLine]) -> None:
        """Put the region's ``TextLine`` elements in the order of ``lines`` (all of them)."""
        for line in lines:
            self.element.remove(line.element)
        for line in lines:
            _insert(self.element, line.element)

    def add_text_line(
        self,
        id: str,
        coords: Sequence[Sequence[float]],
        baseline: Sequence[Sequence[float]] | None = None,
        text: str | None = None,
        conf: float | None = None,
        custom: Custom | None = None,
    ) -> TextLine:
        line = TextLine(self.doc, self._new_child("TextLine", {"id": id}))
        line.coords = coords
        if baseline is not None and len(baseline):
            line.baseline = baseline
        if custom:
            line.custom = custom
        if text is not None:
            line.set_text(text, conf)
        return line

    def add_region(
        self, tag: str, id: str, coords: Sequence[Sequence[float]], custom: Custom | None = None
    ) -> Region:
        return _add_region(self, tag, id, coords, custom)


class Page(Node):
    kind = "Page"

    @property
    def image_filename(self) -> str | None:
        return self.element.get("imageFilename")

    @property
    def width(self) -> int | None:
        return _dimension(self.element.get("imageWidth"))

    @property
    def height(self) -> int | None:
        return _dimension(self.element.get("imageHeight"))

    def regions(self) -> list[Region]:
        """Top-level regions in document order."""
        return self._regions()

    def add_region(
        self, tag: str, id: str, coords: Sequence[Sequence[float]], custom: Custom | None = None
    ) -> Region:
        return _add_region(self, tag, id, coords, custom)


def _add_region(
    parent: Node, tag: str, id: str, coords: Sequence[Sequence[float]], custom: Custom | None
) -> Region:
    if not v.is_region(tag):
        raise ValueError(f"not a region type: {tag}")
    region = Region(parent.doc, parent._new_child(tag, {"id": id}))
    region.coords = coords
    if custom:
        region.custom = custom
    return region


def _dimension(value: str | None) -> int | None:
    try:
        number = int(value) if value is not None else 0
    except ValueError:
        return None
    return number if number > 0 else None


def _insert(parent: etree._Element, child: etree._Element) -> etree._Element:
    """Insert ``child`` right after the last sibling the schema orders before it."""
    parent_name = v.local(parent)
    rank = _rank(parent_name, v.local(child))
    ranks = [_rank(parent_name, v.local(s)) if isinstance(s.tag, str) else None for s in parent]
    if rank is None:
        parent.append(child)
        return child
    before = [i for i, other in enumerate(ranks) if other is not None and other <= rank]
    after = [i for i, other in enumerate(ranks) if other is not None and other > rank]
    parent.insert(before[-1] + 1 if before else (after[0] if after else len(parent)), child)
    return child


def _sort_children(root: etree._Element) -> None:
    """Put children in schema order (older versions ordered some differently)."""
    for parent in root.iter(etree.Element):
        name = v.local(parent)
        keys, last = [], -1
        for child in parent:
            rank = _rank(name, v.local(child)) if isinstance(child.tag, str) else None
            last = rank if rank is not None else last
            keys.append(last)
        if keys != sorted(keys):
            children = [
                c for _, c in sorted(zip(keys, list(parent), strict=True), key=lambda pair: pair[0])
            ]
            parent[:] = children


def _same_step(a: etree._Element, b: etree._Element) -> bool:
    """Two processing steps of one stage, model, version and parameters (any date)."""

    def key(item: etree._Element) -> tuple:
        labels = [(label.get("type"), label.get("value")) for label in item.iter("{*}Label")]
        return item.get("type"), item.get("name"), item.get("value"), labels

    return key(a) == key(b)


def _parser() -> etree.XMLParser:
    # No DTDs, no entity expansion, no network: a PAGE file is data, never a program.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
    )


class PageDocument:
    """A PAGE XML document, held in the modern (2013+) form of its own namespace."""

    def __init__(self, root: etree._Element, source_version: str, path: Path | None = None) -> None:
        self.root = root
        self.source_version = source_version
        self.path = path

    # reading --------------------------------------------------------------

    @classmethod
    def read(cls, path: str | Path, max_bytes: int = MAX_BYTES) -> PageDocument:
        """Read a PAGE file; raise :class:`PageXMLError` with one clear line if unusable."""
        path = Path(path)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise PageXMLError(path, "file not found") from None
        if size > max_bytes:
            raise PageXMLError(path, f"file is {size} bytes, over the limit of {max_bytes}")
        return cls.from_bytes(path.read_bytes(), path)

    @classmethod
    def from_bytes(cls, data: bytes, path: str | Path = "<memory>") -> PageDocument:
        path = Path(path)
        try:
            root = etree.fromstring(data, _parser())
        except etree.XMLSyntaxError as exc:
            raise PageXMLError(path, f"not well-formed XML ({exc.msg})") from None
        tree = root.getroottree()
        dtd = tree.docinfo.internalDTD
        if dtd is not None and any(True for _ in dtd.iterentities()):
            raise PageXMLError(path, "declares XML entities; refused (PAGE never needs them)")
        qname = etree.QName(root)
        version = v.version_of(qname.namespace)
        if version is None or qname.localname.lower() != "pcgts":
            raise PageXMLError(
                path,
                f"not a PAGE XML file (root element {qname.localname!r} "
                f"in namespace {qname.namespace!r})",
            )
        if qname.namespace != v.namespace(version):  # https:// variant
            v.rename_namespace(root, qname.namespace, v.namespace(version))
        if version == "2009-03-16":
            root, unmapped = v.lift_2009(root)
            if unmapped:
                log.warning(
                    "%s: PAGE 2009 attributes without a later counterpart dropped: %s",
                    path,
                    ", ".join(sorted(set(a.split("=")[0] for a in unmapped))),
                )
        if version < "2013-07-15":
            ns = v.namespace("2010-03-19" if version == "2009-03-16" else version)
            v.lift_2010(root, ns)
            v.map_relations(root, ns, v.DEFAULT_VERSION)
            v.map_scripts(root, ns, version, v.DEFAULT_VERSION)
            _sort_children(root)
            v.rename_namespace(root, ns, v.namespace(v.DEFAULT_VERSION))
        doc = cls(root, version, path)
        doc._clip_coordinates()
        return doc

    @classmethod
    def new(
        cls,
        image_filename: str,
        width: int,
        height: int,
        creator: str | None = None,
        stamp: str | None = None,
    ) -> PageDocument:
        """An empty 2019 document for one image, created at ``stamp`` (default: now)."""
        from quire import __version__

        ns = v.namespace(v.DEFAULT_VERSION)
        root = etree.Element(f"{{{ns}}}PcGts", nsmap={None: ns, "xsi": v.XSI})
        root.set(f"{{{v.XSI}}}schemaLocation", f"{ns} {ns}/pagecontent.xsd")
        metadata = etree.SubElement(root, f"{{{ns}}}Metadata")
        stamp = stamp or now()
        for name, text in (
            ("Creator", creator or f"quire {__version__}"),
            ("Created", stamp),
            ("LastChange", stamp),
        ):
            etree.SubElement(metadata, f"{{{ns}}}{name}").text = text
        etree.SubElement(
            root,
            f"{{{ns}}}Page",
            {
                "imageFilename": image_filename,
                "imageWidth": str(int(width)),
                "imageHeight": str(int(height)),
            },
        )
        return cls(root, v.DEFAULT_VERSION)

    def _clip_coordinates(self) -> None:
        width, height = self.page.width, self.page.height
        changed = 0
        for element in self.root.iter(self._q("Coords"), self._q("Baseline")):
            raw = element.get("points")
            if raw is None or unreadable_points(raw):
                continue  # kept as written, for the stages to say what is wrong
            points = parse_points(raw)
            if width and height:
                points = [
                    (min(max(x, 0), width - 1), min(max(y, 0), height - 1)) for x, y in points
                ]
            else:
                points = [(max(x, 0), max(y, 0)) for x, y in points]
            text = format_points(points)
            if text != raw.strip() and text:
                element.set("points", text)
                changed += 1
        if changed:
            size = f"{width}x{height} page" if width and height else "page"
            log.warning(
                "%s: %d coordinate lists outside the %s (or not integers) were clipped",
                self.path or "<memory>",
                changed,
                size,
            )

    # structure ------------------------------------------------------------

    @property
    def ns(self) -> str:
        return etree.QName(self.root).namespace

    @property
    def version(self) -> str:
        return v.version_of(self.ns) or v.DEFAULT_VERSION

    def _q(self, name: str) -> str:
        return f"{{{self.ns}}}{name}"

    @property
    def page(self) -> Page:
        element = self.root.find(self._q("Page"))
        if element is None:
            raise PageXMLError(self.path or "<memory>", "PAGE file has no Page element")
        return Page(self, element)

    @property
    def stem(self) -> str:
        """The page's key: the image file name without suffix, else the XML file's stem."""
        name = self.page.image_filename
        return Path(name).stem if name else (self.path.stem if self.path else "page")

    def regions(self) -> Iterator[Region]:
        """Every region, nested ones included, in document order."""
        for element in self.page.element.iter(self._q("*")):
            if v.is_region(v.local(element)):
                yield Region(self, element)

    def text_lines(self) -> Iterator[TextLine]:
        for element in self.page.element.iter(self._q("TextLine")):
            yield TextLine(self, element)

    def find(self, id: str) -> Node | None:
        """The element with ``@id``, wrapped by its kind."""
        found = self.root.xpath("//*[@id=$id]", id=id)
        if not found:
            return None
        element = found[0]
        name = v.local(element)
        classes = {"TextLine": TextLine, "Word": Word, "Glyph": Glyph, "Page": Page}
        cls = Region if v.is_region(name) else classes.get(name, Node)
        return cls(self, element)

    # reading order --------------------------------------------------------

    def regions_in_order(self) -> list[Region]:
        """Every region holding lines: top-level ones in the page's reading order, then
        the rest in document order; nested regions follow their parent."""
        regions = [r for r in self.regions() if r.text_lines()]
        rank = {region_id: n for n, region_id in enumerate(self.reading_order())}

        def top(region: Region) -> str | None:
            element = region.element
            while element.getparent() is not None and element.getparent() is not self.page.element:
                element = element.getparent()
            return element.get("id")

        return sorted(regions, key=lambda r: rank.get(top(r), len(rank)))

    def reading_order(self) -> list[str]:
        """Region ids in the order of the page's ``ReadingOrder`` (nested groups flattened)."""
        order = self.page._child("ReadingOrder")
        return [] if order is None else list(_flatten_group(order))

    def set_reading_order(self, region_ids: Sequence[str]) -> None:
        """Replace ``ReadingOrder`` by one ordered group of ``region_ids``."""
        page = self.page
        old = page._child("ReadingOrder")
        if old is not None:
            page.element.remove(old)
        order = page._new_child("ReadingOrder")
        group = etree.SubElement(
            order,
            self._q("OrderedGroup"),
            {"id": "reading_order", "caption": "Regions reading order"},
        )
        for index, region_id in enumerate(region_ids):
            etree.SubElement(
                group, self._q("RegionRefIndexed"), {"index": str(index), "regionRef": region_id}
            )

    # metadata -------------------------------------------------------------

    def add_processing_step(
        self,
        stage: str,
        model: str | None = None,
        model_version: str | None = None,
        parameters: dict[str, object] | None = None,
        stamp: str | None = None,
    ) -> None:
        """Record that ``stage`` changed this page (``MetadataItem type=processingStep``).

        The same step again (stage, model, version and parameters) replaces its
        earlier record, so a stage that is rerun, as after a crash, leaves one.
        """
        from quire import __version__

        metadata = _ensure_metadata(self.root, self.ns)
        stamp = stamp or now()
        metadata.find(self._q("LastChange")).text = stamp
        item = etree.Element(
            self._q("MetadataItem"),
            {
                "type": "processingStep",
                "name": stage,
                "value": f"quire {__version__}",
                "date": stamp,
            },
        )
        labels = [("model", model), ("modelVersion", model_version)]
        labels += [(f"parameter:{key}", str(value)) for key, value in (parameters or {}).items()]
        labels = [(kind, value) for kind, value in labels if value is not None]
        if labels:
            holder = etree.SubElement(item, self._q("Labels"))
            for kind, value in labels:
                etree.SubElement(holder, self._q("Label"), {"type": kind, "value": value})
        for earlier in metadata.iterfind(self._q("MetadataItem")):
            if _same_step(earlier, item):
                metadata.replace(earlier, item)
                return
        _insert(metadata, item)

    @property
    def metadata(self) -> dict[str, str]:
        """``Creator``, ``Created``, ``LastChange`` and ``Comments`` as text."""
        element = self.root.find(self._q("Metadata"))
        if element is None:
            return {}
        return {
            v.local(child): child.text or ""
            for child in element
            if isinstance(child.tag, str)
            and v.local(child) in ("Creator", "Created", "LastChange", "Comments")
        }

    def processing_steps(self) -> list[dict[str, str]]:
        """Every processing step: its attributes plus its labels by type."""
        steps = []
        metadata = self.root.find(self._q("Metadata"))
        for item in metadata.iter(self._q("MetadataItem")) if metadata is not None else ():
            if item.get("type") == "processingStep":
                step = dict(item.attrib)
                step.update(
                    {
                        label.get("type", ""): label.get("value", "")
                        for label in item.iter(self._q("Label"))
                    }
                )
                steps.append(step)
        return steps

    # writing --------------------------------------------------------------

    def to_bytes(self, version: str = v.DEFAULT_VERSION) -> bytes:
        """Serialise as PAGE ``version`` (``2019-07-15`` or ``2013-07-15``)."""
        version = v.normalise_version(version)
        root = copy.deepcopy(self.root)
        ns = self.ns
        _ensure_metadata(root, ns)
        if version == "2013-07-15":
            _steps_to_comments(root, ns)
        v.map_relations(root, ns, version)
        v.map_scripts(root, ns, self.version, version)
        dropped = v.drop_absent(root, ns, version)
        if dropped:
            log.warning(
                "%s: PAGE %s has no place for %s; left out",
                self.path or "<memory>",
                version,
                ", ".join(f"{k} ({n})" for k, n in sorted(dropped.items())),
            )
        if ns != v.namespace(version):
            v.rename_namespace(root, ns, v.namespace(version))
        etree.indent(root, space="  ")
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8") + b"\n"

    def write(self, path: str | Path, version: str = v.DEFAULT_VERSION) -> None:
        """Write atomically to ``path``."""
        atomic_write_bytes(path, self.to_bytes(version))


def _ensure_metadata(root: etree._Element, ns: str) -> etree._Element:
    """``Metadata`` with the children every version requires (filled in when missing)."""
    metadata = root.find(f"{{{ns}}}Metadata")
    if metadata is None:
        metadata = _insert(root, etree.Element(f"{{{ns}}}Metadata"))
    for name in ("Creator", "Created", "LastChange"):
        if metadata.find(f"{{{ns}}}{name}") is None:
            _insert(metadata, etree.Element(f"{{{ns}}}{name}")).text = (
                "" if name == "Creator" else now()
            )
    return metadata


def _flatten_group(group: etree._Element) -> Iterator[str]:
    children = [c for c in group if isinstance(c.tag, str)]
    if any(c.get("index") is not None for c in children):
        children.sort(key=lambda c: int(c.get("index") or 0))
    for child in children:
        name = v.local(child)
        if name.startswith("RegionRef"):
            if child.get("regionRef"):
                yield child.get("regionRef")
        elif "Group" in name:
            if child.get("regionRef"):
                yield child.get("regionRef")
            yield from _flatten_group(child)


def _steps_to_comments(root: etree._Element, ns: str) -> None:
    """PAGE 2013 has no ``MetadataItem``: keep processing steps as lines of ``Comments``."""
    metadata = root.find(f"{{{ns}}}Metadata")
    items = [] if metadata is None else metadata.findall(f"{{{ns}}}MetadataItem")
    if not items:
        return
    lines = []
    for item in items:
        labels = " ".join(
            f"{label.get('type')}={label.get('value')}" for label in item.iter(f"{{{ns}}}Label")
        )
        lines.append(
            " ".join(
                filter(
                    None,
                    [
                        f"{item.get('type', 'other')}: {item.get('name', '')}",
                        item.get("value", ""),
                        item.get("date", ""),
                        labels,
                    ],
                )
            )
        )
        metadata.remove(item)
    comments = metadata.find(f"{{{ns}}}Comments")
    if comments is None:
        comments = _insert(metadata, etree.Element(f"{{{ns}}}Comments"))
    comments.text = "\n".join(filter(None, [comments.text, *lines]))
