"""Pattern detectors: dates, ages over 89, phone/fax, email, URLs and domains, IP addresses, SSN, MRN and
other identifier numbers, card and IBAN numbers, street lines, unit numbers and ZIP codes.

Clinical values must survive: blood pressures ("101/73"), lab values ("HbA1c 5.3 %"), doses and ranges
("RTC 3-4 months") match none of these (numeric dates need a year; phones need 7+ digits in 2+ groups).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from deid.corpora import Span
from deid.notes.spans import (
    ACCOUNT,
    AGE,
    DATE,
    EMAIL,
    ID,
    IP,
    MRN,
    PHONE,
    SSN,
    STATE,
    STREET,
    URL,
    ZIP,
)
from deid.notes.tokens import WORD, fold

AGE_CEILING = 90

MONTH = (
    r"(?:Jan(?:uary|\.)?|Feb(?:ruary|\.)?|Mar(?:ch|\.)?|Apr(?:il|\.)?|May|June?|July?|Aug(?:ust|\.)?|"
    r"Sep(?:t(?:ember|\.)?|\.)?|Oct(?:ober|\.)?|Nov(?:ember|\.)?|Dec(?:ember|\.)?)"
)
WEEKDAY = r"(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day"
DAY = r"(?:0?[1-9]|[12]\d|3[01])"
MON_NUM = r"(?:0?[1-9]|1[0-2])"
YEAR4 = r"(?:1[89]\d\d|20\d\d)"
TIME = r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?(?:\s?[AaPp]\.?[Mm]\.?)?"
_UNIT_AFTER = r"(?!\s?(?:mg|mcg|g|kg|ml|mL|L|units?|IU|mmol|meq|mEq|cc|%|/)\b)"

_DATE_PATTERNS = [
    # ISO date, optionally with time: 2018-02-24, 2018-02-24 12:45:18, 2018-02-24T12:45
    rf"\b{YEAR4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?:[T ]{TIME})?\b",
    # 03/05/2024, 3/5/24, 03-05-2024, 05.03.2024, with optional time
    rf"(?<![\d/.-]){MON_NUM}/{DAY}/(?:{YEAR4}|\d\d)(?![\d/])(?:,?\s{TIME})?",
    rf"(?<![\d/.-]){DAY}/{MON_NUM}/{YEAR4}(?![\d/])",
    rf"(?<![\d.-]){MON_NUM}-{DAY}-(?:{YEAR4}|\d\d)(?![\d-])",
    rf"(?<![\d.]){DAY}\.{MON_NUM}\.{YEAR4}(?![\d.]\d)",
    rf"\b{YEAR4}/{MON_NUM}/{DAY}\b",
    # March 5, 2024 / Mar 5th 2024 / March 5 (no year) / March 2024 / Mar-2024
    rf"\b{MONTH}\s{DAY}(?:st|nd|rd|th)?\b(?:,?\s{YEAR4}\b)?(?:,?\s(?:at\s)?{TIME})?",
    rf"\b{MONTH}(?:\s|-|,\s|\sof\s){YEAR4}\b",
    # 5 March 2024 / 11 Jul 1961 / 5th of March / 05-Mar-2024
    rf"\b{DAY}(?:st|nd|rd|th)?(?:\s|-)(?:of\s)?{MONTH}\b(?:,?(?:\s|-){YEAR4}\b)?(?:,?\s{TIME})?",
    # weekdays
    rf"\b{WEEKDAY}\b",
    # a bare year: 1977 (not a dose or count: no unit after it)
    rf"(?<![\d.,/-]){YEAR4}(?![\d.,]\d){_UNIT_AFTER}",
]
DATE_RE = re.compile("|".join(f"(?:{p})" for p in _DATE_PATTERNS), re.IGNORECASE)
# month-name forms are matched case-insensitively only when the month is capitalized or the text is lower case
_MONTH_WORD = re.compile(MONTH, re.IGNORECASE)

AGE_RE = re.compile(
    r"\b(?P<n>\d{2,3})(?:\s|-)?(?:years?|yrs?|y)(?:\s|-)?(?:old|o\b|/o\b|\.o\.)"
    r"|\b(?P<n2>\d{2,3})\s?(?:y/o|yo|y\.o\.)(?!\w)"
    r"|\b(?:age[ds]?|aged)\s*:?\s*(?P<n3>\d{2,3})\b"
    r"|\b(?P<n4>\d{2,3})(?:\s|-)year(?:s)?(?:\s|-)of(?:\s|-)age\b"
    r"|\b(?P<n5>\d{2,3})(?:yo|F|M)\b(?=\s)",
    re.IGNORECASE,
)

EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+(?<![.-])")
TLD = (
    r"(?:com|org|net|edu|gov|mil|int|info|biz|io|co|us|uk|ca|au|de|fr|es|it|nl|be|ch|at|se|no|dk|fi|is|"
    r"ie|pt|pl|cz|sk|hu|ro|bg|gr|cy|ee|lv|lt|si|hr|rs|ba|me|mk|al|ru|ua|by|tr|il|in|jp|cn|kr|tw|hk|sg|my|"
    r"nz|za|br|ar|mx|cl|pe|uy|health|med|app|dev|xyz|online|site|biz)"
)
URL_RE = re.compile(
    r"\b(?:https?://|ftp://|www\.)[^\s<>\"')\]]+[^\s<>\"')\].,;:!?]"
    rf"|(?<![@\w.-])(?:[A-Za-z0-9-]+\.)+{TLD}(?:\.[a-z]{{2}})?\b(?:/[^\s<>\"')\]]*[^\s<>\"')\].,;:!?])?",
    re.IGNORECASE,
)
IPV4_RE = re.compile(
    r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.]\d)"
)
IPV6_RE = re.compile(
    r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![\w:])"
    r"|(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){1,6}(?::[0-9A-Fa-f]{1,4}){1,6}(?![\w:])"
)
SSN_RE = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\d-])")
SSN_CUE_RE = re.compile(
    r"\b(?:SSN|social security(?: number| no\.?| #)?)\s*[:#]?\s*(?P<v>\d{9}|\d{3}[- .]\d{2}[- .]\d{4})\b",
    re.IGNORECASE,
)

# phones: +CC, (area) and 2+ groups; 7-15 digits in all; x1234 extensions
PHONE_RE = re.compile(
    r"(?<![\w/+.-])(?:\+|00)?(?:\d{1,3}[\s.-]?)?(?:\(0?\d{1,4}\)\s?|\(0\)\s?)?\d{1,4}(?:[\s.-]\d{2,5}){1,4}"
    r"(?:\s?(?:x|ext\.?|extension)\s?\d{1,5})?(?![\w/-])"
    r"|(?<![\w/+.-])\(\d{2,4}\)\s?\d{2,4}[\s.-]?\d{2,5}(?:\s?(?:x|ext\.?)\s?\d{1,5})?(?![\w/-])"
    r"|(?<![\w/.-])\+\d{6,14}(?:[\s.-]\d{2,5}){0,3}(?![\w/-])",
    re.IGNORECASE,
)
PHONE_CUE_RE = re.compile(
    r"\b(?:phone|tel|telephone|cell|mobile|fax|pager|beeper|call|desk|home|work|contact|ph|ext)"
    r"\b\.?\s*(?:#|no\.?|number)?\s*:?\s*$",
    re.IGNORECASE,
)

# identifiers introduced by a cue word: MRN 123, Acct #: 99-88, license no. X12
ID_CUE_RE = re.compile(
    r"\b(?P<cue>MRN|MR#|medical record(?: number| no\.?)?|record(?: number| no\.?| #)|unit(?: number| no\.?)|"
    r"acct|account(?: number| no\.?)?|a/c|card(?: number| no\.?)?|iban|policy(?: number| no\.?)?|"
    r"member(?: id| number| no\.?)?|subscriber(?: id)?|plan(?: id| number)?|group(?: number| no\.?)|"
    r"health plan(?: id| number)?|insurance(?: id| number| no\.?)?|medicaid|medicare|"
    r"licen[cs]e(?: number| no\.?| plate)?|DL|driver'?s licen[cs]e(?: number| no\.?)?|passport(?: number| no\.?)?|"
    r"plate|VIN|serial(?: number| no\.?)?|device(?: id| number| serial)?|NPI|DEA|UPIN|badge|employee(?: id)?|"
    r"case(?: number| no\.?)|accession(?: number| no\.?)?|specimen(?: id| number)?|claim(?: number| no\.?)?|"
    r"encounter(?: id| number)?|visit(?: id| number)|ID|identifier|no\.|#)"
    r"(?:\s*(?:is|was|number|no\.?|#|:|=))*\s*(?P<v>(?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]{3,24}(?<!-))",
    re.IGNORECASE,
)
# alphanumeric tokens with 4+ digits and a letter, 6+ long: MRN01007922, F162823540116, GB52AEJL5726...
ALNUM_ID_RE = re.compile(
    r"(?<![\w/.-])(?=[A-Za-z0-9]*[A-Za-z])(?=(?:[A-Za-z]*\d){4})[A-Za-z0-9]{6,34}(?![\w/])"
)
# long digit runs (optionally grouped): 8+ digits
LONG_NUMBER_RE = re.compile(r"(?<![\w.,/-])\d(?:[\s-]?\d){7,22}(?![\w/-]|[.,]\d)")
IBAN_RE = re.compile(
    r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b", re.IGNORECASE
)

STREET_SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Square|Sq|Terrace|"
    r"Ter|Way|Parkway|Pkwy|Highway|Hwy|Circle|Cir|Trail|Trl|Crescent|Close|Row|Alley|Arcade|Plaza|Walk|"
    r"Path|Pike|Turnpike|Loop|Run|Crossing|Xing|Heights|Hts|Gardens|Gdns|Grove|Mews|Hill|Park|Point|Ridge|"
    r"Route|Rte|Expressway|Expy|Freeway|Fwy|Causeway|Cove|Creek|Glen|Green|Harbor|Landing|Meadow|Meadows|"
    r"Oval|Pass|Port|Ranch|Shore|Shores|Spring|Springs|Station|Summit|Valley|View|Village|Vista|Wharf|"
    r"Wood|Woods|Junction|Jct|Bypass|Estate|Estates|Fork|Forks|Isle|Manor|Mill|Mills|Orchard|Prairie|Stream|"
    r"Track|Extension|Ext)"
)
_CAP = r"[A-ZÀ-ÖØ-Þ\u0100-\u024F\u0370-\u03FF\u0400-\u04FF][\w'’.-]*"
# European street words as suffixes of one token (Koskikatu, Puruntie, Storgatan, Hauptstraße)
STREET_WORD_SUFFIX = (
    r"(?:katu|kuja|tie|polku|gatan|gata|vägen|väg|veien|vegen|vei|gate|gaten|vej|gade|"
    r"straße|strasse|gasse|weg|allee|platz|ring|damm|ufer|laan|straat|gracht|plein|"
    r"kade|dreef|utca|út|útja|körút|tér|ulica|cesta|trg|ulice|náměstí|nábřeží|"
    r"tänav|iela|gatvė|prospekt|ulitsa|odos|caddesi|sokak)"
)
_SUFFIXED = rf"[A-ZÀ-ÖØ-Þ\u0100-\u024F][\w'’-]*{STREET_WORD_SUFFIX}"
STREET_PREFIX = (
    r"(?:Rue|Avenue|Av\.|Avenida|Av|Boulevard|Bd|Chemin|Route|Allée|Place|Impasse|Quai|Via|Viale|"
    r"Vicolo|Corso|Piazza|Piazzale|Largo|Strada|Calle|Carrera|Camino|Paseo|Plaza|Rua|Travessa|Largo|"
    r"Praça|Estrada|Rambla|Ronda|Ul\.|ul\.|Ulica|ulica|Aleja|aleja|Al\.|Pod|Na|Odos|Leoforos|Iroon|"
    r"Calea|Strada|Str\.|Bulevardul|Ulitsa|Prospekt)"
)
NUM = r"\d{1,6}[A-Za-z]?(?:[-/]\d{1,4}[A-Za-z]?)?"
STREET_RES = [
    # 616 Daugherty Arcade, 24 Clarke Avenue, 2450 Crown St, 9931 14 Iliou Street
    re.compile(
        rf"(?<![\w.-]){NUM}\.?,?[ \t](?:{NUM}[ \t])?(?:{_CAP}[ \t]){{0,4}}{STREET_SUFFIX}\b\.?"
    ),
    # 6750 Koskikatu 25, Puruntie 82, Brucker Bundesstrasse 31: a capitalized word with a street suffix next
    # to a house number
    re.compile(
        rf"(?<![\w-])(?:{NUM}[ \t](?:{_CAP}[ \t]){{0,3}}{_SUFFIXED}(?:[ \t]{NUM})?|(?:{_CAP}[ \t]){{0,3}}{_SUFFIXED}[ \t]{NUM})(?![\w])"
    ),
    # Rue de Virton 38, Via Roma 131, Rua Diadema 1903, 947 Avenida de la Paz
    re.compile(
        rf"(?<![\w-])(?:{NUM}[ \t])?(?:{NUM}[ \t])?{STREET_PREFIX}[ \t](?:(?:de|del|della|di|da|do|dos|das|la|le|les|du|des|"
        rf"von|van|der|den|el|los|las)[ \t]|{_CAP}[ \t]){{0,4}}{_CAP}(?:[ \t]{NUM})?(?![\w])"
    ),
    # house number, one to three words, house number: 20789 Allika 46, 077 Příční 1429, 3037 ul. Północna 73
    re.compile(
        rf"(?<![\w.,/:-])\d{{1,6}}[ \t](?:(?:ul\.|C/|al\.)[ \t])?(?:{_CAP}[ \t]){{1,3}}\d{{1,5}}[A-Za-z]?(?![\w/.,]\d)(?![ \t]?(?:mg|mcg|g|kg|ml|mL|L|units?|%|mmHg|bpm)\b)"
    ),
    # in all-lower-case text: 74678 midtvollen 130 st.
    re.compile(
        r"(?<![\w.,/:-])\d{1,6}[ \t](?:[a-zà-ÿ\u0100-\u024F][\w'’.-]+[ \t]){1,3}\d{1,5}[ \t](?:st|street|rd|road|ave|avenue)\b\.?"
    ),
    # C/ Señores Curas 88
    re.compile(rf"\bC/[ \t](?:{_CAP}[ \t]){{0,3}}{_CAP}(?:[ \t]\d{{1,5}})?"),
    # PSC 3294, Box 9168 / P.O. Box 12
    re.compile(
        r"\b(?:P\.?[ \t]?O\.?[ \t]?Box|PSC|Unit|Box|CMR)[ \t]\d{1,6}(?:,[ \t]?Box[ \t]\d{1,6})?\b"
    ),
    # Apt. 864, Suite 979, Ste 2, Apt #4B, Room 12
    re.compile(
        r"\b(?:Apt|Apartment|Suite|Ste|Unit|Room|Rm|Flat|Floor|Fl|Bldg|Building)\.?[ \t]?#?[ \t]?\d{1,6}[A-Za-z]?\b",
        re.IGNORECASE,
    ),
    # house number + two or more capitalized words + optional number: 214 Pavlou Drandaki, 1317 Kimberly Way
    re.compile(
        rf"(?<![\w.,/:-])\d{{1,6}}[ \t](?:{_CAP}[ \t]){{1,3}}{_CAP}(?:[ \t]\d{{1,5}})?(?![\w])"
    ),
    # Capitalized word(s) + house number at a line end: Joaquin Suarez 2906, Pagari 18
    re.compile(
        rf"(?:^|(?<=\bon[ \t])|(?<=\bat[ \t])|(?<=\bof[ \t]))(?:{_CAP}[ \t]){{0,2}}{_CAP}[ \t]\d{{1,5}}(?=[ \t]*[.,]?[ \t]*$)",
        re.MULTILINE,
    ),
]

US_STATE_ABBR = (
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY "
    "NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR GU VI AS MP"
).split()
STATE_ZIP_RE = re.compile(
    rf"\b(?P<st>{'|'.join(US_STATE_ABBR)}),?\s(?P<zip>\d{{5}}(?:-\d{{4}})?)\b"
)
ZIP_CUE_RE = re.compile(
    r"\b(?:zip|zip code|postal code|postcode|post code|plz|cp)(?:\s*(?:[:#]|is|number))*\s*(?P<v>[A-Z0-9]{2,5}(?:[ -][A-Z0-9]{2,4})?)\b",
    re.IGNORECASE,
)


def _luhn(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = ord(ch) - 48
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _iban_ok(value: str) -> bool:
    v = value.replace(" ", "").upper()
    if not (15 <= len(v) <= 34):
        return False
    moved = v[4:] + v[:4]
    try:
        return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1
    except ValueError:
        return False


def dates(text: str) -> Iterator[Span]:
    lowercase_text = not any(ch.isupper() for ch in text)
    for m in DATE_RE.finditer(text):
        value = m.group(0)
        word = (
            _MONTH_WORD.search(value)
            if value[:1].isalpha() or " " in value or "-" in value
            else None
        )
        if (
            word
            and not value[:1].isdigit()
            and not word.group(0)[0].isupper()
            and not lowercase_text
        ):
            # "may 5" in running text ("may" the verb) is not a date unless the whole text is lower case
            if word.group(0).lower() in ("may", "mar", "march", "jun", "dec", "sun", "sat"):
                continue
        if value.lower() in ("may", "march"):
            continue
        yield Span(m.start(), m.end(), DATE, value)


def ages(text: str, ceiling: int = AGE_CEILING) -> Iterator[Span]:
    for m in AGE_RE.finditer(text):
        for group in ("n", "n2", "n3", "n4", "n5"):
            if m.group(group):
                if int(m.group(group)) >= ceiling:
                    yield Span(m.start(group), m.end(group), AGE, m.group(group))
                break


def contacts(text: str) -> Iterator[Span]:
    for m in EMAIL_RE.finditer(text):
        yield Span(m.start(), m.end(), EMAIL, m.group(0))
    for m in URL_RE.finditer(text):
        value = m.group(0)
        if "@" in text[max(0, m.start() - 1) : m.start()]:
            continue
        # bare "word.word" without a web prefix must look like a domain: no spaces, a letter before the dot
        if not value.lower().startswith(("http", "ftp", "www.")) and (
            value[0].isdigit() or value.count(".") == 0
        ):
            continue
        yield Span(m.start(), m.end(), URL, value)
    for m in IPV4_RE.finditer(text):
        yield Span(m.start(), m.end(), IP, m.group(0))
    for m in IPV6_RE.finditer(text):
        if sum(ch.isdigit() for ch in m.group(0)) >= 2 and m.group(0).count(":") >= 3:
            yield Span(m.start(), m.end(), IP, m.group(0))


def _digit_count(value: str) -> int:
    return sum(ch.isdigit() for ch in value)


def numbers(text: str) -> Iterator[Span]:
    """SSN, phone, card/IBAN, MRN and other identifier numbers."""
    for m in SSN_RE.finditer(text):
        yield Span(m.start(), m.end(), SSN, m.group(0))
    for m in SSN_CUE_RE.finditer(text):
        yield Span(m.start("v"), m.end("v"), SSN, m.group("v"))
    for m in PHONE_RE.finditer(text):
        value = m.group(0).rstrip()
        digits = _digit_count(value)
        if digits < 7 or digits > 16:
            continue
        if re.fullmatch(r"\d+", value) and not PHONE_CUE_RE.search(
            text[max(0, m.start() - 30) : m.start()]
        ):
            continue  # a bare digit run is an identifier number (below), not a phone, without a cue
        if re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}", value):
            continue  # IPv4
        if re.fullmatch(r"\d{1,3}(?:,\d{3})+", value):
            continue
        yield Span(m.start(), m.start() + len(value), PHONE, value)
    for m in IBAN_RE.finditer(text):
        if _iban_ok(m.group(0)):
            yield Span(m.start(), m.end(), ACCOUNT, m.group(0))
    for m in LONG_NUMBER_RE.finditer(text):
        value = m.group(0).rstrip()
        digits = "".join(ch for ch in value if ch.isdigit())
        label = ACCOUNT if 13 <= len(digits) <= 19 and _luhn(digits) else ID
        if label == ID and " " in value and len(digits) < 10:
            continue  # spaced short groups: counts, not identifiers (phones are found above)
        yield Span(m.start(), m.start() + len(value), label, value)
    for m in ALNUM_ID_RE.finditer(text):
        value = m.group(0)
        if re.fullmatch(r"\d+(?:st|nd|rd|th|s|am|pm|mg|ml|kg|mcg)", value, re.IGNORECASE):
            continue
        label = MRN if value.upper().startswith("MRN") else ID
        yield Span(m.start(), m.end(), label, value)
    for m in ID_CUE_RE.finditer(text):
        cue, value = m.group("cue").lower(), m.group("v")
        if cue in ("#", "no.") and _digit_count(value) < 4:
            continue
        if _digit_count(value) < 3 and cue not in ("mrn", "mr#"):
            continue
        if re.fullmatch(r"\d{1,3}(?:[/-]\d{1,3})?", value):
            continue
        label = (
            MRN
            if cue.startswith(("mrn", "mr#", "medical record", "record", "unit"))
            else (ACCOUNT if cue.startswith(("acct", "account", "a/c", "card", "iban")) else ID)
        )
        yield Span(m.start("v"), m.end("v"), label, value)


_UNSUFFIXED = {
    3,
    8,
    9,
}  # street patterns without a street word: their words must not all be common words


def streets(text: str) -> Iterator[Span]:
    from deid.notes import gazetteers

    gaz = None
    for index, regex in enumerate(STREET_RES):
        for m in regex.finditer(text):
            value = m.group(0).rstrip(" ,")
            if not value.strip():
                continue
            if index in _UNSUFFIXED:
                gaz = gaz or gazetteers.load()
                words = [fold(w) for w in WORD.findall(value)]
                if (
                    not words
                    or all(w in gaz.common or w in gaz.dictionary or len(w) <= 2 for w in words)
                    or any(w in _NOT_STREET for w in words)
                ):
                    continue
            yield Span(m.start(), m.start() + len(value), STREET, value)


_NOT_STREET = frozenset(
    """mg mcg ml meq units unit iu oral tablet tablets capsule capsules solution injection
release extended delayed hour hours day days week weeks month months year years times puffs inhaler patch cream
jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june july august september
october november december""".split()
)


# "in ARENDAL 4844", "in København K 1421": a place and its postal code after "in"
PLACE_POSTAL_RE = re.compile(
    rf"\b(?:in|at|from)\s(?P<place>(?:{_CAP}\s){{0,3}}{_CAP})\s(?P<zip>\d{{3,5}}(?:\s\d{{2}})?)(?![\w.,/:]\d|\d)"
    r"(?!\s?(?:mg|mcg|g|kg|ml|mL|L|units?|%|mmHg|bpm|patients|people|times|days|years)\b)"
)


def zips(text: str) -> Iterator[Span]:
    for m in PLACE_POSTAL_RE.finditer(text):
        if re.fullmatch(YEAR4, m.group("zip")):
            continue
        yield Span(m.start("place"), m.end("place"), "LOCATION", m.group("place"))
        yield Span(m.start("zip"), m.end("zip"), ZIP, m.group("zip"))
    for m in STATE_ZIP_RE.finditer(text):
        yield Span(m.start("st"), m.end("st"), STATE, m.group("st"))
        yield Span(m.start("zip"), m.end("zip"), ZIP, m.group("zip"))
    for m in ZIP_CUE_RE.finditer(text):
        if any(ch.isdigit() for ch in m.group("v")):
            yield Span(m.start("v"), m.end("v"), ZIP, m.group("v"))


def detect(text: str, age_ceiling: int = AGE_CEILING) -> list[Span]:
    out: list[Span] = []
    for source in (
        dates(text),
        ages(text, age_ceiling),
        contacts(text),
        numbers(text),
        streets(text),
        zips(text),
    ):
        out.extend(source)
    return out
