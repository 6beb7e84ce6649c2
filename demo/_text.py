"""Narratives: the same incident told in CST's plain English and in police style.

A narrative is built from fragments; fragments that carry a planted personal
value remember its kind, so the exact substring as written (after the
sender's casing) can be listed in the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

EV, AS, DD, TH, AB, LI = (
    "Extreme Violence",
    "Assault",
    "Damage & Desecration",
    "Threats",
    "Abusive Behaviour",
    "Literature",
)
CATEGORIES = (EV, AS, DD, TH, AB, LI)


@dataclass(frozen=True, slots=True)
class Action:
    """One thing the offender did: CST's wording and the police wordings."""

    category: str
    method: str  # Verbal / Physical / Graffiti / Letter / Online
    cst: str  # may use {him} {his} {he}
    police: tuple[str, ...]
    target: str  # "person", "property", "any"
    motif: str  # groups look-alike actions (sprees)


def _a(cat: str, method: str, target: str, motif: str, cst: str, *police: str) -> Action:
    return Action(cat, method, cst, police, target, motif)


ACTIONS: tuple[Action, ...] = (
    _a(
        EV,
        "Physical",
        "person",
        "knife",
        "attacked {him} with a knife",
        "STABBED IP WITH KNIFE",
        "ATTACKED IP WITH BLADED ARTICLE",
    ),
    _a(
        EV,
        "Physical",
        "person",
        "kick",
        "kicked {him} repeatedly in the head while {he} was on the ground",
        "REPEATEDLY KICKED IP TO HEAD WHILST ON FLOOR",
    ),
    _a(EV, "Physical", "person", "car", "drove a car at {him}", "DROVE VEHICLE AT IP"),
    _a(
        EV,
        "Physical",
        "person",
        "bar",
        "hit {him} with a metal bar",
        "STRUCK IP WITH METAL BAR CAUSING SERIOUS INJURY",
    ),
    _a(
        AS,
        "Physical",
        "person",
        "spit",
        "spat at {him}",
        "SPAT AT IP",
        "SPAT TOWARDS IP STRIKING IP",
    ),
    _a(AS, "Physical", "person", "bottle", "threw a bottle at {him}", "THREW GLASS BOTTLE AT IP"),
    _a(
        AS,
        "Physical",
        "person",
        "push",
        "pushed {him} to the ground",
        "PUSHED IP CAUSING IP TO FALL",
    ),
    _a(
        AS,
        "Physical",
        "person",
        "kippah",
        "knocked {his} kippah off",
        "KNOCKED SKULL CAP FROM IP HEAD",
    ),
    _a(
        AS,
        "Physical",
        "person",
        "egg",
        "threw an egg at {him} from a car",
        "EGG THROWN FROM PASSING VEHICLE STRIKING IP",
    ),
    _a(
        AS,
        "Physical",
        "person",
        "punch",
        "punched {him} in the face",
        "PUNCHED IP TO FACE",
        "ASSAULTED IP PUNCH TO FACE",
    ),
    _a(AS, "Physical", "person", "kick", "kicked {him} as {he} walked past", "KICKED IP TO LEGS"),
    _a(AS, "Physical", "person", "stones", "threw stones at {him}", "THREW STONES AT IP"),
    _a(
        DD,
        "Graffiti",
        "property",
        "swastika",
        "drew a swastika on the gate",
        "SWASTIKA DRAWN ON GATE",
        "SWASTIKA GRAFFITI ON FRONT GATE",
    ),
    _a(
        DD,
        "Physical",
        "property",
        "windows",
        "smashed the windows",
        "WINDOWS SMASHED",
        "WINDOWS OF PREMISES SMASHED",
    ),
    _a(
        DD,
        "Physical",
        "cemetery",
        "graves",
        "damaged headstones",
        "HEADSTONES DAMAGED",
        "GRAVES DESECRATED HEADSTONES PUSHED OVER",
    ),
    _a(
        DD,
        "Graffiti",
        "person",
        "swastika",
        "scratched a swastika into {his} car",
        "SWASTIKA SCRATCHED INTO VEHICLE PAINTWORK",
    ),
    _a(
        DD,
        "Physical",
        "property",
        "arson",
        "set fire to the bins by the door",
        "BINS SET ALIGHT BY FRONT DOOR",
    ),
    _a(
        DD,
        "Graffiti",
        "property",
        "swastika",
        "painted swastikas on the wall",
        "SWASTIKAS PAINTED ON WALL",
    ),
    _a(
        DD,
        "Physical",
        "property",
        "mezuzah",
        "ripped the mezuzah off the door frame",
        "MEZUZAH TORN FROM DOOR FRAME",
    ),
    _a(
        DD,
        "Graffiti",
        "property",
        "daub",
        "daubed 'Jews out' on the front door",
        "GRAFFITI DAUBED ON FRONT DOOR",
    ),
    _a(TH, "Verbal", "person", "kill", "threatened to kill {him}", "THREATENED TO KILL IP"),
    _a(
        TH,
        "Verbal",
        "any",
        "fire",
        "said they would burn down the synagogue",
        "THREATENED TO SET FIRE TO SYNAGOGUE",
    ),
    _a(
        TH,
        "Online",
        "person",
        "live",
        "sent a message saying 'we know where you live'",
        "SENT THREATENING MESSAGE WE KNOW WHERE YOU LIVE",
    ),
    _a(
        TH, "Verbal", "property", "bomb", "phoned in a bomb threat", "BOMB THREAT MADE BY TELEPHONE"
    ),
    _a(
        TH,
        "Online",
        "any",
        "shoot",
        "threatened to shoot Jews",
        "MADE THREATS TO SHOOT MEMBERS OF JEWISH COMMUNITY",
    ),
    _a(
        TH,
        "Letter",
        "any",
        "letter",
        "sent a letter threatening to 'finish what Hitler started'",
        "LETTER RECEIVED CONTAINING THREATS TO KILL",
    ),
    _a(
        TH,
        "Verbal",
        "person",
        "stab",
        "said {he} would be stabbed next time",
        "THREATENED TO STAB IP",
    ),
    _a(
        AB,
        "Verbal",
        "person",
        "heil",
        "shouted 'Heil Hitler' at {him}",
        "SHOUTED HEIL HITLER TOWARDS IP",
    ),
    _a(AB, "Verbal", "person", "dirty", "called {him} a 'dirty Jew'", "CALLED IP A DIRTY JEW"),
    _a(AB, "Verbal", "any", "salute", "made a Nazi salute", "PERFORMED NAZI SALUTE"),
    _a(
        AB,
        "Verbal",
        "person",
        "kippah",
        "mocked {his} kippah and laughed",
        "MADE FUN OF IP HEAD COVERING",
    ),
    _a(
        AB,
        "Verbal",
        "any",
        "car",
        "shouted antisemitic abuse from a car",
        "SHOUTED ANTISEMITIC ABUSE FROM VEHICLE",
    ),
    _a(AB, "Verbal", "any", "hitler", "said Hitler was right", "STATED HITLER WAS RIGHT"),
    _a(
        AB,
        "Verbal",
        "person",
        "spit",
        "spat on the ground in front of {him}",
        "SPAT ON FLOOR NEAR IP",
    ),
    _a(
        AB,
        "Graffiti",
        "any",
        "swastika",
        "drew a swastika on the bus shelter",
        "GRAFFITI SWASTIKA DRAWN ON BUS STOP",
        "SWASTIKA DRAWN ON BUS SHELTER",
    ),
    _a(
        AB,
        "Graffiti",
        "any",
        "swastika",
        "sprayed a swastika on the phone box",
        "SWASTIKA SPRAYED ON TELEPHONE KIOSK",
    ),
    _a(AB, "Verbal", "any", "kill", "shouted 'kill the Jews'", "SHOUTED KILL THE JEWS"),
    _a(
        AB,
        "Verbal",
        "person",
        "gas",
        "made hissing gas-chamber noises at {him}",
        "MADE HISSING NOISES REFERENCING GAS CHAMBERS",
    ),
    _a(
        AB,
        "Online",
        "person",
        "comments",
        "posted antisemitic comments under {his} post",
        "POSTED OFFENSIVE COMMENTS ONLINE TOWARDS IP",
    ),
    _a(
        AB,
        "Online",
        "person",
        "dm",
        "sent {him} antisemitic direct messages",
        "SENT ABUSIVE DIRECT MESSAGES TO IP",
    ),
    _a(
        AB,
        "Online",
        "person",
        "holocaust",
        "tagged {him} in a Holocaust 'joke'",
        "TAGGED IP IN OFFENSIVE HOLOCAUST POST",
    ),
    _a(
        AB,
        "Online",
        "any",
        "video",
        "posted a video mocking Orthodox Jews",
        "UPLOADED VIDEO MOCKING JEWISH COMMUNITY",
    ),
    _a(
        AB,
        "Letter",
        "any",
        "letter",
        "sent a letter full of antisemitic abuse",
        "SENT LETTER CONTAINING ANTISEMITIC ABUSE",
    ),
    _a(
        AB,
        "Letter",
        "person",
        "note",
        "posted a note calling {him} a 'Zionist rat' through the door",
        "NOTE POSTED THROUGH LETTERBOX CONTAINING ABUSE",
    ),
    _a(
        LI,
        "Graffiti",
        "any",
        "stickers",
        "put antisemitic stickers on lampposts",
        "ANTISEMITIC STICKERS PLACED ON LAMPPOSTS",
    ),
    _a(
        LI,
        "Letter",
        "any",
        "leaflets",
        "pushed leaflets about a 'Jewish conspiracy' through letterboxes",
        "LEAFLETS POSTED THROUGH LETTERBOXES",
    ),
    _a(
        LI,
        "Online",
        "any",
        "email",
        "sent a mass email full of antisemitic conspiracy theories",
        "MASS EMAIL CONTAINING ANTISEMITIC MATERIAL",
    ),
    _a(
        LI,
        "Graffiti",
        "any",
        "posters",
        "put up posters denying the Holocaust",
        "HOLOCAUST DENIAL POSTERS DISPLAYED",
    ),
)

OFFENDERS = (
    ("white male in his 20s", "WHITE MALE IN HIS 20S"),
    ("a man with a shaved head", "A MAN WITH A SHAVED HEAD"),
    ("three men in their 30s", "THREE MEN IN THEIR 30S"),
    ("a group of youths", "A GROUP OF YOUTHS"),
    ("a woman aged about 40", "A WOMAN AGED ABOUT 40"),
    ("male of medium build wearing a grey hoodie", "MALE OF MEDIUM BUILD WEARING A GREY HOODIE"),
    ("the driver of a silver car", "DRIVER OF A SILVER CAR"),
    ("two teenage boys", "TWO TEENAGE BOYS"),
    ("a man on a bicycle", "MALE ON A PEDAL CYCLE"),
    ("a passenger in a white van", "PASSENGER IN A WHITE VAN"),
    ("an older man with a dog", "OLDER MALE WITH A DOG"),
    ("unknown offenders", "UNKNOWN"),
)
ONLINE_OFFENDERS = (
    ("an anonymous account", "ANONYMOUS ACCOUNT"),
    ("a man she had never met", "UNKNOWN MALE"),
    ("several accounts", "MULTIPLE ACCOUNTS"),
    ("a former colleague", "FORMER COLLEAGUE OF IP"),
)

ACTIVITY = {
    "Street": (
        "walking home",
        "walking to shul",
        "walking with {his} children",
        "leaving shul",
        "crossing the road",
    ),
    "Public transport": ("waiting for a bus", "on the bus", "on the tube", "at the tram stop"),
    "Home": ("at home", "putting the bins out", "in {his} front garden"),
    "Shop": ("in the kosher shop", "queueing in the supermarket", "at the bakery"),
    "Workplace": ("at work", "arriving at work", "on a break outside work"),
    "Park": ("in the park", "walking the dog in the park", "at the playground with {his} children"),
    "School": ("collecting {his} children from school", "outside the school gates"),
    "Synagogue": ("outside the synagogue", "arriving for the morning service"),
}
PLATFORMS = (
    "Twitter/X",
    "Instagram",
    "Facebook",
    "TikTok",
    "WhatsApp",
    "Telegram",
    "YouTube",
    "LinkedIn",
)
CARS = ("silver Golf", "black BMW", "white Transit van", "blue Corsa", "red Fiesta", "grey Qashqai")


class Text:
    """Fragments of a narrative; `pii` fragments are planted personal values."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[tuple[str, str | None, bool]] = []

    def add(self, s: str) -> Text:
        self.parts.append((s, None, False))
        return self

    def pii(self, value: str, kind: str, keep_case: bool = False) -> Text:
        self.parts.append((value, kind, keep_case))
        return self

    def render(self, style: str) -> tuple[str, list[tuple[str, str]]]:
        """style: plain (as written), upper (police caps), lower (MPS: lower case, first letter capital)."""
        out: list[str] = []
        planted: list[tuple[str, str]] = []
        for s, kind, keep in self.parts:
            if style == "upper" and not keep:
                s = s.upper()
            elif style == "lower":
                s = s.lower()
            out.append(s)
            if kind is not None:
                planted.append((kind, s))
        text = "".join(out)
        if style == "lower" and text:
            text = text[0].upper() + text[1:]
        return text, planted
