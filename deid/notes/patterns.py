"""Pattern detectors: dates, ages over 89, phone/fax, email, URLs and domains, IP addresses, SSN, MRN and
other identifier numbers, card and IBAN numbers, street lines, unit numbers and ZIP codes.

Clinical values must survive: blood pressures (systolic/diastolic), lab values with units, doses and
ranges of counts match none of these: phones need 7+ digits in 2+ groups; a numeric date without a
year (month/day) needs a month 1-12 and a day 1-31 and no ratio context (blood pressure, pain or strength
scores, fractions of a tablet), a hyphenated one a date cue or a zero-padded month.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from deid.corpora import Span
from deid.notes import gazetteers
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
    # ISO date (year-month-day), optionally with a time after a space or "T"
    rf"\b{YEAR4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?:[T ]{TIME})?\b",
    # numeric day and month with a 2- or 4-digit year, slashes, hyphens or dots, with optional time
    rf"(?<![\d/.-]){MON_NUM}/{DAY}/(?:{YEAR4}|\d\d)(?![\d/])(?:,?\s{TIME})?",
    rf"(?<![\d/.-]){DAY}/{MON_NUM}/{YEAR4}(?![\d/])",
    rf"(?<![\d.-]){MON_NUM}-{DAY}-(?:{YEAR4}|\d\d)(?![\d-])",
    rf"(?<![\d.]){DAY}\.{MON_NUM}\.{YEAR4}(?![\d.]\d)",
    rf"\b{YEAR4}/{MON_NUM}/{DAY}\b",
    # month name and day, with or without an ordinal suffix, a year or a time; month name and year
    rf"\b{MONTH}\s{DAY}(?:st|nd|rd|th)?\b(?:,?\s{YEAR4}\b)?(?:,?\s(?:at\s)?{TIME})?",
    rf"\b{MONTH}(?:\s|-|,\s|\sof\s){YEAR4}\b",
    # day before the month name ("of" between them allowed), hyphenated or spaced, optional year
    rf"\b{DAY}(?:st|nd|rd|th)?(?:\s|-)(?:of\s)?{MONTH}\b(?:,?(?:\s|-){YEAR4}\b)?(?:,?\s{TIME})?",
    # weekdays
    rf"\b{WEEKDAY}\b",
    # a bare four-digit year (not a dose or count: no unit after it)
    rf"(?<![\d.,/-]){YEAR4}(?![\d.,]\d){_UNIT_AFTER}",
]
DATE_RE = re.compile("|".join(f"(?:{p})" for p in _DATE_PATTERNS), re.IGNORECASE)

# month/day without a year: 7/22, 07/22, 7/22/ (a trailing slash), 7-22, with an optional time
MONTH_DAY_RE = re.compile(
    rf"(?<![\w/.,:+-])(?P<m>{MON_NUM})(?P<sep>[/-])(?P<d>{DAY})(?P<slash>/)?(?![\w/%]|[.,:-]\d)"
    rf"(?:,?\s(?:at\s)?{TIME})?"
)
# a date cue right before: "on 7/22", "since 07-22", "dated 7/22", "DOS: 7/22", "admitted 7/22"
DATE_CUE_RE = re.compile(
    r"\b(?:on|since|from|until|till|thru|through|to|dated|date|dos|dob|comparison|d/c|dc|admit(?:ted)?|adm|"
    r"discharged?|seen|started|stopped|placed|removed|changed|due|last|next|of|as of|by|before|after|"
    r"between|and|until|effective|[a-z]*day)\s*[:#]?\s*$",
    re.IGNORECASE,
)
# ratio context right before: blood pressure, pain and strength scores, ratios, fractions, counts
RATIO_CUE_RE = re.compile(
    r"(?:\b(?:bp|sbp|dbp|nbp|abp|map|pressures?|pain|score|scale|strength|motor|power|grade|ratio|"
    r"i:e|ie|gcs|rass|cam|murmur|reflexes|dtrs?|apgar|para|gravida|g\d+p|x|tab|tabs|tablets?|"
    r"of|out of|rate|peep|ps|psv|pcv|simv|prvc|cpap|bipap|vt|tv|rr|hr|sats?|spo2|o2|fio2|abg|vbg|"
    r"range|pupils?)"
    r"|[<>=~])\s*[:=]?\s*$",
    re.IGNORECASE,
)
RATIO_AFTER_RE = re.compile(
    r"\s*(?:mm\s?hg|mmhg|bilat|bilaterally|strength|power|pain|tabs?|tablets?|ratio|split|"
    r"of\s+(?:the\s+)?(?:time|cases|patients)|\(\d)",
    re.IGNORECASE,
)
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

# identifiers introduced by a cue word (MRN, account, license, ...) and a value with digits
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
# alphanumeric tokens with 4+ digits and a letter, 6+ long (record numbers, license numbers, ...)
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
# European street words as suffixes of one token (Finnish -katu, Swedish -gatan, German -straße)
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
    # house number, up to four capitalized words, a street word (Street, Avenue, St, ...)
    re.compile(
        rf"(?<![\w.-]){NUM}\.?,?[ \t](?:{NUM}[ \t])?(?:{_CAP}[ \t]){{0,4}}{STREET_SUFFIX}\b\.?"
    ),
    # a capitalized word ending in a European street suffix (-katu, -gatan, -strasse, ...) next
    # to a house number
    re.compile(
        rf"(?<![\w-])(?:{NUM}[ \t](?:{_CAP}[ \t]){{0,3}}{_SUFFIXED}(?:[ \t]{NUM})?|(?:{_CAP}[ \t]){{0,3}}{_SUFFIXED}[ \t]{NUM})(?![\w])"
    ),
    # a street word first (Rue, Via, Rua, Avenida, ...), particles and capitalized words, a number
    re.compile(
        rf"(?<![\w-])(?:{NUM}[ \t])?(?:{NUM}[ \t])?{STREET_PREFIX}[ \t](?:(?:de|del|della|di|da|do|dos|das|la|le|les|du|des|"
        rf"von|van|der|den|el|los|las)[ \t]|{_CAP}[ \t]){{0,4}}{_CAP}(?:[ \t]{NUM})?(?![\w])"
    ),
    # house number, one to three capitalized words, house number (postal code first, number last)
    re.compile(
        rf"(?<![\w.,/:-])\d{{1,6}}[ \t](?:(?:ul\.|C/|al\.)[ \t])?(?:{_CAP}[ \t]){{1,3}}\d{{1,5}}[A-Za-z]?(?![\w/.,]\d)(?![ \t]?(?:mg|mcg|g|kg|ml|mL|L|units?|%|mmHg|bpm)\b)"
    ),
    # in all-lower-case text: postal code, words, house number, a street word
    re.compile(
        r"(?<![\w.,/:-])\d{1,6}[ \t](?:[a-zà-ÿ\u0100-\u024F][\w'’.-]+[ \t]){1,3}\d{1,5}[ \t](?:st|street|rd|road|ave|avenue)\b\.?"
    ),
    # Spanish "C/" (calle) abbreviations followed by capitalized words and a number
    re.compile(rf"\bC/[ \t](?:{_CAP}[ \t]){{0,3}}{_CAP}(?:[ \t]\d{{1,5}})?"),
    # post office, military (PSC / CMR / Unit) and plain boxes with their numbers
    re.compile(
        r"\b(?:P\.?[ \t]?O\.?[ \t]?Box|PSC|Unit|Box|CMR)[ \t]\d{1,6}(?:,[ \t]?Box[ \t]\d{1,6})?\b"
    ),
    # apartment, suite, unit, room and floor numbers
    re.compile(
        r"\b(?:Apt|Apartment|Suite|Ste|Unit|Room|Rm|Flat|Floor|Fl|Bldg|Building)\.?[ \t]?#?[ \t]?\d{1,6}[A-Za-z]?\b",
        re.IGNORECASE,
    ),
    # house number + two or more capitalized words + optional number
    re.compile(
        rf"(?<![\w.,/:-])\d{{1,6}}[ \t](?:{_CAP}[ \t]){{1,3}}{_CAP}(?:[ \t]\d{{1,5}})?(?![\w])"
    ),
    # capitalized word(s) + house number at a line end, or after "on" / "at" / "of"
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


def month_days(text: str) -> Iterator[Span]:
    """Numeric month/day dates without a year ("7/22", "on 07-22"), weighed against ratio readings."""
    for m in MONTH_DAY_RE.finditer(text):
        month, day, sep = int(m.group("m")), int(m.group("d")), m.group("sep")
        before = text[max(0, m.start() - 24) : m.start()]
        cued = bool(DATE_CUE_RE.search(before)) and not before.rstrip().lower().endswith(
            (" of", " x", " to")
        )
        if RATIO_CUE_RE.search(before) and not cued:
            continue
        if RATIO_AFTER_RE.match(text, m.end()):
            continue
        if sep == "-" and not (cued or m.group("m").startswith("0") or m.group("slash")):
            continue  # "3-4 times", "2-3 days": ranges unless a cue or a padded month says date
        if sep == "/" and not cued and not m.group("slash"):
            # fractions and scores without a cue: 1/2, 3/4, 5/5, 4/5, 2/10, 8/10
            if day in (2, 3, 4, 5, 8, 10) and month <= day and not m.group("m").startswith("0"):
                continue
        yield Span(m.start(), m.end(), DATE, m.group(0))


_PHONE_EXT_RE = re.compile(
    r"(?:(?<=\s)|(?<=^)|(?<=[(,;:]))(?:x|ext\.?|extension)\s?#?\s?(?P<n>\d{2,6})\b"
    r"|\b(?:pager|beeper|pgr|page|bpr|beep|pg|phone|tel|cell|ext)\.?\s*(?:#|no\.?|number)?\s*:?\s*"
    r"(?P<p>\d{4,6}|\d-\d{4})\b(?![.,/:-]\d)",  # "pager 12345", "PAGER 7-7507"
    re.IGNORECASE,
)


def phone_extensions(text: str) -> Iterator[Span]:
    """Extensions and pager numbers on their own: "x1234", "ext. 55", "pager 12345"."""
    for m in _PHONE_EXT_RE.finditer(text):
        if m.group("n") is not None:
            value = m.group(0)
            if value[0] in "xX" and len(m.group("n")) < 3:
                continue  # "x2" is a count, not an extension
            yield Span(m.start(), m.end(), PHONE, value)
        else:
            yield Span(m.start("p"), m.end("p"), PHONE, m.group("p"))


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
            value[0].isdigit() or value.count(".") == 0 or _sentence_glue(value)
        ):
            continue
        yield Span(m.start(), m.end(), URL, value)
    for m in IPV4_RE.finditer(text):
        yield Span(m.start(), m.end(), IP, m.group(0))
    for m in IPV6_RE.finditer(text):
        if sum(ch.isdigit() for ch in m.group(0)) >= 2 and m.group(0).count(":") >= 3:
            yield Span(m.start(), m.end(), IP, m.group(0))


_GENERIC_TLD = frozenset(
    "com org net edu gov mil int info biz io health med app dev xyz online site".split()
)


def _sentence_glue(value: str) -> bool:
    """Two words glued by a sentence's period, not a domain name: a bare two-part name with a
    country-code ending whose case differs from the first part's, or whose first part is a common
    English word."""
    parts = value.split("/")[0].split(".")
    if len(parts) != 2 or "/" in value or parts[1].lower() in _GENERIC_TLD:
        return False
    first, tld = parts
    if tld[:1].isupper() and not first.isupper():
        return True
    return fold(first) in gazetteers.load().common


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


# a place and its postal code after "in": an all-caps town, or a town with a district letter, then digits
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
        month_days(text),
        phone_extensions(text),
        ages(text, age_ceiling),
        contacts(text),
        numbers(text),
        streets(text),
        zips(text),
    ):
        out.extend(source)
    return out
