"""A patient's own known identifiers, read from bronze patients, as the strings a leak would show.

These feed the blocking PHI-leak gate (and the note detectors): names of three or more letters
(patient and listed contacts), MRN, SSN, phone numbers, email, street line and the full birth date,
each in the spellings they commonly take in text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

MIN_NAME_LETTERS = 3
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
    # Raw parts for the note detectors (not used by the gate): name words as written (patient and
    # contacts), the patient's initials ("CG", "MJO"), city and postal code.
    name_parts: tuple[str, ...] = ()
    initials: tuple[str, ...] = ()
    city: str | None = None
    postal_code: str | None = None

    def all(self) -> Iterable[tuple[str, str]]:
        for kind, spellings in self.values.items():
            for spelling in spellings:
                yield kind, spelling


def name_tokens(*names: str | None) -> set[str]:
    tokens = set()
    for name in names:
        for token in _WORD.findall(name or ""):
            token = token.strip("'-")
            if sum(ch.isalpha() for ch in token) >= MIN_NAME_LETTERS:
                tokens.add(token.lower())
    return tokens


def _digits(value: str | None) -> str:
    return "".join(ch for ch in value or "" if ch.isdigit())


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
    values = {
        "name": name_tokens(
            row.get("family_name"), row.get("given_names"), *(c.get("name") for c in contacts)
        ),
        "mrn": {row["mrn"].lower()} if row.get("mrn") else set(),
        "ssn": ssn_spellings(row.get("ssn")),
        "phone": phone_spellings(row.get("phone")).union(
            *(phone_spellings(c.get("phone")) for c in contacts)
        ),
        "email": {row["email"].lower()} if row.get("email") else set(),
        "street": {row["address_line"].lower()} if row.get("address_line") else set(),
        "birth_date": date_spellings(row.get("birth_date")),
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
