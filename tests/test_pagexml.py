"""quire.pagexml against the real PAGE files of other projects and its own output."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from lxml import etree

from quire.pagexml import PageDocument, PageXMLError, parse_custom
from quire.pagexml.custom import format_custom
from quire.pagexml.versions import SCRIPTS_2013

# Reference files that are invalid against their own schema; their output cannot be
# valid either (quire does not invent what is missing).
INVALID_INPUTS = {
    "page_invalid_dims.xml": "imageWidth='foo'",
    "page_invalid_image.xml": "no imageFilename",
    "page_missing_coords_ro.xml": "Coords without points",
    "page_missing_coords_transkribus.xml": "Coords without points",
    "NL-HaNA_2.05.31_1_0031.xml": "primaryLanguage='de' is not a PAGE language",
}
NOT_PAGE = {
    "docs_pagexml_2019.xml": "not well-formed XML",
    "merge_tests_0014.alto.xml": "not a PAGE XML file",
    "NL-HlmNHA_1972_8_0022.alto.xml": "not a PAGE XML file",
}


def examples(shared: Path) -> list[Path]:
    return sorted((shared / "pagexml-examples").glob("*/*.xml"))


def content(root: etree._Element) -> list[tuple]:
    """Everything a PAGE tree says, independent of namespace version and formatting."""
    rows = []
    for element in root.iter(etree.Element):
        qname = etree.QName(element)
        ns = "" if "primaresearch" in (qname.namespace or "") else qname.namespace
        attributes = tuple(
            sorted(
                (etree.QName(k).localname, SCRIPTS_2013.get(v, v))
                for k, v in element.attrib.items()
                if etree.QName(k).localname != "schemaLocation"
            )
        )
        rows.append((ns, qname.localname, attributes, (element.text or "").strip()))
    return rows


def test_every_reference_file_reads_or_fails_with_one_clear_line(shared_data):
    for path in examples(shared_data):
        if path.name in NOT_PAGE:
            with pytest.raises(PageXMLError) as info:
                PageDocument.read(path)
            message = str(info.value)
            assert message.startswith(str(path)) and NOT_PAGE[path.name] in message
            assert "\n" not in message
        else:
            doc = PageDocument.read(path)
            assert doc.page.element is not None
            list(doc.regions()), list(doc.text_lines()), doc.reading_order()


@pytest.mark.parametrize("version", ["2019-07-15", "2013-07-15"])
def test_written_files_validate_against_the_official_schema(shared_data, validate, version):
    checked = 0
    for path in examples(shared_data):
        if path.name in NOT_PAGE or path.name in INVALID_INPUTS:
            continue
        errors = validate(PageDocument.read(path).to_bytes(version), version)
        assert not errors, f"{path.name} as {version}: {errors[:3]}"
        checked += 1
    assert checked >= 12


def test_read_write_loses_nothing(shared_data):
    for path in examples(shared_data):
        if path.name in NOT_PAGE:
            continue
        doc = PageDocument.read(path)
        before = content(doc.root)
        again = PageDocument.from_bytes(doc.to_bytes())
        after = content(again.root)
        missing = [row for row in before if row not in after]
        assert not missing, f"{path.name} lost {missing[:3]}"


def test_2013_file_written_as_2013_is_unchanged_in_meaning(shared_data):
    path = shared_data / "pagexml-examples/loghi/NL-0400410000_26_005006_000381_htr.xml"
    original = etree.parse(str(path)).getroot()
    written = etree.fromstring(PageDocument.read(path).to_bytes("2013"))
    assert content(written) == content(original)
    assert etree.QName(written).namespace == etree.QName(original).namespace


def test_loghi_text_and_confidence_are_read(shared_data):
    doc = PageDocument.read(
        shared_data / "pagexml-examples/loghi/NL-0400410000_26_005006_000381_htr.xml"
    )
    line = next(doc.text_lines())
    assert line.text == line.plain_text == "1ed"
    assert doc.metadata["Creator"] == "Laypa"
    assert line.conf == pytest.approx(0.01121531150168447)
    assert len(line.baseline) == 9 and len(line.coords) == 15


def test_versions_2009_2010_and_https_namespace_are_lifted(shared_data, validate):
    prima = shared_data / "pagexml-examples/prima"
    doc = PageDocument.read(prima / "RegionTypes_2010-01-12.xml")
    assert doc.source_version == "2010-01-12"
    assert all(len(region.coords) >= 3 for region in doc.regions())
    legacy = PageDocument.read(prima / "mp00105_2009-03-16.xml")
    assert legacy.page.image_filename == "mp00105c.tif"
    assert {r.tag for r in legacy.regions()} >= {"TextRegion", "SeparatorRegion", "ImageRegion"}
    https = PageDocument.read(shared_data / "pagexml-examples/kraken/page_cPAS-2000.xml")
    assert https.version == "2013-07-15"
    assert not validate(https.to_bytes())


def test_reading_order_of_transkribus_file(shared_data):
    doc = PageDocument.read(shared_data / "pagexml-examples/kraken/page_explicit_ro.xml")
    order = doc.reading_order()
    assert order and len(order) == len(set(order))
    assert all(doc.find(region_id) is not None for region_id in order)


def test_external_entities_are_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    payload = tmp_path / "xxe.xml"
    payload.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE PcGts [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
        '<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15">'
        '<Page imageFilename="a.png" imageWidth="10" imageHeight="10">'
        '<TextRegion id="r"><Coords points="0,0 5,5"/><TextEquiv><Unicode>&xxe;</Unicode>'
        "</TextEquiv></TextRegion></Page></PcGts>"
    )
    with pytest.raises(PageXMLError, match="declares XML entities"):
        PageDocument.read(payload)


def test_billion_laughs_is_refused(tmp_path):
    entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol"}">' for i in range(9))
    payload = tmp_path / "laughs.xml"
    payload.write_text(
        f'<?xml version="1.0"?><!DOCTYPE PcGts [{entities}]>'
        '<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15">'
        "<Page>&l8;</Page></PcGts>"
    )
    with pytest.raises(PageXMLError):
        PageDocument.read(payload)


def test_size_limit(tmp_path):
    path = tmp_path / "big.xml"
    path.write_bytes(b"<PcGts/>" + b" " * 2048)
    with pytest.raises(PageXMLError, match="over the limit"):
        PageDocument.read(path, max_bytes=1024)


def test_coordinates_outside_the_page_are_clipped_with_a_warning(caplog, validate):
    data = (
        b'<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15">'
        b"<Metadata><Creator/><Created>2020-01-01T00:00:00</Created>"
        b"<LastChange>2020-01-01T00:00:00</LastChange></Metadata>"
        b'<Page imageFilename="a.png" imageWidth="100" imageHeight="50">'
        b'<TextRegion id="r"><Coords points="-5,3 120,3 120.6,70 0,40"/></TextRegion>'
        b"</Page></PcGts>"
    )
    with caplog.at_level(logging.WARNING, logger="quire"):
        doc = PageDocument.from_bytes(data, "clip.xml")
    assert doc.find("r").coords == [(0, 3), (99, 3), (99, 49), (0, 40)]
    assert "clip.xml" in caplog.text and "clipped" in caplog.text
    assert not validate(doc.to_bytes())


def test_unknown_elements_and_attributes_survive_editing():
    data = (
        b'<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15" '
        b'xmlns:x="urn:example:extra">'
        b"<Metadata><Creator>someone</Creator><Created>2020-01-01T00:00:00</Created>"
        b"<LastChange>2020-01-01T00:00:00</LastChange><x:Note>keep me</x:Note></Metadata>"
        b'<Page imageFilename="a.png" imageWidth="100" imageHeight="50" x:flag="1">'
        b'<TextRegion id="r" custom="structure {type:paragraph;}">'
        b'<Coords points="0,0 99,0 99,49 0,49"/>'
        b'<TextLine id="l1" x:source="hand"><Coords points="1,1 98,1 98,20 1,20"/>'
        b'<Word id="w1"><Coords points="1,1 20,1 20,20 1,20"/></Word>'
        b"<x:Annotation>kept</x:Annotation></TextLine></TextRegion></Page></PcGts>"
    )
    doc = PageDocument.from_bytes(data)
    line = doc.find("l1")
    line.set_text("new text", 0.75)
    line.custom_set("readingOrder", {"index": "0"})
    doc.add_processing_step("merge", model="tiny", model_version="1")
    again = PageDocument.from_bytes(doc.to_bytes())
    before, after = content(PageDocument.from_bytes(data).root), content(again.root)
    assert [row for row in before if row not in after and row[1] != "LastChange"] == [
        row for row in before if row[1] == "TextLine"
    ]  # only its custom attribute changed
    line = again.find("l1")
    assert (line.text, line.conf) == ("new text", 0.75)
    assert line.custom_get("readingOrder") == {"index": "0"}
    names = [etree.QName(child).localname for child in line.element]
    assert names.index("Word") < names.index("TextEquiv") < names.index("Annotation")


def test_new_document_with_staff_lines_validates_in_2019_and_2013(validate):
    doc = PageDocument.new("score.png", 1000, 800)
    system = doc.page.add_region(
        "TextRegion",
        "system_1",
        [(10, 10), (990, 10), (990, 300), (10, 300)],
        custom=[("structure", {"type": "music"})],
    )
    staff = system.add_text_line(
        "staff_1",
        [(10, 10), (990, 10), (990, 120), (10, 120)],
        baseline=[(10, 110), (990, 110)],
        custom=[("structure", {"type": "staff"})],
    )
    staff.set_text("*clefG2 4c 4d 4e", 0.93)
    doc.set_reading_order(["system_1"])
    doc.add_processing_step(
        "extract", model="layout", model_version="0.1.0", parameters={"threshold": 0.5}
    )
    assert not validate(doc.to_bytes("2019"), "2019-07-15")
    assert not validate(doc.to_bytes("2013"), "2013-07-15")
    again = PageDocument.from_bytes(doc.to_bytes())
    assert again.reading_order() == ["system_1"]
    assert again.find("staff_1").custom_get("structure") == {"type": "staff"}
    step = again.processing_steps()[0]
    assert step["name"] == "extract" and step["model"] == "layout"
    assert step["parameter:threshold"] == "0.5"
    comments = etree.fromstring(doc.to_bytes("2013")).find(".//{*}Comments").text
    assert "processingStep: extract" in comments


def test_a_step_run_again_replaces_its_record():
    doc = PageDocument.new("score.png", 1000, 800)
    doc.add_processing_step("extract", parameters={"threshold": 0.5}, stamp="2026-01-01T00:00:00")
    doc.add_processing_step("merge", model="staff", model_version="1", stamp="2026-01-01T00:00:01")
    doc.add_processing_step("merge", model="text", model_version="1", stamp="2026-01-01T00:00:02")
    doc.add_processing_step("merge", model="staff", model_version="1", stamp="2026-01-01T00:00:03")
    doc.add_processing_step("extract", parameters={"threshold": 0.6}, stamp="2026-01-01T00:00:04")
    steps = [(s["name"], s.get("model"), s["date"][-2:]) for s in doc.processing_steps()]
    assert steps == [
        ("extract", None, "00"),
        ("merge", "staff", "03"),
        ("merge", "text", "02"),
        ("extract", None, "04"),
    ]
    assert doc.metadata["LastChange"] == "2026-01-01T00:00:04"


def test_custom_attribute_round_trip_with_escapes():
    text = (
        r"readingOrder {index:3;} textStyle {offset:0; length:4; bold:true;} "
        r"textStyle {offset:5; length:2; italic:true;} note {text:a\u003bb\u007d;}"
    )
    entries = parse_custom(text)
    assert entries[0] == ("readingOrder", {"index": "3"})
    assert [key for key, _ in entries].count("textStyle") == 2
    assert entries[3][1]["text"] == "a;b}"
    assert parse_custom(format_custom(entries)) == entries


def test_writing_is_atomic_and_keeps_the_original(tmp_path):
    target = tmp_path / "page" / "a.xml"
    doc = PageDocument.new("a.png", 10, 10)
    doc.write(target)
    first = target.read_bytes()
    doc.page.add_region("TextRegion", "r1", [(0, 0), (5, 5)])
    doc.write(target)
    assert target.read_bytes() != first
    assert [p.name for p in target.parent.iterdir()] == ["a.xml"]
