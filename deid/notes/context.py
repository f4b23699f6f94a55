"""Gazetteer and context-cue detectors over word tokens: personal names, places, hospitals and address
blocks.

* Names: a capitalized token that a name list knows and that is not a common English word is a name;
  a name-list token that is also a common word (a first name that is also a verb or a noun) is a name only next to another
  name or after a cue; runs extend over initials, particles ("van", "de") and unknown capitalized
  words that follow a first name (first name, initial, unlisted surname). Cues: titles ("Dr.", "Mrs."), "my name is",
  "signed by", header fields ("Patient:", "Provider:"), relatives (a kinship word before the name).
  A token found as a name once is a name everywhere in the same text.
* Places: countries, US states and cities from GeoNames (multi-word names too), towns after cues
  ("lives in", "based in", "flew to"), and the lines that follow a street line (city, region,
  postal code, country).
* Hospitals and clinics: capitalized names ending in a facility word (one or more capitalized words, then "Hospital", "Clinic", "Primary Care", ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from deid.corpora import Span
from deid.notes import gazetteers, vocabulary
from deid.notes.spans import (
    CITY,
    COUNTRY,
    HOSPITAL,
    LOCATION,
    NAME,
    ORGANIZATION,
    STATE,
    STREET,
    ZIP,
)
from deid.notes.tokens import Token, fold, tokenize

NAME_RANK = 6000  # gazetteer names ranked at most this are names when capitalized and uncommon
STRONG_NAME_RANK = 1000  # a name ranked this well outweighs a dictionary sense in mixed-case text
LOWER_NAME_RANK = 1500  # ... and, in all-lower-case text, when lower case

PARTICLES = frozenset(
    "van von de der den del della di da das dos du la le ter ten bin ibn al el mac st".split()
)
TITLE_CUE = re.compile(
    r"\b(?:Dr|Drs|Mr|Mrs|Ms|Mx|Miss|Prof|Professor|Mme|Mlle|Mister|Madam|Madame|Monsieur|Herr|Frau|Sr|Sra|Srta|"
    r"Rev|Fr|Sister|Brother|Nurse|Doctor|Dra)\b\.?\s*$",
    re.IGNORECASE,
)
PHRASE_CUE = re.compile(
    r"(?:\bmy name is|\bname is|\bname's|\bnamed|\bname\s*:|\bi'?m|\bi am|\bcall me|\bthis is|\bsigned by|"
    r"\bsigned\s*:|\bdictated by\s*:?|\bseen by|\bseen with|\battending(?: physician)?\s*:?|\bprovider\s*:|"
    r"\bpatient\s*:|\bpt\s*:|\bpcp\s*:?|\bphysician\s*:|\bsurgeon\s*:|\bcc\s*:|\bto\s*:|\bfrom\s*:|"
    r"\bdirected by\s*:?|\bwritten by|\bauthor\s*:|\bcontact\s*:|\bemergency contact\s*:?|\bconsulted|"
    r"\bdear|\bhi|\bhello|\bthanks|\bthank you|\bregards,?|\bsincerely,?|\bper|\bmet with|\bspoke with|"
    r"\bspoke to|\btalked to|\bwith|\bby|\bsays|\bsaid|\basked|\btold|\bwrote|\bcalled|\bkid|\bchild|"
    r"\bguardian|\bgrandfather|\bgrandmother|\bproducer|\bdirector|\bauthor|\bsinger|\bactor|\bactress)\s*$",
    re.IGNORECASE,
)
RELATIVE_CUE = re.compile(
    r"\b(?:wife|husband|spouse|partner|son|daughter|mother|father|mom|dad|brother|sister|sibling|friend|"
    r"boyfriend|girlfriend|fiancée?|nephew|niece|aunt|uncle|cousin|grandson|granddaughter|grandmother|"
    r"grandfather|grandchild|child|caregiver|guardian|neighbou?r|roommate|stepson|stepdaughter|"
    r"son-in-law|daughter-in-law|mother-in-law|father-in-law|colleague|boss|coworker|co-worker)\s*,?\s*$",
    re.IGNORECASE,
)
PLACE_CUE = re.compile(
    r"(?:\blives? (?:in|at|near)|\bliving (?:in|at|near)|\blived (?:in|at)|\bresides? (?:in|at)|\bresiding in|"
    r"\bmoved (?:to|from)|\brelocated (?:to|from)|\bborn in|\braised in|\bgrew up in|\bbased in|"
    r"\blocated (?:in|at)|\btravel(?:l)?ing to|\btravel(?:l)?ed to|\btrip to|\bflew to|\bflying to|"
    r"\bvisit(?:ing|ed)?|\bvacation in|\boriginally from|\b(?:is|am|are|was|were|comes?|came) from|"
    r"\bnative of|\bresident of|\btown of|\bcity of|\bvillage of|\bhome in|\bhere in|\bback in|\bi'?m in|"
    r"\bwe'?re in|\bstay(?:ing|ed)? in|\bdischarged home to|\bhome to|\bcity\s*:|\btown\s*:|\bcountry\s*:|"
    r"\bstate\s*:|\bin the city of|\barrived (?:at|in)|\breturned to|\b(?:go|goes|going|went|come|coming|came|"
    r"fly|drive|drove|welcome|world|back|trip|way|road|train|bus|flight|ferry) to|\bin|\bat|\bfrom|\bnear)\s*$",
    re.IGNORECASE,
)
FACILITY = (
    r"(?i:Hospital|Hospitals|Medical Center|Medical Centre|Medical Ctr|Health Center|Health Centre|"
    r"Health System|Healthcare|Health Care|Primary Care|Family Medicine|Family Practice|Internal Medicine|"
    r"Pediatrics|Infirmary|Nursing Home|Nursing Facility|Skilled Nursing Facility|Nursing and Rehab(?:ilitation)?|"
    r"Health and Rehabilitation|Care Center|Care Centre|Rehabilitation Hospital|Rehabilitation Center|"
    r"Rehab Center|Rehab Unit|Acute Rehab Unit|Medical Group|Medical Associates|Physicians|Urgent Care|"
    r"Surgery Center|Surgical Center|Cancer Center|Cancer Institute|Heart Institute|Clinic|Clinics|"
    r"Hospice|Sanatorium|Sanitarium|Polyclinic|Dispensary)"
)
_CAPW = r"(?:St\.|[A-Z][\w'’-]*)"
FACILITY_RE = re.compile(
    rf"(?:{_CAPW}[ \t]+(?:(?i:of|the|for)[ \t]+)?){{1,5}}{FACILITY}\b(?:[ \t]+(?i:of|in)[ \t]+{_CAPW}(?:[ \t]+{_CAPW}){{0,2}})?"
    rf"|\b(?i:Hospital|Clinic|Infirmary|University)[ \t]+(?i:of)[ \t]+{_CAPW}(?:[ \t]+{_CAPW}){{0,2}}"
)
COMPANY_RE = re.compile(
    r"(?:[A-Z][\w&'’-]*[ \t]+){1,4}(?:Inc|LLC|Ltd|Corp|Corporation|GmbH|AG|PLC|LLP|S\.A|Oy|AB|ASA|"
    r"BV|NV|SpA|Srl|Pty)\b\.?"
)
LEAD_STOP = frozenset(
    """discharged admitted transferred transfer seen presented followed follow at to from the patient pt
with by in of and called visited visit went go dr hospitalized readmitted returned return sent referred accepted
arrived on hospital name signed attending pcp provider physician per this that was is our your his her their a an
""".split()
)

_TITLES = frozenset("dr mr mrs ms mx prof st sr jr".split())
_INITIAL = re.compile(r"[A-Z]\.?$")


def _text_is_lower(text: str, letters: int) -> bool:
    return letters > 0 and sum(map(str.isupper, text)) <= max(1, letters // 200)


def _text_is_upper(text: str, letters: int) -> bool:
    return letters > 20 and sum(map(str.islower, text)) < letters // 10


class _Doc:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.gaz = gazetteers.load()
        letters = sum(map(str.isalpha, text))
        self.lower = _text_is_lower(text, letters)
        self.upper = _text_is_upper(text, letters)
        self._vocab: dict[str, bool] = {}
        self.cue_ends: tuple[dict[int, tuple[int, str]], ...] | None = None

    def shorthand(self, t: Token, numbers: bool = True) -> bool:
        """Clinical shorthand by the token's letters (inner or short capitals) or a number beside it."""
        return vocabulary.abbreviation_shape(t.text, self.upper) or (
            numbers and vocabulary.next_to_number(self.text, t.start, t.end)
        )

    def vocab(self, t: Token, numbers: bool = True) -> bool:
        """The token is a word of the trade or of everyday English, by its letters or its neighbours
        (``numbers``: a number beside it counts; not for places, which postal codes follow)."""
        if self.shorthand(t, numbers):
            return True
        hit = self._vocab.get(t.key)
        if hit is None:
            hit = self._vocab[t.key] = vocabulary.is_vocabulary(t.key, self.gaz)
        return hit

    def gap(self, i: int) -> str:
        """Text between token i-1 and token i."""
        prev_end = self.tokens[i - 1].end if i > 0 else 0
        return self.text[prev_end : self.tokens[i].start]

    def adjacent(self, i: int) -> bool:
        """Token i follows token i-1 within the same phrase (spaces, a period after an initial)."""
        if i == 0:
            return False
        g = self.gap(i)
        if len(g) > 3 or "\n" in g or g.strip(" \t.") != "":
            return False
        # a period joins only after an initial or a title (first name, initial, surname; "Dr." and a surname)
        return (
            "." not in g or len(self.tokens[i - 1].text) == 1 or self.tokens[i - 1].key in _TITLES
        )

    def capital(self, t: Token) -> bool:
        if self.lower:
            return t.text[0].isalpha()
        if self.upper:
            return t.text.isupper()
        return t.text[0].isupper()

    def sentence_start_token(self, t: Token) -> bool:
        before = self.text[max(0, t.start - 20) : t.start].rstrip(" \t\"'(“")
        return (
            not before
            or before[-1] in ".!?\n:;•-*|"
            or bool(re.search(r"(?:^|\n)\s*\d+[.)]$", before))
        )

    def sentence_start(self, i: int) -> bool:
        if i == 0:
            return True
        before = self.text[: self.tokens[i].start].rstrip(" \t\"'(“")
        return not before or before[-1] in ".!?\n:;•-*|"


def _place_cue_before(doc: _Doc, i: int) -> bool:
    start = doc.tokens[i].start
    return bool(PLACE_CUE.search(doc.text[max(0, start - 40) : start]))


def _is_initial(doc: _Doc, t: Token) -> bool:
    if len(t.text) != 1 or not t.text.isalpha():
        return False
    return t.text.isupper() or doc.lower


def _name_strength(doc: _Doc, t: Token) -> int:
    """2: a name on its own; 1: a name next to another name or a cue; 0: not a name."""
    key = t.key
    if len(key) < 2 or key in gazetteers.EXTRA_COMMON or _glued(doc, t):
        return 0
    rank = doc.gaz.name_rank(key)
    if rank is None or rank > NAME_RANK:
        return 0
    if t.is_upper and not doc.upper and len(key) <= 3:
        return 0  # abbreviations: BP, HR, ED
    if not doc.capital(t):
        if not (t.is_lower and doc.lower):
            return 0
        if rank > LOWER_NAME_RANK:
            return 1
    if doc.gaz.is_common(key) or doc.shorthand(t) or vocabulary.is_clinical(key):
        return 1  # a word of the trade or of everyday English: a name only beside a name or a cue
    if doc.vocab(t) and (
        doc.upper or doc.lower or rank > STRONG_NAME_RANK or vocabulary.zipf(key) >= 4.0
    ):
        return 1  # a dictionary word: a well-ranked name still stands alone where case tells
    if doc.sentence_start_token(t) and key in doc.gaz.dictionary:
        return 1  # a dictionary word or a name at a line start: a word unless next to a name
    if (doc.upper or doc.lower) and (rank > LOWER_NAME_RANK or len(key) < 4):
        return 1  # no case cue in the text: a lone rarer name needs a neighbour or a cue
    return 2


def _glued(doc: _Doc, t: Token) -> bool:
    """Letters stuck to digits ("HbA1c", "T2DM", "3rd") are not words of their own."""
    text = doc.text
    return (t.start > 0 and text[t.start - 1].isdigit()) or (
        t.end < len(text) and text[t.end].isdigit()
    )


def _unanchored(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """``pattern`` (a cue ending in ``$``) without its end anchor, to scan a whole text once."""
    if not pattern.pattern.endswith("$"):
        raise ValueError(f"a cue pattern must end in '$': {pattern.pattern[-40:]!r}")
    return re.compile(pattern.pattern[:-1], pattern.flags)


_CUE_SCANS = (_unanchored(TITLE_CUE), _unanchored(PHRASE_CUE), _unanchored(RELATIVE_CUE))
_CUE_REACH = 40  # a cue counts when it starts at most this many characters before the token

_CueEnds = tuple[dict[int, tuple[int, str]], ...]


def _cue_ends(doc: _Doc) -> _CueEnds:
    """For each cue kind (title, phrase, relative), {end offset: (start offset, cue words)} of every
    cue in the text, scanned once per document: a token has a cue when one ends where it starts."""
    if doc.cue_ends is None:
        doc.cue_ends = tuple(
            {m.end(): (m.start(), m.group(0).strip().lower()) for m in scan.finditer(doc.text)}
            for scan in _CUE_SCANS
        )
    return doc.cue_ends


def _cues(doc: _Doc, i: int) -> tuple[bool, str | None, bool]:
    """(title cue, the phrase cue's words or None, relative cue) right before token i."""
    start = doc.tokens[i].start
    found = [
        hit[1] if hit is not None and hit[0] >= start - _CUE_REACH else None
        for hit in (kind.get(start) for kind in _cue_ends(doc))
    ]
    return found[0] is not None, found[1], found[2] is not None


def _cue_before(doc: _Doc, i: int) -> bool:
    title, phrase, relative = _cues(doc, i)
    return title or phrase is not None or relative


def _strong_cue_before(doc: _Doc, i: int) -> bool:
    title, phrase, relative = _cues(doc, i)
    if title or relative:
        return True
    return phrase is not None and phrase not in (
        "with",
        "by",
        "per",
        "to:",
        "from:",
        "hi",
        "consulted",
    )


def names(text: str, doc: _Doc | None = None) -> list[Span]:
    doc = doc or _Doc(text)
    toks = doc.tokens
    n = len(toks)
    strength = [_name_strength(doc, t) for t in toks]
    is_name = [False] * n
    # seeds: strong names; cue-introduced capitalized words
    for i, t in enumerate(toks):
        if strength[i] == 2:
            is_name[i] = True
        elif (
            doc.capital(t)
            and t.key not in gazetteers.EXTRA_COMMON
            and (len(t.key) >= 2 or TITLE_CUE.search(text[max(0, t.start - 6) : t.start]))
            and not _glued(doc, t)
            and not (
                t.is_upper
                and not doc.upper
                and len(t.key) <= 3
                and not TITLE_CUE.search(text[max(0, t.start - 12) : t.start])
            )
        ):
            titled = bool(TITLE_CUE.search(text[max(0, t.start - 12) : t.start]))
            if (
                titled or strength[i] >= 1 or not doc.gaz.is_common(t.key) and not doc.vocab(t)
            ) and _strong_cue_before(doc, i):
                is_name[i] = True
            elif (
                strength[i] == 1
                and _cue_before(doc, i)
                and not (doc.lower and t.key in doc.gaz.dictionary)
            ):
                is_name[i] = (
                    True  # in all-lowercase text a dictionary word after "by"/"with" is a word
                )
    # extend runs over neighbouring name-ish tokens
    changed = True
    while changed:
        changed = False
        for i in range(n):
            if is_name[i]:
                continue
            t = toks[i]
            left = i > 0 and is_name[i - 1] and doc.adjacent(i)
            right = i + 1 < n and is_name[i + 1] and doc.adjacent(i + 1)
            if not (left or right):
                continue
            if _glued(doc, t) or t.key in gazetteers.EXTRA_COMMON:
                continue
            if _is_initial(doc, t):
                is_name[i] = changed = True
            elif strength[i] >= 1:
                is_name[i] = changed = True
            elif (
                left
                and doc.capital(t)
                and not doc.gaz.is_common(t.key)
                and len(t.key) >= 2
                and not (t.is_upper and not doc.upper and len(t.key) <= 3)
                and doc.gaz.places.get(t.key) is None
                and not doc.vocab(t)
            ):
                is_name[i] = changed = True  # unknown surname after a first name
            elif (
                t.key in PARTICLES
                and t.is_lower
                and i + 1 < n
                and left
                and doc.capital(toks[i + 1])
                and doc.adjacent(i + 1)
            ):
                is_name[i] = is_name[i + 1] = changed = True

    # unknown capitalized pairs mid-sentence (first and last name, neither listed) and lists of names
    # joined by commas and "and"
    def unknown_cap(i: int) -> bool:
        t = toks[i]
        return (
            doc.capital(t)
            and not doc.lower
            and len(t.key) >= 3
            and not doc.gaz.is_common(t.key)
            and t.key not in doc.gaz.dictionary
            and not _glued(doc, t)
            and not t.is_upper
            and doc.gaz.places.get(t.key) is None
            and not doc.vocab(t)
        )

    for i in range(n - 1):
        if (
            (not is_name[i] or not is_name[i + 1])
            and doc.adjacent(i + 1)
            and unknown_cap(i)
            and unknown_cap(i + 1)
            and not doc.sentence_start(i)
        ):
            is_name[i] = is_name[i + 1] = True
    changed = True
    while changed:
        changed = False
        for i in range(n):
            if is_name[i] or not (unknown_cap(i) or (strength[i] >= 1 and doc.capital(toks[i]))):
                continue
            for j in (i - 1, i + 1):
                if 0 <= j < n and is_name[j]:
                    a, b = (j, i) if j < i else (i, j)
                    gap = text[toks[a].end : toks[b].start]
                    if re.fullmatch(r",\s?|,?\s(?:and|&|or)\s", gap):
                        is_name[i] = changed = True
                        break
    # document-level consistency: a word found as a name is a name wherever it appears capitalized
    found = {toks[i].key for i in range(n) if is_name[i] and len(toks[i].key) >= 3}
    for i, t in enumerate(toks):
        if not is_name[i] and t.key in found and (doc.capital(t) or doc.lower):
            is_name[i] = True
    # a lone single letter is not a name
    spans = []
    i = 0
    while i < n:
        if not is_name[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and is_name[j + 1] and doc.adjacent(j + 1):
            j += 1
        run = toks[i : j + 1]
        if not (
            len(run) == 1
            and len(run[0].key) < 2
            and not TITLE_CUE.search(text[max(0, run[0].start - 12) : run[0].start])
        ):
            start, end = run[0].start, run[-1].end
            # keep the period of a trailing initial (first name, initial) out; include none of the gap
            spans.append(Span(start, end, NAME, text[start:end]))
        i = j + 1
    return spans


def places(text: str, doc: _Doc | None = None) -> list[Span]:
    doc = doc or _Doc(text)
    toks, gaz = doc.tokens, doc.gaz
    spans = []
    n = len(toks)
    i = 0
    while i < n:
        hit = None
        if toks[i].key in gaz.place_first_tokens and doc.capital(toks[i]):
            for k in range(min(gazetteers.MAX_PLACE_TOKENS, n - i), 1, -1):
                if not all(
                    doc.adjacent(i + m) or toks[i + m].start - toks[i + m - 1].end <= 1
                    for m in range(1, k)
                ):
                    continue
                key = " ".join(t.key for t in toks[i : i + k])
                label = gaz.places.get(key)
                if label and doc.capital(toks[i]) and doc.capital(toks[i + k - 1]):
                    hit = (k, label)
                    break
        if hit is None:
            label = gaz.places.get(toks[i].key)
            t = toks[i]
            if (
                label
                and not _glued(doc, t)
                and (doc.capital(t) or (doc.lower and t.is_lower))
                and not (t.is_upper and len(t.key) <= 2)
            ):
                if label != CITY:
                    hit = (1, label)
                elif (
                    not doc.gaz.is_common(t.key)
                    and not doc.vocab(t, numbers=False)
                    and not (doc.sentence_start_token(t) and t.key in gaz.dictionary)
                    and (not (doc.upper or doc.lower) or _place_cue_before(doc, i))
                ):
                    hit = (1, label)
        if hit:
            k, label = hit
            start, end = toks[i].start, toks[i + k - 1].end
            spans.append(Span(start, end, label, text[start:end]))
            i += k
            continue
        i += 1
    # towns after a place cue ("lives in", "based in") in any case, unlisted ones included
    for i, t in enumerate(toks):
        if (
            not doc.capital(t)
            or gaz.is_common(t.key)
            or t.key in gazetteers.EXTRA_COMMON
            or _glued(doc, t)
            or gaz.places.get(t.key) in (COUNTRY, STATE)
            or (doc.lower and t.key in gaz.dictionary)
            or doc.vocab(t, numbers=False)
            or ((doc.upper or doc.lower) and t.key in gaz.dictionary)
        ):
            continue
        window = text[max(0, t.start - 40) : t.start]
        if PLACE_CUE.search(window):
            j = i
            while (
                j + 1 < n
                and doc.adjacent(j + 1)
                and doc.capital(toks[j + 1])
                and j - i < 3
                and not doc.vocab(toks[j + 1], numbers=False)
            ):
                j += 1
            spans.append(Span(t.start, toks[j].end, LOCATION, text[t.start : toks[j].end]))
    return spans


def facilities(text: str) -> Iterator[Span]:
    gaz = gazetteers.load()
    for m in FACILITY_RE.finditer(text):
        start, end = m.start(), m.end()
        value = m.group(0)
        # drop leading words that start the sentence rather than the name ("Discharged to ...")
        words = list(re.finditer(r"\S+", value))
        k = 0
        while k < len(words) - 1 and words[k].group(0).lower().strip(".,:") in LEAD_STOP:
            k += 1
        start = m.start() + words[k].start()
        if not text[start].isupper():
            continue
        if end - start < 6:
            continue
        # the facility word alone ("Clinic") is not a name
        if re.fullmatch(FACILITY, text[start:end]):
            continue
        # a place name right after the facility word (facility word, then a listed city)
        tail = re.match(r"[ \t]+([A-Z][\w'’-]+)\b", text[end:])
        if tail and gaz.places.get(fold(tail.group(1))) and not gaz.is_common(fold(tail.group(1))):
            end += tail.end()
        yield Span(start, end, HOSPITAL, text[start:end])
    for m in COMPANY_RE.finditer(text):
        yield Span(m.start(), m.end(), ORGANIZATION, m.group(0))


_SEGMENT = re.compile(r"[^\n,;]+")
_POSTAL = re.compile(
    r"^(?:[A-Z]{1,2}-?)?\d{3,6}(?:[ -]\d{2,4})?(?:\s?[A-Z]{2})?$|^[A-Z]\d[A-Z] ?\d[A-Z]\d$|"
    r"^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$"
)


def address_blocks(text: str, street_spans: list[Span]) -> list[Span]:
    """Segments after a street line (or an 'Address:' cue): city, region, postal code, country."""
    out: list[Span] = []
    anchors = [s.end for s in street_spans if s.label == STREET]
    for cue in re.finditer(r"\b(?:address|addr)\s*:\s*", text, re.IGNORECASE):
        anchors.append(cue.end() - 1 if cue.end() > 0 else 0)
    for anchor in sorted(set(anchors)):
        pos = anchor
        segments = 0
        for seg in _SEGMENT.finditer(text, pos):
            # only segments directly after the anchor, separated by newlines/commas/spaces
            between = text[pos : seg.start()]
            if between.strip(" \t\n,;") or between.count("\n") > 2:
                break
            value = seg.group(0)
            quote = re.match(r"[ \t]*(?:>|\?{2,}|\|)[ \t]*", value)
            if quote and "\n" in between:
                value = " " * quote.end() + value[quote.end() :]
            stripped = value.strip(" \t.")
            if not stripped:
                pos = seg.end()
                continue
            words = stripped.split()
            if (
                ":" in stripped
                or "@" in stripped
                or "(" in stripped
                or len(words) > 6
                or len(stripped) > 48
            ):
                break
            lead = len(value) - len(value.lstrip(" \t"))
            s0 = seg.start() + lead
            s1 = s0 + len(stripped)
            if _POSTAL.match(stripped):
                out.append(Span(s0, s1, ZIP, stripped))
            elif (
                all(
                    w[0].isupper() or w[0].isdigit() or w.lower() in PARTICLES or (w[0] == "(")
                    for w in words
                )
                or stripped.islower()
                and text.islower()
                or ("\n" in between and len(words) <= 3 and not re.search(r"[!?;]", stripped))
            ):
                # a country or a town, a region code, then a trailing postal code
                tail = re.search(r"\s(\d{3,6}(?:[ -]\d{2,4})?)$", stripped)
                if tail:
                    out.append(Span(s0, s0 + tail.start(), LOCATION, stripped[: tail.start()]))
                    out.append(Span(s0 + tail.start(1), s1, ZIP, tail.group(1)))
                else:
                    out.append(Span(s0, s1, LOCATION, stripped))
            else:
                break
            segments += 1
            pos = seg.end()
            if segments >= 5:
                break
    return out


def detect(text: str) -> tuple[list[Span], list[Span]]:
    """(names, places and facilities) for ``text``. A one-word name that is exactly a country, a state or
    a place found by a cue ("lives in" and a town) is read as that place."""
    doc = _Doc(text)
    found_names, found_places = names(text, doc), places(text, doc)
    strong_places = {
        (s.start, s.end) for s in found_places if s.label in (COUNTRY, STATE, LOCATION)
    }
    found_names = [s for s in found_names if (s.start, s.end) not in strong_places]
    return found_names, found_places + list(facilities(text))
