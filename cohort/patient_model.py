"""Latent health state of one patient and the month-by-month simulation of five years of care.

State variables (drawn at the window start, then evolving):

* demographics / social: age, sex, race, smoking, alcohol, lives alone, family support,
  poor medication adherence (see :mod:`cohort.people`);
* BMI ``bmi0 + bmi_slope * t``;
* glycaemia: latent HbA1c ``a1c0 + a1c_slope * t`` where ``a1c0`` and ``a1c_slope`` rise with BMI
  and BMI gain; type 2 diabetes starts when it crosses 6.5 % and is *diagnosed* when an HbA1c
  >= 6.5 is drawn; treatment lowers the observed value (less with poor adherence);
* kidney function ``kf0 - kf_slope * t`` (faster decline with diabetes / hypertension / low
  baseline); creatinine = base / kf, eGFR by CKD-EPI 2021; CKD diagnosed when eGFR < 60 is seen;
* chronic conditions with onset days (baseline prevalence and monthly incidence both logistic /
  exponential in age, BMI, smoking and the other conditions);
* a Charlson-like burden score that drives visit frequency, ED visits, emergency admissions and
  death; acute admissions perturb labs and vitals, which recover incompletely by discharge.

Thirty-day readmission is decided at every live discharge by :data:`READMISSION_MODEL`, a logistic
model over the state at discharge (burden, age, prior admissions, abnormal discharge labs) and
what the discharge summary says (lives alone, poor adherence, declined home health, close
follow-up, family support). The label itself is never written: it emerges from the encounters.
"""

from __future__ import annotations

import math
from heapq import heappop, heappush
from random import Random

from . import notes
from .clock import MONTH_STARTS, WINDOW_END, WINDOW_START, age_at
from .people import Person, make_person
from .providers import Pool, make_uuid, rng_for
from .records import ConditionRec, DocRec, Encounter, MedOrder, ProcRec, Stay, Visit
from .vocab import PROCEDURES

# --------------------------------------------------------------------------------------------
# Fixed model parameters (documented in docs/cohort.md)
# --------------------------------------------------------------------------------------------

#: Logistic model for an unplanned readmission within 30 days of a live inpatient discharge.
READMISSION_MODEL: dict[str, float] = {
    "intercept": -2.85,
    "charlson_per_point": 0.15,  # Charlson-like burden at discharge, capped at 10
    "age_per_decade_over_65": 0.15,  # (age - 65) / 10, negative below 65
    "prior_admissions_365d": 0.35,  # inpatient admissions in the year before this one, capped at 4
    "abnormal_discharge_lab": 0.35,  # per abnormal value in the discharge-day panel, capped at 4
    "lives_alone": 0.50,
    "poor_adherence": 0.60,
    "declined_home_health": 0.60,
    "left_against_advice": 0.80,
    "close_followup": -0.60,
    "good_family_support": -0.45,
    "los_7_days_or_more": 0.25,
    "heart_failure_or_copd_admission": 0.30,
    "elective_admission": -1.00,
}

#: Charlson-like weights of the latent conditions (CKD weight 2 when eGFR < 30).
BURDEN_WEIGHTS: dict[str, float] = {
    "chf": 2.0,
    "dementia": 2.0,
    "liver": 2.0,
    "cancer": 2.0,
    "ckd": 1.0,
    "t2d": 1.0,
    "copd": 1.0,
    "cad": 1.0,
    "mi_hx": 1.0,
    "stroke_hx": 1.0,
    "afib": 1.0,
    "depression": 0.5,
}

#: Yearly rates: (intercept, burden slope, age slope per year over 60, poor-adherence effect)
EMERGENCY_ADMISSION_RATE = (-3.55, 0.38, 0.025, 0.25)
DEATH_RATE = (-10.6, 0.085, 0.20)  # intercept, per year of age, per burden point

ANTIHYPERTENSIVES = ("lisinopril", "losartan", "amlodipine", "hctz", "metoprolol", "carvedilol")
ANTICOAGULANTS = ("apixaban", "warfarin")

# Acute admission diagnoses: lab/vital perturbations at admission ("_x" = multiplicative)
ACUTE_EFFECTS: dict[str, dict[str, float]] = {
    "pneumonia": {"wbc": 6.0, "sodium": -2.0, "hr": 18.0, "glucose": 25.0},
    "sepsis": {
        "wbc": 10.0,
        "creat_x": 1.5,
        "sodium": -3.0,
        "hr": 28.0,
        "sbp": -22.0,
        "glucose": 35.0,
    },
    "chf_exac": {"bnp_x": 3.0, "sodium": -3.5, "creat_x": 1.25, "hr": 12.0},
    "copd_exac": {"wbc": 3.0, "hr": 15.0, "glucose": 20.0},
    "aki": {"creat_x": 2.3, "potassium": 0.7},
    "hip_fracture": {"hgb": -2.0, "hr": 8.0},
    "gi_bleed": {"hgb": -4.0, "hr": 20.0, "sbp": -15.0},
    "uti": {"wbc": 5.0, "creat_x": 1.2},
    "cellulitis": {"wbc": 4.0},
    "hyperglycemia": {"glucose": 280.0, "sodium": -4.0, "creat_x": 1.3, "potassium": 0.4},
    "nstemi": {"bnp_x": 1.8, "hr": 10.0},
    "afib_rvr": {"hr": 45.0, "bnp_x": 1.6},
    "stroke": {"sbp": 28.0},
    "syncope": {},
    "hepatic_enceph": {"sodium": -4.0, "hgb": -1.0},
    "hip_replacement": {"hgb": -2.0},
    "knee_replacement": {"hgb": -1.8},
    "pci": {},
    "colectomy": {"hgb": -1.5, "wbc": 3.0},
    "cholecystectomy": {"wbc": 2.0},
}
#: median length of stay (days) per admission diagnosis / elective procedure
LOS_MEDIAN = {
    "pneumonia": 4,
    "sepsis": 6,
    "chf_exac": 5,
    "copd_exac": 4,
    "aki": 4,
    "hip_fracture": 5,
    "gi_bleed": 4,
    "uti": 3,
    "cellulitis": 4,
    "hyperglycemia": 3,
    "nstemi": 3,
    "afib_rvr": 3,
    "stroke": 5,
    "syncope": 2,
    "hepatic_enceph": 5,
    "hip_replacement": 2,
    "knee_replacement": 2,
    "pci": 1,
    "colectomy": 5,
    "cholecystectomy": 1,
}
ELECTIVE_DX = {
    "hip_replacement": "oa_hip",
    "knee_replacement": "oa_knee",
    "pci": "cad",
    "colectomy": "cancer_colon",
    "cholecystectomy": "gallstones",
}
ELECTIVE_RATE = {
    "hip_replacement": 0.07,
    "knee_replacement": 0.06,
    "pci": 0.03,
    "colectomy": 0.6,
    "cholecystectomy": 0.3,
}

INPATIENT_PROCEDURES: dict[str, tuple[tuple[str, float], ...]] = {
    "pneumonia": (("cxr", 1.0), ("blood_culture", 0.6)),
    "sepsis": (("blood_culture", 1.0), ("cxr", 0.8)),
    "chf_exac": (("cxr", 1.0), ("echo", 0.6), ("ecg", 0.8)),
    "copd_exac": (("cxr", 1.0),),
    "aki": (("hemodialysis", 0.12),),
    "hip_fracture": (("hip_replacement", 0.7),),
    "gi_bleed": (("transfusion", 0.6), ("colonoscopy", 0.5)),
    "cellulitis": (("blood_culture", 0.3),),
    "nstemi": (("ecg", 1.0), ("echo", 0.7), ("pci", 0.55)),
    "afib_rvr": (("ecg", 1.0), ("echo", 0.5)),
    "stroke": (("ct_head", 1.0), ("echo", 0.5)),
    "syncope": (("ecg", 1.0), ("ct_head", 0.5), ("echo", 0.4)),
}
INPATIENT_MEDS = {
    "pneumonia": ("ceftriaxone", "azithromycin"),
    "sepsis": ("vancomycin", "cefepime"),
    "chf_exac": ("furosemide_iv",),
    "copd_exac": ("prednisone", "azithromycin"),
    "hip_fracture": ("oxycodone", "acetaminophen"),
    "gi_bleed": ("pantoprazole",),
    "uti": ("ceftriaxone",),
    "cellulitis": ("vancomycin",),
    "hyperglycemia": ("lispro",),
    "hip_replacement": ("oxycodone", "acetaminophen"),
    "knee_replacement": ("oxycodone", "acetaminophen"),
    "colectomy": ("acetaminophen",),
    "cholecystectomy": ("acetaminophen",),
}
DISCHARGE_COURSES = {
    "pneumonia": ("amox_clav",),
    "sepsis": ("amox_clav",),
    "copd_exac": ("prednisone",),
    "hip_fracture": ("oxycodone", "acetaminophen"),
    "uti": ("cephalexin",),
    "cellulitis": ("cephalexin",),
    "hip_replacement": ("oxycodone", "enoxaparin"),
    "knee_replacement": ("oxycodone", "enoxaparin"),
    "gi_bleed": ("pantoprazole",),
}
#: chronic conditions an admission diagnosis establishes
NEW_CHRONIC = {
    "chf_exac": ("chf",),
    "nstemi": ("cad", "mi_hx"),
    "afib_rvr": ("afib",),
    "stroke": ("stroke_hx",),
    "hepatic_enceph": ("liver",),
    "hyperglycemia": ("t2d",),
}
DX_STARTS_MEDS = {
    "hepatic_enceph": ("lactulose", "rifaximin"),
    "nstemi": ("clopidogrel",),
    "stroke": ("clopidogrel",),
    "gi_bleed": (),
}

ED_DX = (
    "chest_pain",
    "back_pain",
    "abd_pain",
    "headache",
    "dizziness",
    "gastroenteritis",
    "uti",
    "cellulitis",
    "copd_exac",
    "hyperglycemia",
    "syncope",
)
ED_PROCEDURES = {
    "chest_pain": (("ecg", 1.0), ("cxr", 0.7)),
    "syncope": (("ecg", 1.0), ("ct_head", 0.5)),
    "headache": (("ct_head", 0.4),),
    "copd_exac": (("cxr", 0.8),),
    "dizziness": (("ecg", 0.7),),
}
ED_MEDS = {
    "uti": ("nitrofurantoin",),
    "cellulitis": ("cephalexin",),
    "copd_exac": ("prednisone",),
    "gastroenteritis": ("ondansetron",),
    "abd_pain": ("ondansetron",),
    "back_pain": ("ibuprofen",),
}
COURSE_DAYS = {
    "amox_clav": 5,
    "cephalexin": 7,
    "nitrofurantoin": 5,
    "prednisone": 5,
    "azithromycin": 5,
    "oxycodone": 7,
    "acetaminophen": 14,
    "enoxaparin": 14,
    "ondansetron": 3,
    "ibuprofen": 7,
    "pantoprazole": 56,
}

#: conditions with a yearly incidence hazard (the others follow latent trajectories)
INCIDENT = ("htn", "hld", "cad", "afib", "chf", "copd", "cancer", "depression", "dementia")
#: the history is simulated in quarterly steps; events get a uniform day inside the step
STEPS_PER_YEAR = 4
STEP_STARTS = (
    MONTH_STARTS[::3]
    if (len(MONTH_STARTS) - 1) % 3 == 0
    else MONTH_STARTS[::3] + [MONTH_STARTS[-1]]
)

# event kinds (ordering inside one day: follow-up/visits before acute events)
OP, FU, ED, IP, EL, RA, DEATH = range(7)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def egfr_ckd_epi_2021(creat: float, age: float, female: bool) -> float:
    k, a = (0.7, -0.241) if female else (0.9, -0.302)
    r = creat / k
    v = 142.0 * (min(r, 1.0) ** a) * (max(r, 1.0) ** -1.2) * (0.9938**age)
    return v * 1.012 if female else v


def readmission_logit(
    burden: float,
    age: float,
    prior: int,
    abnormal: int,
    lives_alone: bool,
    poor_adherence: bool,
    declined_hh: bool,
    ama: bool,
    close_fu: bool,
    family_support: bool,
    los: int,
    dx: str,
    elective: bool,
) -> float:
    m = READMISSION_MODEL
    return (
        m["intercept"]
        + m["charlson_per_point"] * min(burden, 10.0)
        + m["age_per_decade_over_65"] * (age - 65) / 10.0
        + m["prior_admissions_365d"] * min(prior, 4)
        + m["abnormal_discharge_lab"] * min(abnormal, 4)
        + m["lives_alone"] * lives_alone
        + m["poor_adherence"] * poor_adherence
        + m["declined_home_health"] * declined_hh
        + m["left_against_advice"] * ama
        + m["close_followup"] * close_fu
        + m["good_family_support"] * family_support
        + m["los_7_days_or_more"] * (los >= 7)
        + m["heart_failure_or_copd_admission"] * (dx in ("chf_exac", "copd_exac"))
        + m["elective_admission"] * elective
    )


class PatientRecord:
    """Everything generated for one patient, in creation order."""

    __slots__ = ("person", "encounters", "conditions", "meds", "procs", "docs", "stays", "deceased")

    def __init__(self, person: Person):
        self.person = person
        self.encounters: list[Encounter] = []
        self.conditions: list[ConditionRec] = []
        self.meds: list[MedOrder] = []
        self.procs: list[ProcRec] = []
        self.docs: list[DocRec] = []
        self.stays: list[Stay] = []
        self.deceased: tuple[int, int] | None = None


class PatientSim:
    """Simulates one patient's history; ``run()`` returns a :class:`PatientRecord`."""

    def __init__(self, rng: Random, ids: Random, nrng: Random, person: Person, pool: Pool):
        self.rng, self.ids, self.nrng, self.p, self.pool = rng, ids, nrng, person, pool
        self.rec = PatientRecord(person)
        self.female = person.sex == "female"
        self.onset: dict[str, int] = {}
        self.recorded: dict[str, ConditionRec] = {}
        self.active: dict[str, MedOrder] = {}
        self.last_lab_day: dict[str, int] = {}
        self.last_lab: dict[str, float] = {}
        self.busy_until = WINDOW_START - 1
        self.ip_block_until = WINDOW_START - 1
        self.dead = False
        self.done_elective: set[str] = set()
        self.cancer_key: str | None = None
        self.heap: list[tuple[int, int, int, object]] = []
        self.seq = 0
        self._egfr: dict[int, float] = {}  # latent eGFR by day (a pure function of the day)
        self._baseline()

    # ---------------------------------------------------------------- latent state
    def _baseline(self) -> None:
        r, p = self.rng, self.p
        g = r.gauss
        age0 = (WINDOW_START - p.birth) / 365.25
        self.age0 = age0
        black = p.race[0] == "2054-5"
        male = not self.female
        current = p.smoker == "current"
        former = p.smoker == "former"
        self.bmi0 = min(
            62.0,
            max(17.0, math.exp(g(math.log(28.0), 0.19)) + (0.8 if black and self.female else 0.0)),
        )
        self.bmi_slope = g(0.12 - 0.004 * (age0 - 50), 0.35)
        self.a1c0 = (
            4.95
            + 0.018 * (age0 - 40)
            + 0.07 * (self.bmi0 - 27)
            + 0.2 * black
            + 0.15 * p.hispanic
            + g(0, 0.5)
        )
        self.a1c_slope = max(
            -0.05, g(0.03 + 0.025 * (self.bmi0 - 27) / 5 + 0.12 * self.bmi_slope, 0.07)
        )
        self.kf0 = min(1.35, max(0.1, 1.02 - 0.0055 * max(0.0, age0 - 35) + g(0, 0.13)))
        self.cbase = 0.72 if self.female else 0.95
        self.hgb0 = (13.4 if self.female else 14.9) + g(0, 0.8)
        self.wbc0 = min(11.0, max(3.8, g(7.0, 1.4)))
        self.na0 = g(139.5, 1.4)
        self.hr0 = g(72, 7)
        self.sbp_off = g(0, 8)
        self.bnp_mult = math.exp(g(0, 0.35))
        self.bnp_chf = math.exp(g(math.log(380.0), 0.5))
        self.kf_slope = 0.0

        def has(logit: float) -> bool:
            return r.random() < sigmoid(logit)

        t2d = self.a1c0 >= 6.5
        on = {}
        if t2d:
            on["t2d"] = 1
        elif self.a1c0 >= 5.7:
            on["prediabetes"] = 1
        htn = has(-5.3 + 0.07 * age0 + 0.07 * (self.bmi0 - 27) + 0.5 * black + 0.4 * t2d)
        if htn:
            on["htn"] = 1
        if has(-4.5 + 0.06 * age0 + 0.3 * t2d):
            on["hld"] = 1
        cad = has(-7.6 + 0.075 * age0 + 0.7 * male + 0.6 * current + 0.5 * t2d + 0.4 * htn)
        if cad:
            on["cad"] = 1
            if r.random() < 0.25:
                on["mi_hx"] = 1
        afib = has(-8.6 + 0.08 * age0 + 0.3 * htn + 0.3 * male + 0.02 * (self.bmi0 - 27))
        if afib:
            on["afib"] = 1
        if has(
            -8.6
            + 0.06 * age0
            + 1.1 * cad
            + 0.6 * htn
            + 0.9 * afib
            + 0.5 * t2d
            + 0.04 * (self.bmi0 - 27)
        ):
            on["chf"] = 1
        if has(-6.8 + 0.045 * age0 + 2.2 * current + 1.3 * former):
            on["copd"] = 1
        if has(-2.3 + 0.35 * self.female):
            on["depression"] = 1
        if has(-7.0 + 0.06 * age0):
            on["cancer"] = 1
        if has(-5.8 + 0.015 * age0 + 1.8 * p.alcohol + 0.06 * max(0.0, self.bmi0 - 30)):
            on["liver"] = 1
        if has(-13.0 + 0.13 * age0):
            on["dementia"] = 1
        if has(-8.6 + 0.07 * age0 + 0.5 * htn + 0.7 * afib + 0.3 * t2d):
            on["stroke_hx"] = 1
        if has(-6.5 + 0.06 * age0 + 0.05 * (self.bmi0 - 27)):
            on["oa_hip"] = 1
        if has(-6.0 + 0.06 * age0 + 0.08 * (self.bmi0 - 27)):
            on["oa_knee"] = 1
        if has(-4.6 + 0.5 * self.female + 0.05 * (self.bmi0 - 27)):
            on["gallstones"] = 1
        if self.bmi0 >= 30:
            on["obesity"] = 1
        if self.egfr_true(WINDOW_START) < 60:
            on["ckd"] = 1
        max_back = max(0.5, min(15.0, age0 - 18))
        for k in on:
            on[k] = WINDOW_START - int(r.uniform(0.3, max_back) * 365.25)
        self.onset = on
        if "cancer" in on:
            self._pick_cancer()
        self.kf_slope = (
            0.004 + 0.007 * t2d + 0.004 * htn + 0.012 * (self.kf0 < 0.6) + abs(g(0, 0.006))
        )

    def _pick_cancer(self) -> None:
        u = self.rng.random()
        first = "cancer_breast" if self.female else "cancer_prostate"
        self.cancer_key = first if u < 0.45 else ("cancer_colon" if u < 0.7 else "cancer_lung")

    def years(self, d: int) -> float:
        return (d - WINDOW_START) / 365.25

    def age(self, d: int) -> float:
        return (d - self.p.birth) / 365.25

    def bmi(self, d: int) -> float:
        return max(15.0, self.bmi0 + self.bmi_slope * self.years(d))

    def a1c_true(self, d: int) -> float:
        return min(13.5, self.a1c0 + self.a1c_slope * max(0.0, self.years(d)))

    def kf(self, d: int) -> float:
        return max(0.07, self.kf0 - self.kf_slope * max(0.0, self.years(d)))

    def creat_true(self, d: int) -> float:
        return self.cbase / self.kf(d)

    def egfr_true(self, d: int) -> float:
        v = self._egfr.get(d)
        if v is None:
            v = self._egfr[d] = egfr_ckd_epi_2021(self.creat_true(d), self.age(d), self.female)
        return v

    def burden(self, d: int) -> float:
        b = 0.0
        on = self.onset
        for k, w in BURDEN_WEIGHTS.items():
            if k in on and on[k] <= d:
                b += w
        if "ckd" in on and self.egfr_true(d) < 30:
            b += 1.0
        return b

    # ---------------------------------------------------------------- observed values
    def lab_values(
        self,
        d: int,
        keys,
        inpatient: bool = False,
        effects: dict[str, float] | None = None,
        scale: float = 1.0,
    ) -> dict[str, float]:
        g = self.rng.gauss
        poor = self.p.poor_adherence
        on = self.onset
        act = self.active
        age = self.age(d)
        out: dict[str, float] = {}
        eff = effects or {}
        creat = None
        for k in keys:
            if k == "a1c" or k == "glucose":
                if "a1c" in out:
                    a1c = out["a1c"]
                else:
                    a1c = self.a1c_true(d)
                    if "metformin" in act:
                        a1c -= 0.35 if poor else 0.9
                    if "glargine" in act:
                        a1c -= 0.5 if poor else 1.3
                    if "empagliflozin" in act:
                        a1c -= 0.3 if poor else 0.6
                    a1c = min(14.5, max(4.3, a1c + g(0, 0.15)))
                if k == "a1c":
                    out[k] = round(a1c, 1)
                else:
                    v = 28.7 * a1c - 54.7 + g(0, 12.0)
                    if inpatient:
                        v += 25.0 + abs(g(0, 25.0))
                    v += eff.get("glucose", 0.0) * scale
                    out[k] = float(round(max(45.0, v)))
            elif k == "creat" or k == "egfr":
                if creat is None:
                    creat = self.creat_true(d) * (1.0 + g(0, 0.05))
                    x = eff.get("creat_x")
                    if x:
                        creat *= 1.0 + (x - 1.0) * scale
                if k == "creat":
                    out[k] = round(creat, 2)
                else:
                    out[k] = float(round(egfr_ckd_epi_2021(creat, age, self.female)))
            elif k == "hgb":
                egfr = self.egfr_true(d)
                v = (
                    self.hgb0
                    - 1.3 * (egfr < 45)
                    - 0.8 * (egfr < 60)
                    - 1.2 * ("cancer" in on)
                    - 0.8 * ("liver" in on)
                    - 0.6 * (age > 80)
                    + g(0, 0.4)
                )
                out[k] = round(max(5.0, v + eff.get("hgb", 0.0) * scale), 1)
            elif k == "wbc":
                v = (
                    self.wbc0
                    + 0.6 * ("copd" in on)
                    + 0.4 * (self.p.smoker == "current")
                    + g(0, 0.7)
                )
                out[k] = round(max(1.5, v + eff.get("wbc", 0.0) * scale), 1)
            elif k == "sodium":
                v = self.na0 - 2.5 * ("chf" in on) - 3.0 * ("liver" in on) + g(0, 1.4)
                out[k] = float(round(v + eff.get("sodium", 0.0) * scale))
            elif k == "potassium":
                egfr = self.egfr_true(d)
                v = (
                    4.15
                    + 0.25 * (egfr < 45)
                    + 0.35 * (egfr < 30)
                    + 0.25 * ("lisinopril" in act or "losartan" in act or "spironolactone" in act)
                    - 0.25 * ("furosemide" in act or "hctz" in act)
                    + g(0, 0.3)
                )
                out[k] = round(max(2.5, v + eff.get("potassium", 0.0) * scale), 1)
            elif k == "bnp":
                if "chf" in on and on["chf"] <= d:
                    v = self.bnp_chf * ((0.95 if poor else 0.65) if "furosemide" in act else 1.0)
                else:
                    v = (
                        max(5.0, 20.0 + 1.1 * (age - 40))
                        * (1.5 if self.egfr_true(d) < 60 else 1.0)
                        * (1.6 if "afib" in on else 1.0)
                    )
                v *= self.bnp_mult * math.exp(g(0, 0.25))
                x = eff.get("bnp_x")
                if x:
                    v *= 1.0 + (x - 1.0) * scale
                out[k] = float(round(min(v, 9000.0)))
            elif k == "hr":
                v = self.hr0 + 8 * ("afib" in on) + 5 * ("copd" in on) + g(0, 6)
                if "metoprolol" in act or "carvedilol" in act:
                    v -= 2 if poor else 6
                if "afib" in on:
                    v += g(0, 8)
                out[k] = float(round(min(180.0, max(40.0, v + eff.get("hr", 0.0) * scale))))
            elif k == "sbp" or k == "dbp":
                if "sbp" not in out:
                    n = sum(1 for m in ANTIHYPERTENSIVES if m in act)
                    s = (
                        117
                        + 0.45 * (age - 40)
                        + 0.55 * (self.bmi(d) - 27)
                        + 16 * ("htn" in on)
                        + self.sbp_off
                        - n * (3 if poor else 7)
                        + g(0, 9)
                    )
                    s += eff.get("sbp", 0.0) * scale
                    out["sbp"] = float(round(min(230.0, max(75.0, s))))
                if k == "dbp":
                    s = out["sbp"]
                    out["dbp"] = float(
                        round(min(130.0, max(40.0, 0.42 * s + 22 - 0.12 * (age - 50) + g(0, 5))))
                    )
            elif k == "bmi":
                out[k] = round(self.bmi(d) + g(0, 0.3), 1)
        return out

    # ---------------------------------------------------------------- record helpers
    def _id(self) -> str:
        return make_uuid(self.ids)

    def _push(self, day: int, kind: int, payload: object = None) -> None:
        self.seq += 1
        heappush(self.heap, (day, kind, self.seq, payload))

    def _encounter(
        self,
        cls: str,
        type_key: str,
        priority: str,
        sd: int,
        sm: int,
        ed: int,
        em: int,
        org,
        locations,
        prac,
        reason,
    ) -> Encounter:
        enc = Encounter(
            self._id(), cls, type_key, priority, sd, sm, ed, em, org, locations, prac, reason
        )
        self.rec.encounters.append(enc)
        return enc

    def _observe(self, enc: Encounter, d: int, minute: int, values: dict[str, float]) -> None:
        obs = enc.obs
        for k, v in values.items():
            obs.append((k, d, minute, v))
            self.last_lab_day[k] = d
            self.last_lab[k] = v

    def _condition(
        self,
        key: str,
        category: str,
        enc: Encounter,
        onset_day: int,
        onset_min: int,
        day: int,
        minute: int,
        status: str = "active",
        abatement=None,
    ) -> ConditionRec:
        c = ConditionRec(
            self._id(), key, category, onset_day, onset_min, day, minute, enc, status, abatement
        )
        self.rec.conditions.append(c)
        return c

    def _cond_key(self, key: str) -> str:
        if key == "cancer":
            return self.cancer_key or "cancer_colon"
        return key

    def _record(
        self,
        key: str,
        enc: Encounter,
        d: int,
        minute: int,
        onset_day: int | None = None,
        started: list[str] | None = None,
    ) -> None:
        """Put a chronic condition on the problem list and start its usual medications (for an
        inpatient stay: prescribed at discharge)."""
        if key in self.recorded:
            return
        onset = d if onset_day is None else min(onset_day, d)
        c = self._condition(
            self._cond_key(key),
            "problem-list-item",
            enc,
            onset,
            self.rng.randrange(1440) if onset < d else minute,
            d,
            minute,
        )
        self.recorded[key] = c
        if key == "t2d" and "prediabetes" in self.recorded:
            pre = self.recorded["prediabetes"]
            pre.status, pre.abatement = "resolved", (d, minute)
        if enc.cls == "IMP":
            d, minute = enc.end_day, enc.end_min
        self._start_meds_for(key, c, enc, d, minute, started)

    def _order(
        self,
        key: str,
        enc: Encounter,
        d: int,
        minute: int,
        category: str,
        reason: ConditionRec | None = None,
        course: int | None = None,
    ) -> MedOrder:
        o = MedOrder(
            self._id(),
            key,
            d,
            minute,
            enc,
            enc.practitioner,
            category,
            reason,
            course_end=None if course is None else d + course,
        )
        self.rec.meds.append(o)
        return o

    def _start(
        self,
        key: str,
        reason: ConditionRec | None,
        enc: Encounter,
        d: int,
        minute: int,
        started: list[str] | None,
    ) -> None:
        if key in self.active:
            return
        o = self._order(
            key, enc, d, minute, "outpatient" if enc.cls == "AMB" else "discharge", reason
        )
        self.active[key] = o
        if started is not None:
            started.append(key)

    def _start_meds_for(
        self,
        key: str,
        c: ConditionRec,
        enc: Encounter,
        d: int,
        minute: int,
        started: list[str] | None,
    ) -> None:
        r = self.rng.random
        act = self.active
        s = self._start
        if key == "t2d":
            if self.egfr_true(d) >= 30:
                s("metformin", c, enc, d, minute, started)
            else:
                s("glargine", c, enc, d, minute, started)
            if ("chf" in self.recorded or "ckd" in self.recorded) and r() < 0.4:
                s("empagliflozin", c, enc, d, minute, started)
        elif key == "htn":
            if "lisinopril" not in act and "losartan" not in act:
                s("lisinopril" if r() < 0.72 else "losartan", c, enc, d, minute, started)
            if r() < 0.3:
                s("amlodipine" if r() < 0.6 else "hctz", c, enc, d, minute, started)
        elif key == "hld":
            s("atorvastatin", c, enc, d, minute, started)
        elif key in ("cad", "mi_hx"):
            s("aspirin", c, enc, d, minute, started)
            s("atorvastatin", c, enc, d, minute, started)
            if "carvedilol" not in act:
                s("metoprolol", c, enc, d, minute, started)
        elif key == "chf":
            s("furosemide", c, enc, d, minute, started)
            if "metoprolol" not in act:
                s("carvedilol", c, enc, d, minute, started)
            if "lisinopril" not in act and "losartan" not in act:
                s("lisinopril", c, enc, d, minute, started)
            if r() < 0.4:
                s("spironolactone", c, enc, d, minute, started)
        elif key == "afib":
            if not any(a in act for a in ANTICOAGULANTS):
                s("apixaban" if r() < 0.7 else "warfarin", c, enc, d, minute, started)
            if "carvedilol" not in act:
                s("metoprolol", c, enc, d, minute, started)
        elif key == "copd":
            s("albuterol", c, enc, d, minute, started)
            if r() < 0.6:
                s("tiotropium", c, enc, d, minute, started)
        elif key == "depression":
            if "escitalopram" not in act:
                s("sertraline" if r() < 0.6 else "escitalopram", c, enc, d, minute, started)
        elif key == "dementia":
            if r() < 0.6:
                s("donepezil", c, enc, d, minute, started)
        elif key == "liver":
            if r() < 0.5:
                s("spironolactone", c, enc, d, minute, started)
        elif key == "stroke_hx":
            s("clopidogrel", c, enc, d, minute, started)
            s("atorvastatin", c, enc, d, minute, started)

    def _stop(self, key: str, stopped: list[str] | None = None) -> None:
        o = self.active.pop(key, None)
        if o is not None:
            o.status = "stopped"
            if stopped is not None:
                stopped.append(key)

    def _record_pending(
        self,
        enc: Encounter,
        d: int,
        minute: int,
        started: list[str] | None,
        new_dx: list[str] | None,
    ) -> None:
        """Record conditions whose onset passed but which are not on the problem list yet
        (except the ones that need a lab to be diagnosed)."""
        for key, day in self.onset.items():
            if key in self.recorded or day > d:
                continue
            if day >= WINDOW_START and key in ("t2d", "prediabetes", "ckd", "obesity"):
                continue  # diagnosed from an observation
            self._record(key, enc, d, minute, onset_day=day, started=started)
            if new_dx is not None and day >= WINDOW_START:
                new_dx.append(key)

    def _diagnose_from_labs(
        self,
        values: dict[str, float],
        enc: Encounter,
        d: int,
        minute: int,
        started: list[str] | None,
        new_dx: list[str] | None,
    ) -> None:
        def dx(key: str) -> None:
            if key not in self.recorded:
                self.onset.setdefault(key, d)
                self._record(key, enc, d, minute, started=started)
                if new_dx is not None:
                    new_dx.append(key)

        a1c = values.get("a1c")
        if a1c is not None:
            if a1c >= 6.5:
                dx("t2d")
            elif a1c >= 5.7 and "t2d" not in self.recorded:
                dx("prediabetes")
        egfr = values.get("egfr")
        if egfr is not None and egfr < 60 and enc.cls == "AMB" and self.egfr_true(d) < 62:
            dx("ckd")
        bmi = values.get("bmi")
        if bmi is not None and bmi >= 30 and enc.cls == "AMB":
            dx("obesity")
        hgb = values.get("hgb")
        if hgb is not None and hgb < 11 and enc.cls == "AMB":
            dx("anemia")

    # ---------------------------------------------------------------- main loop
    def run(self) -> PatientRecord:
        r = self.rng
        p = self.p
        poor = p.poor_adherence
        interval = self._visit_interval(WINDOW_START)
        self._push(WINDOW_START + r.randrange(int(interval)), OP)
        for mi in range(len(STEP_STARTS) - 1):
            ms, me = STEP_STARTS[mi], STEP_STARTS[mi + 1]
            span = me - ms
            self._incidence(ms, hazards=mi % STEPS_PER_YEAR == 0)
            b = self.burden(ms)
            age = self.age(ms)
            ed_rate = (
                0.16 + 0.08 * b + 0.08 * (age >= 80) + 0.08 * poor + 0.05 * (p.smoker == "current")
            )
            a0, a1, a2, a3 = EMERGENCY_ADMISSION_RATE
            ip_rate = math.exp(a0 + a1 * min(b, 8.0) + a2 * (age - 60) + a3 * poor)
            d0, d1, d2 = DEATH_RATE
            death_rate = math.exp(d0 + d1 * age + d2 * b)
            for _ in range(2):  # up to two ED visits per step
                if r.random() < ed_rate / STEPS_PER_YEAR / 2:
                    self._push(ms + r.randrange(span), ED)
            if r.random() < ip_rate / STEPS_PER_YEAR:
                self._push(ms + r.randrange(span), IP)
            if r.random() < death_rate / STEPS_PER_YEAR:
                self._push(ms + r.randrange(span), DEATH)
            if 50 <= age <= 88:
                for proc, cond in ELECTIVE_DX.items():
                    if proc in self.done_elective:
                        continue
                    on = self.onset.get(cond if cond != "cancer_colon" else "cancer")
                    if (
                        on is None
                        or on > ms
                        or (cond == "cancer_colon" and self.cancer_key != "cancer_colon")
                    ):
                        continue
                    if r.random() < ELECTIVE_RATE[proc] / STEPS_PER_YEAR:
                        self._push(ms + r.randrange(span), EL, proc)
                        self.done_elective.add(proc)
            heap = self.heap
            while heap and heap[0][0] < me and not self.dead:
                day, kind, _, payload = heappop(heap)
                self._dispatch(day, kind, payload)
            if self.dead:
                break
        self._finalise()
        return self.rec

    def _visit_interval(self, d: int) -> float:
        b = self.burden(d)
        base = 365.0 / (1.0 + 0.5 * b + 0.3 * (self.age(d) >= 65))
        return min(420.0, max(75.0, base)) * self.rng.uniform(0.75, 1.25)

    def _incidence(self, ms: int, hazards: bool) -> None:
        """New chronic conditions: threshold crossings of the latent trajectories (every step) and,
        once a year, yearly hazards for the others (onset uniform within the coming year)."""
        r = self.rng.random
        on = self.onset
        age = self.age(ms)
        bmi = self.bmi(ms)
        t2d = "t2d" in on
        if not t2d:
            a1c = self.a1c_true(ms)
            if a1c >= 6.5:
                on["t2d"] = ms
            elif a1c >= 5.7 and "prediabetes" not in on:
                on["prediabetes"] = ms
        if "ckd" not in on and self.egfr_true(ms) < 60:
            on["ckd"] = ms
        if "obesity" not in on and bmi >= 30:
            on["obesity"] = ms
        if not hazards:
            return
        for key in INCIDENT:
            if key in on:
                continue
            if key == "htn":
                rate = 0.025 * math.exp(0.035 * (age - 50) + 0.06 * (bmi - 27))
            elif key == "hld":
                rate = 0.02
            elif key == "cad":
                rate = 0.004 * math.exp(
                    0.06 * (age - 60)
                    + 0.6 * (not self.female)
                    + 0.5 * (self.p.smoker == "current")
                    + 0.4 * t2d
                )
            elif key == "afib":
                rate = 0.004 * math.exp(0.07 * (age - 65))
            elif key == "chf":
                rate = 0.003 * math.exp(
                    0.06 * (age - 65)
                    + 0.9 * ("cad" in on)
                    + 0.5 * ("htn" in on)
                    + 0.8 * ("afib" in on)
                    + 0.4 * t2d
                )
            elif key == "copd":
                if self.p.smoker != "current":
                    continue
                rate = 0.008 * math.exp(0.04 * (age - 60))
            elif key == "cancer":
                rate = 0.003 * math.exp(0.05 * (age - 60))
            elif key == "depression":
                rate = 0.012
            else:  # dementia
                rate = 0.008 * math.exp(0.1 * (age - 75))
            if r() < rate:
                on[key] = ms + int(r() * 365)
                if key == "cancer":
                    self._pick_cancer()

    def _dispatch(self, day: int, kind: int, payload) -> None:
        if day >= WINDOW_END:
            return
        if kind == DEATH:
            if day > self.busy_until:
                self.dead = True
                self.rec.deceased = (day, self.rng.randrange(1440))
            return
        if kind == OP:
            if day <= self.busy_until:
                self._push(self.busy_until + self.rng.randint(7, 28), OP)
                return
            self._outpatient(day, None)
            self._push(day + int(self._visit_interval(day)), OP)
        elif kind == FU:
            if day > self.busy_until:
                self._outpatient(day, payload)
        elif kind == ED:
            if day > self.busy_until:
                self._ed_visit(day)
        elif kind == IP:
            if day > self.busy_until and day > self.ip_block_until:
                self._admit(day, "emergency", None)
        elif kind == EL:
            if day <= self.busy_until or day <= self.ip_block_until:
                self._push(
                    max(self.busy_until, self.ip_block_until) + self.rng.randint(20, 60),
                    EL,
                    payload,
                )
            else:
                self._admit(day, "elective", payload)
        elif kind == RA:
            if day > self.busy_until:
                self._admit(day, "readmission", payload)

    # ---------------------------------------------------------------- outpatient
    def _outpatient(self, d: int, after_stay: Stay | None) -> None:
        r = self.rng
        p = self.p
        minute = r.randint(8 * 60, 16 * 60 + 30)
        dur = r.randint(15, 45)
        prac = p.pcp if r.random() < 0.88 else r.choice(p.clinic.staff["primary care"])
        type_key = (
            "followup" if after_stay is not None else ("checkup" if r.random() < 0.6 else "problem")
        )
        reason = after_stay.enc.reason if after_stay is not None else None
        enc = self._encounter(
            "AMB",
            type_key,
            "R",
            d,
            minute,
            d,
            minute + dur,
            p.clinic,
            [p.clinic.locations["clinic"]],
            prac,
            reason,
        )
        started: list[str] = []
        stopped: list[str] = []
        new_dx: list[str] = []
        self._record_pending(enc, d, minute, started, new_dx)
        vit = self.lab_values(d, ("hr", "sbp", "dbp", "bmi"))
        self._observe(enc, d, minute + 5, vit)
        rec = self.recorded
        last = self.last_lab_day
        keys: list[str] = []
        chronic = "t2d" in rec or "ckd" in rec or "htn" in rec or "chf" in rec
        since = d - last.get("creat", -99999)
        if since > 330 or (chronic and since > 150) or after_stay is not None:
            keys += ["glucose", "creat", "egfr", "sodium", "potassium"]
        since = d - last.get("hgb", -99999)
        if (
            since > 360
            or (
                ("ckd" in rec or "cancer" in rec or "anemia" in rec or "liver" in rec)
                and since > 170
            )
            or (after_stay is not None and after_stay.dx in ("gi_bleed", "hip_fracture", "sepsis"))
        ):
            keys += ["hgb", "wbc"]
        since = d - last.get("a1c", -99999)
        age = self.age(d)
        if (
            ("t2d" in rec and since > 80)
            or ("prediabetes" in rec and since > 330)
            or ((age >= 35 or self.bmi(d) >= 25) and since > 1000)
            or (self.last_lab.get("glucose", 0) >= 126 and since > 180)
        ):
            keys.append("a1c")
        if "chf" in rec and d - last.get("bnp", -99999) > 330:
            keys.append("bnp")
        labs: dict[str, float] = {}
        if keys:
            labs = self.lab_values(d, keys)
            self._observe(enc, d, minute + 10, labs)
        self._diagnose_from_labs(vit, enc, d, minute, started, new_dx)
        self._diagnose_from_labs(labs, enc, d, minute, started, new_dx)
        self._manage_meds(enc, d, minute, vit, labs, started, stopped)
        if after_stay is not None or r.random() < 0.35:
            visit = Visit(
                enc,
                vit,
                labs,
                [c.key for c in self.recorded.values() if c.status == "active"],
                [self._cond_key(k) for k in new_dx],
                started,
                stopped,
                list(self.active),
                after_stay,
            )
            text = notes.progress_note(self.nrng, p, visit, self.age(d))
            self.rec.docs.append(
                DocRec(
                    self._id(),
                    "progress",
                    enc,
                    d,
                    min(1439, minute + dur + r.randint(5, 120)),
                    prac,
                    text,
                )
            )

    def _manage_meds(
        self, enc: Encounter, d: int, minute: int, vit, labs, started, stopped
    ) -> None:
        act = self.active
        egfr = labs.get("egfr")
        if egfr is not None and egfr < 30 and "metformin" in act:
            self._stop("metformin", stopped)
            self._start("glargine", self.recorded.get("t2d"), enc, d, minute, started)
        a1c = labs.get("a1c")
        if a1c is not None and a1c > 8.5 and "metformin" in act and "glargine" not in act:
            self._start("glargine", self.recorded.get("t2d"), enc, d, minute, started)
        sbp = vit.get("sbp", 0)
        if sbp >= 152 and "htn" in self.recorded and self.rng.random() < 0.5:
            for m in ("amlodipine", "hctz"):
                if m not in act:
                    self._start(m, self.recorded.get("htn"), enc, d, minute, started)
                    break
        # yearly renewal of chronic prescriptions
        for key in list(act):
            o = act[key]
            if d - o.day >= 330:
                o.status = "completed"
                n = self._order(key, enc, d, minute, "outpatient", o.reason)
                act[key] = n

    # ---------------------------------------------------------------- emergency department
    def _ed_visit(self, d: int) -> None:
        r = self.rng
        p = self.p
        on = self.onset
        age = self.age(d)
        w = (
            1.0 + 0.8 * ("cad" in on),
            1.0,
            0.9,
            0.6,
            0.5 + 0.01 * max(0.0, age - 50),
            0.6,
            0.5 + 0.3 * self.female,
            0.4 + 0.3 * ("t2d" in self.recorded),
            1.5 * ("copd" in on),
            0.5 * ("t2d" in self.recorded),
            0.3,
        )
        dx = r.choices(ED_DX, w)[0]
        hosp = p.hospital
        minute = r.randrange(1440)
        dur = r.randint(120, 480)
        end = minute + dur
        prac = r.choice(hosp.staff["emergency"])
        end_day, end_min = d + end // 1440, end % 1440
        if end_day >= WINDOW_END:
            end_day, end_min = d, 1439
        enc = self._encounter(
            "EMER", "ed", "EM", d, minute, end_day, end_min, hosp, [hosp.locations["ed"]], prac, dx
        )
        enc.admit_source = "emd"
        enc.disposition = "home"
        vit = self.lab_values(d, ("hr", "sbp", "dbp"), effects=ACUTE_EFFECTS.get(dx), scale=0.4)
        vm = minute + 10
        self._observe(enc, d + vm // 1440, vm % 1440, vit)
        if r.random() < 0.55:
            lm = minute + 40
            ld = d + lm // 1440
            labs = self.lab_values(
                ld,
                ("glucose", "creat", "egfr", "sodium", "potassium", "hgb", "wbc"),
                effects=ACUTE_EFFECTS.get(dx),
                scale=0.3,
            )
            self._observe(enc, ld, lm % 1440, labs)
        self._condition(
            dx,
            "encounter-diagnosis",
            enc,
            d,
            minute,
            d,
            minute,
            "resolved",
            (enc.end_day, enc.end_min),
        )
        for key, prob in ED_PROCEDURES.get(dx, ()):
            if r.random() < prob:
                pm = minute + r.randint(20, 90)
                self.rec.procs.append(
                    ProcRec(self._id(), key, enc, d + pm // 1440, pm % 1440, None, 0, prac)
                )
        for m in ED_MEDS.get(dx, ()):
            if m == "ibuprofen" and self.egfr_true(d) < 45:
                m = "acetaminophen"
            self._order(m, enc, enc.end_day, enc.end_min, "community", course=COURSE_DAYS.get(m, 5))

    # ---------------------------------------------------------------- inpatient
    def _choose_acute(self, d: int) -> str:
        on = self.onset
        a = self.age(d)
        t2d = "t2d" in on
        w = {
            "pneumonia": 1.0 + 1.2 * ("copd" in on) + 0.02 * max(0.0, a - 60),
            "sepsis": 0.5
            + 0.4 * t2d
            + 1.0 * ("cancer" in on)
            + 0.02 * max(0.0, a - 65)
            + 0.5 * ("dementia" in on),
            "chf_exac": 3.5 * ("chf" in on),
            "copd_exac": 2.5 * ("copd" in on),
            "aki": 0.3 + 1.0 * ("ckd" in on) + 0.3 * t2d,
            "hip_fracture": 0.05 * max(0.0, a - 65) * (1.6 if self.female else 1.0)
            + 0.6 * ("dementia" in on),
            "gi_bleed": 0.3
            + 2.0 * ("liver" in on)
            + 0.6 * any(k in self.active for k in ANTICOAGULANTS),
            "uti": 0.4 + 0.3 * self.female + 0.6 * ("dementia" in on),
            "cellulitis": 0.3 + 0.4 * t2d + 0.3 * ("obesity" in on),
            "hyperglycemia": 0.8 * ("t2d" in self.recorded),
            "nstemi": 0.2 + 1.2 * ("cad" in on),
            "afib_rvr": 1.2 * ("afib" in on),
            "stroke": 0.2 + 0.4 * ("afib" in on) + 0.2 * ("htn" in on) + 0.01 * max(0.0, a - 60),
            "syncope": 0.3 + 0.01 * max(0.0, a - 60),
            "hepatic_enceph": 2.0 * ("liver" in on),
        }
        return self.rng.choices(list(w), list(w.values()))[0]

    def _admit(self, d: int, kind: str, payload) -> None:
        r = self.rng
        p = self.p
        elective = kind == "elective"
        index: Stay | None = payload if kind == "readmission" else None
        if elective:
            dx = payload
        elif (
            index is not None
            and index.dx in ACUTE_EFFECTS
            and r.random() < 0.5
            and index.dx not in ELECTIVE_DX
        ):
            dx = index.dx
        else:
            dx = self._choose_acute(d)
        age = self.age(d)
        if d >= WINDOW_END - 1:
            return
        region_hosps = p.region.hospitals
        hosp = (
            p.hospital if (r.random() < 0.85 or len(region_hosps) == 1) else r.choice(region_hosps)
        )
        surgical = elective or dx == "hip_fracture"
        attending = r.choice(hosp.staff["surgeon" if surgical else "hospitalist"])
        los = max(
            1,
            min(
                15,
                int(round(LOS_MEDIAN[dx] * math.exp(r.gauss(0, 0.35)) + 0.03 * max(0.0, age - 65))),
            ),
        )
        if elective:
            sm = r.randint(6 * 60, 8 * 60)
            priority, admit_source, type_key = "EL", "mp", "ip_elective"
        else:
            sm = r.randrange(1440)
            priority = "UR" if r.random() < 0.2 else "EM"
            admit_source, type_key = "emd", "ip_emergency"
        end_day = d + los
        if end_day >= WINDOW_END:  # the history ends the day before the reference date
            end_day = WINDOW_END - 1
            los = end_day - d
        em = r.randint(10 * 60, 17 * 60)
        locs = [hosp.locations["surgical" if surgical else "ward"]]
        if dx in ("sepsis", "stroke", "nstemi") and r.random() < 0.35:
            locs.insert(0, hosp.locations["icu"])
        reason = ELECTIVE_DX[dx] if elective else dx
        enc = self._encounter(
            "IMP", type_key, priority, d, sm, end_day, em, hosp, locs, attending, reason
        )
        enc.admit_source = admit_source
        started: list[str] = []
        # problem list at admission (medication reconciliation: home medications, not new ones)
        self._record_pending(enc, d, sm, None, None)
        eff = ACUTE_EFFECTS.get(dx, {})
        sev = r.uniform(0.6, 1.4)
        residual = 0.7 * r.random() ** 2
        adm_scale = 0.0 if elective else sev
        dis_scale = sev * (0.6 if elective else residual)
        panel = ["glucose", "creat", "egfr", "sodium", "potassium", "hgb", "wbc"]
        if (
            dx in ("chf_exac", "copd_exac", "pneumonia", "nstemi", "afib_rvr")
            or "chf" in self.recorded
        ):
            panel.append("bnp")
        adm_panel = list(panel)
        if "t2d" in self.recorded and d - self.last_lab_day.get("a1c", -99999) > 90:
            adm_panel.append("a1c")
        lm = sm + 30
        adm_vitals = self.lab_values(
            d, ("hr", "sbp", "dbp"), inpatient=True, effects=eff, scale=adm_scale
        )
        adm_vitals.update(self.lab_values(d, ("bmi",)))
        self._observe(enc, d + lm // 1440, lm % 1440, adm_vitals)
        lm += 20
        adm_labs = self.lab_values(d, adm_panel, inpatient=True, effects=eff, scale=adm_scale)
        self._observe(enc, d + lm // 1440, lm % 1440, adm_labs)
        if los >= 4:
            md = d + los // 2
            mid = self.lab_values(
                md,
                panel[:7],
                inpatient=True,
                effects=eff,
                scale=adm_scale * 0.5 + dis_scale * 0.5 if not elective else dis_scale,
            )
            self._observe(enc, md, r.randint(300, 420), mid)
        dis_labs = self.lab_values(end_day, panel, inpatient=True, effects=eff, scale=dis_scale)
        self._observe(enc, end_day, r.randint(300, 420), dis_labs)
        dis_vitals = self.lab_values(
            end_day, ("hr", "sbp", "dbp"), inpatient=True, effects=eff, scale=dis_scale * 0.5
        )
        self._observe(enc, end_day, max(0, em - r.randint(60, 180)), dis_vitals)
        new_dx: list[str] = []
        self._diagnose_from_labs(
            {"a1c": adm_labs["a1c"]} if "a1c" in adm_labs else {}, enc, d, sm, started, new_dx
        )
        # diagnoses
        acute_status = "active" if dx == "chf_exac" else "resolved"
        if elective:
            base = "cancer" if reason == "cancer_colon" else reason
            self.onset.setdefault(base, d)
            self._record(base, enc, d, sm, started=started)
            self._condition(reason, "encounter-diagnosis", enc, self.onset[base], 0, d, sm + 30)
        else:
            self._condition(
                dx,
                "encounter-diagnosis",
                enc,
                d,
                sm,
                d,
                sm + 30,
                acute_status,
                (end_day, em) if acute_status == "resolved" else None,
            )
        for ck in NEW_CHRONIC.get(dx, ()):
            if ck not in self.onset or self.onset[ck] > d:
                self.onset[ck] = d
            if ck not in self.recorded:
                self._record(ck, enc, d, sm + 60, started=started)
                new_dx.append(ck)
        raw = [k for k in self.recorded if k != "prediabetes" and k != reason]
        comorb = [self._cond_key(k) for k in raw]
        secondary = [k for k in raw if k in BURDEN_WEIGHTS or k == "htn"]
        for k in secondary[:3]:
            self._condition(
                self._cond_key(k), "encounter-diagnosis", enc, self.onset.get(k, d), 0, d, sm + 45
            )
        # procedures
        procs: list[str] = []
        if elective:
            pday = d
            pm = sm + r.randint(60, 180)
            self._procedure(dx, enc, pday, pm, attending, procs)
        for key, prob in INPATIENT_PROCEDURES.get(dx, ()):
            if r.random() < prob:
                if key == "pci" and los < 1:
                    continue
                pday = d + (
                    0
                    if key in ("cxr", "ecg", "blood_culture", "ct_head")
                    else min(los - 1, r.randint(0, 2))
                )
                pm = (sm + r.randint(20, 120)) % 1440 if pday == d else r.randint(7 * 60, 18 * 60)
                perf = attending
                if key in ("pci", "echo") and hosp.staff.get("cardiologist"):
                    perf = r.choice(hosp.staff["cardiologist"])
                elif key == "hip_replacement":
                    perf = r.choice(hosp.staff["surgeon"])
                self._procedure(key, enc, pday, pm, perf, procs)
        # medications during the stay
        inpatient_meds: list[str] = []
        for m in INPATIENT_MEDS.get(dx, ()):
            self._order(m, enc, d, sm + 90, "inpatient")
            inpatient_meds.append(m)
        if not any(k in self.active for k in ANTICOAGULANTS) and dx != "gi_bleed":
            self._order("enoxaparin", enc, d, sm + 120, "inpatient")
            inpatient_meds.append("enoxaparin")
        if "t2d" in self.recorded and dx != "hyperglycemia":
            self._order("lispro", enc, d, sm + 120, "inpatient")
            inpatient_meds.append("lispro")
        # outcome
        b = self.burden(end_day)
        disp, declined = self._disposition(dx, elective, age, b, los)
        enc.disposition = disp
        # chronic medication changes at discharge
        if disp != "expired":
            for m in DX_STARTS_MEDS.get(dx, ()):
                self._start(
                    m, self.recorded.get(NEW_CHRONIC.get(dx, ("",))[0]), enc, end_day, em, started
                )
            if dx == "chf_exac" and "potassium_chloride" not in self.active and r.random() < 0.35:
                self._start(
                    "potassium_chloride", self.recorded.get("chf"), enc, end_day, em, started
                )
            if dx == "hyperglycemia":
                self._start("glargine", self.recorded.get("t2d"), enc, end_day, em, started)
            if dx == "gi_bleed" and "warfarin" in self.active and r.random() < 0.5:
                self._stop("warfarin")
                self._start("apixaban", self.recorded.get("afib"), enc, end_day, em, started)
        course: list[str] = []
        if disp != "expired":
            for m in DISCHARGE_COURSES.get(dx, ()):
                if m in self.active:
                    continue
                self._order(m, enc, end_day, em, "discharge", course=COURSE_DAYS.get(m, 7))
                course.append(m)
        prior = sum(1 for s in self.rec.stays if d - s.enc.start_day <= 365)
        abnormal = abnormal_labs(dis_labs, self.creat_true(end_day))
        stay = Stay(
            enc=enc,
            kind=kind,
            dx=dx,
            procedures=procs,
            los=los,
            adm_labs=adm_labs,
            dis_labs=dis_labs,
            adm_vitals=adm_vitals,
            dis_vitals=dis_vitals,
            disposition=disp,
            comorbidities=comorb,
            age=age_at(p.birth, d),
            burden=b,
            prior_admissions=prior,
            abnormal_labs=abnormal,
            declined_home_health=declined,
            index_stay=index,
        )
        stay.home_meds = [m for m in self.active if m not in started]
        stay.new_meds = list(started)
        stay.course_meds = course
        stay.inpatient_meds = inpatient_meds
        if kind == "readmission" or (not elective and r.random() < 0.3):
            stay.consultant = r.choice(
                hosp.staff["cardiologist"]
                if dx in ("chf_exac", "nstemi", "afib_rvr")
                else hosp.staff["hospitalist"]
            )
        if disp == "transfer":
            others = [h for h in p.region.hospitals if h is not hosp]
            if not others:
                others = self.pool.regions[(p.region.index + 1) % len(self.pool.regions)].hospitals
            stay.transfer_to = others[0]
        self.rec.stays.append(stay)
        self.busy_until = end_day
        self.ip_block_until = end_day + 30
        if disp == "expired":
            self.dead = True
            self.rec.deceased = (end_day, em)
        else:
            stay.close_followup = r.random() < (
                0.45 + 0.1 * (disp == "home_health") - 0.15 * p.poor_adherence
            ) and disp not in ("transfer", "ama")
            if stay.close_followup:
                stay.followup_day = end_day + r.randint(4, 12)
            x = readmission_logit(
                b,
                age,
                prior,
                len(abnormal),
                p.lives_alone,
                p.poor_adherence,
                declined,
                disp == "ama",
                stay.close_followup,
                p.family_support,
                los,
                dx,
                elective,
            )
            stay.p_readmit = sigmoid(x)
            if r.random() < stay.p_readmit:
                gap = 1 + min(29, int(r.expovariate(1 / 8.0)))
                self._push(end_day + gap, RA, stay)
            if stay.followup_day is not None and disp in ("home", "home_health"):
                self._push(stay.followup_day, FU, stay)
        text = notes.discharge_summary(self.nrng, p, stay)
        self.rec.docs.append(
            DocRec(
                self._id(),
                "discharge",
                enc,
                end_day,
                min(1439, em + r.randint(30, 300)),
                attending,
                text,
            )
        )

    def _procedure(
        self, key: str, enc: Encounter, d: int, minute: int, perf, procs: list[str]
    ) -> None:
        dur = PROCEDURES[key].minutes
        end = minute + dur
        long = dur >= 60
        self.rec.procs.append(
            ProcRec(
                self._id(),
                key,
                enc,
                d + minute // 1440,
                minute % 1440,
                d + end // 1440 if long else None,
                end % 1440,
                perf,
            )
        )
        procs.append(key)

    def _disposition(
        self, dx: str, elective: bool, age: float, b: float, los: int
    ) -> tuple[str, bool]:
        r = self.rng.random
        p = self.p
        if elective:
            u = r()
            joint = dx in ("hip_replacement", "knee_replacement")
            if u < 0.003:
                return "expired", False
            if joint and u < 0.15:
                return "rehab", False
            if u < 0.2 + 0.1 * (age > 75):
                return ("home_health", False) if r() > 0.25 else ("home", True)
            return "home", False
        p_exp = (
            0.008
            + 0.07 * (dx == "sepsis")
            + 0.03 * (dx in ("stroke", "nstemi"))
            + 0.0015 * max(0.0, age - 60)
            + 0.004 * min(b, 8.0)
        )
        if r() < p_exp:
            return "expired", False
        if r() < (0.12 if dx in ("nstemi", "stroke") else 0.025):
            return "transfer", False
        if r() < 0.012 + 0.03 * p.poor_adherence:
            return "ama", False
        u = r()
        p_snf = (
            0.04
            + 0.4 * (dx == "hip_fracture")
            + 0.01 * max(0.0, age - 70)
            + 0.15 * ("dementia" in self.onset)
        )
        p_rehab = 0.25 * (dx == "stroke") + 0.15 * (dx == "hip_fracture")
        if u < p_snf:
            return "snf", False
        if u < p_snf + p_rehab:
            return "rehab", False
        if (age >= 70 or b >= 3 or los >= 6) and r() < 0.55:
            if r() < 0.3 + 0.15 * p.lives_alone:
                return "home", True
            return "home_health", False
        return "home", False

    # ---------------------------------------------------------------- end of history
    def _finalise(self) -> None:
        end = self.rec.deceased[0] if self.rec.deceased else WINDOW_END
        for o in self.rec.meds:
            if o.category == "inpatient":
                o.status = "completed"
            elif o.course_end is not None:
                if o.status == "active":
                    o.status = (
                        "completed"
                        if o.course_end < end
                        else ("stopped" if self.rec.deceased else "active")
                    )
            elif o.status == "active" and self.rec.deceased:
                o.status = "stopped"


def abnormal_labs(v: dict[str, float], baseline_creat: float) -> list[str]:
    """Discharge-day lab abnormalities counted by the readmission model."""
    out = []
    if v.get("hgb", 99) < 10:
        out.append("hgb")
    na = v.get("sodium", 140)
    if na < 135 or na > 145:
        out.append("sodium")
    k = v.get("potassium", 4.2)
    if k < 3.5 or k > 5.2:
        out.append("potassium")
    if v.get("creat", 0) >= 1.5 * baseline_creat or v.get("egfr", 99) < 30:
        out.append("creat")
    if v.get("wbc", 0) > 12:
        out.append("wbc")
    if v.get("glucose", 0) > 250:
        out.append("glucose")
    if v.get("bnp", 0) > 500:
        out.append("bnp")
    return out


def simulate_patient(seed: int, index: int, pool: Pool) -> PatientRecord:
    """Generate patient ``index`` of cohort ``seed`` (independent of every other patient)."""
    rng = rng_for(seed, index)
    ids = Random(rng.getrandbits(64))
    nrng = Random(rng.getrandbits(64))
    person = make_person(rng, ids, index, seed, pool)
    return PatientSim(rng, ids, nrng, person, pool).run()


__all__ = [
    "READMISSION_MODEL",
    "BURDEN_WEIGHTS",
    "PatientRecord",
    "simulate_patient",
    "readmission_logit",
    "egfr_ckd_epi_2021",
    "abnormal_labs",
]
