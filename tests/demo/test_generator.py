"""The synthetic landing-area generator: shapes, determinism, ground truth."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from demo import FORCE_STARTS, generate_landing
from demo._places import DISTRICTS
from demo.generator import CST_COLUMNS, GMP_COLUMNS, MPS_COLUMNS

SMALL = 1500


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("demo")
    summary = generate_landing(root / "landing", root / "truth", incidents=SMALL, seed=11)
    return {"root": root, "landing": root / "landing", "truth": root / "truth", "summary": summary}


def _cst(landing: Path) -> pl.DataFrame:
    return pl.concat(
        [
            pl.read_csv(f, infer_schema=False).with_columns(_file=pl.lit(f.name))
            for f in sorted((landing / "cst").glob("*.csv"))
        ]
    )


def _gmp(landing: Path) -> pl.DataFrame:
    return pl.concat(
        [
            pl.read_csv(f, infer_schema=False).with_columns(_file=pl.lit(f.name))
            for f in sorted((landing / "police" / "gmp").glob("*.csv"))
        ]
    )


def _mps(landing: Path) -> pl.DataFrame:
    return pl.concat(
        [
            pl.read_excel(f, sheet_name="Export").with_columns(_file=pl.lit(f.name))
            for f in sorted((landing / "police" / "mps").glob("*.xlsx"))
        ],
        how="vertical_relaxed",
    )


def _wyp(landing: Path) -> list[dict]:
    rows = []
    for f in sorted((landing / "police" / "wyp").glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            row["_file"] = f.name
            rows.append(row)
    return rows


def _latest_texts(landing: Path) -> dict[tuple[str, str, str], str]:
    texts: dict[tuple[str, str, str], str] = {}
    for r in _cst(landing).iter_rows(named=True):  # files in delivery order: later rows win
        for fld in ("Description", "Offender Description"):
            texts[("cst", r["Incident Ref"], fld)] = r[fld] or ""
    for r in _gmp(landing).iter_rows(named=True):
        texts[("gmp", r["CRIME_REF"], "MO_TEXT")] = r["MO_TEXT"]
    for r in _mps(landing).iter_rows(named=True):
        texts[("mps", r["CRIS Ref"], "Summary")] = r["Summary"]
    for r in _wyp(landing):
        texts[("wyp", r["reference"], "narrative")] = r["narrative"]
    return texts


def test_two_runs_give_identical_bytes(tmp_path: Path) -> None:
    for name in ("a", "b"):
        generate_landing(
            tmp_path / name / "landing", tmp_path / name / "truth", incidents=300, seed=3
        )
    files_a = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    files_b = sorted(
        p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file()
    )
    assert files_a == files_b and files_a
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    generate_landing(tmp_path / "c" / "landing", tmp_path / "c" / "truth", incidents=300, seed=4)
    assert (tmp_path / "c" / "truth" / "incidents.csv").read_bytes() != (
        tmp_path / "a" / "truth" / "incidents.csv"
    ).read_bytes()


def test_layout_and_summary(demo: dict) -> None:
    landing: Path = demo["landing"]
    summary = demo["summary"]
    assert sorted(p.name for p in (landing / "police").iterdir()) == ["gmp", "mps", "wyp"]
    counts = {
        "cst": len(list((landing / "cst").glob("*.csv"))),
        "gmp": len(list((landing / "police" / "gmp").glob("*.csv"))),
        "mps": len(list((landing / "police" / "mps").glob("*.xlsx"))),
        "wyp": len(list((landing / "police" / "wyp").glob("*.jsonl"))),
    }
    assert counts == summary.files
    assert summary.file_count < 250
    assert summary.records["cst"] > summary.police_crimes > 0
    assert set(FORCE_STARTS) == {"gmp", "mps", "wyp"}


def test_cst_csv_has_bom_and_the_sender_columns(demo: dict) -> None:
    files = sorted((demo["landing"] / "cst").glob("*.csv"))
    for f in files:
        raw = f.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        assert raw[3:].split(b"\n", 1)[0].decode().rstrip("\r").split(",") == list(CST_COLUMNS)
    endings = {b"\r\n" in f.read_bytes() for f in files}
    assert endings == {True, False}  # both CRLF and LF deliveries
    cst = _cst(demo["landing"])
    assert cst["Date of Incident"].str.contains(r"^\d{2}/\d{2}/\d{4}$").all()
    assert cst["Incident Ref"].str.contains(r"^CST/\d{2}/\d{5,}$").all()
    assert cst["Last Updated"].str.contains(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$").all()
    postcodes = cst["Postcode"].drop_nulls()
    assert (
        postcodes.str.contains(r"^[a-z]").any()
        and postcodes.str.contains(r"^[A-Z]{1,2}\d[A-Z\d]?$").any()
    )
    assert cst["Category"].n_unique() > 6  # spelling and case vary


def test_police_files_read_in_their_formats(demo: dict) -> None:
    landing: Path = demo["landing"]
    gmp = _gmp(landing)
    assert gmp.columns[:-1] == list(GMP_COLUMNS)
    assert set(gmp["RECORD_STATUS"]) <= {"CONFIRMED", "CANCELLED"}
    assert gmp["VICTIM_NAME"].str.contains(r"^[^,a-z]+, \S").any()
    mps = _mps(landing)
    assert mps.columns[:-1] == list(MPS_COLUMNS)
    assert mps.schema["Date From"] == pl.Datetime("ms") and mps.schema["Reported"] == pl.Date
    assert set(mps["Status"]) <= {"Crime", "No Crime"}
    wyp = _wyp(landing)
    assert wyp and all(
        set(r) >= {"reference", "occurred", "persons", "narrative", "status"} for r in wyp
    )
    assert {r["status"] for r in wyp} <= {"confirmed", "cancelled"}
    assert all("hate:religion:jewish" in r["flags"] for r in wyp)


def test_mps_dates_are_real_excel_date_cells(demo: dict) -> None:
    path = sorted((demo["landing"] / "police" / "mps").glob("*.xlsx"))[-1]
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Export"]
    ws = wb["Export"]
    header = [c.value for c in next(ws.iter_rows(max_row=1))]
    for name in ("Date From", "Date To", "Reported"):
        col = header.index(name) + 1
        cell = ws.cell(row=2, column=col)
        assert cell.is_date and cell.data_type == "d", name
    dob = header.index("Victim DOB") + 1
    assert any(ws.cell(row=r, column=dob).is_date for r in range(2, ws.max_row + 1))


def test_truth_covers_every_ref_and_only_participating_forces(demo: dict) -> None:
    landing, truth = demo["landing"], demo["truth"]
    inc = pl.read_csv(truth / "incidents.csv", infer_schema=False)
    assert inc.columns == ["incident_id", "source", "force_id", "ref"]
    cst_truth = set(inc.filter(pl.col("source") == "cst")["ref"])
    police = inc.filter(pl.col("source") == "police")
    assert set(_cst(landing)["Incident Ref"]) == cst_truth
    assert set(_gmp(landing)["CRIME_REF"]) == set(police.filter(pl.col("force_id") == "gmp")["ref"])
    assert set(_mps(landing)["CRIS Ref"]) == set(police.filter(pl.col("force_id") == "mps")["ref"])
    assert {r["reference"] for r in _wyp(landing)} == set(
        police.filter(pl.col("force_id") == "wyp")["ref"]
    )
    assert inc.select("source", "force_id", "ref").is_unique().all()
    meta = pl.read_csv(truth / "incidents_meta.csv", infer_schema=False)
    assert meta.columns[:5] == [
        "incident_id",
        "incident_date",
        "force_area_id",
        "category",
        "cancelled_only",
    ]
    assert set(meta["incident_id"]) == set(inc["incident_id"])
    # police records only for incidents in a participating area on/after its start
    dated = police.join(meta, on="incident_id")
    for force, start in FORCE_STARTS.items():
        rows = dated.filter(pl.col("force_id") == force)
        assert (rows["force_area_id"] == force).all()
        assert (rows["incident_date"] >= start.isoformat()).all()
    # CST reports come from areas whose force sends nothing too
    cst_areas = set(inc.filter(pl.col("source") == "cst")["force_id"])
    assert cst_areas - {"gmp", "mps", "wyp"}
    routes = meta.group_by("route").len()
    assert set(routes["route"]) >= {"both", "cst_only", "police_only"}
    eligible = meta.filter(
        pl.col("route").is_in(["both", "cst_only", "police_only"])
        & pl.col("force_area_id").is_in(list(FORCE_STARTS))
        & (pl.col("incident_date") >= "2025-07-01")
    )
    share_both = (eligible["route"] == "both").mean()
    assert 0.25 <= share_both <= 0.5
    assert (meta["category"] == "Abusive Behaviour").mean() >= 0.6


def test_planted_values_appear_verbatim(demo: dict) -> None:
    pii = pl.read_csv(demo["truth"] / "planted_pii.csv", infer_schema=False)
    assert pii.columns == ["source", "force_id", "ref", "field", "kind", "value"]
    assert set(pii["kind"]) == {
        "name",
        "phone",
        "email",
        "dob",
        "address",
        "postcode",
        "plate",
        "handle",
        "ni_number",
    }
    texts = _latest_texts(demo["landing"])
    for r in pii.iter_rows(named=True):
        key = ("cst" if r["source"] == "cst" else r["force_id"], r["ref"], r["field"])
        assert r["value"] in texts[key], r
    # the narratives also name organisations, which are not personal data
    assert any("Synagogue" in t or "SYNAGOGUE" in t or "synagogue" in t for t in texts.values())
    # upper-case police style with mixed-case witness names, and MPS sentence case
    names = pii.filter(pl.col("kind") == "name")["value"]
    assert names.str.contains(r"^[^a-z ]+ [A-Z][a-z]").any()
    mps_names = pii.filter(
        (pl.col("source") == "police") & (pl.col("force_id") == "mps") & (pl.col("kind") == "name")
    )
    assert mps_names["value"].str.contains(r"^[^A-Z]+$").all()


def test_sprees_are_separate_lookalike_incidents(demo: dict) -> None:
    meta = pl.read_csv(demo["truth"] / "incidents_meta.csv", infer_schema=False).filter(
        pl.col("spree_id").is_not_null()
    )
    sprees = meta.group_by("spree_id").agg(
        pl.col("incident_date").sort(), pl.col("force_area_id").n_unique()
    )
    sprees = sprees.filter(pl.col("incident_date").list.len() >= 2)
    assert sprees.height >= 3
    for dates in sprees["incident_date"]:
        days = [date.fromisoformat(d) for d in dates]
        assert all((b - a).days == 1 for a, b in zip(days, days[1:], strict=False))
    assert (sprees["force_area_id"] == 1).all()


def test_cancellations_and_corrections_are_resent_in_later_files(demo: dict) -> None:
    landing: Path = demo["landing"]
    cst = _cst(landing)
    resent = cst.group_by("Incident Ref").agg(
        pl.col("Last Updated").n_unique().alias("n"), pl.len()
    )
    assert resent.filter(pl.col("n") >= 2).height > 0
    gmp = _gmp(landing)
    mps = _mps(landing)
    wyp = pl.DataFrame(
        [{"ref": r["reference"], "status": r["status"], "_file": r["_file"]} for r in _wyp(landing)]
    )
    cancelled_later = 0
    corrected_later = 0
    for frame, ref, status, cancelled in (
        (gmp, "CRIME_REF", "RECORD_STATUS", "CANCELLED"),
        (mps, "CRIS Ref", "Status", "No Crime"),
        (wyp, "ref", "status", "cancelled"),
    ):
        versions = frame.group_by(ref).agg(
            pl.col(status), pl.col("_file").n_unique().alias("files")
        )
        multi = versions.filter(pl.col("files") >= 2)
        cancelled_later += multi.filter(pl.col(status).list.last() == cancelled).height
        corrected_later += multi.filter(pl.col(status).list.last() != cancelled).height
    assert cancelled_later > 0 and corrected_later > 0
    # a file never carries the same record twice
    assert gmp.select("CRIME_REF", "_file").is_unique().all()
    assert cst.select("Incident Ref", "_file").is_unique().all()


def test_cst_cites_police_refs_often_mistyped(demo: dict) -> None:
    cst = _cst(demo["landing"])
    cited = cst["Police Reference"].drop_nulls()
    assert cited.str.contains(r"^GMP/\d{2}/\d{7}$").any()
    assert (~cited.str.contains(r"^(GMP/\d{2}/\d{7}|01/\d{7}/\d{2}|13\d{9})$")).any()


def test_naive_same_date_same_postcode_join_scores_badly(demo: dict) -> None:
    landing, truth = demo["landing"], demo["truth"]
    inc = pl.read_csv(truth / "incidents.csv", infer_schema=False)
    cst = (
        _cst(landing)
        .sort("Last Updated")
        .group_by("Incident Ref")
        .last()
        .select(
            ref=pl.col("Incident Ref"),
            day=pl.col("Date of Incident").str.strptime(pl.Date, "%d/%m/%Y"),
            pc=pl.col("Postcode"),
        )
    )
    police = pl.concat(
        [
            _gmp(landing)
            .group_by("CRIME_REF")
            .last()
            .select(
                pref=pl.col("CRIME_REF"),
                day=pl.col("COMMITTED_FROM").str.slice(0, 10).str.to_date(),
                pc=pl.col("POSTCODE"),
            ),
            _mps(landing)
            .group_by("CRIS Ref")
            .last()
            .select(
                pref=pl.col("CRIS Ref"), day=pl.col("Date From").dt.date(), pc=pl.col("Post Code")
            ),
        ]
    )
    pred = cst.join(police, on=["day", "pc"]).select("ref", "pref")
    cst_inc = inc.filter(pl.col("source") == "cst").select("ref", "incident_id")
    pol_inc = inc.filter(pl.col("source") == "police").select(pref="ref", incident_id="incident_id")
    true = (
        cst_inc.join(pol_inc, on="incident_id")
        .select("ref", "pref")
        .filter(pl.col("pref").is_in(police["pref"].implode()))
    )
    tp = pred.join(true, on=["ref", "pref"]).height
    precision, recall = tp / max(1, pred.height), tp / max(1, true.height)
    f1 = 2 * precision * recall / max(1e-9, precision + recall)
    assert f1 < 0.5


def test_density_concentrates_incidents_in_the_same_places(tmp_path: Path) -> None:
    period = {"start": date(2026, 5, 1), "end": date(2026, 11, 24)}
    s1 = generate_landing(
        tmp_path / "d1" / "landing", tmp_path / "d1" / "truth", incidents=300, seed=5, **period
    )
    s4 = generate_landing(
        tmp_path / "d4" / "landing",
        tmp_path / "d4" / "truth",
        incidents=300,
        seed=5,
        density=4.0,
        **period,
    )
    assert 3 * s1.records["cst"] < s4.records["cst"] < 5 * s1.records["cst"]
    known = {street for row in DISTRICTS for street in row[5].split("|")}

    def per_street(root: Path) -> float:
        cst = _cst(root / "landing").filter(pl.col("Address").is_not_null())
        cst = cst.with_columns(street=pl.col("Address").str.replace(r"^\d+ ", ""))
        assert set(cst["street"]) <= known  # no new places at a higher density
        return cst.group_by("street").len()["len"].mean()

    assert per_street(tmp_path / "d4") > 1.5 * per_street(tmp_path / "d1")
