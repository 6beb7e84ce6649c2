"""Synthetic people and the personal values planted in the demo extracts."""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from demo._names import FEMALE, MALE, SURNAME

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_PLATE_LETTERS = "ABCDEFGHJKLMNOPRSTUVWXY"
_NI_FIRST = "ABCEGHJKLMNOPRSTWXYZ"  # not D F I Q U V
_NI_SECOND = "ABCEGHJKLMNPRSTWXYZ"  # not D F I O Q U V
_NI_BAD = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
_EMAIL_DOMAINS = (
    "gmail.com",
    "outlook.com",
    "yahoo.co.uk",
    "hotmail.co.uk",
    "btinternet.com",
    "icloud.com",
    "sky.com",
    "protonmail.com",
)


@dataclass(slots=True)
class Person:
    """A synthetic person with the contact details a report may carry."""

    forename: str
    surname: str
    gender: str  # "Male" / "Female"
    dob: date
    phone: str
    email: str
    handle: str

    @property
    def full(self) -> str:
        return f"{self.forename} {self.surname}"

    def age_on(self, day: date) -> int:
        return day.year - self.dob.year - ((day.month, day.day) < (self.dob.month, self.dob.day))

    @property
    def pron(self) -> dict[str, str]:
        if self.gender == "Female":
            return {"he": "she", "him": "her", "his": "her", "He": "She", "His": "Her"}
        return {"he": "he", "him": "him", "his": "his", "He": "He", "His": "His"}


def ascii_fold(text: str) -> str:
    """'Siobhán Ó'Connell' -> 'Siobhan O'Connell'."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _slug(text: str) -> str:
    return "".join(ch for ch in ascii_fold(text).lower() if ch.isalnum())


def phone(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.40:
        return f"07{rng.randint(100, 999)} {rng.randint(0, 999999):06d}"
    if r < 0.55:
        return f"07{rng.randint(100, 999)}{rng.randint(0, 999999):06d}"
    if r < 0.70:
        return f"+44 7{rng.randint(100, 999)} {rng.randint(0, 999999):06d}"
    if r < 0.80:
        return f"(0161) 496 {rng.randint(0, 999):04d}"
    if r < 0.90:
        return f"0113-496-{rng.randint(0, 999):04d}"
    return f"020 7946 {rng.randint(0, 999):04d}"


def person(
    rng: random.Random, gender: str | None = None, born: tuple[int, int] = (1938, 2010)
) -> Person:
    if gender is None:
        gender = "Female" if rng.random() < 0.47 else "Male"
    forename = rng.choice(FEMALE_POOL if gender == "Female" else MALE_POOL)
    surname = rng.choice(SURNAME_POOL)
    dob = date(born[0], 1, 1) + timedelta(days=rng.randint(0, (born[1] - born[0]) * 365))
    f, s = _slug(forename), _slug(surname)
    sep = rng.choice((".", "_", "", "."))
    email = f"{f}{sep}{s}{rng.randint(1, 99) if rng.random() < 0.6 else ''}@{rng.choice(_EMAIL_DOMAINS)}"
    handle = f"@{f[: rng.randint(3, 6)]}{s[: rng.randint(3, 5)]}{rng.randint(1, 999)}"
    return Person(forename, surname, gender, dob, phone(rng), email, handle)


def plate(rng: random.Random) -> str:
    letters = "".join(rng.choice(_PLATE_LETTERS) for _ in range(2))
    age = rng.choice([f"{y:02d}" for y in range(2, 26)] + [f"{y}" for y in range(51, 76)])
    tail = "".join(rng.choice(_PLATE_LETTERS) for _ in range(3))
    return f"{letters}{age} {tail}" if rng.random() < 0.7 else f"{letters}{age}{tail}"


def ni_number(rng: random.Random) -> str:
    while True:
        prefix = rng.choice(_NI_FIRST) + rng.choice(_NI_SECOND)
        if prefix not in _NI_BAD:
            break
    digits = [f"{rng.randint(0, 99):02d}" for _ in range(3)]
    suffix = rng.choice("ABCD")
    if rng.random() < 0.6:
        return f"{prefix} {' '.join(digits)} {suffix}"
    return f"{prefix}{''.join(digits)}{suffix}"


def dob_text(rng: random.Random, dob: date) -> tuple[str, str]:
    """(lead-in, value): 'DOB ' + '07/10/1978' or 'born ' + '7 October 1978'."""
    if rng.random() < 0.6:
        return "DOB ", dob.strftime("%d/%m/%Y")
    return "born ", f"{dob.day} {MONTHS[dob.month - 1]} {dob.year}"


def _vocabulary() -> tuple[set[str], str]:
    """Words of the non-personal text (places, organisations, narrative templates)."""
    from demo import _text
    from demo._places import CITY_OF, DISTRICTS, STREET_KINDS, STREET_STEMS

    parts: list[str] = list(STREET_STEMS) + list(STREET_KINDS) + list(CITY_OF.values())
    for code, town, force, area, _w, streets, orgs in DISTRICTS:
        parts += [code, town, force, area, streets.replace("|", " ")] + [name for name, _ in orgs]
    for a in _text.ACTIONS:
        parts += [a.cst, *a.police]
    parts += [x for pair in _text.OFFENDERS + _text.ONLINE_OFFENDERS for x in pair]
    parts += (
        [x for acts in _text.ACTIVITY.values() for x in acts]
        + list(_text.PLATFORMS)
        + list(_text.CARS)
    )
    parts += [
        "victim targeted account abusive reported staff found security officer friend happened outside",
        "number address given near witness passer-by called police car registration contacted email",
        "recognised offender lives locally national insurance referral update confirmed details phone",
        "premises cctv requested susp described named location seen leaving contact provided statement",
        "social media jewish man woman while approached synagogue school cemetery",
    ]
    text = " ".join(parts).lower()
    return set(text.replace("'", " ").replace("-", " ").split()), text


def _clean(pool: tuple[str, ...]) -> tuple[str, ...]:
    """Drop names that also occur in the non-personal text, so a planted name is unambiguous."""
    words, text = _vocabulary()
    out = []
    for name in pool:
        low = name.lower()
        if any(part in words for part in low.replace("'", " ").replace("-", " ").split()):
            continue
        if len(low) <= 4 and low in text:
            continue
        out.append(name)
    return tuple(out)


FEMALE_POOL = _clean(FEMALE)
MALE_POOL = _clean(MALE)
SURNAME_POOL = _clean(SURNAME)
