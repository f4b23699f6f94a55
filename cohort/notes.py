"""Free-text clinical notes: discharge summaries and outpatient progress notes.

Notes carry PHI the way real notes do (names in several forms, MRN, dates in varied formats, phone,
address, clinicians, relatives, hospital names) and the clinical story of the encounter. Every
section has a handful of phrasings; the social/follow-up phrases that feed the readmission model
("lives alone", "poor medication adherence", "declined home health", "close follow-up",
"good family support") are written whenever the underlying flag is set (occasionally reworded).
"""

from __future__ import annotations

from random import Random

from . import names
from .clock import REF, fmt_date, hhmm
from .people import Person
from .records import Stay, Visit
from .vocab import CONDITIONS, LAB_UNIT_TEXT, MEDS, PROCEDURES

SYMPTOMS = {
    "pneumonia": (
        "fever, productive cough and shortness of breath",
        "three days of cough, fevers and pleuritic chest pain",
    ),
    "sepsis": (
        "fevers, rigors and new confusion",
        "high fevers, hypotension and altered mental status",
    ),
    "chf_exac": (
        "progressive dyspnea on exertion, orthopnea and bilateral leg swelling",
        "a 10-pound weight gain and worsening shortness of breath",
    ),
    "copd_exac": (
        "worsening shortness of breath, wheezing and increased sputum",
        "several days of increased dyspnea and cough",
    ),
    "aki": (
        "poor oral intake, weakness and decreased urine output",
        "nausea, fatigue and reduced urine output",
    ),
    "hip_fracture": (
        "a mechanical fall at home with inability to bear weight on the right leg",
        "right hip pain after a fall on the kitchen floor",
    ),
    "gi_bleed": (
        "several episodes of melena and lightheadedness",
        "black tarry stools and near-syncope",
    ),
    "uti": ("dysuria, fever and confusion", "urinary frequency, flank pain and fevers"),
    "cellulitis": (
        "redness, warmth and swelling of the right lower leg",
        "a spreading painful rash of the right shin",
    ),
    "hyperglycemia": (
        "polyuria, polydipsia and home glucose readings above 400",
        "fatigue, thirst and glucose 'HIGH' on the home meter",
    ),
    "nstemi": (
        "substernal chest pressure radiating to the left arm",
        "exertional chest tightness and diaphoresis",
    ),
    "afib_rvr": ("palpitations and shortness of breath", "a racing heartbeat and lightheadedness"),
    "stroke": (
        "sudden right-sided weakness and slurred speech",
        "acute word-finding difficulty and right arm weakness",
    ),
    "syncope": (
        "a witnessed episode of loss of consciousness",
        "passing out while standing in church",
    ),
    "hepatic_enceph": (
        "increasing confusion and somnolence",
        "several days of confusion and day-night reversal",
    ),
}

COURSE = {
    "pneumonia": (
        "Chest X-ray showed a {side} lower lobe infiltrate. {He} was started on IV ceftriaxone and azithromycin, "
        "with defervescence by hospital day {n} and weaning to room air.",
        "{He} was treated for community-acquired pneumonia with ceftriaxone and azithromycin. Blood cultures remained "
        "negative. Oxygen requirement resolved and {he} was transitioned to oral antibiotics.",
    ),
    "sepsis": (
        "{He} met sepsis criteria on arrival and received a 30 mL/kg fluid bolus, blood cultures and broad-spectrum "
        "antibiotics (vancomycin and cefepime). Source was felt to be urinary. Antibiotics were narrowed once cultures "
        "returned.",
        "Admitted with sepsis; lactate improved with fluids. {He} was briefly on the step-down unit, then improved "
        "steadily on IV antibiotics and was transitioned to an oral regimen.",
    ),
    "chf_exac": (
        "{He} was diuresed with IV furosemide with net negative {liters} L and improvement in dyspnea. Echocardiogram "
        "showed an ejection fraction of {ef}%. Guideline-directed medical therapy was reviewed.",
        "Admitted for acute on chronic heart failure. Diuresed with IV furosemide, weight down {kg} kg. Daily weights "
        "and a 2 g sodium diet were reinforced.",
    ),
    "copd_exac": (
        "{He} was treated with nebulized bronchodilators, prednisone 40 mg daily and azithromycin with gradual "
        "improvement in wheezing.",
        "COPD exacerbation managed with steroids, scheduled nebulizers and antibiotics. Ambulatory oxygen saturation "
        "was above 90% on room air before discharge.",
    ),
    "aki": (
        "Acute kidney injury felt to be prerenal from poor intake. ACE inhibitor and diuretics were held and {he} "
        "received IV fluids with improvement of creatinine.",
        "Creatinine peaked at {cr_adm}; renal ultrasound showed no obstruction. Nephrotoxins were avoided and kidney "
        "function improved with hydration.",
    ),
    "hip_fracture": (
        "X-ray confirmed a right femoral neck fracture. Orthopedics took {him} to the OR on hospital day 2. "
        "Post-operative course was notable for pain control needs and mild anemia.",
        "Right hip fracture after a fall; underwent surgical repair. Worked with physical therapy, weight bearing as "
        "tolerated.",
    ),
    "gi_bleed": (
        "Hemoglobin on arrival was {hgb_adm}. {He} was transfused packed red blood cells, started on an IV proton "
        "pump inhibitor and gastroenterology was consulted.",
        "Admitted with GI bleeding; anticoagulation was held. Hemoglobin stabilized after transfusion and endoscopic "
        "evaluation.",
    ),
    "uti": (
        "Urinalysis was consistent with infection and {he} was started on IV ceftriaxone. Mental status returned to "
        "baseline within 48 hours.",
        "Treated for complicated urinary tract infection; urine culture grew pan-sensitive E. coli.",
    ),
    "cellulitis": (
        "{He} was treated with IV vancomycin with regression of erythema beyond the marked borders, then "
        "transitioned to oral cephalexin.",
        "Right leg cellulitis without abscess on ultrasound. Improved on IV antibiotics and leg elevation.",
    ),
    "hyperglycemia": (
        "Glucose on arrival was {glu_adm} without ketoacidosis. {He} was started on basal-bolus insulin and diabetes "
        "education was provided.",
        "Hyperglycemic crisis managed with IV fluids and insulin drip, transitioned to subcutaneous insulin glargine.",
    ),
    "nstemi": (
        "Troponin was elevated with dynamic ST changes. {He} was loaded with aspirin and clopidogrel, started on a "
        "heparin drip and cardiology was consulted for catheterization.",
        "NSTEMI managed medically with dual antiplatelet therapy, high-intensity statin and beta-blocker.",
    ),
    "afib_rvr": (
        "Heart rate on arrival was {hr_adm}. Rate controlled with IV then oral metoprolol. Anticoagulation was "
        "continued.",
        "Atrial fibrillation with RVR; rate control achieved with metoprolol. TSH was normal.",
    ),
    "stroke": (
        "CT head showed no hemorrhage; MRI confirmed a small left MCA territory infarct. Deficits improved. "
        "Neurology recommended antiplatelet therapy and high-intensity statin.",
        "Acute ischemic stroke outside the thrombolysis window. Worked with PT/OT and speech therapy.",
    ),
    "syncope": (
        "Telemetry showed no arrhythmia. Orthostatic vital signs were positive and {he} improved with IV fluids.",
        "Syncope work-up including ECG, telemetry and echocardiogram was unremarkable; felt to be vasovagal.",
    ),
    "hepatic_enceph": (
        "Started on lactulose titrated to 3 bowel movements daily and rifaximin with clearing of mentation.",
        "Precipitant felt to be constipation and missed lactulose doses. Mental status improved on lactulose and "
        "rifaximin.",
    ),
    "hip_replacement": (
        "{He} underwent an uncomplicated right total hip arthroplasty. Pain was controlled with oral analgesics and "
        "{he} ambulated with physical therapy on post-operative day 1.",
    ),
    "knee_replacement": (
        "Uncomplicated right total knee arthroplasty. Worked with PT, range of motion improving.",
    ),
    "pci": (
        "Elective cardiac catheterization showed a severe proximal LAD stenosis treated with a drug-eluting stent. "
        "No access-site complications.",
    ),
    "colectomy": (
        "Underwent laparoscopic partial colectomy for colon adenocarcinoma. Diet advanced on post-operative day 2; "
        "return of bowel function on day 3.",
    ),
    "cholecystectomy": (
        "Uncomplicated laparoscopic cholecystectomy for symptomatic cholelithiasis; tolerated diet the same evening.",
    ),
}

ELECTIVE_REASON = {
    "hip_replacement": "right total hip arthroplasty for end-stage osteoarthritis",
    "knee_replacement": "right total knee arthroplasty for osteoarthritis",
    "pci": "planned cardiac catheterization and possible PCI for stable angina",
    "colectomy": "laparoscopic partial colectomy for colon cancer",
    "cholecystectomy": "laparoscopic cholecystectomy for symptomatic gallstones",
}

TRANSFER_REASON = {
    "nstemi": "urgent cardiac catheterization",
    "stroke": "neurointerventional evaluation",
}

SNF_NAMES = (
    "{town} Skilled Nursing Facility",
    "St. {saint} Care Center",
    "{town} Health and Rehabilitation",
    "Maple Grove Nursing and Rehab",
)
REHAB_NAMES = (
    "{town} Rehabilitation Hospital",
    "Spaulding-style Rehab Center of {town}",
    "{town} Acute Rehab Unit",
)


def _name_ref(rng: Random, p: Person) -> str:
    u = rng.random()
    if u < 0.7:
        return f"{p.prefix} {p.family}"
    if u < 0.85:
        return p.given
    if u < 0.95:
        return p.full_name
    return p.initials


def _a(n: int) -> str:
    """Indefinite article for a spoken number ("an 83-year-old", "an 11-year-old")."""
    return "an" if str(n).startswith("8") or n in (11, 18) else "a"


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _lab_phrase(labs: dict[str, float], keys) -> str:
    parts = []
    names_ = {
        "wbc": "WBC",
        "hgb": "hemoglobin",
        "sodium": "sodium",
        "potassium": "potassium",
        "creat": "creatinine",
        "egfr": "eGFR",
        "glucose": "glucose",
        "bnp": "BNP",
        "a1c": "HbA1c",
    }
    for k in keys:
        if k in labs:
            v = labs[k]
            vs = f"{v:g}" if k not in ("creat",) else f"{v:.2f}"
            parts.append(f"{names_[k]} {vs} {LAB_UNIT_TEXT[k]}")
    return ", ".join(parts)


def _comorb_text(keys: list[str], limit: int = 6) -> str:
    items = [CONDITIONS[k].text for k in keys if k in CONDITIONS][:limit]
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _facility(rng: Random, patterns, p: Person) -> str:
    return rng.choice(patterns).format(town=p.address.city, saint=rng.choice(names.SAINTS))


def discharge_summary(rng: Random, p: Person, s: Stay) -> str:
    enc = s.enc
    hosp = enc.org.name
    att = enc.practitioner
    ds = rng.randrange(5)
    dob_style = rng.randrange(5)
    adm, dis = fmt_date(enc.start_day, ds), fmt_date(enc.end_day, ds)
    dob = fmt_date(p.birth, dob_style)
    he, his = p.he, p.his
    him = "him" if p.sex == "male" else "her"
    ref = _name_ref(rng, p)
    age = s.age
    rel = p.relative
    L: list[str] = []
    h = rng.randrange(4)
    if h == 0:
        L += [
            "DISCHARGE SUMMARY",
            hosp,
            f"Patient: {p.full_name} | MRN: {p.mrn} | DOB: {dob}",
            f"Admission date: {adm}    Discharge date: {dis}",
            f"Attending physician: {att.display}",
        ]
    elif h == 1:
        L += [
            f"{hosp.upper()} - HOSPITAL DISCHARGE SUMMARY",
            f"Name: {p.family}, {p.given} {p.middle}.   MRN {p.mrn}",
            f"Date of birth: {dob}   Age: {age}",
            f"Admitted: {adm}   Discharged: {dis}   Length of stay: {s.los} day{'s' if s.los != 1 else ''}",
            f"Attending: {att.given} {att.family}, MD   PCP: {p.pcp.display}",
        ]
    elif h == 2:
        L += [
            "Discharge Summary",
            f"Pt: {p.given} {p.family} ({p.initials})  MRN#: {p.mrn}",
            f"Hospital: {hosp}",
            f"Dates of hospitalization: {adm} - {dis}",
            f"Discharging physician: {att.display}",
        ]
    else:
        L += [
            f"DISCHARGE SUMMARY -- {hosp}",
            f"{p.family.upper()}, {p.given.upper()}  MRN: {p.mrn}  DOB: {dob}",
            f"Admit: {adm} {hhmm(enc.start_min)} / Discharge: {dis} {hhmm(enc.end_min)}",
            f"Attending: {att.display}",
        ]
    L.append("")
    dx = s.dx
    elective = s.kind == "elective"
    principal = CONDITIONS[enc.reason].text if enc.reason in CONDITIONS else dx
    L.append(
        rng.choice(("PRINCIPAL DIAGNOSIS:", "Principal diagnosis:", "REASON FOR ADMISSION:"))
        + " "
        + _cap(principal)
    )
    L.append("")
    comorb = _comorb_text(s.comorbidities)
    hx = f"a history of {comorb}" if comorb else "no significant past medical history"
    L.append(rng.choice(("HISTORY OF PRESENT ILLNESS:", "HPI:", "History:")))
    if elective:
        L.append(
            f"{ref} is {_a(age)} {age}-year-old {p.man} with {hx} who was admitted electively on "
            f"{fmt_date(enc.start_day, rng.randrange(5))} for {ELECTIVE_REASON[dx]}."
        )
    else:
        sym = rng.choice(SYMPTOMS[dx])
        v = rng.randrange(3)
        if v == 0:
            L.append(
                f"{ref} is {_a(age)} {age}-year-old {p.man} with {hx} who presented to the {hosp} emergency department "
                f"on {adm} with {sym}."
            )
        elif v == 1:
            L.append(
                f"{p.given} {p.family} is {_a(age)} {age} y/o {'M' if p.sex == 'male' else 'F'} with PMH of "
                f"{comorb or 'no chronic illness'} who came to the ED with {sym} for {rng.randint(1, 5)} days."
            )
        else:
            L.append(
                f"This {age}-year-old {p.man} ({p.initials}) with {hx} was brought in by {his} {rel.relation} "
                f"{rel.given} after {sym}."
            )
        if s.index_stay is not None:
            ix = s.index_stay
            L.append(
                f"Of note, {he} was recently hospitalized at {ix.enc.org.name} from "
                f"{fmt_date(ix.enc.start_day, ds)} to {fmt_date(ix.enc.end_day, ds)} for "
                f"{CONDITIONS[ix.enc.reason].text if ix.enc.reason in CONDITIONS else ix.dx}."
            )
    L.append("")
    L.append(rng.choice(("HOSPITAL COURSE:", "Hospital course:", "BRIEF HOSPITAL COURSE:")))
    tpl = rng.choice(COURSE[dx])
    L.append(
        tpl.format(
            He=_cap(he),
            he=he,
            him=him,
            side=rng.choice(("right", "left")),
            n=rng.randint(2, 3),
            liters=rng.randint(2, 6),
            ef=rng.choice((25, 30, 35, 40, 55)),
            kg=rng.randint(2, 5),
            cr_adm=f"{s.adm_labs.get('creat', 1.0):.2f}",
            hgb_adm=s.adm_labs.get("hgb", ""),
            glu_adm=int(s.adm_labs.get("glucose", 0)),
            hr_adm=int(s.adm_vitals.get("hr", 0)),
        )
    )
    if s.consultant is not None:
        L.append(f"{s.consultant.display} was consulted and followed during the admission.")
    L.append("")
    L.append(rng.choice(("PERTINENT LABS:", "Labs:", "Pertinent results:")))
    L.append(
        "Admission: "
        + _lab_phrase(
            s.adm_labs, ("wbc", "hgb", "sodium", "potassium", "creat", "glucose", "bnp", "a1c")
        )
        + "."
    )
    L.append(
        "Discharge: "
        + _lab_phrase(s.dis_labs, ("wbc", "hgb", "sodium", "creat", "egfr", "bnp"))
        + "."
    )
    if s.abnormal_labs:
        ab = []
        for k in s.abnormal_labs:
            x = s.dis_labs[k]
            ab.append(
                {
                    "hgb": f"hemoglobin remained low at {x:g}",
                    "sodium": f"sodium {x:g} at discharge",
                    "potassium": f"potassium {x:g}",
                    "creat": f"creatinine {x:.2f}, above baseline",
                    "wbc": f"WBC still elevated at {x:g}",
                    "glucose": f"glucose {x:g}",
                    "bnp": f"BNP {x:g}",
                }[k]
            )
        L.append(
            rng.choice(("Of note, ", "Not yet normalized: ", "At discharge ")) + "; ".join(ab) + "."
        )
    else:
        L.append(
            rng.choice(
                ("Labs had normalized by discharge.", "Discharge labs within acceptable limits.")
            )
        )
    if s.procedures:
        L.append("")
        L.append(
            "PROCEDURES: "
            + "; ".join(
                f"{PROCEDURES[k].text} ({fmt_date(enc.start_day, ds)})"
                if rng.random() < 0.3
                else PROCEDURES[k].text
                for k in s.procedures
            )
        )
    L.append("")
    L.append(rng.choice(("DISCHARGE DIAGNOSES:", "Discharge diagnoses:", "Diagnoses:")))
    dxs = [principal + (f", status post {PROCEDURES[dx].text}" if elective else "")] + [
        CONDITIONS[k].text for k in s.comorbidities[:5] if k in CONDITIONS
    ]
    for i, t in enumerate(dxs, 1):
        L.append(f"{i}. {_cap(t)}")
    L.append("")
    if s.disposition != "expired":
        L.append(
            rng.choice(
                ("DISCHARGE MEDICATIONS:", "Discharge medications:", "Medications at discharge:")
            )
        )
        if not (s.home_meds or s.new_meds or s.course_meds):
            L.append("None.")
        for m in s.home_meds:
            L.append(f"- {MEDS[m].product}, {MEDS[m].sig}")
        for m in s.new_meds:
            L.append(f"- {MEDS[m].product}, {MEDS[m].sig} (NEW)")
        for m in s.course_meds:
            L.append(f"- {MEDS[m].product}, {MEDS[m].sig} (short course)")
        L.append("")
    # social history
    L.append(rng.choice(("SOCIAL HISTORY:", "Social history:", "Social:")))
    soc: list[str] = []
    city = p.address.city
    if p.lives_alone:
        soc.append(
            rng.choice(
                (
                    f"Lives alone in {city}.",
                    f"{_cap(he)} lives alone at {p.address.line}, {city}.",
                    f"Lives alone in an apartment in {city}; no one checks on {him} daily.",
                )
            )
        )
    elif rel.relation in ("wife", "husband"):
        soc.append(f"Lives with {his} {rel.relation} {rel.given} in {city}.")
    else:
        soc.append(f"Lives at {p.address.line}, {city}, with family.")
    if p.smoker == "current":
        soc.append(f"Current smoker, about {rng.randint(10, 60)} pack-years; cessation counseled.")
    elif p.smoker == "former":
        soc.append(f"Former smoker, quit in {rng.randint(1975, 2020)}.")
    else:
        soc.append("Never smoker.")
    if p.alcohol:
        soc.append("Reports heavy daily alcohol use.")
    if p.poor_adherence and rng.random() < 0.92:
        meds = [m for m in s.home_meds if m in MEDS]
        soc.append(
            rng.choice(
                (
                    "Poor medication adherence; "
                    + (
                        f"{he} admits to frequently missing doses of {MEDS[meds[0]].name}."
                        if meds
                        else "often misses doses."
                    ),
                    "History of poor medication adherence per pharmacy refill records.",
                    "Poor medication adherence noted; pill organizer provided.",
                )
            )
        )
    if p.family_support:
        soc.append(
            rng.choice(
                (
                    f"Good family support; {his} {rel.relation} {rel.given} ({rel.phone}) is closely involved in {his} care.",
                    f"{_cap(his)} {rel.relation} {rel.given} {rel.family} will stay with {him} after discharge; good family support.",
                )
            )
        )
    else:
        soc.append(f"Emergency contact: {rel.relation} {rel.given} {rel.family}, {rel.phone}.")
    L.append(" ".join(soc))
    L.append("")
    # disposition
    L.append(rng.choice(("DISPOSITION:", "Disposition:", "DISCHARGE DISPOSITION:")))
    disp = s.disposition
    if disp == "home":
        if s.declined_home_health:
            L.append(
                rng.choice(
                    (
                        "Home health services were recommended, but the patient declined home health. Discharged home.",
                        f"Discharged home. {_cap(he)} declined home health services despite our recommendation.",
                    )
                )
            )
        else:
            L.append(
                rng.choice(
                    (
                        "Discharged home in stable condition.",
                        "Home, condition stable.",
                        f"Discharged home to {city} in good condition.",
                    )
                )
            )
    elif disp == "home_health":
        L.append(
            rng.choice(
                (
                    "Discharged home with home health services (nursing and physical therapy).",
                    "Home with home health: VNA nursing visits for medication teaching and vitals.",
                )
            )
        )
    elif disp == "snf":
        L.append(
            f"Discharged to {_facility(rng, SNF_NAMES, p)} for short-term skilled nursing and rehabilitation."
        )
    elif disp == "rehab":
        L.append(f"Discharged to inpatient rehabilitation at {_facility(rng, REHAB_NAMES, p)}.")
    elif disp == "transfer":
        to = s.transfer_to.name if s.transfer_to is not None else "a tertiary care center"
        L.append(f"Transferred to {to} for {TRANSFER_REASON.get(dx, 'a higher level of care')}.")
    elif disp == "ama":
        L.append(
            f"Patient left against medical advice on {dis} after discussion of the risks, including death."
        )
    else:
        L.append(
            f"Patient expired on {dis} at {hhmm(enc.end_min)}. {_cap(his)} {rel.relation} {rel.given} "
            f"was {'at the bedside' if rng.random() < 0.5 else 'notified by phone'}."
        )
    if disp != "expired":
        L.append("")
        L.append(rng.choice(("FOLLOW-UP:", "Follow up:", "FOLLOW UP APPOINTMENTS:")))
        clinic = p.clinic
        if s.close_followup and s.followup_day is not None:
            fu = fmt_date(s.followup_day, rng.randrange(5))
            L.append(
                rng.choice(
                    (
                        f"Close follow-up arranged: appointment with {p.pcp.display} at {clinic.name} on {fu}.",
                        f"Close follow-up has been arranged with PCP {p.pcp.display} on {fu} ({clinic.name}, {clinic.phone}).",
                        f"Follow-up appointment already scheduled with {p.pcp.display} on {fu}; close follow-up arranged.",
                    )
                )
            )
        elif disp in ("home", "home_health", "ama"):
            L.append(
                rng.choice(
                    (
                        f"Follow up with primary care provider {p.pcp.display} in 1-2 weeks; patient to call {clinic.phone} to schedule.",
                        "Follow up with PCP as needed.",
                        f"Patient instructed to schedule a follow-up visit with {his} PCP at {clinic.name}.",
                    )
                )
            )
        else:
            L.append(f"Facility physician to follow; PCP {p.pcp.display} notified.")
        if rng.random() < 0.5:
            L.append(f"Patient phone: {p.phone}.")
    L.append("")
    sig = rng.randrange(3)
    sd = enc.end_day
    if sig == 0:
        L.append(
            f"Electronically signed by {att.display} on {fmt_date(sd, ds)} {hhmm(min(1439, enc.end_min + 60))}"
        )
    elif sig == 1:
        L.append(f"{att.given} {att.family}, MD")
    else:
        L.append(
            f"Dictated by: {att.display}   D: {fmt_date(sd, 0)}   T: {fmt_date(min(sd + 1, REF - 1), 0)}"
        )
    return "\n".join(L) + "\n"


PLANS = {
    "t2d": (
        "continue current regimen, recheck HbA1c in 3 months",
        "reinforced diet and exercise; foot exam done",
    ),
    "prediabetes": ("lifestyle counseling; repeat HbA1c in one year",),
    "htn": ("blood pressure {bp}; continue current medications", "home BP log reviewed"),
    "hld": ("continue statin",),
    "chf": (
        "euvolemic on exam; continue diuretic and daily weights",
        "NYHA class II symptoms, stable",
    ),
    "ckd": (
        "eGFR {egfr}; avoid NSAIDs, renally dose medications",
        "stable kidney function; nephrology referral discussed",
    ),
    "copd": ("continue inhalers; pulmonary rehab discussed",),
    "cad": ("no angina; continue aspirin and statin",),
    "afib": ("rate controlled; continue anticoagulation",),
    "obesity": ("BMI {bmi}; weight management counseling provided",),
    "depression": ("PHQ-9 reviewed; continue SSRI",),
    "liver": ("no ascites on exam; continue surveillance",),
    "dementia": ("memory stable per family; continue donepezil",),
    "anemia": ("hemoglobin {hgb}; iron studies ordered",),
}


def progress_note(rng: Random, p: Person, v: Visit, age: float) -> str:
    enc = v.enc
    ds = rng.randrange(5)
    date = fmt_date(enc.start_day, ds)
    pcp = enc.practitioner
    ref = _name_ref(rng, p)
    he, his = p.he, p.his
    L: list[str] = []
    h = rng.randrange(3)
    if h == 0:
        L += [
            "PROGRESS NOTE",
            p.clinic.name,
            f"Patient: {p.full_name}   DOB: {fmt_date(p.birth, rng.randrange(5))}   MRN: {p.mrn}",
            f"Date of service: {date}   Provider: {pcp.display}",
        ]
    elif h == 1:
        L += [
            f"Clinic note - {date}",
            f"{p.family}, {p.given} (MRN {p.mrn})",
            f"Seen by {pcp.display} at {p.clinic.name}",
        ]
    else:
        L += [
            f"Office visit {date}",
            f"{p.given} {p.middle}. {p.family}, age {int(age)}, MRN {p.mrn}",
            f"Provider: {pcp.given} {pcp.family}, MD",
        ]
    L.append("")
    L.append(rng.choice(("SUBJECTIVE:", "S:", "Subjective:")))
    if v.after_stay is not None:
        st = v.after_stay
        dxt = CONDITIONS[st.enc.reason].text if st.enc.reason in CONDITIONS else st.dx
        L.append(
            f"{ref} presents for hospital follow-up after admission to {st.enc.org.name} from "
            f"{fmt_date(st.enc.start_day, ds)} to {fmt_date(st.enc.end_day, ds)} for {dxt}. "
            + rng.choice(
                (
                    f"{_cap(he)} reports feeling better.",
                    f"{_cap(he)} is still fatigued but improving.",
                    f"{_cap(he)} reports ongoing shortness of breath with exertion.",
                )
            )
        )
    else:
        probs = _comorb_text([k for k in v.problems if k in CONDITIONS], 3)
        L.append(
            rng.choice(
                (
                    f"{ref} is {_a(int(age))} {int(age)}-year-old {p.man} here for routine follow-up"
                    + (f" of {probs}." if probs else "."),
                    f"{ref} comes in for an annual visit."
                    + (f" Chronic problems include {probs}." if probs else ""),
                    f"{int(age)} y/o {'M' if p.sex == 'male' else 'F'} returns for follow-up"
                    + (f" of {probs}." if probs else "."),
                )
            )
        )
    if p.poor_adherence and v.meds and rng.random() < 0.6:
        L.append(
            f"Admits to missing doses of {MEDS[v.meds[0]].name}; poor medication adherence discussed."
        )
    if rng.random() < 0.3:
        rel = p.relative
        L.append(f"Accompanied by {his} {rel.relation} {rel.given}.")
    L.append("")
    L.append(rng.choice(("OBJECTIVE:", "O:", "Exam/Data:")))
    vit = v.vitals
    L.append(f"BP {int(vit['sbp'])}/{int(vit['dbp'])}, HR {int(vit['hr'])}, BMI {vit['bmi']}.")
    if v.labs:
        L.append(
            "Labs today: "
            + _lab_phrase(
                v.labs,
                ("a1c", "glucose", "creat", "egfr", "sodium", "potassium", "hgb", "wbc", "bnp"),
            )
            + "."
        )
    L.append("")
    L.append(rng.choice(("ASSESSMENT AND PLAN:", "A/P:", "Assessment/Plan:")))
    i = 1
    for k in v.new_diagnoses:
        if k in CONDITIONS:
            L.append(f"{i}. New diagnosis: {CONDITIONS[k].text}.")
            i += 1
    fmt = {
        "bp": f"{int(vit['sbp'])}/{int(vit['dbp'])}",
        "bmi": vit["bmi"],
        "egfr": v.labs.get("egfr", "stable"),
        "hgb": v.labs.get("hgb", "stable"),
    }
    for k in v.problems[:4]:
        if k in PLANS and k not in v.new_diagnoses:
            L.append(f"{i}. {_cap(CONDITIONS[k].text)}: {rng.choice(PLANS[k]).format(**fmt)}.")
            i += 1
    for m in v.started:
        L.append(f"- Start {MEDS[m].product}, {MEDS[m].sig}.")
    for m in v.stopped:
        L.append(f"- Stop {MEDS[m].name}.")
    L.append(
        rng.choice(
            (
                "Return in 3 months.",
                "Follow up in 6 months or sooner as needed.",
                f"RTC 3-4 months; call {p.clinic.phone} with questions.",
            )
        )
    )
    L.append("")
    L.append(
        f"{pcp.display}"
        if rng.random() < 0.5
        else f"Electronically signed: {pcp.given} {pcp.family}, MD {date}"
    )
    return "\n".join(L) + "\n"
