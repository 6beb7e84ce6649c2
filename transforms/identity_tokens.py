"""Who a record names, as tagged tokens to be keyed-hashed: linkage's equality-only identity evidence.

Names, phones, emails, handles and plates never reach the warehouse, yet whether
a CST report and a police crime name the same victim, suspect, account or car is
the strongest evidence that they are one incident (it is how analysts match by
hand). So each record's identifiers become tokens here, in the staging, and are
stored only as keyed HMACs (tag in clear, like crime-number tokens); linkage
compares them for equality and nothing else:

| tag | token |
|---|---|
| `n:` | one part of a person's name (folded; `COHEN, Rebecca` = `Rebecca Cohen`) |
| `w:` | a person's whole name (its parts sorted, when two or more) |
| `o:` | a victim organisation's whole name |
| `p:` `e:` `h:` `v:` | phone (last 10 digits), email, social-media handle, vehicle plate |

Names come from the mapping's identifier columns only (in free text a name can
be anyone's); contacts also from the free text. Which words are names, phones
or plates is the redaction's own classification (`redaction.identifier_values`).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from transforms.redaction import identifier_values

TAGS = {"name": "n", "person": "w", "organisation": "o", "phone": "p", "email": "e", "handle": "h", "plate": "v"}
NAME_PART_TAG, WHOLE_NAME_TAG, BODY_TAG = "n:", "w:", "o:"
CONTACT_TAGS = ("p:", "e:", "h:", "v:")
# what names one person by itself (a part of a name does not; a victim body is targeted again and again)
PERSON_TAGS = (WHOLE_NAME_TAG, *CONTACT_TAGS)


def identity_tokens(
    frame: pl.DataFrame, identifier_columns: Sequence[str], text_columns: Sequence[str] = ()
) -> pl.Series:
    """Per row, its `tag:value` identity tokens (plaintext; hash before storing); null when it names nobody."""
    present = [c for c in identifier_columns if c in frame.columns]
    texts = [c for c in text_columns if c in frame.columns]
    values = identifier_values(frame, present, texts)
    tokens = (
        values.select(
            "rid", pl.concat_str(pl.col("kind").replace_strict(TAGS), pl.lit(":"), pl.col("value")).alias("token")
        )
        .group_by("rid")
        .agg(pl.col("token").sort())
    )
    rows = pl.DataFrame({"rid": pl.int_range(frame.height, dtype=pl.Int64, eager=True)})
    return rows.join(tokens, on="rid", how="left").sort("rid").get_column("token").alias("identity_tokens")
