"""quire evaluate: how close predictions are to ground truth, as JSON and Markdown.

Layers (pixel level): for every layer, precision = |predicted ∩ true| / |predicted|,
recall = |predicted ∩ true| / |true|, F1 = their harmonic mean, pooled over all
pages (pixels of every page counted together) and for each page on its own.

Staves (line level): a true staff is found when a predicted staff line's bounding
box overlaps it with intersection over union ≥ 0.5; recall = found / true staves,
precision = matched predicted / predicted staves.

Pages (the whole pipeline): every true line (staff or text line) is paired with
the unpaired predicted line of its kind that overlaps it most (IoU ≥ 0.5); a true
line without a partner counts as read as nothing, a predicted line without one
as read from nothing. The rates below are then taken per page and over all.
Staves in another encoding than the truth's are converted to it where the
encodings convert (kern, bekern, semantic; agnostic names positions, not pitches).
Text lines are also scored as found, by their baselines (the rule of line-finding
comparisons such as Tesseract's and kraken's against PAGE ground truth): a
predicted baseline matches a true one when it lies within a tolerance (10 px) of
it over at least half the true line's width, one to one, the best covered first;
precision, recall and F1 over the lines, pooled. Page CER compares the whole
page's text, lines in reading order joined by line breaks, with the truth's: it
counts lines missed, split, merged or read out of order, as a user of the page
text sees them. The page's music is also scored as a whole: the score export makes of each page
(:mod:`quire.music.fit`, :mod:`quire.music.score`), read and truth, compared by
musicdiff's OMR edit distance; OMR-NED is that distance over the symbols of both
scores (pooled: summed over pages), as homr and the SMT++ papers report it.

Transcriptions (line lists): every rate is an edit distance (Levenshtein:
insertions, deletions and substitutions, through rapidfuzz) summed over all
lines and divided by the summed length of the references, so long lines weigh
more than short ones:

- CER over characters (Unicode NFC), WER over whitespace-separated words;
- SER over the symbols of the encoding: the tokens of a music encoding
  (in bekern the pieces of a note), the characters of text (SER = CER);
- LER, the share of lines that are not exactly right.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unicodedata import normalize

import numpy as np

from quire.errors import InputError, QuireError
from quire.io import atomic_write_text
from quire.layers import read_layer

if TYPE_CHECKING:
    import music21

    from quire.pagexml import PageDocument
    from quire.pagexml.document import Point

log = logging.getLogger("quire")


def precision_recall_f1(tp: int, predicted: int, true: int) -> tuple[float, float, float]:
    """The definitions above; with nothing predicted and nothing true, all are 1."""
    precision = tp / predicted if predicted else float(true == 0)
    recall = tp / true if true else float(predicted == 0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _pages(folder: Path, pattern: str) -> dict[str, Path]:
    found = {p.stem: p for p in sorted(folder.glob(pattern))}
    if not found:
        raise QuireError(f"{folder}: nothing to evaluate ({pattern})")
    return found


def layer_scores(predicted: Path, truth: Path, layers: list[str] | None = None) -> dict[str, Any]:
    """Pixel precision / recall / F1 per layer of ``predicted/<stem>/`` against ``truth/``,
    pooled over the pages and for each page."""
    pred = {p.name: p for p in sorted(predicted.iterdir()) if p.is_dir()}
    true = {p.name: p for p in sorted(truth.iterdir()) if p.is_dir()}
    if not pred.keys() & true.keys():
        raise QuireError(f"no page has layers in both {predicted} and {truth}")
    stems = sorted(true)  # a page without a prediction misses all its pixels
    if layers is None:
        layers = sorted({p.stem for p in true[stems[0]].glob("*.png")} - {"labels"})
    counts: dict[str, dict[str, tuple[int, int, int]]] = {}  # tp, predicted, true
    for stem in stems:
        counts[stem] = {}
        for name in layers:
            paths = (
                (pred[stem] if stem in pred else predicted / stem) / f"{name}.png",
                true[stem] / f"{name}.png",
            )
            if not paths[1].exists() or (stem in pred and not paths[0].exists()):
                raise InputError(paths[0] if paths[1].exists() else paths[1], "missing layer")
            t = read_layer(paths[1])
            p = read_layer(paths[0]) if stem in pred else np.zeros_like(t)
            if p.shape != t.shape:
                raise InputError(
                    paths[0], f"is {p.shape[1]}x{p.shape[0]}, the truth {t.shape[1]}x{t.shape[0]}"
                )
            counts[stem][name] = (int((p & t).sum()), int(p.sum()), int(t.sum()))
    pooled = {
        name: [sum(c) for c in zip(*(counts[s][name] for s in stems), strict=True)]
        for name in layers
    }
    return {
        "pages": len(stems),
        "layers": {name: pixel_score(*pooled[name]) for name in layers},
        "per_page": {
            stem: {name: pixel_score(*counts[stem][name]) for name in layers} for stem in stems
        },
    }


def pixel_score(tp: int, predicted: int, true: int) -> dict[str, float | int]:
    """Precision, recall, F1 and the true pixel count from the three pixel counts."""
    precision, recall, f1 = precision_recall_f1(tp, predicted, true)
    return {"precision": precision, "recall": recall, "f1": f1, "true_pixels": true}


Box = tuple[float, float, float, float]


def _lines(doc: PageDocument) -> list[tuple[Box, bool, str, str]]:
    """Every line of a page with coordinates: box, is it a staff, text, encoding."""
    lines = []
    for line in doc.text_lines():
        if line.coords:
            xs, ys = zip(*line.coords, strict=True)
            encoding = (line.custom_get("encoding") or {}).get("name", "kern")
            lines.append(
                (
                    (min(xs), min(ys), max(xs), max(ys)),
                    line.is_staff,
                    line.text or "",
                    encoding if line.is_staff else "text",
                )
            )
    return lines


def _staff_boxes(path: Path) -> list[Box]:
    from quire.pagexml import PageDocument

    return [box for box, is_staff, _, _ in _lines(PageDocument.read(path)) if is_staff]


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def staff_scores(predicted: Path, truth: Path, threshold: float = 0.5) -> dict[str, Any]:
    """Staves found (IoU ≥ ``threshold``) in ``predicted/*.xml`` against ``truth/*.xml``."""
    pred, true = _pages(predicted, "*.xml"), _pages(truth, "*.xml")
    if not pred.keys() & true.keys():
        raise QuireError(f"no page of {truth} has a prediction in {predicted}")
    stems = sorted(true)  # a page without a prediction misses all its staves
    total = found = predicted_total = matched = 0
    missed: list[str] = []
    for stem in stems:
        p, t = (_staff_boxes(pred[stem]) if stem in pred else []), _staff_boxes(true[stem])
        hits = [max((_iou(a, b) for b in p), default=0.0) >= threshold for a in t]
        total, found, predicted_total = total + len(t), found + sum(hits), predicted_total + len(p)
        matched += sum(max((_iou(b, a) for a in t), default=0.0) >= threshold for b in p)
        if not all(hits):
            missed.append(stem)
    return {
        "pages": len(stems),
        "true_staves": total,
        "predicted_staves": predicted_total,
        "recall": found / total if total else 1.0,
        "precision": matched / predicted_total if predicted_total else 1.0,
        "iou_threshold": threshold,
        "pages_with_missed_staves": missed,
    }


def error_rates(
    pairs: list[tuple[str, str]], encoding: str = "text", normalization: str = "NFC"
) -> dict[str, Any]:
    """CER, SER, WER and LER of ``(predicted, reference)`` pairs (definitions above)."""
    from rapidfuzz.distance import Levenshtein

    from quire.recognize.vocabulary import normalise, units

    totals = {"cer": [0, 0], "ser": [0, 0], "wer": [0, 0]}
    wrong = 0
    for predicted, reference in pairs:
        predicted = normalise(predicted, normalization).strip()
        reference = normalise(reference, normalization).strip()
        compared = {
            "cer": (predicted, reference),
            "ser": (units(predicted, encoding, "none"), units(reference, encoding, "none")),
            "wer": (predicted.split(), reference.split()),
        }
        for key, (a, b) in compared.items():
            totals[key][0] += Levenshtein.distance(a, b)
            totals[key][1] += len(b)
        wrong += predicted != reference
    report: dict[str, Any] = {"lines": len(pairs), "encoding": encoding}
    for key, (errors, length) in totals.items():
        report[key] = errors / length if length else float(errors > 0)
        report[f"{key}_errors"], report[f"{key}_reference_length"] = errors, length
    report["ler"] = wrong / len(pairs) if pairs else 0.0
    return report


_MARKS = {
    "ties": "[]_",
    "slurs": "()",
    "phrase marks": "{}",
    "fermatas": ";",
    "articulations": "'`^~",
    "trills": "tT",
    "grace notes": "qQ",
}


_SIGNS = {
    "*clef": "clefs",
    "*k[": "key signatures",
    "*met(": "C meters",
    "*M": "number meters",
    "*harm:": "chord symbols",
    "*>": "endings",
}
_NOTE_PARTS = re.compile(r"(\d+)[%\d]*\.*[qQ]?([a-gA-G]+|r)(#+|-+|n)?")


def _features(token: str, clef: str, alone: bool) -> list[str]:
    """The notation classes one kern record (as printed; voices' fields joined by tabs)
    belongs to."""
    from quire.music.encodings import staff_step

    first = token.split("\t")[0]
    for prefix, name in _SIGNS.items():
        if first.startswith(prefix):
            return [name]
    if first.startswith("="):
        return ["barlines" if first in ("=", "==") else "repeat and double barlines"]
    if token.startswith(("*", "!")):
        return []
    found = _NOTE_PARTS.search(token)
    if found is None:
        return []
    recip, pitch, accidental = found.groups()
    out = ["chords"] if " " in token else []
    out += ["two voices"] if "\t" in token else []
    if pitch == "r":
        out.append("whole-measure rests" if alone else "rests")
    else:
        out.append("notes")
        out += ["accidentals"] if accidental else []
        place = staff_step(pitch, clef)
        out += ["ledger-line notes"] if place is not None and (place <= -2 or place >= 10) else []
    if (int(recip) and int(recip) & (int(recip) - 1) and int(recip) % 2 == 0) or recip == "3":
        out.append("tuplets")
    out += [name for name, marks in _MARKS.items() if any(m in token for m in marks)]
    return out


def feature_recall(pairs: list[tuple[str, str]], encoding: str) -> dict[str, Any]:
    """Per notation class (tuplets, grace notes, ledger-line notes, C meters …): how
    many of the reference's kern tokens of that class were read exactly, aligned by
    edit distance over whole tokens; and the weakest class (of those seen 10 times)."""
    from rapidfuzz.distance import Levenshtein

    from quire.music.accidentals import to_printed
    from quire.music.encodings import to_kern
    from quire.music.kern import staff_text, text_records

    def records(text: str) -> list[str]:
        return ["\t".join(fields) for fields in text_records(text)]

    counts: dict[str, list[int]] = {}
    for predicted, reference in pairs:
        read = records(to_kern(predicted, encoding))
        true = records(to_kern(reference, encoding))
        printed = records(to_printed(staff_text(true)))
        recalled = set()
        for kind, start, end, _, _ in Levenshtein.opcodes(true, read):
            if kind == "equal":
                recalled.update(range(start, end))
        clef = "G2"
        for k, token in enumerate(printed):
            clef = token[5:] if token.startswith("*clef") else clef
            alone = 0 < k < len(printed) - 1 and printed[k - 1][0] == printed[k + 1][0] == "="
            for name in _features(token, clef, alone):
                count = counts.setdefault(name, [0, 0])
                count[0] += 1
                count[1] += k in recalled
    classes = {
        name: {"true": true, "read": read, "recall": round(read / true, 4)}
        for name, (true, read) in sorted(counts.items())
    }
    seen = {name: c["recall"] for name, c in classes.items() if c["true"] >= 10}
    return {"classes": classes, "weakest": min(seen, key=seen.get) if seen else None}


def text_scores(
    predicted: Path, truth: Path, encoding: str = "text", normalization: str = "NFC"
) -> dict[str, Any]:
    """Error rates of a ``results.tsv`` against a ground-truth list, joined on snippet."""
    from quire.lists import read_list, read_results

    entries, problems = read_list(truth, need_text=False)
    results, more = read_results(predicted)
    problems += more
    for problem in problems:
        log.error("%s", problem)
    found = {key: result.text for key, result in results.items()}
    true = {entry.path.stem: entry.text for entry in entries}
    if not true:
        raise QuireError(f"{truth}: no lines to evaluate")
    missing = sorted(set(true) - set(found))
    pairs = [(found.get(key, ""), text) for key, text in true.items()]
    return {**error_rates(pairs, encoding, normalization), "missing": missing, "problems": problems}


def _pair_lines(
    predicted: list[tuple[Box, str]], true: list[tuple[Box, str]], threshold: float
) -> list[tuple[str, str]]:
    """(predicted, true) texts of paired lines, then of the lines left on either side."""
    free = list(range(len(predicted)))
    pairs = []
    for box, text in true:
        best = max(free, key=lambda i: _iou(predicted[i][0], box), default=None)
        if best is not None and _iou(predicted[best][0], box) >= threshold:
            free.remove(best)
            pairs.append((predicted[best][1], text))
        else:
            pairs.append(("", text))
    return pairs + [(predicted[i][1], "") for i in free]


def _baseline_cover(predicted: list[Point], true: list[Point], tolerance: float) -> float:
    """The share of the true baseline's width that ``predicted`` runs within
    ``tolerance`` pixels of (measured upright, one sample per pixel)."""
    (px, py), (tx, ty) = (np.array(line, float).T for line in (predicted, true))
    p_order, t_order = np.argsort(px), np.argsort(tx)
    xs = np.arange(tx.min(), tx.max() + 1)
    inside = (xs >= px.min()) & (xs <= px.max())
    gap = np.abs(np.interp(xs, px[p_order], py[p_order]) - np.interp(xs, tx[t_order], ty[t_order]))
    return float((inside & (gap <= tolerance)).mean())


def baseline_matches(
    predicted: list[list[Point]], true: list[list[Point]], tolerance: float = 10.0
) -> int:
    """How many true baselines a predicted one matches (the rule above), one to one."""
    candidates = sorted(
        (
            (cover, i, j)
            for j, t in enumerate(true)
            for i, p in enumerate(predicted)
            if (cover := _baseline_cover(p, t, tolerance)) >= 0.5
        ),
        reverse=True,
    )
    used_p, used_t = set(), set()
    for _, i, j in candidates:
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
    return len(used_t)


def _page_text(doc: PageDocument) -> tuple[str, list[list[Point]]]:
    """A page's text lines in reading order, joined by line breaks, and their baselines."""
    lines = [
        line
        for region in doc.regions_in_order()
        for line in region.text_lines()
        if not line.is_staff
    ]
    return "\n".join(line.text or "" for line in lines), [
        line.baseline for line in lines if len(line.baseline) >= 2
    ]


def text_line_scores(
    predicted: dict[str, PageDocument], truth: dict[str, PageDocument], tolerance: float
) -> dict[str, Any]:
    """Baseline precision / recall / F1 of the text lines and page CER (the rules above),
    pooled and per page, on the pages whose truth has text lines."""
    from rapidfuzz.distance import Levenshtein

    counts = np.zeros(3, int)  # matched, predicted, true
    distance = length = 0
    per_page: dict[str, dict[str, float]] = {}
    for stem in sorted(truth):
        true_text, true_lines = _page_text(truth[stem])
        if not true_lines:
            continue
        read, found = _page_text(predicted[stem]) if stem in predicted else ("", [])
        page = np.array(
            [baseline_matches(found, true_lines, tolerance), len(found), len(true_lines)]
        )
        counts += page
        true_text = normalize("NFC", true_text)
        errors = Levenshtein.distance(normalize("NFC", read), true_text)
        distance, length = distance + errors, length + len(true_text)
        f1 = precision_recall_f1(*page.tolist())[2]
        per_page[stem] = {"line_f1": f1, "page_cer": errors / max(1, len(true_text))}
    precision, recall, f1 = precision_recall_f1(*counts.tolist())
    return {
        "pages": len(per_page),
        "true_lines": int(counts[2]),
        "predicted_lines": int(counts[1]),
        "matched_lines": int(counts[0]),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "tolerance_px": tolerance,
        "page_cer": distance / length if length else None,
        "per_page": per_page,
    }


def page_scores(
    predicted: Path, truth: Path, threshold: float = 0.5, tolerance: float = 10.0
) -> dict[str, Any]:
    """Staff SER and text-line CER of ``predicted/*.xml`` against ``truth/*.xml``, by page.

    Staves are compared in the encoding of the true staves, which the predictions
    must share (render the ground truth in the recognizer's encoding). A page whose
    truth has no line of a kind is not scored for that kind: its truth is silent
    about them (synthetic music pages transcribe their staves, not their lyrics).
    """
    from quire.pagexml import PageDocument

    pred, true = _pages(predicted, "*.xml"), _pages(truth, "*.xml")
    if not pred.keys() & true.keys():
        raise QuireError(f"no page of {truth} has a prediction in {predicted}")
    read_docs = {stem: PageDocument.read(pred[stem]) for stem in true if stem in pred}
    true_docs = {stem: PageDocument.read(true[stem]) for stem in true}
    lines = {
        stem: (_lines(read_docs[stem]) if stem in read_docs else [], _lines(true_docs[stem]))
        for stem in true
    }
    encodings = [e for _, t in lines.values() for _, staff, _, e in t if staff]
    encoding = max(set(encodings), key=encodings.count, default="kern")
    lines = {
        stem: (_in_encoding(p, encoding, pred.get(stem)), _in_encoding(t, encoding, true[stem]))
        for stem, (p, t) in lines.items()
    }
    pooled: dict[str, list[tuple[str, str]]] = {"staves": [], "text": []}
    per_page: dict[str, dict[str, float | None]] = {}
    for stem, (p, t) in lines.items():
        per_page[stem] = {}
        for kind, staff, symbols in (("staves", True, encoding), ("text", False, "text")):
            true_lines = [(box, text) for box, is_staff, text, _ in t if is_staff == staff]
            pairs = _pair_lines(
                [(box, text) for box, is_staff, text, _ in p if is_staff == staff],
                true_lines,
                threshold,
            )
            read = bool(true_lines) and any(a or b for a, b in pairs)
            if read:  # else no true line of this kind, or no line read at all
                pooled[kind] += pairs
            per_page[stem][kind] = error_rates(pairs, symbols)["ser"] if read else None
    report: dict[str, Any] = {"pages": len(lines), "iou_threshold": threshold}
    report["text_lines"] = text_line_scores(read_docs, true_docs, tolerance)
    for kind, symbols in (("staves", encoding), ("text", "text")):
        worst = max(
            (page[kind] for page in per_page.values() if page[kind] is not None), default=None
        )
        report[kind] = {**error_rates(pooled[kind], symbols), "worst_page": worst}
    scores = {stem: score_distance(read_docs.get(stem), true_docs[stem]) for stem in sorted(true)}
    scored = [found for found in scores.values() if found is not None]
    if scored:
        distance, read, truth_symbols = (sum(column) for column in zip(*scored, strict=True))
        report["score"] = {
            "omr_ned": distance / (read + truth_symbols) if read + truth_symbols else 0.0,
            "omr_edit_distance": distance,
            "symbols_read": read,
            "symbols_true": truth_symbols,
        }
    report["per_page"] = {
        stem: {
            "staff_ser": page["staves"],
            "text_cer": page["text"],
            "omr_ned": _ned(scores[stem]),
        }
        for stem, page in per_page.items()
    }
    return report


def _in_encoding(
    lines: list[tuple[Box, bool, str, str]], encoding: str, path: Path | None
) -> list[tuple[Box, bool, str, str]]:
    """The lines with every staff's text in ``encoding``."""
    from quire.music.encodings import encode, to_kern
    from quire.music.kern import KernError

    out = []
    for box, staff, text, own in lines:
        if staff and text and own != encoding:
            try:
                text = encode(to_kern(text, own), encoding)
            except KernError as exc:
                message = f"staves in {own} cannot be read in {encoding}: {exc}"
                raise InputError(path, message) from None
        out.append((box, staff, text, encoding if staff else own))
    return out


def _ned(found: tuple[int, int, int] | None) -> float | None:
    if found is None:
        return None
    distance, read, true = found
    return distance / (read + true) if read + true else 0.0


def score_distance(
    predicted: PageDocument | None, truth: PageDocument
) -> tuple[int, int, int] | None:
    """musicdiff's OMR edit distance between the scores of two pages, and the symbols
    of each (read, true); ``None`` for a page whose truth has no staff."""
    from musicdiff.annotation import AnnScore
    from musicdiff.comparison import Comparison
    from musicdiff.detaillevel import DetailLevel

    scores = []
    for doc in (predicted, truth):
        kern = _page_score(doc) if doc is not None else None
        if kern is None and doc is truth:
            return None
        scores.append(AnnScore(_music21_score(kern), DetailLevel.Default))
    _, distance = Comparison.annotated_scores_diff(scores[0], scores[1])
    return distance, scores[0].notation_size(), scores[1].notation_size()


def _page_score(doc: PageDocument) -> str | None:
    """The **kern score export makes of a page's staves; ``None`` without staves."""
    from quire.music.kern import KernError
    from quire.music.page import page_staves
    from quire.music.score import page_kern

    systems, _, _ = page_staves(doc)
    if not any(staff for system in systems for staff in system):
        return None
    try:
        return page_kern(systems)
    except KernError:
        return None


def _music21_score(kern: str | None) -> music21.stream.Score:
    """The score converter21 reads from ``kern`` (an empty one for none, or for kern
    it cannot read)."""
    import music21
    from converter21.humdrum import HumdrumFile

    if kern is None:
        return music21.stream.Score()
    try:
        humdrum = HumdrumFile()
        humdrum.readString(kern)
        return humdrum.createMusic21Stream()
    except Exception:  # converter21 raises whatever its parser meets
        return music21.stream.Score()


def write_report(report: dict[str, Any], output: Path, title: str) -> None:
    """``output.json`` and ``output.md``."""
    atomic_write_text(output.with_suffix(".json"), json.dumps(report, indent=2) + "\n")
    lines = [f"# {title}", ""]
    if "layers" in report:
        lines += ["| layer | precision | recall | F1 |", "|---|---|---|---|"]
        lines += [
            f"| {name} | {s['precision']:.4f} | {s['recall']:.4f} | {s['f1']:.4f} |"
            for name, s in report["layers"].items()
        ]
        names = list(report["layers"])
        lines += ["", "F1 per page:", "", "| page | " + " | ".join(names) + " |"]
        lines += ["|---" * (len(names) + 1) + "|"]
        lines += [
            f"| {stem} | " + " | ".join(f"{page[n]['f1']:.4f}" for n in names) + " |"
            for stem, page in report["per_page"].items()
        ]
    elif "per_page" in report:
        lines += ["| page | staff SER | text CER |", "|---|---|---|"]
        rows = [(stem, p["staff_ser"], p["text_cer"]) for stem, p in report["per_page"].items()]
        rows.append(("all pages", report["staves"]["ser"], report["text"]["ser"]))
        lines += [
            f"| {stem} | " + " | ".join("-" if r is None else f"{r:.1%}" for r in rates) + " |"
            for stem, *rates in rows
        ]
    else:
        lines += [f"- {key}: {value}" for key, value in report.items()]
    atomic_write_text(output.with_suffix(".md"), "\n".join(lines) + "\n")
