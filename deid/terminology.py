"""Coded concepts, as the PHI-leak gate needs them: what a coded value may say without being a leak.

A silver value that is vocabulary, not a person's data, can share a word with a patient's name or city:
the race "White" of a patient named White, "Malignant tumor of colon" for a patient named Colon, the
procedure "Plain chest X-ray" for a patient named Ray, the state "MA" of a patient named Ma. The gate
lets a name or city match inside such a value pass only when the whole value is coded vocabulary:

* a coded concept's display (a ``display`` / ``<prefix>_display`` column or struct field, beside its
  ``code`` / ``<prefix>_code`` and ``code_system`` / ``<prefix>_system``): the value must be the display
  the row's own code system gives the row's code (``Terminology.concepts``); a display that does not
  belong to the row's code (a name written into a display column) is not vocabulary;
* a column that holds codes of a small standard code system (race, state, status...): the whole value
  must be one of that value set's codes or displays (``Terminology.value_sets``, keyed by the silver
  column the code system fills); anything else written there (a name in ``status``) is not vocabulary.

Never a column as such, and never by how many patients share a value. MRN, SSN, phone, email, street,
ZIP and birth date are leaks even inside vocabulary.

The standard value sets below (HL7 FHIR R4 code systems, OMB race and ethnicity, USPS states, common
UCUM units) are built in. The concepts of the clinical code systems (SNOMED CT, LOINC, RxNorm, ICD-10-CM)
come from the source: ``Terminology.with_concepts`` adds the (system, code, display) codings the source
writes; a coded display the terminology does not know is not exempt (the gate errs on the side of a
false alarm, never of a missed leak).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cached_property

import polars as pl

SEP = "\x1f"

OMB_RACE = {
    "1002-5": "American Indian or Alaska Native",
    "2028-9": "Asian",
    "2054-5": "Black or African American",
    "2076-8": "Native Hawaiian or Other Pacific Islander",
    "2106-3": "White",
    "2131-1": "Other Race",
    "UNK": "Unknown",
    "ASKU": "Asked but no answer",
}
OMB_ETHNICITY = {
    "2135-2": "Hispanic or Latino",
    "2186-5": "Not Hispanic or Latino",
    "UNK": "Unknown",
    "ASKU": "Asked but no answer",
}
ADMINISTRATIVE_GENDER = {"male": "Male", "female": "Female", "other": "Other", "unknown": "Unknown"}
BIRTH_SEX = {
    "F": "Female",
    "M": "Male",
    "UNK": "Unknown",
    "OTH": "Other",
    "ASKU": "Asked but unknown",
}
MARITAL_STATUS = {
    "A": "Annulled",
    "D": "Divorced",
    "I": "Interlocutory",
    "L": "Legally Separated",
    "M": "Married",
    "C": "Common Law",
    "P": "Polygamous",
    "T": "Domestic partner",
    "U": "unmarried",
    "S": "Never Married",
    "W": "Widowed",
    "UNK": "unknown",
}
USPS_STATES = {
    "AL": "Alabama",
    "AK": "Alaska",
    "AZ": "Arizona",
    "AR": "Arkansas",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "DE": "Delaware",
    "DC": "District of Columbia",
    "FL": "Florida",
    "GA": "Georgia",
    "HI": "Hawaii",
    "ID": "Idaho",
    "IL": "Illinois",
    "IN": "Indiana",
    "IA": "Iowa",
    "KS": "Kansas",
    "KY": "Kentucky",
    "LA": "Louisiana",
    "ME": "Maine",
    "MD": "Maryland",
    "MA": "Massachusetts",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MS": "Mississippi",
    "MO": "Missouri",
    "MT": "Montana",
    "NE": "Nebraska",
    "NV": "Nevada",
    "NH": "New Hampshire",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NY": "New York",
    "NC": "North Carolina",
    "ND": "North Dakota",
    "OH": "Ohio",
    "OK": "Oklahoma",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "RI": "Rhode Island",
    "SC": "South Carolina",
    "SD": "South Dakota",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "VT": "Vermont",
    "VA": "Virginia",
    "WA": "Washington",
    "WV": "West Virginia",
    "WI": "Wisconsin",
    "WY": "Wyoming",
    "AS": "American Samoa",
    "GU": "Guam",
    "MP": "Northern Mariana Islands",
    "PR": "Puerto Rico",
    "VI": "U.S. Virgin Islands",
    "AA": "Armed Forces Americas",
    "AE": "Armed Forces Europe",
    "AP": "Armed Forces Pacific",
}
COUNTRY = {"US": "United States of America", "USA": "United States"}
# FHIR R4 status code systems of the resources silver keeps (encounter, observation, medication request /
# statement / dispense, procedure, document reference, condition clinical and verification status)
STATUS = {
    code: code.replace("-", " ").capitalize()
    for code in (
        "planned arrived triaged in-progress onleave finished cancelled entered-in-error unknown "
        "registered preliminary final amended corrected active on-hold completed stopped draft "
        "intended not-taken preparation not-done suspended inactive current superseded "
        "in-progress declined"
    ).split()
}
CONDITION_CLINICAL = {
    c: c.capitalize() for c in "active recurrence relapse inactive remission resolved".split()
}
CONDITION_VERIFICATION = {
    c: c.replace("-", " ").capitalize()
    for c in "unconfirmed provisional differential confirmed refuted entered-in-error".split()
}
CATEGORY = {
    # observation-category
    "social-history": "Social History",
    "vital-signs": "Vital Signs",
    "imaging": "Imaging",
    "laboratory": "Laboratory",
    "procedure": "Procedure",
    "survey": "Survey",
    "exam": "Exam",
    "therapy": "Therapy",
    "activity": "Activity",
    # condition-category
    "problem-list-item": "Problem List Item",
    "encounter-diagnosis": "Encounter Diagnosis",
    "health-concern": "Health Concern",
    # medicationrequest-category
    "inpatient": "Inpatient",
    "outpatient": "Outpatient",
    "community": "Community",
    "discharge": "Discharge",
    # us-core-documentreference-category
    "clinical-note": "Clinical Note",
}
ENCOUNTER_CLASS = {  # v3 ActCode
    "AMB": "ambulatory",
    "EMER": "emergency",
    "FLD": "field",
    "HH": "home health",
    "IMP": "inpatient encounter",
    "ACUTE": "inpatient acute",
    "NONAC": "inpatient non-acute",
    "OBSENC": "observation encounter",
    "PRENC": "pre-admission",
    "SS": "short stay",
    "VR": "virtual",
}
PRIORITY = {  # v3 ActPriority
    "A": "ASAP",
    "CR": "callback results",
    "CS": "callback for scheduling",
    "CSP": "callback placer for scheduling",
    "CSR": "contact recipient for scheduling",
    "EL": "elective",
    "EM": "emergency",
    "P": "preop",
    "PRN": "as needed",
    "R": "routine",
    "RR": "rush reporting",
    "S": "stat",
    "T": "timing critical",
    "UD": "use as directed",
    "UR": "urgent",
}
ADMIT_SOURCE = {
    "hosp-trans": "Transferred from other hospital",
    "emd": "From accident/emergency department",
    "outp": "From outpatient department",
    "born": "Born in hospital",
    "gp": "General Practitioner referral",
    "mp": "Medical Practitioner/physician referral",
    "nursing": "From nursing home",
    "psych": "From psychiatric hospital",
    "rehab": "From rehabilitation facility",
    "other": "Other",
}
DISCHARGE_DISPOSITION = {
    "home": "Home",
    "alt-home": "Alternative home",
    "other-hcf": "Other healthcare facility",
    "hosp": "Hospice",
    "long": "Long-term care",
    "aadvice": "Left against advice",
    "exp": "Expired",
    "psy": "Psychiatric hospital",
    "rehab": "Rehabilitation",
    "snf": "Skilled nursing facility",
    "oth": "Other",
}
MEDICATION_INTENT = {
    c: c.replace("-", " ").capitalize()
    for c in "proposal plan order original-order reflex-order filler-order instance-order option".split()
}
MEDICATION_KIND = {  # the silver medications table's kinds: FHIR medication resource types
    "request": "MedicationRequest",
    "statement": "MedicationStatement",
    "administration": "MedicationAdministration",
    "dispense": "MedicationDispense",
}
INTERPRETATION = {  # v3 ObservationInterpretation (the common codes)
    "N": "Normal",
    "A": "Abnormal",
    "AA": "Critical abnormal",
    "H": "High",
    "HH": "Critical high",
    "L": "Low",
    "LL": "Critical low",
    "HU": "Significantly high",
    "LU": "Significantly low",
    "POS": "Positive",
    "NEG": "Negative",
    "IND": "Indeterminate",
    "DET": "Detected",
    "ND": "Not detected",
}
UCUM_UNITS = {
    u: u
    for u in (
        "% /min /[HPF] {beats}/min 1 a d h min s wk mo g kg mg ug ng pg fL L mL dL uL cm m mm "
        "mm[Hg] [in_i] [lb_av] Cel [degF] kg/m2 g/dL mg/dL ug/dL ng/dL mg/L ng/mL pg/mL ug/mL "
        "mmol/L umol/L nmol/L pmol/L mmol/mol mEq/L meq/L U/L IU/L [iU]/L mIU/mL uIU/mL "
        "10*3/uL 10*6/uL 10*9/L 10*12/L mL/min mL/min/{1.73_m2} mosm/kg [pH] {ratio} {score}"
    ).split()
}
RESOURCE_TYPES = {
    t: t
    for t in (
        "Patient Encounter Condition Observation MedicationRequest MedicationStatement "
        "MedicationAdministration MedicationDispense Procedure DocumentReference Organization "
        "Location Practitioner PractitionerRole Medication AllergyIntolerance Immunization "
        "CarePlan CareTeam Claim ExplanationOfBenefit DiagnosticReport Device Goal ImagingStudy "
        "Provenance ServiceRequest Specimen Coverage"
    ).split()
}

# Silver column -> the code systems whose codes and displays it holds.
COLUMN_VALUE_SETS: dict[str, tuple[Mapping[str, str], ...]] = {
    "race": (OMB_RACE,),
    "ethnicity": (OMB_ETHNICITY,),
    "gender": (ADMINISTRATIVE_GENDER,),
    "birth_sex": (BIRTH_SEX,),
    "marital_status": (MARITAL_STATUS,),
    "state": (USPS_STATES,),
    "country": (COUNTRY,),
    "status": (STATUS,),
    "clinical_status": (CONDITION_CLINICAL,),
    "verification_status": (CONDITION_VERIFICATION,),
    "category": (CATEGORY,),
    "class_code": (ENCOUNTER_CLASS,),
    "priority_code": (PRIORITY,),
    "admit_source": (ADMIT_SOURCE,),
    "discharge_disposition": (DISCHARGE_DISPOSITION,),
    "intent": (MEDICATION_INTENT,),
    "kind": (MEDICATION_KIND,),
    "interpretation": (INTERPRETATION,),
    "value_unit": (UCUM_UNITS,),
    "resource_type": (RESOURCE_TYPES,),
}


def normalize(value: str) -> str:
    """How coded values are compared: case and runs of white space do not matter."""
    return " ".join(value.split()).lower()


def normalized(expr: pl.Expr) -> pl.Expr:
    """``normalize`` as a Polars expression."""
    return expr.str.replace_all(r"\s+", " ").str.strip_chars().str.to_lowercase()


def _concepts(concepts: Iterable[tuple[str | None, str, str]]) -> frozenset[tuple[str, str, str]]:
    return frozenset(
        (system or "", str(code), normalize(display))
        for system, code, display in concepts
        if code is not None and display
    )


class Terminology:
    """Coded concepts (system, code, display) and per-column value sets; see the module docstring."""

    def __init__(
        self,
        concepts: Iterable[tuple[str | None, str, str]] = (),
        value_sets: Mapping[str, Iterable[Mapping[str, str]]] | None = None,
    ):
        self.concepts = _concepts(concepts)
        sets = COLUMN_VALUE_SETS if value_sets is None else value_sets
        self.value_sets: dict[str, frozenset[str]] = {
            column: frozenset(
                normalize(v) for system in systems for pair in system.items() for v in pair
            )
            for column, systems in sets.items()
        }

    def with_concepts(self, concepts: Iterable[tuple[str | None, str, str]]) -> Terminology:
        """This terminology plus the source's codings (system, code, display)."""
        out = Terminology(value_sets={})
        out.concepts = self.concepts | _concepts(concepts)
        out.value_sets = self.value_sets
        return out

    @cached_property
    def _keys(self) -> pl.Series:
        return pl.Series(
            sorted(f"{s}{SEP}{c}{SEP}{d}" for s, c, d in self.concepts), dtype=pl.String
        )

    @cached_property
    def _code_keys(self) -> pl.Series:  # for a display beside a code but no system
        return pl.Series(sorted({f"{c}{SEP}{d}" for _, c, d in self.concepts}), dtype=pl.String)

    def is_display(self, system: pl.Expr | None, code: pl.Expr, display: pl.Expr) -> pl.Expr:
        """Per row: is ``display`` the display that the row's code system gives the row's code?"""
        parts = [code.cast(pl.String), normalized(display)]
        if system is None:
            return pl.concat_str(parts, separator=SEP).is_in(self._code_keys).fill_null(False)
        key = pl.concat_str([system.cast(pl.String).fill_null(""), *parts], separator=SEP)
        return key.is_in(self._keys).fill_null(False)

    def in_value_set(self, column: str, value: pl.Expr) -> pl.Expr | None:
        """Per row: is the whole value a code or display of ``column``'s value set? None: no value set."""
        members = self.value_sets.get(column)
        if not members:
            return None
        return normalized(value).is_in(pl.Series(sorted(members), dtype=pl.String)).fill_null(False)


STANDARD = Terminology()
