"""Crime numbers as keyed-token sets: formats, partial numbers and typos meet; other numbers do not."""

import polars as pl
import pytest

from transforms.crime_refs import crime_ref_tokens, exact_tokens, near_tokens


def _shared(a: str, b: str, kind: str) -> set[str]:
    tokens = exact_tokens if kind == "x" else near_tokens
    return set(tokens(a)) & set(tokens(b))


@pytest.mark.parametrize(
    "cited",
    ["GMP/26/0101234", "gmp260101234", "GMP 26 0101234", "0101234", "26/0101234"],
)
def test_formats_and_partial_numbers_share_the_serial_window(cited):
    assert "x:0101234" in _shared(cited, "GMP/26/0101234", "x")


def test_mps_and_wyp_serials():
    assert exact_tokens("01/2301234/26") == ["x:2301234"]
    assert "x:2301234" in exact_tokens("mps262301234")
    assert "x:4012345" in exact_tokens("13264012345")


def test_transposition_and_one_wrong_digit_share_near_tokens_only():
    assert not _shared("0102134", "0101234", "x")
    assert _shared("0102134", "0101234", "d")  # two digits swapped
    assert _shared("0101284", "0101234", "d")  # one digit wrong


def test_leading_zero_dropped_meets_the_full_serial():
    assert _shared("101234", "0101234", "d")


def test_unrelated_numbers_share_nothing():
    assert not _shared("0101234", "0155555", "x")
    assert not _shared("0101234", "0155555", "d")


def test_series_keeps_nulls_and_blanks_null():
    out = crime_ref_tokens(pl.Series("r", ["0101234", None, "  "]))
    assert out.dtype == pl.List(pl.String)
    assert out[0].to_list()[0] == "x:0101234"
    assert out[1] is None and out[2] is None
