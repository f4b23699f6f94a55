"""The clinical-vocabulary guard: evidence that a token is a word of the note's trade, not a name or a place.

A name list built from social-network profiles, or a list of every village of 1,000 people, knows a great
many words that clinicians write every day (anatomy, devices, everyday nouns and verbs). A gazetteer hit
alone is therefore weighed against the vocabulary below; a vocabulary word is a name or a place only
when context says so (a title, "seen by", "lives in", a neighbouring name).

The vocabulary is general, not tuned to any corpus:

* English words: Webster's Second (``english-words``) lists the word in lower case and never capitalized,
  and ``wordfreq`` says it is in real use (Zipf >= ``VOCAB_ZIPF``); regular inflections of common
  words count too (plural -s, past -ed, -ing).
* Clinical shorthand by shape: all-capital tokens of up to ``ABBREVIATION_MAX`` letters in mixed-case
  text, inner capitals ending in a capital, letters glued to digits ("FiO2", "T2DM"), tokens next to
  a number or a unit ("RR 18", "PEEP 5", "40 mg").
* Drug names by their USAN / INN stems ("-olol", "-pril", "-statin", "-mab").
* A short, hand-written list of common clinical abbreviations and ward jargon (vital signs, ventilator
  settings, lines and devices, care units, drug shorthand) that none of the rules above catches.
"""

from __future__ import annotations

import re
from functools import lru_cache

VOCAB_ZIPF = 2.5  # a lower-case-only dictionary word at least this frequent is a vocabulary word
ABBREVIATION_MAX = 4  # all-capital tokens up to this long read as abbreviations in mixed-case text

# Common clinical abbreviations and ward jargon (general clinical usage, written for this module).
CLINICAL_TERMS = frozenset(
    """
abd abx adl adls afeb afebrile ambu amt angio appt approx art aline a-line abg abgs accu accucheck
bipap bilat bld bm bms bs bsa bx cabg cath caths cbc cbg ccu cpap crrt csru cvicu cvl cvp cxr cx
d5w d5 dbp dilaudid dopa dobutamine dobut dopamine drsg dsg dvt echo ekg emesis epi etoh ett extub
extubated fen fio fiber foley fsbs ftt gtt gtts hct heme hep hemodyn hemodynamics hemovac hep-lock
hoh hosp hr hrs hypoxic iabp icp io ivf ivp jp jvd kvo lasix levo levophed lft lfts lgib lll llq ls lul
luq lytes map maps mae mdi meds mets micu midline mivf mmv mrsa ms mso4 neo neosynephrine neuro neurosx
ngt nitro nsr ntg nts ogt oob osh pacer pca pcn peep peg perrl perrla picc pip plt plts pnd po2 ppn
pressors propofol ps psv pt ptt pvc pvcs quad rll rlq rrt rsbi rue rul sats sat sbp sbt sicu simv
sm sob sq sr st svt swan tcu tele tf tfs tkr tlc tmax tpn trach trached trop tsicu tte tv uo uop urine
vanc vanco vaso vasopressin vent vented vfib vss vtach wbc wnl zosyn ativan versed haldol fent fentanyl
heparin insulin coumadin lopressor lovenox protonix pepcid tylenol motrin morphine narcan precedex
flagyl cipro levoflox levaquin keppra dilantin decadron solumedrol prednisone albuterol atrovent
combivent xopenex nebs neb mucomyst carafate reglan zofran colace senna dulcolax lactulose kayexalate
ssi riss nph lantus humalog novolog ns lr nacl kcl mag phos cal lyte prbc prbcs ffp cryo plts
sputum secretions rhonchi rales crackles wheezes diminished coarse bibasilar
""".split()
)

# USAN / INN stems at a word's end: drug names, whatever their capitals
DRUG_STEM = re.compile(
    r"(?:olol|alol|pril|sartan|statin|dipine|parin|xaban|gatran|azole|conazole|prazole|tidine|"
    r"cillin|mycin|micin|floxacin|cycline|vir|mab|nib|tinib|zumab|ximab|umab|afil|lukast|"
    r"setron|triptan|semide|thiazide|pam|zepam|zolam|barbital|profen|coxib|caine|dronate|"
    r"gliptin|glitazone|gliflozin|glutide|formin|tropin|relin|terol|sonide|olone|asone|"
    r"oxetine|triptyline|peridol|apine|idone|ipramine|azepam|phylline|fungin|penem|"
    r"bactam|vudine|navir|previr|buvir|platin|taxel|rubicin|trexate|pitant|"
    r"lamide|teplase)$"
)

# a token next to a number or a unit: "RR 18", "PEEP 5", "HR 88-96", "40 mg", "x3"
NUMBER_AFTER = re.compile(r"[ \t]*[:=]?[ \t]*[<>~]?[ \t]*\d")
NUMBER_BEFORE = re.compile(r"\d[ \t]*[-/.%]?[ \t]*$")


@lru_cache(maxsize=100_000)
def abbreviation_shape(token: str, text_upper: bool = False) -> bool:
    """Clinical shorthand by its letters alone: digits, inner capitals ending in a capital, short
    capitals in mixed-case text."""
    if any(ch.isdigit() for ch in token):
        return True
    letters = [ch for ch in token if ch.isalpha()]
    if not letters:
        return True
    # an inner capital after a lower-case letter, ending in a capital (chemistry and lab shorthand)
    if re.search(r"[a-z][A-Z]", token) and token[-1].isupper():
        return True
    if token.startswith(tuple("pmn")) and len(token) <= 3 and token[1:].isupper():
        return True  # pH, mEq-like shorthand
    if text_upper:
        return len(letters) <= 3  # no case cue left: only the shortest capitals read as shorthand
    return token.isupper() and len(letters) <= ABBREVIATION_MAX


def next_to_number(text: str, start: int, end: int) -> bool:
    """A number right after the token ("PEEP 5", "HR: 88") or a number or unit right before it."""
    return bool(
        NUMBER_AFTER.match(text, end, min(len(text), end + 6))
        or NUMBER_BEFORE.search(text, max(0, start - 4), start)
    )


@lru_cache(maxsize=100_000)
def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


def _lemmas(key: str) -> list[str]:
    out = [key]
    if len(key) > 4:
        if key.endswith("ies"):
            out.append(key[:-3] + "y")
        if key.endswith("es"):
            out.append(key[:-2])
        if key.endswith("s") and not key.endswith("ss"):
            out.append(key[:-1])
        if key.endswith("ed"):
            out += [key[:-1], key[:-2]]
        if key.endswith("ing"):
            out += [key[:-3], key[:-3] + "e"]
        if key.endswith("ly"):
            out.append(key[:-2])
    elif len(key) == 4 and key.endswith("s") and not key.endswith("ss"):
        out.append(key[:-1])
    return out


def is_clinical(key: str) -> bool:
    """A folded token from the clinical list or with a drug stem."""
    return key in CLINICAL_TERMS or (len(key) >= 6 and DRUG_STEM.search(key) is not None)


def is_vocabulary(key: str, gaz) -> bool:
    """A folded token that is a word of the trade or of everyday English (see the module doc)."""
    if is_clinical(key) or gaz.is_common(key):
        return True
    if key in gaz.dictionary and key not in gaz.proper and _zipf(key) >= VOCAB_ZIPF:
        return True
    for lemma in _lemmas(key)[1:]:  # a regular inflection of a common or clinical word
        if lemma in CLINICAL_TERMS or (gaz.is_common(lemma) and _zipf(key) >= VOCAB_ZIPF):
            return True
    return False


def zipf(word: str) -> float:
    """English word frequency (wordfreq's Zipf scale, 0 for unknown words)."""
    return _zipf(word)
