"""A patient's own known identifiers, read from bronze patients, as the strings a leak would show.

These feed the blocking PHI-leak gate (and the note detectors): names of two or more letters
(patient and listed contacts), MRN, SSN, phone numbers, email, street line, city, the full ZIP code and
the full birth date, each in the spellings they commonly take in text. Two-letter names ("Li", "Ng",
"Wu") count only where ``short_name_counts`` says the token is a name, for the gate and the note path
alike. ``real_names`` is every person name of a snapshot: what note surrogates must never be.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

# the bronze patients columns that hold a patient's identifiers (what the gate and the structured rules read)
PATIENT_IDENTIFIER_COLUMNS = [
    "patient_key",
    "family_name",
    "given_names",
    "contacts",
    "mrn",
    "ssn",
    "phone",
    "email",
    "address_line",
    "city",
    "postal_code",
    "birth_date",
]

MIN_NAME_LETTERS = 3  # name_tokens' default (the note detectors' fuzzy layer)
SHORT_NAME_LETTERS = (
    2  # what the gate and the known-identifier layer check: "Li", "Ng", "Wu" included
)
_WORD = re.compile(r"[A-Za-z][\w'\-]*")  # a placeholder such as 'Patient_10007795' is one token
_UWORD = re.compile(
    r"[^\W\d_]+(?:['\-][^\W\d_]+)*"
)  # any script: raw name parts for the note detectors


@dataclass(frozen=True)
class KnownIdentifiers:
    patient_key: str
    values: dict[str, frozenset[str]] = field(
        default_factory=dict
    )  # kind -> spellings (lower case)
    # Raw parts for the note detectors: name words as written (patient and contacts), the patient's
    # initials ("CG", "MJO"), city and postal code (the gate matches city and ZIP through ``values``
    # and reads the postal code's prefix for restricted ZIP3 areas).
    name_parts: tuple[str, ...] = ()
    initials: tuple[str, ...] = ()
    city: str | None = None
    postal_code: str | None = None

    def all(self) -> Iterable[tuple[str, str]]:
        for kind, spellings in self.values.items():
            for spelling in spellings:
                yield kind, spelling


def name_tokens(*names: str | None, min_letters: int = MIN_NAME_LETTERS) -> set[str]:
    tokens = set()
    for name in names:
        for token in _WORD.findall(name or ""):
            token = token.strip("'-")
            if sum(ch.isalpha() for ch in token) >= min_letters:
                tokens.add(token.lower())
    return tokens


# Two-letter names ("Li", "Ng", "Wu", "Le", "Do", "Ma") are checked as whole tokens like every name, but
# two letters are also English words and clinical abbreviations and units ("do not", "to", "5 ng/mL",
# "NG/ML", "ma'am", "LE edema" in lower case). The rule, one function for the gate and the note path (so
# that what the gate would count the note path has already replaced):
# * written as names are written ("Ng", "Li": capital then lower case) it always counts;
# * as a unit it does not: right after a number ("5 ng", "10 MA") or joined to a "/" ("ng/mL", "mcg/NG");
# * starting in lower case it does not when it is a common short word or abbreviation (SHORT_WORDS);
# * anything else counts: "NG" or "LI" in capitals, "li" or "wu" in lower case.
# So in a patient's own free text "Mr. Ng", "NG", "Ng's" and "li" are leaks, "do not" and "ng/mL" are not.
SHORT_WORDS = frozenset(
    """
am an as at be by do go he hi if in is it me my no of oh ok on or ow so to up us we ye yo ah eh uh um hm mm
ma pa la le de da di du el en et re vs ie eg
ng mg ml dl kg lb cm iu hr bp rr pt ot st iv im po pr sl sq sc od os ou qd hs ac pc ed er gi gu ob ct mr md
rn np dr ms mi pe cp ue dc fu tx rx dx hx sx fx cc ra id ia ph mv ku mu
""".split()
)
_NUMBER_BEFORE = re.compile(r"\d\s?$")


def short_name_counts(text: str, start: int, end: int) -> bool:
    """Whether the two-letter token ``text[start:end]``, equal to one of the patient's two-letter names, is
    that name (see SHORT_WORDS for the rule)."""
    token = text[start:end]
    if token[:1].isupper() and token[1:].islower():
        return True
    if (
        text[end : end + 1] == "/"
        or text[start - 1 : start] == "/"
        or _NUMBER_BEFORE.search(text[max(0, start - 2) : start])
    ):
        return False
    return not (token[:1].islower() and token.lower() in SHORT_WORDS)


def _digits(value: str | None) -> str:
    return "".join(ch for ch in value or "" if ch.isdigit())


_US_ZIP = re.compile(r"^\s*(\d{5})(?:-?(\d{4}))?\s*$")


def zip_spellings(value: str | None) -> set[str]:
    """The full US ZIP (five digits, and ZIP+4 as written with or without its hyphen). The first three
    digits alone are not an identifier under Safe Harbor (restricted prefixes are the gate's business)."""
    m = _US_ZIP.match(value or "")
    if not m:
        return set()
    zip5, plus4 = m.groups()
    return {zip5} | ({f"{zip5}-{plus4}", f"{zip5}{plus4}"} if plus4 else set())


def zip_prefix(value: str | None) -> str | None:
    """The three-digit prefix of a US ZIP, None for anything else."""
    m = _US_ZIP.match(value or "")
    return m.group(1)[:3] if m else None


def phone_spellings(value: str | None) -> set[str]:
    d = _digits(value)
    if len(d) == 11 and d.startswith("1"):
        d = d[1:]
    if len(d) != 10:
        return {value.lower()} if value else set()
    a, b, c = d[:3], d[3:6], d[6:]
    return {f"{a}-{b}-{c}", f"({a}) {b}-{c}", f"({a}){b}-{c}", f"{a}.{b}.{c}", f"{a} {b} {c}", d}


def ssn_spellings(value: str | None) -> set[str]:
    d = _digits(value)
    if len(d) != 9:
        return {value.lower()} if value else set()
    return {f"{d[:3]}-{d[3:5]}-{d[5:]}", f"{d[:3]} {d[3:5]} {d[5:]}", d}


MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]


def date_spellings(value: date | None) -> set[str]:
    if value is None:
        return set()
    m, d, y = value.month, value.day, value.year
    month = MONTHS[m - 1]
    return {
        value.isoformat(),
        f"{m:02d}/{d:02d}/{y}",
        f"{m}/{d}/{y}",
        f"{month} {d}, {y}",
        f"{d} {month} {y}",
        f"{month[:3]} {d}, {y}",
        f"{m:02d}-{d:02d}-{y}",
    }


def from_patient_row(row: dict[str, Any]) -> KnownIdentifiers:
    """Known identifiers of one bronze ``patients`` row (see ingestion.bronze_tables)."""
    contacts = row.get("contacts") or []
    city = " ".join((row.get("city") or "").split())
    values = {
        "name": name_tokens(
            row.get("family_name"),
            row.get("given_names"),
            *(c.get("name") for c in contacts),
            min_letters=SHORT_NAME_LETTERS,
        ),
        "mrn": {row["mrn"].lower()} if row.get("mrn") else set(),
        "ssn": ssn_spellings(row.get("ssn")),
        "phone": phone_spellings(row.get("phone")).union(
            *(phone_spellings(c.get("phone")) for c in contacts)
        ),
        "email": {row["email"].lower()} if row.get("email") else set(),
        "street": {row["address_line"].lower()} if row.get("address_line") else set(),
        "birth_date": date_spellings(row.get("birth_date")),
        "city": {city.lower()} if sum(ch.isalpha() for ch in city) >= SHORT_NAME_LETTERS else set(),
        "zip": zip_spellings(row.get("postal_code")),
    }
    given = _UWORD.findall(row.get("given_names") or "")
    family = _UWORD.findall(row.get("family_name") or "")
    parts = tuple(
        dict.fromkeys(
            w
            for name in (
                row.get("family_name"),
                row.get("given_names"),
                *(c.get("name") for c in contacts),
            )
            for w in _UWORD.findall(name or "")
        )
    )
    initials = set()
    if given and family:
        initials.add(given[0][0].upper() + family[0][0].upper())
        initials.add("".join(w[0].upper() for w in given) + family[0][0].upper())
    return KnownIdentifiers(
        row["patient_key"],
        {k: frozenset(v) for k, v in values.items() if v},
        name_parts=parts,
        initials=tuple(sorted(initials)),
        city=row.get("city") or None,
        postal_code=row.get("postal_code") or None,
    )


REAL_NAME_COLUMNS = ("family_name", "given_names", "contacts")


def real_names(rows: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """Every real person name of a snapshot, in lower case: each name word of two or more letters (and each
    part of a hyphenated or apostrophed one) and each full name, of every patient and every listed
    contact. ``rows``: bronze patients rows (REAL_NAME_COLUMNS are enough). Note surrogates are drawn
    outside this set, so a surrogate is never a real person's given name, family name or full name."""
    out: set[str] = set()
    for row in rows:
        names = [
            " ".join(filter(None, (row.get("given_names"), row.get("family_name")))),
            *((c or {}).get("name") for c in row.get("contacts") or ()),
        ]
        for name in names:
            words = _UWORD.findall(name or "")
            if not words:
                continue
            out.add(" ".join(words).lower())
            for word in words:
                for part in {word, *re.split(r"['\-]", word)}:
                    if len(part) >= SHORT_NAME_LETTERS:
                        out.add(part.lower())
    return frozenset(out)


def avoiding_real_names(text_deidentifier: Any, patients: Iterable[Mapping[str, Any]]) -> Any:
    """``text_deidentifier`` told the real names of ``patients`` (bronze patients rows), so that no surrogate
    it writes is a real person's name; a de-identifier without ``with_real_names`` is returned as it is."""
    method = getattr(text_deidentifier, "with_real_names", None)
    return text_deidentifier if method is None else method(real_names(patients))
