import polars as pl
import pytest
from polars.testing import assert_frame_equal

from transforms.postcodes import parsed_postcodes, with_force_from_postcode


@pytest.mark.parametrize(
    ("raw", "unit", "sector", "district", "area", "quality"),
    [
        ("M7 4AB", "M7 4AB", "M7 4", "M7", "M", "unit"),
        ("m74ab", "M7 4AB", "M7 4", "M7", "M", "unit"),
        (" n16  7rh ", "N16 7RH", "N16 7", "N16", "N", "unit"),
        ("EC1A1BB", "EC1A 1BB", "EC1A 1", "EC1A", "EC", "unit"),
        ("NW11 9XX", "NW11 9XX", "NW11 9", "NW11", "NW", "unit"),
        ("M7", None, None, "M7", "M", "district"),
        ("ls17", None, None, "LS17", "LS", "district"),
        ("not a postcode", None, None, None, None, "invalid"),
        ("12345", None, None, None, None, "invalid"),
        ("", None, None, None, None, "missing"),
        (None, None, None, None, None, "missing"),
    ],
)
def test_postcodes_parse_whatever_their_case_and_spacing(raw, unit, sector, district, area, quality):
    out = parsed_postcodes(pl.DataFrame({"pc": [raw]}, schema={"pc": pl.String}), "pc")
    assert out.row(0, named=True) == {
        "pc": raw,
        "postcode_unit": unit,
        "postcode_sector": sector,
        "postcode_district": district,
        "postcode_area": area,
        "postcode_quality": quality,
    }


def test_force_from_postcode_takes_the_longest_prefix():
    areas = pl.DataFrame(
        {"postcode_prefix": ["EN", "EN6", "M"], "force_id": ["mps", "hertfordshire", "gmp"]}
    )
    frame = pl.DataFrame(
        {
            "postcode_district": ["EN6", "EN1", "M7", None, "ZZ9"],
            "postcode_area": ["EN", "EN", "M", None, "ZZ"],
        }
    )
    out = with_force_from_postcode(frame, areas)
    assert out["postcode_force_id"].to_list() == ["hertfordshire", "mps", "gmp", None, None]
    assert_frame_equal(out.drop("postcode_force_id"), frame)
