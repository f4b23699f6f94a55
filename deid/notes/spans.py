"""PHI span labels (our vocabulary) and span merging.

Every detector returns :class:`deid.corpora.Span` objects (character offsets, end exclusive) with one of
the labels below; :func:`merge` resolves overlaps into a sorted, non-overlapping list.
"""

from __future__ import annotations

from collections.abc import Iterable

from deid.corpora import Span

NAME = "NAME"  # patients, relatives, clinicians, anyone
DATE = "DATE"  # dates (and date-times); year-only dates are labelled DATE too
AGE = "AGE"  # ages at or over the ceiling (90) only
PHONE = "PHONE"  # telephone and fax numbers
EMAIL = "EMAIL"
URL = "URL"  # web addresses and bare domain names
IP = "IP"  # IPv4 / IPv6 addresses
SSN = "SSN"
MRN = "MRN"  # medical record numbers
ID = "ID"  # other record, plan, license, vehicle, device and identifier numbers
ACCOUNT = "ACCOUNT"  # account, card and IBAN numbers
STREET = "STREET"  # street address lines, apartment / suite / box numbers
CITY = "CITY"
STATE = "STATE"  # states/provinces: not Safe Harbor identifiers (kept by the deidentifier)
COUNTRY = "COUNTRY"  # countries: not Safe Harbor identifiers (kept by the deidentifier)
ZIP = "ZIP"
LOCATION = "LOCATION"  # other places (towns found by context, address blocks)
HOSPITAL = "HOSPITAL"  # hospitals, clinics, care facilities
ORGANIZATION = "ORGANIZATION"  # other named organizations (companies)

LABELS = (
    NAME,
    DATE,
    AGE,
    PHONE,
    EMAIL,
    URL,
    IP,
    SSN,
    MRN,
    ID,
    ACCOUNT,
    STREET,
    CITY,
    STATE,
    COUNTRY,
    ZIP,
    LOCATION,
    HOSPITAL,
    ORGANIZATION,
)

#: labels that are not Safe Harbor identifiers by themselves: detected (and scored) but left in the text
KEPT_LABELS = frozenset({STATE, COUNTRY})

# When overlapping spans merge, the merged span takes the label that ranks first here: structured,
# specific identifiers before broad ones (a phone inside an address stays a phone only when alone).
_PRIORITY = {
    label: rank
    for rank, label in enumerate(
        (
            EMAIL,
            URL,
            IP,
            SSN,
            MRN,
            ACCOUNT,
            PHONE,
            ID,
            DATE,
            AGE,
            STREET,
            ZIP,
            NAME,
            HOSPITAL,
            CITY,
            LOCATION,
            ORGANIZATION,
            STATE,
            COUNTRY,
        )
    )
}


_CONTAINERS = frozenset({STREET, HOSPITAL, ORGANIZATION})
_CONTAINED = frozenset({NAME, CITY, LOCATION, STATE, COUNTRY, ZIP, ID, ORGANIZATION, HOSPITAL})


def priority(label: str) -> int:
    return _PRIORITY.get(label, len(_PRIORITY))


def merge(spans: Iterable[Span], text: str) -> list[Span]:
    """Sorted, non-overlapping spans: overlapping (not merely touching) spans become their union, labelled
    by the most specific member (see ``_PRIORITY``); ties go to the longer span."""
    ordered = sorted((s for s in spans if s.end > s.start), key=lambda s: (s.start, -s.end))
    out: list[Span] = []
    group: list[Span] = []
    end = -1
    for span in ordered:
        if group and span.start < end:
            group.append(span)
            end = max(end, span.end)
            continue
        if group:
            out.append(_union(group, end, text))
        group, end = [span], span.end
    if group:
        out.append(_union(group, end, text))
    return out


def _union(group: list[Span], end: int, text: str) -> Span:
    start = group[0].start
    if len(group) == 1:
        only = group[0]
        return (
            only
            if only.text
            else Span(only.start, only.end, only.label, text[only.start : only.end])
        )
    best = min(group, key=lambda s: (priority(s.label), -(s.end - s.start)))
    # a container span (an address line, a hospital name) that covers the whole group keeps its label
    # over the names and places inside it (a town in a clinic name, a street name in an address line)
    widest = max(group, key=lambda s: (s.end - s.start, -priority(s.label)))
    if (
        widest.start == start
        and widest.end == end
        and widest.label in _CONTAINERS
        and best.label in _CONTAINED
    ):
        best = widest
    return Span(start, end, best.label, text[start:end])
