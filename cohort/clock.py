"""Fixed calendar of the synthetic cohort: every date is anchored to ``REFERENCE_DATE``.

Days are handled as proleptic Gregorian ordinals (``date.toordinal()``) and minutes of the day,
and converted to strings through precomputed tables, so nothing depends on the wall clock and
formatting millions of timestamps stays cheap.
"""

from __future__ import annotations

from datetime import date

REFERENCE_DATE = date(2026, 1, 1)
REF = REFERENCE_DATE.toordinal()
#: first day of the simulated history window (five years ending the day before REFERENCE_DATE)
WINDOW_START = date(2021, 1, 1).toordinal()
WINDOW_END = REF  # exclusive
WINDOW_YEARS = (WINDOW_END - WINDOW_START) / 365.25

_FIRST = date(1890, 1, 1).toordinal()
_LAST = date(2027, 12, 31).toordinal()
_DAYS: list[date] = [date.fromordinal(o) for o in range(_FIRST, _LAST + 1)]
_ISO: list[str] = [d.isoformat() for d in _DAYS]
_HHMM: list[str] = [f"{m // 60:02d}:{m % 60:02d}" for m in range(1440)]

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
#: ordinals of the first day of every month of the window, plus the end sentinel
MONTH_STARTS: list[int] = []
_y, _m = 2021, 1
while date(_y, _m, 1).toordinal() < WINDOW_END:
    MONTH_STARTS.append(date(_y, _m, 1).toordinal())
    _y, _m = (_y + 1, 1) if _m == 12 else (_y, _m + 1)
MONTH_STARTS.append(WINDOW_END)


def day_of(d: int) -> date:
    return _DAYS[d - _FIRST]


def iso_day(d: int) -> str:
    """``YYYY-MM-DD`` of an ordinal."""
    return _ISO[d - _FIRST]


def iso_dt(d: int, minute: int) -> str:
    """FHIR dateTime with offset, e.g. ``2024-03-05T14:10:00+00:00`` (minutes past midnight carry
    into the next day)."""
    if minute >= 1440:
        d += minute // 1440
        minute %= 1440
    return f"{_ISO[d - _FIRST]}T{_HHMM[minute]}:00+00:00"


def hhmm(minute: int) -> str:
    return _HHMM[minute]


def years_between(d0: int, d1: int) -> float:
    return (d1 - d0) / 365.25


def age_at(birth: int, d: int) -> int:
    b, x = _DAYS[birth - _FIRST], _DAYS[d - _FIRST]
    return x.year - b.year - ((x.month, x.day) < (b.month, b.day))


def fmt_date(d: int, style: int) -> str:
    """Human date styles found in notes: 0 ``03/05/2024``, 1 ``March 5, 2024``, 2 ``2024-03-05``,
    3 ``5 Mar 2024``, 4 ``3/5/24``."""
    x = _DAYS[d - _FIRST]
    if style == 0:
        return f"{x.month:02d}/{x.day:02d}/{x.year}"
    if style == 1:
        return f"{MONTHS[x.month - 1]} {x.day}, {x.year}"
    if style == 2:
        return _ISO[d - _FIRST]
    if style == 3:
        return f"{x.day} {MONTHS[x.month - 1][:3]} {x.year}"
    return f"{x.month}/{x.day}/{x.year % 100:02d}"
