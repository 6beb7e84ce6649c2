"""Identity tokens: the same person, contact or body gives the same tokens on both sides; nothing else does."""

import polars as pl

from transforms.identity_tokens import identity_tokens

IDENTIFIERS = ["Victim Name", "Victim Phone", "Victim Email", "Offender Name"]
TEXT = ["Description"]


def tokens_of(**columns: list[str | None]) -> list[list[str] | None]:
    frame = pl.DataFrame(columns, schema={c: pl.String for c in columns})
    return identity_tokens(frame, IDENTIFIERS, TEXT).to_list()


def test_a_persons_name_gives_the_same_parts_in_any_order_case_or_accent():
    rows = tokens_of(**{"Victim Name": ["Rebecca Cohen", "COHEN, Rebecca", "Mrs Rébecca  cohen"]})
    assert rows[0] == ["n:cohen", "n:rebecca", "w:cohen rebecca"]
    assert rows[1] == rows[0] and rows[2] == rows[0]  # title dropped, accent folded


def test_contacts_come_from_the_identifier_columns_and_the_free_text_normalised():
    rows = tokens_of(
        **{
            "Victim Phone": ["07700 900123", None],
            "Victim Email": ["Jo.Bloggs@Example.com", None],
            "Description": [None, "call +44 (0)7700-900123, mail jo.bloggs@example.com; abuse from @Troll_99 "
                                  "(twitter.com/troll_99), car AB12 CDE"],
        }
    )
    assert rows[0] == ["e:jo.bloggs@example.com", "p:7700900123"]
    assert rows[1] == ["e:jo.bloggs@example.com", "h:troll_99", "p:7700900123", "v:AB12CDE"]


def test_a_victim_body_is_one_whole_name_token_and_its_words_are_not_name_parts():
    rows = tokens_of(**{"Victim Name": ["Manchester Reform Synagogue", "MANCHESTER REFORM SYNAGOGUE"]})
    assert rows[0] == ["o:manchester reform synagogue"] == rows[1]


def test_a_row_that_names_nobody_has_no_tokens_and_names_in_free_text_are_not_taken():
    rows = tokens_of(**{"Victim Name": [None, None], "Description": ["a man shouted at Rebecca Cohen", None]})
    assert rows == [None, None]


def test_unmapped_identifier_columns_are_skipped():
    frame = pl.DataFrame({"Description": ["reg: A123 BCD"]})
    assert identity_tokens(frame, IDENTIFIERS, TEXT).to_list() == [["v:A123BCD"]]
