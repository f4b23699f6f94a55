"""Surrogates for detected PHI: consistent within a patient, keyed, never the original value.

* Names: each word maps to a name from a small fixed public list (the most common US first names and
  surnames of the 1990 Census, public domain), chosen by HMAC(key, patient, folded word), so "Gibson"
  is the same surrogate in "Cheryl Gibson", "GIBSON, CHERYL" and "Gibson's"; case style is kept.
  Initials map to other letters the same way. A surrogate never equals the original word nor any of the
  patient's own known name words or city, nor any real person's name in the snapshot (``real_names``:
  every patient's and listed contact's given, family and full name, from bronze): a colliding pick is
  skipped for the next one on the keyed walk through the list, then through the gazetteer's first or
  last names (other countries' common names), then keyed made-up names, so the choice stays a function
  of (key, patient, word, snapshot names). A name particle ("van", "de", "Le") is kept only before
  another name word and when it is not one of the patient's own names.
* Dates: ``shift`` moves every date by the patient's offset and writes it back in its own format
  (04/07/2024 -> 05/19/2024, "Mar 5th" -> "Apr 16th"); ``safe_harbor`` keeps only the year (a date
  without a year becomes [DATE]). Year-only dates and weekdays are kept as they are (a year is allowed by
  Safe Harbor and cannot be shifted by days; a weekday identifies nothing).
* Ages over 89 -> "90+" (the policy's ceiling).
* Identifier numbers (phone, SSN, MRN, account, license...) keep their shape: every digit and letter is
  replaced by a keyed one; a short alphabetic prefix ("MRN") is kept.
* Streets, cities, hospitals, organizations: keyed picks from small fixed lists, never one of the
  patient's own name words or city; emails, URLs and IP addresses become reserved example values
  (example.org, 192.0.2.0/24, 2001:db8::/32). A five-digit ZIP keeps its first three digits (000 for a
  restricted prefix) and is never the patient's own ZIP.
* ``note_replacement="tag"``: typed tags ("[NAME]", "[PHONE]") instead, except dates (which still
  follow ``date_mode``) and ages (still "90+").
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from datetime import date, timedelta

from deid.keys import DeidKey
from deid.known_identifiers import KnownIdentifiers
from deid.notes import gazetteers
from deid.notes import spans as L
from deid.notes.tokens import WORD, fold
from deid.policy import DeidPolicy
from deid.rules import zip3

FIRST_NAMES = (
    "James",
    "John",
    "Robert",
    "Michael",
    "William",
    "David",
    "Richard",
    "Charles",
    "Joseph",
    "Thomas",
    "Christopher",
    "Daniel",
    "Paul",
    "Mark",
    "Donald",
    "Kenneth",
    "Steven",
    "Edward",
    "Brian",
    "Ronald",
    "Anthony",
    "Kevin",
    "Jason",
    "Matthew",
    "Gary",
    "Timothy",
    "Larry",
    "Jeffrey",
    "Frank",
    "Scott",
    "Mary",
    "Patricia",
    "Linda",
    "Barbara",
    "Elizabeth",
    "Jennifer",
    "Maria",
    "Susan",
    "Margaret",
    "Dorothy",
    "Lisa",
    "Nancy",
    "Karen",
    "Betty",
    "Helen",
    "Sandra",
    "Donna",
    "Carol",
    "Ruth",
    "Sharon",
    "Michelle",
    "Laura",
    "Sarah",
    "Kimberly",
    "Deborah",
    "Jessica",
    "Shirley",
    "Cynthia",
    "Angela",
    "Melissa",
)
LAST_NAMES = (
    "Smith",
    "Johnson",
    "Williams",
    "Jones",
    "Brown",
    "Davis",
    "Miller",
    "Wilson",
    "Moore",
    "Taylor",
    "Anderson",
    "Thomas",
    "Jackson",
    "White",
    "Harris",
    "Martin",
    "Thompson",
    "Garcia",
    "Martinez",
    "Robinson",
    "Clark",
    "Rodriguez",
    "Lewis",
    "Lee",
    "Walker",
    "Hall",
    "Allen",
    "Young",
    "Hernandez",
    "King",
    "Wright",
    "Lopez",
    "Hill",
    "Scott",
    "Green",
    "Adams",
    "Baker",
    "Gonzalez",
    "Nelson",
    "Carter",
    "Mitchell",
    "Perez",
    "Roberts",
    "Turner",
    "Phillips",
    "Campbell",
    "Parker",
    "Evans",
    "Edwards",
    "Collins",
    "Stewart",
    "Sanchez",
    "Morris",
    "Rogers",
    "Reed",
    "Cook",
    "Morgan",
    "Bell",
    "Murphy",
    "Bailey",
)
STREET_NAMES = (
    "Oak",
    "Maple",
    "Cedar",
    "Pine",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Park",
    "Main",
    "Church",
    "Highland",
    "Sunset",
    "Railroad",
    "Jefferson",
    "Lincoln",
    "Walnut",
    "Chestnut",
    "Spring",
    "Ridge",
)
STREET_TYPES = ("Street", "Avenue", "Road", "Lane", "Drive", "Court", "Place", "Way")
CITIES = (
    "Springfield",
    "Riverton",
    "Fairview",
    "Georgetown",
    "Franklin",
    "Clinton",
    "Madison",
    "Greenville",
    "Salem",
    "Bristol",
    "Oakland Park",
    "Milton",
    "Ashland",
    "Dover",
    "Marion",
    "Lexington",
    "Arlington",
    "Burlington",
    "Manchester",
    "Newport",
)
HOSPITALS = (
    "Riverside Medical Center",
    "Lakeview Hospital",
    "Hillcrest Clinic",
    "Valley General Hospital",
    "Northside Health Center",
    "Summit Family Medicine",
    "Cedar Grove Care Center",
    "Bayside Clinic",
)
ORGANIZATIONS = (
    "Northwind Traders",
    "Contoso Ltd",
    "Fabrikam Inc",
    "Tailspin Toys",
    "Wingtip Partners",
)

_MONTHS_FULL = [calendar.month_name[i] for i in range(1, 13)]
_MONTHS_ABBR = [calendar.month_abbr[i] for i in range(1, 13)]
_MONTH_INDEX = {m.lower(): i + 1 for i, m in enumerate(_MONTHS_FULL)}
_MONTH_INDEX.update({m.lower(): i + 1 for i, m in enumerate(_MONTHS_ABBR)})
_MONTH_INDEX["sept"] = 9
_WEEKDAY = re.compile(r"(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day", re.IGNORECASE)
_NO_YEAR_REFERENCE = (
    2001  # shifting a date written without a year (not a leap year: Feb 29 -> Mar 1)
)


def _style(template: str, value: str) -> str:
    """Write ``value`` in the case style of ``template``."""
    if template.isupper() and len(template) > 1:
        return value.upper()
    if template.islower():
        return value.lower()
    return value


def _ordinal(day: int) -> str:
    if 10 <= day % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _year_text(year: int, width: int) -> str:
    return f"{year % 100:02d}" if width == 2 else f"{year:04d}"


def _two_digit_year(yy: int) -> int:
    return 2000 + yy if yy <= (date.today().year % 100) else 1900 + yy


_PARTICLES = frozenset(
    "van von de der den del della di da du la le st".split()
)  # kept as they are before another name word ("van der Berg", "Le Blanc")
# made-up names, the last resort when every list and gazetteer pick is a real name of the snapshot
_ONSETS = ("B", "D", "F", "G", "K", "L", "M", "N", "P", "R", "S", "T", "V", "Z", "Br", "Dr", "Tr")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "io")
_CODAS = ("", "n", "r", "l", "s", "th", "nd", "x")
_GAZETTEER_PROBES = 64  # keyed draws from the gazetteer's names before made-up names


def fold_names(names: Iterable[str]) -> frozenset[str]:
    """Real names as the surrogates compare them (accents dropped, case folded)."""
    return frozenset(fold(" ".join(n.split())) for n in names if n and n.strip())


_GAZETTEER_NAMES: dict[tuple[int, bool], tuple[str, ...]] = {}


def _gazetteer_names(first: bool) -> tuple[str, ...]:
    """The gazetteer's first (or last) names that look like names and nothing else: plain letters, not an
    English word nor a place, ordered by rank (the best-known first)."""
    gaz = gazetteers.load()
    found = _GAZETTEER_NAMES.get((id(gaz), first))
    if found is None:
        ranks = gaz.first if first else gaz.last
        keys = [
            k
            for k in ranks
            if k.isascii()
            and k.isalpha()
            and 3 <= len(k) <= 10
            and k not in gaz.dictionary
            and k not in gaz.places
        ]
        keys.sort(key=lambda k: (ranks[k], k))
        found = _GAZETTEER_NAMES[(id(gaz), first)] = tuple(k.capitalize() for k in keys[:4000])
    return found


class Surrogates:
    def __init__(
        self,
        key: DeidKey,
        policy: DeidPolicy,
        patient_key: str | None,
        known: KnownIdentifiers | None,
        shift_days: int,
        real_names: frozenset[str] = frozenset(),
    ):
        """``real_names``: every real person name of the snapshot, folded (``fold_names``)."""
        self.key = key
        self.policy = policy
        self.patient = patient_key or ""
        self.shift = int(shift_days)
        self.tags = policy.note_replacement == "tag"
        self.real = real_names
        self.avoid: set[str] = set()
        self.own_zip: str | None = None
        if known is not None:
            for spelling in known.values.get("name", ()):
                self.avoid.add(fold(spelling))
                for part in re.split(r"[\s'\-]+", spelling):
                    self.avoid.add(fold(part))
            for part in getattr(known, "name_parts", ()) or ():
                self.avoid.add(fold(part))
        self.own_names = frozenset(self.avoid)
        if known is not None:
            city = getattr(known, "city", None)
            if city:  # the gate reports the patient's city wherever it shows, as a name or a place
                self.avoid.add(fold(" ".join(city.split())))
                self.avoid.update(fold(w) for w in WORD.findall(city))
            postal = (getattr(known, "postal_code", None) or "").strip()
            self.own_zip = postal[:5] if re.match(r"\d{5}", postal) else None
        self.avoid.discard("")

    # ---------------------------------------------------------------- keyed choice
    def _number(self, kind: str, value: str) -> int:
        mac = self.key._mac(f"note-surrogate/{kind}", f"{self.patient}\x1f{value}")  # noqa: SLF001 - a third-party or sibling internal with no public API
        return int.from_bytes(mac[:8], "big")

    def _allowed(self, candidate: str, value: str, real: bool) -> bool:
        """Not the original, none of the patient's own name words or city, and (``real``) no real name."""
        whole = fold(candidate)
        if whole == value:
            return False
        words = {whole, *(fold(w) for w in WORD.findall(candidate))}
        return not (words & self.avoid or (real and words & self.real))

    def _pick(
        self,
        kind: str,
        value: str,
        choices: tuple[str, ...],
        *,
        person: bool = False,
        first: bool = False,
    ) -> str:
        """A keyed choice from ``choices`` that is allowed (see ``_allowed``; ``person``: a person's name,
        which must not be any real name of the snapshot either). When every choice is taken: for a person's
        name, keyed draws from the gazetteer's first (``first``) or last names; then made-up names."""
        n = self._number(kind, value)
        for step in range(len(choices)):
            candidate = choices[(n + step) % len(choices)]
            if self._allowed(candidate, value, person):
                return candidate
        if person:
            pool = _gazetteer_names(first)
            if pool:
                for attempt in range(_GAZETTEER_PROBES):
                    candidate = pool[self._number(f"{kind}/gazetteer/{attempt}", value) % len(pool)]
                    if self._allowed(candidate, value, person):
                        return candidate
        attempt = 0
        while True:
            candidate = self._made_up(kind, value, attempt)
            if self._allowed(candidate, value, person):
                return candidate
            attempt += 1

    def _made_up(self, kind: str, value: str, attempt: int) -> str:
        """A pronounceable keyed word ("Dravimor"): never drawn from any list of real names."""
        b = self._stream(f"made-up/{kind}/{attempt}", value, 8)
        syllables = 2 + b[0] % 2
        word = "".join(
            _ONSETS[b[1 + 2 * i] % len(_ONSETS)] + _VOWELS[b[2 + 2 * i] % len(_VOWELS)]
            for i in range(syllables)
        )
        return (word + _CODAS[b[7] % len(_CODAS)]).capitalize()

    def _stream(self, kind: str, value: str, length: int) -> bytes:
        out = b""
        counter = 0
        while len(out) < length:
            out += self.key._mac(f"note-surrogate/{kind}/{counter}", f"{self.patient}\x1f{value}")  # noqa: SLF001 - a third-party or sibling internal with no public API
            counter += 1
        return out[:length]

    # ---------------------------------------------------------------- entry point
    def replace(self, label: str, text: str) -> str:
        if label == L.DATE:
            return self.date(text)
        if label == L.AGE:
            return f"{self.policy.age_ceiling}+"
        if self.tags:
            return f"[{label}]"
        if label == L.NAME:
            return self.name(text)
        if label in (L.PHONE, L.SSN, L.MRN, L.ID, L.ACCOUNT):
            return self.shaped(label, text)
        if label == L.ZIP:
            return self.zip(text)
        if label == L.EMAIL:
            return f"user{self._number('email', text.lower()) % 1_000_000:06d}@example.org"
        if label == L.URL:
            return f"https://example.org/{self._number('url', text.lower()) % 1_000_000:06d}"
        if label == L.IP:
            n = self._number("ip", text.lower())
            return f"2001:db8::{n % 65536:x}" if ":" in text else f"192.0.2.{1 + n % 254}"
        if label == L.STREET:
            return self.street(text)
        if label in (L.CITY, L.LOCATION):
            return _style(text, self._pick("city", fold(text), CITIES))
        if label == L.HOSPITAL:
            return _style(text, self._pick("hospital", fold(text), HOSPITALS))
        if label == L.ORGANIZATION:
            return _style(text, self._pick("organization", fold(text), ORGANIZATIONS))
        return f"[{label}]"

    # ---------------------------------------------------------------- names
    def name(self, text: str) -> str:
        def word(m: re.Match) -> str:
            w = m.group(0)
            key = fold(w)
            if len(w) == 1:
                n = self._number("initial", key)
                letters = [c for c in "ABCDEFGHIJKLMNOPRSTW" if c.lower() != key]
                return (
                    _style(w, letters[n % len(letters)])
                    if w.isupper()
                    else letters[n % len(letters)].lower()
                )
            if (
                key in _PARTICLES
                and key not in self.own_names  # the patient's own name "Le" is replaced
                and WORD.search(text, m.end()) is not None  # "Anh Le": a surname, not a particle
            ):
                return w
            first = self._first_like(key)
            choices = FIRST_NAMES if first else LAST_NAMES
            return _style(w, self._pick("name", key, choices, person=True, first=first))

        return WORD.sub(word, text)

    def _first_like(self, key: str) -> bool:
        gaz = gazetteers.load()
        first, last = gaz.first.get(key), gaz.last.get(key)
        if first is None:
            return False
        return last is None or first <= last

    # ---------------------------------------------------------------- numbers
    def shaped(self, label: str, text: str) -> str:
        prefix = ""
        m = re.match(r"[A-Za-z]{1,4}(?=[\s#:-]?\d)", text)
        if m and label in (L.MRN, L.ID):
            prefix = m.group(0)
        body = text[len(prefix) :]
        normalized = "".join(ch for ch in body if ch.isalnum()).lower()
        stream = self._stream(f"shape/{label}", normalized, len(body))
        out = []
        for ch, b in zip(body, stream):
            if ch.isdigit():
                out.append(str(b % 10))
            elif ch.isalpha() and ch.isascii():
                letter = chr(ord("a") + b % 26)
                out.append(letter.upper() if ch.isupper() else letter)
            else:
                out.append(ch)
        result = prefix + "".join(out)
        if result == text:  # never the original: bump the last digit
            i = max(i for i, ch in enumerate(result) if ch.isalnum())
            ch = result[i]
            new = str((int(ch) + 1) % 10) if ch.isdigit() else ("a" if ch.lower() != "a" else "b")
            result = result[:i] + (new.upper() if ch.isupper() else new) + result[i + 1 :]
        return result

    def zip(self, text: str) -> str:
        value = text.strip()
        if re.fullmatch(r"\d{5}(?:-\d{4})?", value):
            prefix = zip3(value, self.policy.restricted_zip3) or "000"
            return prefix + ("01" if prefix + "00" == self.own_zip else "00")
        return self.shaped(L.ZIP, text)

    def street(self, text: str) -> str:
        number = re.match(r"\s*(\d+)", text)
        name = self._pick("street", fold(text), STREET_NAMES)
        kind = STREET_TYPES[self._number("street-type", fold(text)) % len(STREET_TYPES)]
        if number:
            digits = len(number.group(1))
            n = self._number("street-number", fold(text)) % (10**digits)
            value = f"{max(n, 1)} {name} {kind}"
        elif re.match(
            r"\s*(?:apt|apartment|suite|ste|unit|room|rm|flat|floor|fl|bldg|building|box|p\.?\s?o)",
            text,
            re.IGNORECASE,
        ):
            return self.shaped(L.ID, text)
        else:
            value = f"{name} {kind}"
        return _style(text, value)

    # ---------------------------------------------------------------- dates
    def date(self, text: str) -> str:
        harbor = self.policy.date_mode == "safe_harbor"
        value = text
        if re.fullmatch(r"\d{4}", value.strip()) or _WEEKDAY.fullmatch(value.strip()):
            return text  # year only, or a weekday: kept
        m = re.match(r"(\d{4})([-/])(\d{1,2})\2(\d{1,2})(.*)$", value, re.DOTALL)
        if m:
            y, mo, d = int(m.group(1)), int(m.group(3)), int(m.group(4))
            return self._render(
                text,
                (y, mo, d),
                harbor,
                lambda nd: (
                    f"{nd.year:04d}{m.group(2)}{nd.month:0{len(m.group(3))}d}{m.group(2)}{nd.day:0{len(m.group(4))}d}"
                    f"{m.group(5)}"
                ),
            )
        m = re.match(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})(.*)$", value, re.DOTALL)
        if m:
            a, b, yt = int(m.group(1)), int(m.group(3)), m.group(4)
            y = int(yt) if len(yt) == 4 else _two_digit_year(int(yt))
            day_first = m.group(2) == "." or a > 12
            mo, d = (b, a) if day_first else (a, b)
            wa, wb = len(m.group(1)), len(m.group(3))

            def fmt(nd: date) -> str:
                first, second = (nd.day, nd.month) if day_first else (nd.month, nd.day)
                return (
                    f"{first:0{wa}d}{m.group(2)}{second:0{wb}d}{m.group(2)}{_year_text(nd.year, len(yt))}"
                    f"{m.group(5)}"
                )

            return self._render(text, (y, mo, d), harbor, fmt)
        return self._named_month(text, harbor)

    def _render(self, text: str, ymd: tuple[int, int, int], harbor: bool, fmt) -> str:
        try:
            original = date(*ymd)
        except ValueError:
            return "[DATE]"
        if harbor:
            return str(original.year)
        return fmt(original + timedelta(days=self.shift))

    def _named_month(self, text: str, harbor: bool) -> str:
        month_m = next(
            (
                m
                for m in re.finditer(r"[A-Za-z]+\.?", text)
                if m.group(0).rstrip(".").lower() in _MONTH_INDEX
            ),
            None,
        )
        if not month_m:
            return "[DATE]"
        month_word = month_m.group(0).rstrip(".")
        month = _MONTH_INDEX[month_word.lower()]
        year_m = re.search(r"\b(1[89]\d\d|20\d\d)\b", text)
        day_m = None
        for cand in re.finditer(r"\b(\d{1,2})(st|nd|rd|th)?\b", text):
            if year_m and year_m.start() <= cand.start() < year_m.end():
                continue
            if re.match(r"\d{1,2}:", text[cand.start() :]) or (
                cand.start() > 0 and text[cand.start() - 1] == ":"
            ):
                continue  # a time
            day_m = cand
            break
        year = int(year_m.group(1)) if year_m else None
        if harbor:
            return str(year) if year else "[DATE]"
        day = int(day_m.group(1)) if day_m else 15
        try:
            original = date(year or _NO_YEAR_REFERENCE, month, day)
        except ValueError:
            return "[DATE]"
        new = original + timedelta(days=self.shift)
        if (
            len(month_word) <= 4
            and month_word.lower() != "june"
            and month_word.lower() != "july"
            or month_word.lower() == "sept"
        ):
            new_month = (
                _MONTHS_ABBR[new.month - 1]
                if month_word.lower() != "sept"
                else ("Sept" if new.month == 9 else _MONTHS_ABBR[new.month - 1])
            )
        else:
            new_month = _MONTHS_FULL[new.month - 1]
        pieces = [
            (month_m.start(), month_m.start() + len(month_word), _style(month_word, new_month))
        ]
        if day_m:
            suffix = day_m.group(2)
            new_day = f"{new.day:0{len(day_m.group(1))}d}" + (
                _style(suffix, _ordinal(new.day)) if suffix else ""
            )
            pieces.append((day_m.start(), day_m.end(), new_day))
        if year_m:
            pieces.append((year_m.start(1), year_m.end(1), f"{new.year:04d}"))
        out, pos = [], 0
        for s, e, rep in sorted(pieces):
            out.append(text[pos:s])
            out.append(rep)
            pos = e
        out.append(text[pos:])
        return "".join(out)
