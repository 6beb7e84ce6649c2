import polars as pl

from transforms.categories import (
    canonical_word,
    normalised_category,
    normalised_hate_flags,
    normalised_offence_code,
    offence_category,
)

VARIANTS = pl.DataFrame(
    {
        "variant": ["damage and desecration of property", "abusive behavior"],
        "category": ["Damage & Desecration", "Abusive Behaviour"],
    }
)
OFFENCES = pl.DataFrame(
    {
        "offence_code": ["9B", "8M", "58F", "105B", "3B"],
        "category": ["Abusive Behaviour", "Abusive Behaviour", "Damage & Desecration", "Assault", "Threats"],
    }
)


def test_cst_categories_normalise_to_the_six():
    frame = pl.DataFrame(
        {
            "c": [
                "Abusive Behaviour",
                "abusive behaviour",
                "ABUSIVE  BEHAVIOR",
                "Damage and Desecration of Property",
                "Damage & Desecration",
                "extreme violence",
                "Literature",
                "threats",
                "Assault",
                "something else",
                None,
            ]
        }
    )
    assert frame.select(normalised_category("c", VARIANTS))["c"].to_list() == [
        "Abusive Behaviour",
        "Abusive Behaviour",
        "Abusive Behaviour",
        "Damage & Desecration",
        "Damage & Desecration",
        "Extreme Violence",
        "Literature",
        "Threats",
        "Assault",
        None,
        None,
    ]


def test_offence_codes_map_to_the_nearest_category_with_family_fallback():
    frame = pl.DataFrame({"code": ["8m", " 105 B", "58F", "58X", "3B", "99Z", None]})
    out = frame.select(normalised_offence_code("code")).select(offence_category("code", OFFENCES))
    assert out["code"].to_list() == [
        "Abusive Behaviour",
        "Assault",
        "Damage & Desecration",
        "Damage & Desecration",
        "Threats",
        None,
        None,
    ]


def test_hate_flags_in_every_force_spelling():
    frame = pl.DataFrame(
        {"f": ["Religion - Jewish|Race", "HATE (FAITH) JEWISH", "hate:religion:jewish|hate:race", "Antisemitic", None]}
    )
    assert frame.select(normalised_hate_flags("f"))["f"].to_list() == [
        ["religion:jewish", "race"],
        ["religion:jewish"],
        ["religion:jewish", "race"],
        ["religion:jewish"],
        [],
    ]


def test_controlled_words_are_lower_case():
    frame = pl.DataFrame({"w": ["Public transport", " Jewish  organisation", "", None]})
    assert frame.select(canonical_word("w"))["w"].to_list() == [
        "public transport",
        "jewish organisation",
        None,
        None,
    ]
