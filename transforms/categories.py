"""CST categories, police offence codes and the words that describe incidents."""

from __future__ import annotations

import polars as pl

CST_CATEGORIES = (
    "Extreme Violence",
    "Assault",
    "Damage & Desecration",
    "Threats",
    "Abusive Behaviour",
    "Literature",
)
# Most serious first: used when two sides disagree about one incident.
CATEGORY_SEVERITY = {name: rank for rank, name in enumerate(CST_CATEGORIES)}


def _folded(expr: pl.Expr) -> pl.Expr:
    """Lower case, `&` as `and`, punctuation and repeated spaces removed."""
    return (
        expr.cast(pl.String)
        .str.to_lowercase()
        .str.replace_all("&", " and ")
        .str.replace_all(r"[^a-z ]", " ")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )


def normalised_category(column: str, variants: pl.DataFrame) -> pl.Expr:
    """CST's category as one of the six canonical names, null when unrecognised.

    `variants` has `variant` (folded spelling) and `category`.
    """
    mapping = dict(zip(variants["variant"].to_list(), variants["category"].to_list(), strict=True))
    mapping.update({_fold_text(c): c for c in CST_CATEGORIES})
    return _folded(pl.col(column)).replace_strict(mapping, default=None, return_dtype=pl.String)


def _fold_text(text: str) -> str:
    return pl.select(_folded(pl.lit(text))).item()


def normalised_offence_code(column: str) -> pl.Expr:
    """Home Office offence code in upper case without spaces or punctuation (`8M`, `105B`)."""
    return (
        pl.col(column)
        .cast(pl.String)
        .str.to_uppercase()
        .str.replace_all(r"[^0-9A-Z]", "")
        .replace("", None)
    )


def offence_category(code_column: str, offence_categories: pl.DataFrame) -> pl.Expr:
    """The nearest CST category of an offence code; falls back to the code's number family."""
    table = offence_categories.with_columns(
        pl.col("offence_code").str.to_uppercase().str.replace_all(r"[^0-9A-Z]", "")
    )
    exact = dict(zip(table["offence_code"].to_list(), table["category"].to_list(), strict=True))
    family: dict[str, str] = {}
    for code, category in exact.items():
        family.setdefault(code.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), category)
    code = pl.col(code_column)
    return pl.coalesce(
        code.replace_strict(exact, default=None, return_dtype=pl.String),
        code.str.extract(r"^(\d+)", 1).replace_strict(family, default=None, return_dtype=pl.String),
    )


def canonical_word(column: str) -> pl.Expr:
    """A controlled-vocabulary value as lower-case words (`Public transport` -> `public transport`)."""
    return (
        pl.col(column)
        .cast(pl.String)
        .str.to_lowercase()
        .str.replace_all(r"[^a-z0-9&]+", " ")
        .str.strip_chars()
        .replace("", None)
    )


def normalised_hate_flags(column: str) -> pl.Expr:
    """Hate flags as a list of canonical tokens: `religion:jewish`, `race`, ...

    Spelling varies by force (`Religion - Jewish`, `HATE (FAITH) JEWISH`,
    `hate:religion:jewish`, `Antisemitic`); anything mentioning Jewish or
    antisemitism becomes `religion:jewish`.
    """
    parts = (
        pl.col(column).cast(pl.String).fill_null("").str.to_lowercase().str.split("|")
    )
    return parts.list.eval(
        pl.when(pl.element().str.contains("jew|antisemit|anti-semit"))
        .then(pl.lit("religion:jewish"))
        .when(pl.element().str.contains("race|racial"))
        .then(pl.lit("race"))
        .when(pl.element().str.contains("relig|faith"))
        .then(pl.lit("religion:other"))
        .otherwise(
            pl.element()
            .str.replace_all(r"^hate[:\s]*", "")
            .str.replace_all(r"[^a-z0-9]+", ":")
            .str.strip_chars(":")
        )
    ).list.eval(pl.element().filter(pl.element() != "")).list.unique(maintain_order=True)
