"""Narrative similarity across styles: normalised terms and TF-IDF cosine, not character similarity."""

import polars as pl
import pytest

from transforms.linkage import linkage_settings
from transforms.linkage_text import (
    NarrativeLexicon,
    cosine,
    narrative_terms,
    normalised_words,
    stem,
)


@pytest.fixture(scope="module")
def lexicon() -> NarrativeLexicon:
    return NarrativeLexicon.from_settings(linkage_settings()["narrative"])


def test_cst_and_police_styles_of_one_act_agree(lexicon):
    same = cosine("The victim was walking home when a man spat at him.", "IP WALKING HOME. SUSP SPAT AT IP.", lexicon)
    other = cosine("The victim was walking home when a man spat at him.", "SUSP SWASTIKA DRAWN ON GATE.", lexicon)
    assert same is not None and same > 0.6
    assert other is not None and other < 0.1


def test_jargon_synonyms_and_phrases_map_to_one_concept(lexicon):
    assert "kippah" in normalised_words("KNOCKED SKULL CAP FROM IP HEAD", lexicon)
    assert "kippah" in normalised_words("mocked his kippah", lexicon)
    assert "car" in normalised_words("DROVE VEHICLE AT IP", lexicon)
    assert "busstop" in normalised_words("drew a swastika on the bus shelter", lexicon)


def test_placeholders_are_not_words_but_a_plate_is_evidence(lexicon):
    words = normalised_words("[NAME] called [PHONE]; car registration [PLATE]", lexicon)
    assert "name" not in words and "phone" not in words
    assert "plateref" in words


def test_stop_words_and_case_do_not_count(lexicon):
    assert normalised_words("THE SUSP WAS AT THE", lexicon) == []


def test_stemmer_is_light_and_deterministic():
    assert stem("swastikas") == "swastika"
    assert stem("shouted") == "shout"
    assert stem("walking") == "walk"
    assert stem("bus") == "bus"


def test_terms_frame_counts_per_document(lexicon):
    terms = narrative_terms(pl.DataFrame({"doc": ["a", "b"], "text": ["spat spat at him", None]}), lexicon)
    assert terms.filter(pl.col("doc") == "a").select("term", "tf").rows() == [("spit", 2)]
    assert terms.filter(pl.col("doc") == "b").is_empty()
