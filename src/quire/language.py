"""quire language: ``primaryLanguage`` of pages, text regions and text lines.

Languages are identified by py3langid (a maintained, offline langid.py: naive
Bayes over byte n-grams, its model shipped in the wheel) and named as
the PAGE schema names them (``English``, ``Dutch``, ``Latin`` …). A text shorter
than ``min_chars`` letters, or identified with a probability under
``min_probability``, gets no language (and loses one a previous run gave it). A
page and a region are identified from all of their text lines together; staves
are not text.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from quire.batch import BatchResult
from quire.config import LanguageConfig
from quire.errors import ConfigError
from quire.pagexml import Node, PageDocument
from quire.workdir import edit_pages

# ISO 639-1 codes whose PAGE name is not pycountry's name without its qualifier.
PAGE_NAMES = {"el": "Greek", "gd": "Gaelic", "ky": "Kyrgyz", "ps": "Pashto", "sl": "Slovene"}


def page_name(code: str) -> str | None:
    """The PAGE ``LanguageSimpleType`` name of an ISO 639-1 code (None: it has none)."""
    import pycountry

    if code in PAGE_NAMES:
        return PAGE_NAMES[code]
    found = pycountry.languages.get(alpha_2=code)
    return re.sub(r"\s*\(.*\)$", "", found.name) if found else None


@functools.cache
def identifier(languages: tuple[str, ...]) -> Any:
    """A language identifier restricted to ``languages`` (all it knows with a PAGE name when
    empty), giving probabilities."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    model = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    known = [code for code in model.labels if page_name(code)]
    unknown = sorted(set(languages) - set(known))
    if unknown:
        raise ConfigError(
            [f"languages: {', '.join(unknown)} unknown; known are {' '.join(sorted(known))}"]
        )
    model.set_languages(list(languages) or known)
    return model


def identify(text: str, config: LanguageConfig) -> str | None:
    """The PAGE name of ``text``'s language, or None when too short or unsure."""
    if sum(ch.isalpha() for ch in text) < config.min_chars:
        return None
    code, probability = identifier(tuple(config.languages)).classify(text)
    return page_name(code) if probability >= config.min_probability else None


def _mark(node: Node, language: str | None) -> None:
    if language:
        node.element.set("primaryLanguage", language)
    else:
        node.element.attrib.pop("primaryLanguage", None)


def language_page(doc: PageDocument, config: LanguageConfig) -> bool:
    """Set ``primaryLanguage`` on the text lines, text regions and page of ``doc``."""
    page_texts = []
    for region in doc.regions():
        texts = [line.text or "" for line in region.text_lines() if not line.is_staff]
        for line in region.text_lines():
            if not line.is_staff:
                _mark(line, identify(line.text or "", config))
        if region.tag == "TextRegion" and texts:
            _mark(region, identify(" ".join(texts), config))
        page_texts += texts
    _mark(doc.page, identify(" ".join(page_texts), config))
    doc.add_processing_step("language", model="py3langid", parameters=config.model_dump())
    return True


def language(work: Path, config: LanguageConfig) -> BatchResult:
    """Identify the languages of every page of ``work/page/``."""
    identifier(tuple(config.languages))  # unknown languages: one error before any page
    return edit_pages(work, lambda doc: language_page(doc, config), "language")
