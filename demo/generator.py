"""Synthetic landing area: CST reports and police crimes for the same incidents.

`generate_landing(out, truth)` writes `out/cst/*.csv` and
`out/police/<force>/*` in the exact shapes of `shared/spec/extracts.md`
(CST CSV with BOM, GMP weekly CSV, MPS monthly XLSX, WYP daily JSON Lines),
and the ground truth under `truth/`:

- `incidents.csv` (incident_id, source, force_id, ref): one row per CST report
  and per police crime delivered, refs as written;
- `incidents_meta.csv` (incident_id, incident_date, force_area_id, category,
  cancelled_only, route, spree_id): one row per incident with at least one
  delivered record. `incident_date` is the true date; `category` is CST's
  (latest version) or, for police-only incidents, the most serious nearest
  category of its live crimes' offence codes. `cancelled_only` is true when the
  incident has police crimes and all are cancelled; `route` (both / cst_only /
  police_only / none) is derived from what was delivered, cancelled crimes not
  counting; `spree_id` groups look-alike incidents on consecutive days;
- `planted_pii.csv` (source, force_id, ref, field, kind, value): every personal
  value planted in a free-text field of the latest delivered version,
  exactly as written.

Everything is drawn from one `random.Random(seed)`: the same arguments give
byte-identical files (file modification times are set to the delivery day).
"""

from __future__ import annotations

import json
import os
import random
import re
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter

from demo import _people as pp
from demo._codes import CODE_CHOICES, NEAREST_CATEGORY, OFFENCE_DESC, RECLASSIFY, SEVERITY
from demo._people import Person
from demo._places import CITY_OF, DISTRICTS, FORCE_SHORT, STREET_KINDS, STREET_STEMS
from demo._text import (
    AB,
    ACTIONS,
    ACTIVITY,
    AS,
    CARS,
    DD,
    EV,
    LI,
    OFFENDERS,
    ONLINE_OFFENDERS,
    PLATFORMS,
    TH,
    Action,
    Text,
)

DEFAULT_INCIDENTS = 6450
FORCE_STARTS: dict[str, date] = {
    "gmp": date(2025, 1, 1),
    "mps": date(2025, 4, 1),
    "wyp": date(2025, 7, 1),
}
FORCE_NAMES: dict[str, str] = {
    "gmp": "Greater Manchester Police",
    "mps": "Metropolitan Police Service",
    "wyp": "West Yorkshire Police",
}

CST_COLUMNS = (
    "Incident Ref",
    "Date of Incident",
    "Time of Incident",
    "Date Reported",
    "Category",
    "Method",
    "Location Type",
    "Address",
    "Town",
    "Postcode",
    "Police Force Area",
    "Victim Type",
    "Victim Name",
    "Victim Age",
    "Victim Gender",
    "Victim Phone",
    "Victim Email",
    "Offender Description",
    "Offender Name",
    "Reported to Police",
    "Police Reference",
    "Description",
    "Last Updated",
)
GMP_COLUMNS = (
    "CRIME_REF",
    "OFFENCE_CODE",
    "OFFENCE_DESC",
    "COMMITTED_FROM",
    "COMMITTED_TO",
    "REPORTED_DATE",
    "LOCATION",
    "POSTCODE",
    "BEAT",
    "HATE_FLAGS",
    "VICTIM_NAME",
    "VICTIM_DOB",
    "SUSPECT_NAME",
    "MO_TEXT",
    "OUTCOME",
    "RECORD_STATUS",
)
MPS_COLUMNS = (
    "CRIS Ref",
    "Offence",
    "Offence Sub Type",
    "Date From",
    "Date To",
    "Reported",
    "Borough",
    "Address",
    "Post Code",
    "Flag",
    "Victim Surname",
    "Victim Forename",
    "Victim DOB",
    "Suspect Details",
    "Summary",
    "Status",
)
TEXT_FIELD = {"cst": "Description", "gmp": "MO_TEXT", "mps": "Summary", "wyp": "narrative"}
REF_FIELD = {"cst": "Incident Ref", "gmp": "CRIME_REF", "mps": "CRIS Ref", "wyp": "reference"}

_CST_BACKFILL_DAYS = 45  # daily deltas for this many days before `end`
_GMP_RECENT_WEEKS = 16
_MPS_RECENT_MONTHS = 10
_WYP_RECENT_DAYS = 30
_MAX_HOUSE = 240
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
_CATEGORY_WEIGHTS = ((AB, 0.72), (AS, 0.08), (DD, 0.08), (TH, 0.06), (LI, 0.05), (EV, 0.01))
_ONLINE_SHARE = {AB: 0.30, TH: 0.35, LI: 0.25}
_SPREE_MOTIFS = ("swastika", "daub", "stickers", "posters")


@dataclass(frozen=True)
class DemoSummary:
    """What `generate_landing` wrote."""

    incidents: int  # incidents with at least one delivered record
    records: dict[str, int]  # distinct reports / crimes per source (cst, gmp, mps, wyp)
    rows: dict[str, int]  # rows written per source, re-sent versions included
    files: dict[str, int]  # files written per source
    planted_values: int

    @property
    def file_count(self) -> int:
        return sum(self.files.values())

    @property
    def cst_reports(self) -> int:
        return self.records.get("cst", 0)

    @property
    def police_crimes(self) -> int:
        return sum(n for source, n in self.records.items() if source != "cst")


def force_id_for_name(name: str) -> str:
    """Force id for a force area name: gmp / mps / wyp, else a slug ('northumbria', 'hertfordshire')."""
    for fid, fname in FORCE_NAMES.items():
        if fname == name:
            return fid
    words = [
        w
        for w in re.split(r"[^a-z]+", name.lower())
        if w and w not in {"police", "constabulary", "service", "of", "the", "and"}
    ]
    return "_".join(words) or "unknown"


# --------------------------------------------------------------------------- gazetteer


@dataclass(slots=True)
class Street:
    name: str
    district: District
    units: tuple[str, ...]

    def unit(self, house: int) -> str:
        return self.units[(house - 1) * len(self.units) // _MAX_HOUSE]


@dataclass(slots=True)
class Org:
    name: str
    victim_type: str
    street: Street
    house: int


@dataclass(slots=True)
class District:
    code: str
    town: str
    force_name: str
    force_id: str
    area: str
    weight: float
    streets: list[Street] = field(default_factory=list)
    orgs: list[Org] = field(default_factory=list)


# Extra street names once a district has used every "<stem> <kind>" (beyond ~25x the default).
_STREET_QUALIFIERS = (
    "Upper", "Lower", "Old", "New", "North", "South", "East", "West", "Little", "Great",
    "Church", "Mill", "High", "Long", "Far", "Middle", "Back", "Green", "Bridge", "Station",
)
_BASE_STREETS = frozenset(f"{s} {k}" for s in STREET_STEMS for k in STREET_KINDS)


def _extra_street_name(rng: random.Random, taken: set[str], base_left: bool) -> str:
    """A street name not in `taken`: "<stem> <kind>" while any is left (the draws of smaller
    runs, so their output is unchanged), then "<qualifier> <stem> <kind>"."""
    if base_left:
        while True:
            name = f"{rng.choice(STREET_STEMS)} {rng.choice(STREET_KINDS)}"
            if name not in taken:
                return name
    if len(taken) >= len(_BASE_STREETS) * (len(_STREET_QUALIFIERS) + 1):
        raise ValueError("demo gazetteer: no street names left for a district (scale too large)")
    while True:
        name = f"{rng.choice(_STREET_QUALIFIERS)} {rng.choice(STREET_STEMS)} {rng.choice(STREET_KINDS)}"
        if name not in taken:
            return name


def _street_unit(rng: random.Random, prefix: str, used: set[str], in_sector: dict[str, int], street_units: list[str]) -> str:
    """A postcode unit starting `prefix` ("M7 4"): unused while the sector has any left (smaller
    runs draw exactly as before), then shared with another street (real units often span streets)."""
    full = in_sector.get(prefix, 0) >= len(_INWARD_LETTERS) ** 2
    while True:
        unit = f"{prefix}{rng.choice(_INWARD_LETTERS)}{rng.choice(_INWARD_LETTERS)}"
        if unit not in used:
            used.add(unit)
            in_sector[prefix] = in_sector.get(prefix, 0) + 1
            return unit
        if full and unit not in street_units:
            return unit


def _build_gazetteer(rng: random.Random, scale: float) -> list[District]:
    districts: list[District] = []
    used: set[str] = set()
    in_sector: dict[str, int] = {}
    for code, town, force_name, area, weight, streets, orgs in DISTRICTS:
        d = District(code, town, force_name, force_id_for_name(force_name), area, weight)
        names = streets.split("|")
        n_extra = round(len(names) * max(0.0, scale - 1.0))
        taken = set(names)
        base_left = len(_BASE_STREETS - taken)
        for _ in range(n_extra):
            name = _extra_street_name(rng, taken, base_left > 0)
            base_left -= name in _BASE_STREETS
            taken.add(name)
            names.append(name)
        for name in names:
            sector = rng.randint(1, 9)
            units: list[str] = []
            for _ in range(rng.randint(5, 14)):
                units.append(_street_unit(rng, f"{code} {sector}", used, in_sector, units))
            d.streets.append(Street(name, d, tuple(units)))
        for org_name, vtype in orgs:
            d.orgs.append(
                Org(
                    org_name,
                    vtype,
                    rng.choice(d.streets[: len(streets.split("|"))]),
                    rng.randint(1, _MAX_HOUSE),
                )
            )
        districts.append(d)
    return districts


# --------------------------------------------------------------------------- incidents


@dataclass(slots=True)
class Incident:
    key: int
    day: date
    minute: int | None
    district: District | None  # place, or the victim's home area when online
    street: Street | None
    house: int | None
    online: bool
    category: str
    actions: list[Action]
    location_type: str
    victim_type: str
    org: Org | None
    victim: Person | None
    companion: Person | None
    offender_desc: tuple[str, str]
    offender: Person | None
    witness: Person | None
    plate: str | None
    spree: int | None
    platform: str = ""
    force_id: str = "unknown"
    route: str = "cst_only"
    iid: str = ""

    @property
    def method(self) -> str:
        return self.actions[0].method

    @property
    def unit(self) -> str | None:
        return self.street.unit(self.house) if self.street and self.house else None


def _choice_w(
    rng: random.Random, pairs: tuple[tuple[Any, float], ...] | list[tuple[Any, float]]
) -> Any:
    r = rng.random() * sum(w for _, w in pairs)
    for value, w in pairs:
        r -= w
        if r <= 0:
            return value
    return pairs[-1][0]


def _day_weights(rng: random.Random, start: date, end: date) -> list[float]:
    n = (end - start).days + 1
    weekday = (1.0, 1.0, 1.0, 1.05, 1.1, 0.8, 1.15)  # Mon..Sun; Saturdays quieter
    first = start.weekday()
    w = [weekday[(i + first) % 7] * rng.gammavariate(8.0, 1 / 8.0) for i in range(n)]
    for _ in range(max(1, n // 180)):  # surges after events abroad
        at, length, factor = rng.randrange(n), rng.randint(10, 40), rng.uniform(1.5, 3.0)
        for i in range(at, min(n, at + length)):
            w[i] *= factor
    return w


def _pick_actions(
    rng: random.Random, category: str, online: bool, target: str, motif: str | None = None
) -> list[Action]:
    def ok(a: Action) -> bool:
        if online != (a.method == "Online"):
            return False
        if target == "person":
            return a.target in ("person", "any")
        if target == "cemetery":
            return a.target in ("cemetery", "any") or a.motif == "swastika"
        return a.target in ("property", "any")

    if motif is not None:
        pool = [
            a
            for a in ACTIONS
            if a.motif == motif and a.category == category and a.target != "person"
        ]
    else:
        pool = [a for a in ACTIONS if a.category == category and ok(a)]
    if not pool:
        pool = [
            a for a in ACTIONS if a.category == category and (a.method == "Online") == online
        ] or [a for a in ACTIONS if a.category == category]
    first = rng.choice(pool)
    acts = [first]
    if rng.random() < 0.35:
        second_cat = category if rng.random() < 0.5 else AB
        pool2 = [
            a
            for a in ACTIONS
            if a.category == second_cat and a is not first and ok(a) and a.motif != first.motif
        ]
        if pool2:
            acts.append(rng.choice(pool2))
    return acts


class _IncidentFactory:
    def __init__(self, rng: random.Random, districts: list[District]) -> None:
        self.rng = rng
        self.districts = districts
        self.district_w = [(d, d.weight) for d in districts]

    def _people(self, inc: Incident) -> None:
        rng = self.rng
        if inc.org is None:
            inc.victim = pp.person(rng)
            if inc.category in (AS, AB, EV) and not inc.online and rng.random() < 0.14:
                inc.companion = pp.person(rng)
        if rng.random() < 0.08:
            inc.offender = pp.person(rng, "Male" if rng.random() < 0.85 else "Female", (1950, 2008))
        if not inc.online and rng.random() < 0.22:
            inc.witness = pp.person(rng)
        if not inc.online and rng.random() < (
            0.2 if "car" in inc.offender_desc[0] or "van" in inc.offender_desc[0] else 0.06
        ):
            inc.plate = pp.plate(rng)

    def make(
        self,
        key: int,
        day: date,
        category: str | None = None,
        like: Incident | None = None,
        spree: int | None = None,
    ) -> Incident:
        rng = self.rng
        if like is not None:  # spree follower: same street, same motif, a later night
            category = like.category
            street, org = like.street, like.org
            district = like.district
            online = False
        else:
            category = category or _choice_w(rng, _CATEGORY_WEIGHTS)
            online = rng.random() < _ONLINE_SHARE.get(category, 0.0)
            district = _choice_w(rng, self.district_w)
            street, org = None, None
            if online and rng.random() < 0.25:
                district = None
        victim_type, location_type, house = "Individual", "Online", None
        if not online:
            if like is None:
                p_org = {DD: 0.55, TH: 0.25, AB: 0.10, LI: 0.30}.get(category, 0.0)
                if district.orgs and rng.random() < p_org:
                    org = rng.choice(district.orgs)
                    if (
                        category == DD
                        and org.victim_type == "Jewish organisation"
                        and rng.random() < 0.5
                    ):
                        org = None
                if org is None:
                    street = rng.choice(district.streets)
            if org is not None:
                street, house = org.street, org.house
                victim_type = org.victim_type
                location_type = {"Synagogue": "Synagogue", "School": "School"}.get(
                    org.victim_type, "Street"
                )
                if org.victim_type == "Jewish organisation":
                    location_type = "Workplace"
            else:
                house = rng.randint(1, _MAX_HOUSE)
                if category == DD or (category == LI and rng.random() < 0.5):
                    location_type = "Home"
                else:
                    location_type = _choice_w(
                        rng,
                        (
                            ("Street", 50),
                            ("Public transport", 8),
                            ("Home", 12),
                            ("Shop", 7),
                            ("Workplace", 6),
                            ("Park", 6),
                            ("School", 4),
                            ("Synagogue", 7),
                        ),
                    )
        target = (
            "person"
            if org is None
            else ("cemetery" if org.victim_type == "Cemetery" else "property")
        )
        if org is None and category == DD:
            target = "property" if rng.random() < 0.7 else "person"
        if like is not None:
            actions = [like.actions[0]]
        else:
            actions = _pick_actions(rng, category, online, target)
        night = category in (DD, LI) or actions[0].method == "Graffiti"
        if rng.random() < (0.6 if night else 0.2):
            minute = None
        else:
            hour = rng.choice((21, 22, 23, 0, 1, 2, 3, 5)) if night else rng.randint(7, 22)
            minute = hour * 60 + rng.choice((0, 15, 30, 45))
        offenders = ONLINE_OFFENDERS if online else OFFENDERS
        inc = Incident(
            key=key,
            day=day,
            minute=minute,
            district=district,
            street=street,
            house=house,
            online=online,
            category=category,
            actions=actions,
            location_type=location_type,
            victim_type=victim_type,
            org=org,
            victim=None,
            companion=None,
            offender_desc=OFFENDERS[-1] if night and rng.random() < 0.6 else rng.choice(offenders),
            offender=None,
            witness=None,
            plate=None,
            spree=spree,
            force_id=district.force_id if district else "unknown",
        )
        if online:
            inc.platform = "email" if actions[0].motif == "email" else rng.choice(PLATFORMS)
        self._people(inc)
        return inc


def _generate_incidents(
    rng: random.Random, districts: list[District], n_total: int, start: date, end: date
) -> list[Incident]:
    factory = _IncidentFactory(rng, districts)
    weights = _day_weights(rng, start, end)
    days = rng.choices(range(len(weights)), weights=weights, k=n_total + 16)
    incidents: list[Incident] = []
    spree_no = 0
    i = 0
    while len(incidents) < n_total:
        day = start + timedelta(days=days[i % len(days)])
        i += 1
        inc = factory.make(len(incidents), day)
        incidents.append(inc)
        if inc.online or inc.org is not None and inc.org.victim_type == "Cemetery":
            continue
        spree_motif = inc.actions[0].motif in _SPREE_MOTIFS and inc.actions[0].target != "person"
        if spree_motif and rng.random() < 0.15 and len(incidents) < n_total:
            spree_no += 1
            inc.spree = spree_no
            inc.actions = inc.actions[:1]
            for k in range(1, rng.randint(2, 4)):
                follower_day = day + timedelta(days=k)
                if follower_day > end or len(incidents) >= n_total:
                    break
                incidents.append(
                    factory.make(len(incidents), follower_day, like=inc, spree=spree_no)
                )
    incidents.sort(key=lambda x: (x.day, x.key))
    for n, inc in enumerate(incidents, start=1):
        inc.iid = f"INC{n:07d}"
    return incidents


def _assign_routes(rng: random.Random, incidents: list[Incident]) -> None:
    for inc in incidents:
        start = FORCE_STARTS.get(inc.force_id)
        if start is None or inc.day < start:
            inc.route = "cst_only"
            continue
        if inc.online:
            probs = (("both", 0.30), ("cst_only", 0.42), ("police_only", 0.28))
        elif inc.category in (AS, EV, DD):
            probs = (("both", 0.50), ("cst_only", 0.20), ("police_only", 0.30))
        elif inc.category == LI:
            probs = (("both", 0.25), ("cst_only", 0.55), ("police_only", 0.20))
        else:
            probs = (("both", 0.40), ("cst_only", 0.30), ("police_only", 0.30))
        inc.route = _choice_w(rng, probs)


# --------------------------------------------------------------------------- formatting helpers


def _fmt_unit(rng: random.Random, unit: str) -> str:
    r = rng.random()
    if r < 0.55:
        return unit
    if r < 0.70:
        return unit.replace(" ", "").lower()
    if r < 0.80:
        return unit.lower()
    if r < 0.95:
        return unit.replace(" ", "")
    return f" {unit}  "


def _invalid_postcode(rng: random.Random, unit: str) -> str:
    r = rng.random()
    if r < 0.3:
        return unit[:-1]
    if r < 0.5:
        return unit + rng.choice(_INWARD_LETTERS)
    if r < 0.7:
        out, inward = unit.split(" ")
        return f"{out} {inward[1]}{inward[0]}{inward[2]}"
    return rng.choice(("N/A", "TBC", "unknown", "0000"))


def _postcode(
    rng: random.Random, unit: str | None, p_full: float, p_district: float, p_invalid: float
) -> str | None:
    if unit is None:
        return None
    r = rng.random()
    if r < p_full:
        return _fmt_unit(rng, unit)
    if r < p_full + p_district:
        district = unit.split(" ")[0]
        return district if rng.random() < 0.85 else district.lower()
    if r < p_full + p_district + p_invalid:
        return _invalid_postcode(rng, unit)
    return None


def _cst_ref_variant(rng: random.Random, mode: str, ref: str, force: str) -> str:
    digits = re.sub(r"\D", "", ref)
    if force == "gmp":
        yy, num = ref.split("/")[1], ref.split("/")[2]
    elif force == "mps":
        yy, num = ref.split("/")[2], ref.split("/")[1]
    else:
        yy, num = ref[2:4], ref[4:]
    if mode == "exact":
        return ref
    if mode == "compact":
        return rng.choice(
            (
                f"{force}{yy}{num}",
                f"{force.upper()}{yy}{num}",
                digits,
                f"{force.upper()} {yy} {num}",
            )
        )
    if mode == "partial":
        return rng.choice((num, num.lstrip("0"), f"{yy}/{num}"))
    if mode in ("transpose", "digit"):
        chars = list(ref)
        pos = [i for i, c in enumerate(chars) if c.isdigit()]
        if mode == "transpose":
            for _ in range(10):
                i = rng.choice(pos[:-1])
                if i + 1 in pos and chars[i] != chars[i + 1]:
                    chars[i], chars[i + 1] = chars[i + 1], chars[i]
                    break
        else:
            i = rng.choice(pos[-5:])
            chars[i] = str((int(chars[i]) + rng.randint(1, 9)) % 10)
        return "".join(chars)
    return ref


def _foreign_ref(rng: random.Random) -> str:
    return rng.choice(
        (
            f"CRI{rng.randint(10**7, 10**8 - 1)}",
            f"{rng.randint(10, 99)}/{rng.randint(10**5, 10**6 - 1)}/25",
            f"{rng.randint(10**5, 10**6 - 1)}",
            f"NP-{rng.randint(1000, 9999)}-{rng.randint(10, 99)}",
        )
    )


def _category_text(rng: random.Random, category: str) -> str:
    r = rng.random()
    if r < 0.75:
        return category
    if category == DD and r < 0.9:
        return "Damage and Desecration of Property"
    if r < 0.88:
        return category.lower()
    if r < 0.95:
        return category[0] + category[1:].lower()
    return category.upper()


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


# --------------------------------------------------------------------------- narratives


def _victim_lead(rng: random.Random, t: Text, v: Person) -> None:
    r = rng.random()
    if r < 0.35:
        t.pii(v.full, "name")
    elif r < 0.55 and len(v.forename) >= 4:
        t.pii(v.forename, "name")
    elif r < 0.70 and len(v.surname) >= 4:
        t.add("Mr " if v.gender == "Male" else rng.choice(("Mrs ", "Ms "))).pii(v.surname, "name")
    elif r < 0.85:
        t.add("The victim")
    else:
        t.add("A Jewish man" if v.gender == "Male" else "A Jewish woman")


def _then(acts: list[str]) -> str:
    return acts[0] + (f", then {acts[1]}" if len(acts) > 1 else "")


def _cst_description(rng: random.Random, inc: Incident, unit: str | None) -> Text:
    t = Text()
    v = inc.victim
    pron = (
        v.pron if v else {"he": "they", "him": "them", "his": "their", "He": "They", "His": "Their"}
    )
    acts = [a.cst.format(**pron) for a in inc.actions]
    offd = inc.offender_desc[0]
    street = inc.street.name if inc.street else ""
    if inc.online:
        assert v is not None
        _victim_lead(rng, t, v)
        where = "by email" if inc.platform == "email" else f"on {inc.platform}"
        t.add(f" was targeted {where}: {offd} {_then(acts)}.")
        if rng.random() < 0.6:
            t.add(" Victim's account ").pii(v.handle, "handle").add(" was targeted.")
        if rng.random() < 0.25:
            t.add(" The abusive account was ").pii(pp.person(rng).handle, "handle").add(".")
    elif inc.org is not None:
        if rng.random() < 0.5:
            t.add(f"{inc.org.name} on {street} reported that {offd} {_then(acts)}.")
        else:
            t.add(f"Staff at {inc.org.name} found that {offd} had {_then(acts)}.")
        if rng.random() < 0.3:
            officer = pp.person(rng)
            t.add(" Reported by security officer ").pii(officer.full, "name").add(" (")
            t.pii(officer.phone, "phone").add(").")
    else:
        assert v is not None
        activity = rng.choice(ACTIVITY.get(inc.location_type, ACTIVITY["Street"])).format(**pron)
        if rng.random() < 0.7:
            _victim_lead(rng, t, v)
            t.add(f" was {activity} on {street} when {offd} {_then(acts)}.")
        else:
            t.add(f"While {activity} on {street}, ")
            _victim_lead(rng, t, v)
            t.add(f" was approached by {offd}, who {_then(acts)}.")
    if inc.companion is not None:
        t.add(f" {pron['He']} was with {pron['his']} friend ").pii(inc.companion.full, "name")
        t.add(", who was also targeted.")
    if inc.house and unit and inc.org is None and rng.random() < 0.45:
        addr = f"{inc.house} {street}"
        r = rng.random()
        if r < 0.5:
            t.add(" Happened outside number ").pii(addr, "address").add(", ").pii(
                _fmt_unit(rng, unit), "postcode"
            )
            t.add(".")
        elif r < 0.8:
            t.add(" Address given: ").pii(addr, "address").add(f", {inc.district.town} ")
            t.pii(_fmt_unit(rng, unit), "postcode").add(".")
        else:
            t.add(" It happened near ").pii(addr, "address").add(".")
    if inc.witness is not None and rng.random() < 0.7:
        w = inc.witness
        title = "Mr" if w.gender == "Male" else rng.choice(("Mrs", "Ms", "Miss"))
        if rng.random() < 0.6:
            t.add(f" Witness {title} ").pii(w.full, "name").add(" (").pii(w.phone, "phone")
            t.add(") saw what happened.")
        else:
            t.add(" A passer-by, ").pii(w.full, "name").add(", called the police.")
    if inc.plate is not None and rng.random() < 0.8:
        t.add(f" The car was a {rng.choice(CARS)}, registration ").pii(inc.plate, "plate").add(".")
    if v is not None and rng.random() < 0.22:
        t.add(f" {pron['He']} can be contacted on ").pii(v.phone, "phone")
        if rng.random() < 0.5:
            t.add(" or ").pii(v.email, "email")
        t.add(".")
    elif v is not None and rng.random() < 0.06:
        t.add(" Contact email ").pii(v.email, "email").add(".")
    if v is not None and rng.random() < 0.12:
        lead, value = pp.dob_text(rng, v.dob)
        t.add(f" Victim {lead}").pii(value, "dob").add(".")
    if inc.offender is not None and rng.random() < 0.6:
        t.add(f" {pron['He']} recognised the offender as ").pii(inc.offender.full, "name")
        t.add(", who lives locally.")
    if v is not None and rng.random() < 0.03:
        t.add(f" {pron['He']} gave {pron['his']} National Insurance number, ").pii(
            pp.ni_number(rng), "ni_number"
        )
        t.add(", for the victim support referral.")
    return t


def _police_text(
    rng: random.Random,
    inc: Incident,
    victim: Person | None,
    unit: str | None,
    house: int | None,
    actions: list[Action],
) -> Text:
    t = Text()
    street = inc.street.name if inc.street else ""
    if inc.online:
        t.add("IP ")
        if victim is not None and rng.random() < 0.3:
            t.pii(victim.full, "name").add(" ")
        if inc.platform == "email" or rng.random() < 0.3:
            t.add("VIA EMAIL. " if inc.platform == "email" else "VIA SOCIAL MEDIA. ")
        else:
            t.add(f"VIA SOCIAL MEDIA ({inc.platform.upper()}). ")
    elif inc.org is not None:
        t.add(rng.choice((f"PREMISES ON {street}. ", f"REPORTED BY {inc.org.name} ON {street}. ")))
    else:
        t.add("IP ")
        if victim is not None and rng.random() < 0.4:
            t.pii(victim.full, "name").add(" ")
        t.add(f"ON {street}. ")
    t.add(f"SUSP DESCRIBED AS {inc.offender_desc[1]}. ")
    for a in actions:
        t.add(f"SUSP {rng.choice(a.police)}. ")
    if house and unit and rng.random() < 0.5:
        t.add("LOCATION ").pii(f"{house} {street}", "address").add(" ")
        t.pii(unit if rng.random() < 0.7 else unit.replace(" ", ""), "postcode").add(". ")
    if inc.offender is not None and rng.random() < 0.6:
        t.add("SUSP NAMED AS ").pii(inc.offender.full, "name").add(" DOB ")
        t.pii(inc.offender.dob.strftime("%d/%m/%Y"), "dob").add(". ")
    if inc.plate is not None and rng.random() < 0.8:
        t.add("VRM ").pii(inc.plate, "plate").add(" SEEN LEAVING. ")
    if inc.online and victim is not None and rng.random() < 0.6:
        t.add("IP ACCOUNT ").pii(victim.handle, "handle").add(" TARGETED. ")
    if victim is not None:
        if rng.random() < 0.15:
            t.add("IP CONTACT ").pii(victim.phone, "phone").add(". ")
        if rng.random() < 0.06:
            t.add("IP EMAIL ").pii(victim.email, "email").add(". ")
        if rng.random() < 0.08:
            lead, value = pp.dob_text(rng, victim.dob)
            t.add(f"IP {lead}").pii(value, "dob").add(". ")
    if inc.witness is not None and rng.random() < 0.6:
        w = inc.witness
        t.add("WITNESS ").pii(f"{w.surname.upper()} {w.forename}", "name", keep_case=True)
        t.add(" PROVIDED STATEMENT. ")
    if inc.org is not None and rng.random() < 0.2:
        t.add(f"CCTV REQUESTED FROM {inc.org.name}. ")
    if rng.random() < 0.02:
        t.add("SUSP NI ").pii(pp.ni_number(rng), "ni_number").add(". ")
    return t


def _rendered(t: Text, style: str) -> tuple[str, list[tuple[str, str]]]:
    text, planted = t.render(style)
    return text.rstrip(), planted


# --------------------------------------------------------------------------- records


@dataclass(slots=True)
class Version:
    when: datetime  # CST: Last Updated; police: the day the version was sent (at midnight)
    row: dict[str, Any]
    planted: list[tuple[str, str, str]]  # (field, kind, value)


@dataclass(slots=True)
class Record:
    source: str  # cst / gmp / mps / wyp
    inc: Incident
    order: tuple[Any, ...]
    versions: list[Version]
    ref: str = ""
    cites: tuple[int, Record | None, str, int] | None = None  # (from version, crime, mode, seed)
    delivered: list[tuple[int, Version]] = field(default_factory=list)  # (file index, version)

    @property
    def force_area(self) -> str:
        return self.inc.force_id

    @property
    def latest(self) -> Version:
        return self.delivered[-1][1]

    @property
    def cancelled(self) -> bool:
        row = self.latest.row
        status = row.get("RECORD_STATUS") or row.get("Status") or row.get("status")
        return status in ("CANCELLED", "No Crime", "cancelled")


def _resend_delay(rng: random.Random, sent: date, lo: int, hi: int, end: date) -> int:
    """Days until a record is re-sent: soon after, or (often) during the recent period of small files."""
    recent_from = max(sent + timedelta(days=lo), end - timedelta(days=40))
    if rng.random() < 0.45 and recent_from <= end:
        return (recent_from - sent).days + rng.randint(0, (end - recent_from).days)
    return rng.randint(lo, hi)


def _cst_record(rng: random.Random, inc: Incident, end: date) -> Record:
    lag = _choice_w(rng, ((0, 35), (1, 25), (2, 12), (3, 8), (5, 8), (10, 7), (30, 5)))
    lag = lag if lag < 2 else rng.randint(lag, lag * 2)
    reported = inc.day + timedelta(days=lag)
    incident_date = inc.day
    r = rng.random()
    if r < 0.05:
        incident_date = reported
    elif r < 0.09:
        incident_date = inc.day + timedelta(days=rng.choice((-1, 1)))
    unit = inc.unit
    district = inc.district
    if inc.online:
        home_unit = district.streets[0].units[0] if district else None
        postcode = _postcode(rng, home_unit, 0.03, 0.10, 0.0)
        address = None
    else:
        postcode = _postcode(rng, unit, 0.50, 0.18, 0.05)
        r = rng.random()
        address = (
            f"{inc.house} {inc.street.name}" if r < 0.3 else (inc.street.name if r < 0.6 else None)
        )
    town = None
    pfa = None
    if district is not None:
        r = rng.random()
        town = (
            district.town
            if r < (0.5 if inc.online else 0.75)
            else (CITY_OF.get(district.force_name) if r < 0.85 else None)
        )
        if rng.random() < 0.4:
            pfa = rng.choice(FORCE_SHORT.get(district.force_name, (district.force_name,)))
        clue = (postcode and re.match(r"^\s*[A-Za-z]{1,2}\d", postcode)) or pfa or town
        if not clue:
            town = district.town
    v = inc.victim
    if inc.org is not None:
        victim_name, age, gender, phone, email = inc.org.name, None, None, None, None
        if rng.random() < 0.3:
            phone = pp.phone(rng)
    else:
        assert v is not None
        victim_name = v.full if rng.random() < 0.85 else None
        age = str(v.age_on(inc.day)) if rng.random() < 0.6 else None
        gender = v.gender if rng.random() < 0.85 else None
        phone = v.phone if rng.random() < 0.45 else None
        email = v.email if rng.random() < 0.35 else None
    offender_desc = inc.offender_desc[0]
    planted: list[tuple[str, str, str]] = []
    offender_name = None
    if inc.offender is not None:
        offender_name = inc.offender.full if rng.random() < 0.7 else None
        if rng.random() < 0.3:
            t = Text().add(f"{offender_desc}, known locally as ").pii(inc.offender.full, "name")
            offender_desc, p = _rendered(t, "plain")
            planted += [("Offender Description", k, val) for k, val in p]
    eligible = inc.force_id in FORCE_STARTS and inc.day >= FORCE_STARTS[inc.force_id]
    if inc.route == "both":
        to_police = _choice_w(rng, (("Y", 70), ("Unknown", 15), (None, 15)))
    elif eligible:
        to_police = _choice_w(rng, (("N", 45), ("Unknown", 20), (None, 20), ("Y", 15)))
    else:
        to_police = _choice_w(rng, (("Y", 30), ("N", 30), ("Unknown", 20), (None, 20)))
    desc, p = _rendered(_cst_description(rng, inc, unit), "plain")
    planted += [("Description", k, val) for k, val in p]
    first = datetime.combine(reported, time(rng.randint(8, 20), rng.randint(0, 59)))
    row = {
        "Incident Ref": None,
        "Date of Incident": incident_date.strftime("%d/%m/%Y"),
        "Time of Incident": _hhmm(inc.minute)
        if inc.minute is not None and rng.random() < 0.6
        else None,
        "Date Reported": reported.strftime("%d/%m/%Y"),
        "Category": _category_text(rng, inc.category),
        "Method": inc.method,
        "Location Type": inc.location_type,
        "Address": address,
        "Town": town,
        "Postcode": postcode,
        "Police Force Area": pfa,
        "Victim Type": inc.victim_type,
        "Victim Name": victim_name,
        "Victim Age": age,
        "Victim Gender": gender,
        "Victim Phone": phone,
        "Victim Email": email,
        "Offender Description": offender_desc,
        "Offender Name": offender_name,
        "Reported to Police": to_police,
        "Police Reference": None,
        "Description": desc,
        "Last Updated": first.isoformat(timespec="seconds"),
        "_category": inc.category,
    }
    rec = Record("cst", inc, (reported, first, inc.key), [Version(first, row, planted)])
    if rng.random() < 0.06:  # a correction re-sent later
        later = first + timedelta(
            days=_resend_delay(rng, first.date(), 2, 60, end),
            hours=rng.randint(0, 8),
            minutes=rng.randint(1, 59),
        )
        row2 = dict(row)
        row2["Last Updated"] = later.isoformat(timespec="seconds")
        planted2 = list(planted)
        change = rng.choice(("category", "postcode", "police", "description", "phone"))
        if change == "category" and inc.category == AB:
            row2["_category"] = TH if rng.random() < 0.5 else LI
            row2["Category"] = row2["_category"]
        elif change == "postcode" and unit and not inc.online:
            row2["Postcode"] = unit
        elif change == "police" and inc.route == "both":
            row2["Reported to Police"] = "Y"
        elif change == "phone" and v is not None and row["Victim Phone"] is None:
            row2["Victim Phone"] = v.phone
        else:
            row2["Description"] = f"{desc} Update: victim confirmed the details by phone."
        rec.versions.append(Version(later, row2, planted2))
    return rec


def _code_for(rng: random.Random, inc: Incident, action: Action) -> str:
    cat = action.category
    ctx = "any"
    if cat == DD:
        if action.motif == "arson":
            ctx = "arson"
        elif inc.org is not None:
            ctx = "cemetery" if inc.org.victim_type == "Cemetery" else "building"
        elif action.target == "person":
            ctx = "vehicle"
        else:
            ctx = "dwelling"
    elif cat in (TH, AB, LI) and action.method in ("Online", "Letter"):
        ctx = "remote"
    elif cat == AB and action.method == "Graffiti":
        ctx = "graffiti"
    return _choice_w(
        rng, CODE_CHOICES[(cat, ctx)] if (cat, ctx) in CODE_CHOICES else CODE_CHOICES[(cat, "any")]
    )


_GMP_FLAGS = (
    ("Religion - Jewish|Race", 25),
    ("Religion-Jewish", 30),
    ("Antisemitic|Religion - Jewish", 25),
    ("Religion - Jewish", 20),
)
_GMP_OUTCOMES = (
    ("Investigation ongoing", 30),
    ("No suspect identified", 30),
    ("Community resolution", 8),
    ("Charged", 8),
    ("Evidential difficulties - victim does not support", 14),
    ("Caution", 5),
    ("Not in public interest", 5),
)


def _police_records(rng: random.Random, inc: Incident, end: date) -> list[Record]:
    """The crimes a force records for one incident: one per victim, sometimes one per offence."""
    force = inc.force_id
    start = FORCE_STARTS[force]
    victims: list[Person | None] = [inc.victim] if inc.org is None else [None]
    if inc.companion is not None and rng.random() < 0.8:
        victims.append(inc.companion)
    crimes: list[tuple[Person | None, Action, list[Action]]] = [
        (v, inc.actions[0], inc.actions) for v in victims
    ]
    if len(inc.actions) > 1 and rng.random() < 0.25:
        crimes.append((victims[0], inc.actions[1], inc.actions[1:]))
    wyp_joint = force == "wyp" and len(victims) > 1 and rng.random() < 0.3
    if wyp_joint:
        crimes = [c for c in crimes if c[0] is not victims[1]]
    # when and where, as the force recorded it (shared by the incident's crimes)
    shift = _choice_w(rng, ((0, 88), (1, 6), (-1, 6)))
    day = inc.day + timedelta(days=shift)
    if day < start:
        day = inc.day
    if inc.minute is not None and rng.random() < 0.8:
        t_from = datetime.combine(day, time(inc.minute // 60, inc.minute % 60))
        t_to = t_from
    else:
        r = rng.random()
        if r < 0.4 and day > start:
            t_from = datetime.combine(
                day - timedelta(days=1), time(rng.randint(17, 22), rng.choice((0, 30)))
            )
            t_to = datetime.combine(day, time(rng.randint(6, 9), rng.choice((0, 30))))
        elif r < 0.7:
            t_from = datetime.combine(day, time(0, 0))
            t_to = datetime.combine(day, time(23, 59))
        else:
            t_from = datetime.combine(day, time(rng.randint(7, 22), rng.choice((0, 15, 30, 45))))
            t_to = t_from + timedelta(days=rng.randint(1, 3))
    lag = _choice_w(rng, ((0, 50), (1, 25), (3, 15), (10, 10)))
    reported = max(t_from.date(), inc.day) + timedelta(
        days=lag if lag < 3 else rng.randint(lag, lag * 2)
    )
    house = inc.house
    if house and inc.org is None and rng.random() < 0.1:
        house = min(_MAX_HOUSE, max(1, house + rng.randint(-30, 30)))
    unit = inc.street.unit(house) if inc.street and house else None
    if inc.online:
        postcode = None
        address = None
    else:
        postcode = _postcode(rng, unit, 0.65, 0.08, 0.05)
        address = (
            f"{house} {inc.street.name}"
            if house and rng.random() < 0.75
            else (inc.street.name if rng.random() < 0.5 else None)
        )
    area = inc.district.area if inc.district else ""
    cancel_all = rng.random() < (0.05 if inc.route == "police_only" else 0.02)
    out: list[Record] = []
    for n, (victim, action, acts) in enumerate(crimes):
        code = _code_for(rng, inc, action)
        if n > 0 and action is not inc.actions[0] and code == out[0].versions[0].row.get("_code"):
            code = "9B" if code != "9B" else "8M"
        style = {"gmp": "upper", "mps": "lower", "wyp": "upper"}[force]
        text, planted = _rendered(_police_text(rng, inc, victim, unit, house, acts), style)
        v_fold = victim is not None and rng.random() < 0.1
        forename = (
            pp.ascii_fold(victim.forename)
            if victim is not None and v_fold
            else (victim.forename if victim is not None else "")
        )
        dob = victim.dob if victim is not None and rng.random() < 0.9 else None
        suspect = inc.offender.full if inc.offender is not None and rng.random() < 0.6 else None
        base = {"_code": code}
        cancelled_first = False
        if force == "gmp":
            row = {
                "CRIME_REF": None,
                "OFFENCE_CODE": code,
                "OFFENCE_DESC": OFFENCE_DESC[code],
                "COMMITTED_FROM": t_from.strftime("%Y-%m-%d %H:%M:%S"),
                "COMMITTED_TO": None
                if t_from == t_to and rng.random() < 0.15
                else t_to.strftime("%Y-%m-%d %H:%M:%S"),
                "REPORTED_DATE": reported.isoformat(),
                "LOCATION": address,
                "POSTCODE": postcode,
                "BEAT": f"{area}{rng.choice('ABCD')}" if area and not inc.online else None,
                "HATE_FLAGS": _choice_w(rng, _GMP_FLAGS),
                "VICTIM_NAME": f"{victim.surname.upper()}, {forename}"
                if victim is not None
                else inc.org.name.upper(),
                "VICTIM_DOB": dob.isoformat() if dob else None,
                "SUSPECT_NAME": suspect,
                "MO_TEXT": text,
                "OUTCOME": _choice_w(rng, _GMP_OUTCOMES),
                "RECORD_STATUS": "CONFIRMED",
            }
        elif force == "mps":
            row = {
                "CRIS Ref": None,
                "Offence": OFFENCE_DESC[code],
                "Offence Sub Type": code,
                "Date From": t_from,
                "Date To": t_to,
                "Reported": reported,
                "Borough": area,
                "Address": address or "",
                "Post Code": postcode or "",
                "Flag": "HATE (FAITH) JEWISH" if rng.random() < 0.85 else "Antisemitic",
                "Victim Surname": victim.surname if victim is not None else inc.org.name,
                "Victim Forename": forename,
                "Victim DOB": dob,
                "Suspect Details": suspect or "",
                "Summary": text,
                "Status": "Crime",
            }
        else:
            persons: list[dict[str, Any]] = [
                {
                    "role": "victim",
                    "name": f"{forename} {victim.surname}" if victim is not None else inc.org.name,
                    "dob": dob.isoformat() if dob else None,
                }
            ]
            if wyp_joint and n == 0:
                comp = victims[1]
                persons.append(
                    {
                        "role": "victim",
                        "name": comp.full,
                        "dob": comp.dob.isoformat() if rng.random() < 0.8 else None,
                    }
                )
            if suspect:
                persons.append({"role": "suspect", "name": suspect})
            if inc.witness is not None and rng.random() < 0.15:
                persons.append({"role": "witness", "name": inc.witness.full})
            flags = ["hate:religion:jewish"] + (["hate:race"] if rng.random() < 0.25 else [])
            row = {
                "reference": None,
                "occurred": {
                    "from": t_from.isoformat(timespec="seconds"),
                    "to": t_to.isoformat(timespec="seconds"),
                },
                "reported": reported.isoformat(),
                "offence": {"code": code, "description": OFFENCE_DESC[code]},
                "location": {"address": address or "", "postcode": postcode or ""},
                "flags": flags,
                "persons": persons,
                "narrative": text,
                "status": "confirmed",
            }
        row.update(base)
        text_field = TEXT_FIELD[force]
        rec = Record(
            force,
            inc,
            (reported, inc.key, n),
            [
                Version(
                    datetime.combine(reported, time()),
                    row,
                    [(text_field, k, v) for k, v in planted],
                )
            ],
        )
        cancel = cancel_all or rng.random() < 0.02
        if cancel and rng.random() < 0.15:
            cancelled_first = True  # recorded and cancelled before the first extract
        if cancel:
            when = reported + timedelta(
                days=0 if cancelled_first else _resend_delay(rng, reported, 4, 60, end)
            )
            row2 = _with_status(row, force, cancelled=True)
            if cancelled_first:
                rec.versions = [
                    Version(datetime.combine(when, time()), row2, rec.versions[0].planted)
                ]
            else:
                rec.versions.append(
                    Version(datetime.combine(when, time()), row2, rec.versions[0].planted)
                )
        elif rng.random() < 0.07:
            when = reported + timedelta(days=_resend_delay(rng, reported, 3, 45, end))
            rec.versions.append(
                Version(
                    datetime.combine(when, time()),
                    _corrected(rng, row, force, unit),
                    rec.versions[0].planted,
                )
            )
        out.append(rec)
    return out


def _with_status(row: dict[str, Any], force: str, cancelled: bool) -> dict[str, Any]:
    row2 = dict(row)
    if force == "gmp":
        row2["RECORD_STATUS"] = "CANCELLED" if cancelled else "CONFIRMED"
        row2["OUTCOME"] = "No crime - cancelled" if cancelled else row["OUTCOME"]
    elif force == "mps":
        row2["Status"] = "No Crime" if cancelled else "Crime"
    else:
        row2["status"] = "cancelled" if cancelled else "confirmed"
    return row2


def _corrected(
    rng: random.Random, row: dict[str, Any], force: str, unit: str | None
) -> dict[str, Any]:
    """A later version of a crime with one field corrected."""
    row2 = dict(row)
    code = RECLASSIFY[row["_code"]]
    change = (
        rng.choice(("code", "postcode", "outcome"))
        if force == "gmp"
        else rng.choice(("code", "postcode"))
    )
    if change == "postcode" and unit:
        if force == "gmp":
            if row["POSTCODE"] == unit:
                change = "code"
            row2["POSTCODE"] = unit
        elif force == "mps":
            if row["Post Code"] == unit:
                change = "code"
            row2["Post Code"] = unit
        else:
            if row["location"]["postcode"] == unit:
                change = "code"
            row2["location"] = {**row["location"], "postcode": unit}
    elif change == "outcome":
        row2["OUTCOME"] = "Charged" if row["OUTCOME"] != "Charged" else "Caution"
    else:
        change = "code"
    if change == "code" or (change == "postcode" and not unit):
        row2["_code"] = code
        if force == "gmp":
            row2["OFFENCE_CODE"], row2["OFFENCE_DESC"] = code, OFFENCE_DESC[code]
        elif force == "mps":
            row2["Offence Sub Type"], row2["Offence"] = code, OFFENCE_DESC[code]
        else:
            row2["offence"] = {"code": code, "description": OFFENCE_DESC[code]}
    return row2


# --------------------------------------------------------------------------- refs


def _assign_refs(records: list[Record]) -> None:
    by_source: dict[str, list[Record]] = {}
    for rec in records:
        by_source.setdefault(rec.source, []).append(rec)
    for source in sorted(by_source):
        counters: dict[int, int] = {}
        for rec in sorted(by_source[source], key=lambda r: r.order):
            year = rec.order[0].year
            counters[year] = counters.get(year, 0) + 1
            n = counters[year]
            yy = year % 100
            if source == "cst":
                rec.ref = f"CST/{yy:02d}/{n:05d}"
            elif source == "gmp":
                rec.ref = f"GMP/{yy:02d}/{100000 + n:07d}"
            elif source == "mps":
                rec.ref = f"01/{2300000 + n:07d}/{yy:02d}"
            else:
                rec.ref = f"13{yy:02d}{4000000 + n:07d}"
            for v in rec.versions:
                v.row[REF_FIELD[source]] = rec.ref


def _plan_citations(
    rng: random.Random, cst: Record, crimes: list[Record], all_crimes: list[Record]
) -> None:
    first = cst.versions[0].row
    said_yes = first["Reported to Police"] == "Y" or (
        len(cst.versions) > 1 and cst.versions[-1].row["Reported to Police"] == "Y"
    )
    if not said_yes:
        return
    from_version = 0 if first["Reported to Police"] == "Y" else len(cst.versions) - 1
    if crimes and rng.random() < 0.6:
        mode = _choice_w(
            rng,
            (
                ("exact", 30),
                ("compact", 20),
                ("partial", 20),
                ("transpose", 12),
                ("digit", 8),
                ("wrong", 10),
            ),
        )
        target = rng.choice(crimes)
        if mode == "wrong":
            target = rng.choice(all_crimes)
            mode = "exact" if rng.random() < 0.5 else "compact"
            if target.inc is cst.inc:
                return
        cst.cites = (from_version, target, mode, rng.getrandbits(32))
    elif not crimes and rng.random() < 0.25:
        cst.cites = (from_version, None, "foreign", rng.getrandbits(32))


def _apply_citations(records: list[Record]) -> None:
    for rec in records:
        if rec.cites is None:
            continue
        from_version, target, mode, seed = rec.cites
        r = random.Random(seed)
        text = (
            _foreign_ref(r)
            if target is None
            else _cst_ref_variant(r, mode, target.ref, target.source)
        )
        for v in rec.versions[from_version:]:
            v.row["Police Reference"] = text


# --------------------------------------------------------------------------- delivery windows


@dataclass(frozen=True, slots=True)
class Window:
    lo: date
    hi: date
    delivered: date  # file date (used for the file's modification time)
    name: str


def _cst_windows(start: date, end: date) -> list[Window]:
    recent = max(start, end - timedelta(days=_CST_BACKFILL_DAYS - 1))
    wins = []
    if recent > start:
        cut = recent - timedelta(days=1)
        wins.append(Window(date(1900, 1, 1), cut, cut, f"cst_incidents_{cut:%Y%m%d}.csv"))
    d = recent
    while d <= end:
        wins.append(Window(d, d, d, f"cst_incidents_{d:%Y%m%d}.csv"))
        d += timedelta(days=1)
    return wins


def _gmp_windows(fstart: date, end: date) -> list[Window]:
    last_sunday = end - timedelta(days=(end.weekday() + 1) % 7 or 7)
    weeks = []
    hi = last_sunday
    for _ in range(_GMP_RECENT_WEEKS):
        lo = hi - timedelta(days=6)
        if hi < fstart:
            break
        weeks.append((max(lo, fstart), hi))
        if lo <= fstart:
            break
        hi = lo - timedelta(days=1)
    weeks.reverse()
    wins = []
    if weeks and weeks[0][0] > fstart:
        cut = weeks[0][0] - timedelta(days=1)
        wins.append(
            Window(
                fstart,
                cut,
                cut + timedelta(days=1),
                f"gmp_antisemitic_crimes_{cut + timedelta(days=1):%Y%m%d}.csv",
            )
        )
    for lo, hi in weeks:
        delivered = hi + timedelta(days=1)
        wins.append(Window(lo, hi, delivered, f"gmp_antisemitic_crimes_{delivered:%Y%m%d}.csv"))
    return wins


def _month_end(d: date) -> date:
    return date(d.year, d.month, monthrange(d.year, d.month)[1])


def _mps_windows(fstart: date, end: date) -> list[Window]:
    months = []
    m = date(fstart.year, fstart.month, 1)
    while True:
        me = _month_end(m)
        delivered = me + timedelta(days=5)
        if delivered > end:
            break
        months.append((max(m, fstart), me, delivered))
        m = me + timedelta(days=1)
    wins = []
    recent = months[-_MPS_RECENT_MONTHS:]
    older = months[:-_MPS_RECENT_MONTHS] if len(months) > _MPS_RECENT_MONTHS else []
    if older:
        lo, hi, delivered = older[0][0], older[-1][1], older[-1][2]
        wins.append(Window(lo, hi, delivered, f"MPS_Antisemitic_{lo:%Y_%m}_to_{hi:%Y_%m}.xlsx"))
    for lo, hi, delivered in recent:
        wins.append(Window(lo, hi, delivered, f"MPS_Antisemitic_{lo:%Y_%m}.xlsx"))
    return wins


def _wyp_windows(fstart: date, end: date) -> list[Window]:
    if fstart > end:
        return []
    recent = max(fstart, end - timedelta(days=_WYP_RECENT_DAYS - 1))
    wins = []
    if recent > fstart:
        cut = recent - timedelta(days=1)
        wins.append(Window(fstart, cut, cut, f"wyp-hate-{cut:%Y-%m-%d}.jsonl"))
    d = recent
    while d <= end:
        wins.append(Window(d, d, d, f"wyp-hate-{d:%Y-%m-%d}.jsonl"))
        d += timedelta(days=1)
    return wins


def _deliver(records: list[Record], windows: list[Window]) -> None:
    """Put each version in the file whose window holds its date; a file keeps one version per record."""
    if not windows:
        return
    his = [w.hi for w in windows]
    for rec in records:
        placed: dict[int, Version] = {}
        for v in rec.versions:
            d = v.when.date()
            if d < windows[0].lo or d > his[-1]:
                continue
            idx = next(i for i, hi in enumerate(his) if d <= hi)
            placed[idx] = v  # later version of the same window wins
        rec.delivered = sorted(placed.items(), key=lambda kv: kv[0])


# --------------------------------------------------------------------------- writers


def _touch(path: Path, day: date) -> None:
    ts = datetime.combine(day, time(6, 0), tzinfo=UTC).timestamp()
    os.utime(path, (ts, ts))


def _write_csv(
    path: Path, rows: list[dict[str, Any]], columns: tuple[str, ...], bom: bool, crlf: bool
) -> None:
    frame = pl.DataFrame(
        {c: [r[c] for r in rows] for c in columns}, schema={c: pl.String for c in columns}
    )
    frame.write_csv(path, include_bom=bom, line_terminator="\r\n" if crlf else "\n")


def _write_xlsx(path: Path, rows: list[dict[str, Any]]) -> None:
    schema: dict[str, Any] = {c: pl.String for c in MPS_COLUMNS}
    schema.update(
        {
            "Date From": pl.Datetime("us"),
            "Date To": pl.Datetime("us"),
            "Reported": pl.Date,
            "Victim DOB": pl.Date,
        }
    )
    frame = pl.DataFrame({c: [r[c] for r in rows] for c in MPS_COLUMNS}, schema=schema)
    wb = xlsxwriter.Workbook(str(path))
    wb.set_properties({"created": datetime(2026, 1, 1), "author": "MPS Hate Crime Unit"})
    frame.write_excel(
        wb,
        worksheet="Export",
        table_style=None,
        autofilter=False,
        dtype_formats={pl.Datetime: "dd/mm/yyyy hh:mm", pl.Date: "dd/mm/yyyy"},
        header_format={"bold": False},
    )
    wb.close()


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(
                json.dumps(
                    {k: v for k, v in row.items() if not k.startswith("_")}, ensure_ascii=False
                )
            )
            fh.write("\n")


def _write_source(
    out: Path, source: str, records: list[Record], windows: list[Window]
) -> tuple[int, int]:
    per_file: dict[int, list[tuple[Any, dict[str, Any]]]] = {}
    for rec in records:
        for idx, v in rec.delivered:
            per_file.setdefault(idx, []).append(
                ((v.when, rec.ref) if source == "cst" else rec.order, v.row)
            )
    folder = out / "cst" if source == "cst" else out / "police" / source
    folder.mkdir(parents=True, exist_ok=True)
    n_files = n_rows = 0
    for idx in sorted(per_file):
        w = windows[idx]
        rows = [row for _, row in sorted(per_file[idx], key=lambda x: x[0])]
        path = folder / w.name
        if source == "cst":
            _write_csv(path, rows, CST_COLUMNS, bom=True, crlf=(idx % 3 != 1))
        elif source == "gmp":
            _write_csv(path, rows, GMP_COLUMNS, bom=False, crlf=True)
        elif source == "mps":
            _write_xlsx(path, rows)
        else:
            _write_jsonl(path, rows)
        _touch(path, w.delivered)
        n_files += 1
        n_rows += len(rows)
    return n_files, n_rows


def _write_truth(
    truth: Path, cst: list[Record], crimes: list[Record], incidents: list[Incident]
) -> int:
    truth.mkdir(parents=True, exist_ok=True)
    inc_rows: list[tuple[str, str, str, str]] = []
    pii_rows: list[tuple[str, str, str, str, str, str]] = []
    for rec in cst + crimes:
        force = rec.inc.force_id if rec.source == "cst" else rec.source
        source = "cst" if rec.source == "cst" else "police"
        inc_rows.append((rec.inc.iid, source, force, rec.ref))
        seen: set[tuple[str, str, str]] = set()
        for fld, kind, value in rec.latest.planted:
            if (fld, kind, value) not in seen:
                seen.add((fld, kind, value))
                pii_rows.append((source, force, rec.ref, fld, kind, value))
    inc_rows.sort(key=lambda r: (r[0], r[1], r[2], r[3]))
    pl.DataFrame(
        inc_rows, schema=["incident_id", "source", "force_id", "ref"], orient="row"
    ).write_csv(truth / "incidents.csv")
    pii_rows.sort(key=lambda r: (r[0], r[1], r[2], r[3], r[4], r[5]))
    pl.DataFrame(
        pii_rows,
        schema=["source", "force_id", "ref", "field", "kind", "value"],
        orient="row",
    ).write_csv(truth / "planted_pii.csv")
    has_cst: dict[str, bool] = {}
    police: dict[str, list[bool]] = {}
    police_codes: dict[str, list[str]] = {}
    any_codes: dict[str, list[str]] = {}
    cst_category: dict[str, str] = {}
    for rec in cst:
        has_cst[rec.inc.iid] = True
        cst_category[rec.inc.iid] = rec.latest.row["_category"]
    for rec in crimes:
        police.setdefault(rec.inc.iid, []).append(rec.cancelled)
        any_codes.setdefault(rec.inc.iid, []).append(rec.latest.row["_code"])
        if not rec.cancelled:
            police_codes.setdefault(rec.inc.iid, []).append(rec.latest.row["_code"])
    meta = []
    for inc in incidents:
        if inc.iid not in has_cst and inc.iid not in police:
            continue
        flags = police.get(inc.iid, [])
        cancelled_only = bool(flags) and all(flags)
        live_police = bool(flags) and not cancelled_only
        if inc.iid in has_cst:
            route = "both" if live_police else "cst_only"
            category = cst_category[inc.iid]
        else:
            route = "police_only" if live_police else "none"
            codes = police_codes.get(inc.iid) or any_codes[inc.iid]
            category = min((NEAREST_CATEGORY[c] for c in codes), key=SEVERITY.__getitem__)
        meta.append(
            (
                inc.iid,
                inc.day.isoformat(),
                inc.force_id,
                category,
                cancelled_only,
                route,
                f"S{inc.spree:05d}" if inc.spree else None,
            )
        )
    pl.DataFrame(
        meta,
        schema={
            "incident_id": pl.String,
            "incident_date": pl.String,
            "force_area_id": pl.String,
            "category": pl.String,
            "cancelled_only": pl.Boolean,
            "route": pl.String,
            "spree_id": pl.String,
        },
        orient="row",
    ).write_csv(truth / "incidents_meta.csv")
    return len(pii_rows)


# --------------------------------------------------------------------------- entry point


def generate_landing(
    out: Path,
    truth: Path,
    incidents: int = DEFAULT_INCIDENTS,
    seed: int = 7,
    density: float = 1.0,
    start: date = date(2025, 1, 1),
    end: date = date(2026, 11, 24),
) -> DemoSummary:
    """Write a synthetic landing area to `out` and its ground truth to `truth`.

    Args:
        out: landing folder; `out/cst/` and `out/police/<force>/` are created.
        truth: folder for incidents.csv, incidents_meta.csv, planted_pii.csv.
        incidents: underlying incidents at density 1 (the default gives about
            5,000 CST reports and 3,500 police crimes).
        seed: the same seed gives byte-identical output.
        density: multiplies incidents without adding places: `density=10` puts
            ten times as many incidents in the same streets over the same dates.
        start, end: the period incidents happen in; `end` is the last delivery day.

    Returns:
        A DemoSummary with records, rows and files per source.
    """
    out, truth = Path(out), Path(truth)
    rng = random.Random(seed)
    scale = incidents / DEFAULT_INCIDENTS
    districts = _build_gazetteer(rng, scale)
    n_total = max(1, round(incidents * density))
    all_incidents = _generate_incidents(rng, districts, n_total, start, end)
    _assign_routes(rng, all_incidents)

    cst: list[Record] = []
    crimes: list[Record] = []
    crimes_of: dict[str, list[Record]] = {}
    for inc in all_incidents:
        if inc.route in ("both", "cst_only"):
            cst.append(_cst_record(rng, inc, end))
        if inc.route in ("both", "police_only"):
            recs = _police_records(rng, inc, end)
            crimes.extend(recs)
            crimes_of[inc.iid] = recs
        inc.victim = inc.companion = inc.offender = inc.witness = None  # rendered; free the memory
    _assign_refs(cst + crimes)
    for rec in cst:
        _plan_citations(rng, rec, crimes_of.get(rec.inc.iid, []), crimes)
    _apply_citations(cst)

    windows = {"cst": _cst_windows(start, end)}
    windows["gmp"] = _gmp_windows(FORCE_STARTS["gmp"], end)
    windows["mps"] = _mps_windows(FORCE_STARTS["mps"], end)
    windows["wyp"] = _wyp_windows(FORCE_STARTS["wyp"], end)
    by_source: dict[str, list[Record]] = {"cst": cst, "gmp": [], "mps": [], "wyp": []}
    for rec in crimes:
        by_source[rec.source].append(rec)
    files: dict[str, int] = {}
    rows: dict[str, int] = {}
    records: dict[str, int] = {}
    for source in ("cst", "gmp", "mps", "wyp"):
        _deliver(by_source[source], windows[source])
        by_source[source] = [r for r in by_source[source] if r.delivered]
        files[source], rows[source] = _write_source(out, source, by_source[source], windows[source])
        records[source] = len(by_source[source])
    delivered_crimes = by_source["gmp"] + by_source["mps"] + by_source["wyp"]
    planted = _write_truth(truth, by_source["cst"], delivered_crimes, all_incidents)
    seen = {r.inc.iid for r in by_source["cst"]} | {r.inc.iid for r in delivered_crimes}
    return DemoSummary(
        incidents=len(seen), records=records, rows=rows, files=files, planted_values=planted
    )
