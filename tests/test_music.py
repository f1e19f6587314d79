"""Staff text and its encodings, checked against a real PrIMuS incipit."""

from __future__ import annotations

import re

import pytest

from quire.music.encodings import encode, from_semantic, to_kern
from quire.music.kern import (
    KernError,
    parse_kern,
    split_token,
    staff_text,
    staff_tokens,
    text_records,
)

# PrIMuS incipit 000051652-1_2_1 in **kern, without its 23-bar multirest.
INCIPIT = "*clefC1 *k[b-e-a-] *M2/4 = 4r 8r 8b- = 4.b- 8g = 4.ee- 8dd = 8cc 8cc 4r ="
MULTIREST = {"multirest-23", "digit.2-S5", "digit.3-S5", "multirest-L3"}


@pytest.mark.parametrize("encoding", ["semantic", "agnostic"])
def test_primus_encodings_match_the_primus_files(shared_data, encoding):
    expected = (shared_data / "primus" / f"000051652-1_2_1.{encoding}").read_text().split()
    assert encode(INCIPIT, encoding).split() == [t for t in expected if t not in MULTIREST]


def test_chords_and_bekern():
    text = staff_text(["*clefG2", "4c 4e 4g", "8dd#L", "=", "2.r"])
    assert text == "*clefG2 4c <s> 4e <s> 4g 8dd#L = 2.r"
    assert text_records(text) == [["*clefG2"], ["4c", "4e", "4g"], ["8dd#L"], ["="], ["2.r"]]
    assert encode(text, "bekern") == "*clefG2 4·c <s> 4·e <s> 4·g 8·dd·#·L = 2.·r"
    assert split_token("[16BB-J") == ["[", "16", "BB", "-", "J"]
    with pytest.raises(KernError, match="chords"):
        encode(text, "semantic")


def test_semantic_back_to_kern():
    assert from_semantic(encode(INCIPIT, "semantic")) == INCIPIT
    tied = "*clefF4 *k[f#c#] *met(c) [4.G# 8G#_ 4G#] 2r; =="
    semantic = encode(tied, "semantic")
    assert semantic.split()[:3] == ["clef-F4", "keySignature-DM", "timeSignature-C"]
    assert from_semantic(semantic) == tied.replace("==", "=")  # semantic has one barline
    assert from_semantic("note-Bb4_eighth") == "8b-"  # beams are not in semantic
    assert to_kern(encode(tied, "bekern"), "bekern") == tied
    with pytest.raises(KernError, match="multirest-23"):
        from_semantic("clef-G2 multirest-23")
    with pytest.raises(KernError, match="positions"):
        to_kern("clef.G-L2", "agnostic")


def test_staff_tokens_carry_clef_and_key_into_later_systems():
    score = parse_kern(
        "**kern\t**kern\n*clefF4\t*clefG2\n*k[f#]\t*k[f#]\n*M3/4\t*M3/4\n"
        "4G\t4g\n=2\t=2\n2.D\t2.d 2.f#\n==\t==\n*-\t*-\n"
    )
    assert score.staff_count == 2
    assert staff_tokens(score, 1, 1, 99) == [
        "*clefG2",
        "*k[f#]",
        "*M3/4",
        "4g",
        "=",
        "2.d 2.f#",
        "==",
    ]
    assert staff_tokens(score, 0, 7, 99) == ["*clefF4", "*k[f#]", "2.D", "=="]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file"),
        ("4c\n", "expected the exclusive interpretations"),
        ("**text\n", "no **kern spine"),
        ("**kern\t**kern\n4c\n", "line 2: 1 fields where 2 spines run"),
        ("**kern\n*^\n", "spine splits"),
    ],
)
def test_unusable_kern_is_named(text, message):
    with pytest.raises(KernError, match=re.escape(message)):
        parse_kern(text)


def test_accidentals_as_printed_and_back():
    from quire.music.accidentals import to_printed, to_sounding
    from quire.synth.generate import MusicStyle, generate_kern

    text = "*k[f#] 4f# 4f 4f# 4fn = [4g# = 4g#] 4g 4ff#"
    printed = to_printed(text)
    assert printed == "*k[f#] 4f 4fn 4f# 4fn = [4g# = 4g] 4g 4ff"  # a tie sets no accidental
    assert to_sounding(printed) == "*k[f#] 4f# 4fn 4f# 4fn = [4g# = 4g#] 4g 4ff#"
    for seed in range(50):  # generated music comes back exactly
        score = parse_kern(generate_kern(seed, MusicStyle(kind="monophonic")))
        staff = staff_text(staff_tokens(score, 0, 1, 10**6))
        assert to_sounding(to_printed(staff)) == staff


def test_score_aligns_staves_by_onset_and_fills_failed_staves_with_rests():
    from fractions import Fraction

    from quire.music.score import duration, page_kern, rests, staff_records

    assert [duration([t]) for t in ("4.c", "0r", "3%2c", "8cq", "12e")] == [
        Fraction(3, 8),
        2,
        Fraction(2, 3),
        0,
        Fraction(1, 12),
    ]
    assert rests(Fraction(7, 8)) == [["2r"], ["4r"], ["8r"]]
    assert rests(Fraction(1, 12)) == [["12r"]] and rests(Fraction(2, 3)) == [["3%2r"]]
    upper = staff_records("*clefG2 *M3/4 2c 4d = 4e 4f 4g ==", "kern")
    lower = staff_records("*clefF4 *M3/4 4C 4D 4E = 2.F ==", "kern")
    kern = page_kern([[upper, lower], [upper, None]])
    records = [line.split("\t") for line in kern.splitlines()]
    assert records[3:6] == [["4C", "2c"], ["4D", "."], ["4E", "4d"]]
    second = records[records.index(["==", "=="]) + 1 :]
    assert ["*clefF4", "*clefG2"] not in second  # a system repeats clefs only when engraved
    assert second[:3] == [["2r", "2c"], ["4r", "4d"], ["=", "="]]


@pytest.mark.parametrize("ending", ["=6\n", "=6\n==\n", ""])
def test_held_out_melodies_end_on_one_final_barline(ending):
    from bench.melodies import _reduce

    tune = "**kern\n*clefG2\n*k[b-]\n" + "".join(f"4c\n4e-\n={n}\n" for n in range(1, 6))
    reduced = _reduce(tune + "4d\n4f\n" + ending + "*-\n", measures=16).split("\n")
    assert reduced[-5:] == ["4d", "4f", "==", "*-", ""]
    truncated = _reduce(tune, measures=3).split("\n")
    assert truncated[-5:] == ["4c", "4e-", "==", "*-", ""]  # not "=3", then "=="


def test_held_out_melodies_keep_one_beam_per_engraved_group():
    from bench.melodies import _reduce

    beat = "8a/L\n16a/L\n16dd/JJ\n16a/LL\n16f#/J\n16g/L\n16e/JJ\n"  # kern nests beam levels
    tune = "**kern\n*clefG2\n*M2/4\n" + beat + "=1\n4f#\n8e/L\n8e/J\n" * 2 + "==\n*-\n"
    reduced = _reduce(tune, measures=16).split("\n")
    assert reduced[3:10] == ["8aL", "16a", "16ddJ", "16aL", "16f#", "16g", "16eJ"]
    assert reduced[10:14] == ["=1", "4f#", "8eL", "8eJ"]
