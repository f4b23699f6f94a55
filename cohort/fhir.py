"""FHIR R4 resource builders: simulation records -> compact JSON lines (orjson, fixed key order).

Constant sub-structures (codings, categories) are built once and shared; orjson serialises the same
dict object as often as it appears, which keeps the per-resource cost low.
"""

from __future__ import annotations

import base64

import orjson

from .clock import iso_day, iso_dt
from .patient_model import PatientRecord
from .people import ETHNICITY_BY_FLAG, Person
from .providers import Location, Organization, Pool, Practitioner
from .vocab import (
    ACT_PRIORITY,
    ADMIT_SOURCE,
    ADMIT_SOURCES,
    COND_CATEGORY,
    COND_CLINICAL,
    COND_VER,
    CONDITIONS,
    DISCHARGE_DISPOSITION,
    DISPOSITIONS,
    DOC_CATEGORY,
    ENC_CLASS,
    ENC_TYPE,
    ICD10CM,
    LABS,
    LOINC,
    MARITAL,
    MARITAL_STATUS,
    MEDREQ_CATEGORY,
    MEDS,
    MRN_SYSTEM,
    NPI,
    NUBC_DISCHARGE,
    OBS_CATEGORY,
    OMB,
    ORG_TYPE,
    PARTICIPATION,
    PRIORITY,
    PROCEDURES,
    ROLE_CODE,
    RXNORM,
    SNOMED,
    SSN,
    UCUM,
    US_CORE_BIRTHSEX,
    US_CORE_ETHNICITY,
    US_CORE_RACE,
    V2_0131,
    V2_0203,
    V2_0360,
)

RESOURCE_TYPES = (
    "Patient",
    "Encounter",
    "Condition",
    "Observation",
    "MedicationRequest",
    "Procedure",
    "DocumentReference",
    "Organization",
    "Location",
    "Practitioner",
)
PATIENT_TYPES = RESOURCE_TYPES[:7]
POOL_TYPES = RESOURCE_TYPES[7:]

_NL = orjson.OPT_APPEND_NEWLINE


def _dumps(d: dict) -> bytes:
    """One compact JSON line (insertion key order), newline-terminated."""
    return orjson.dumps(d, option=_NL)


def _cc(system: str, code: str, display: str, text: str | None = None) -> dict:
    d: dict[str, object] = {"coding": [{"system": system, "code": code, "display": display}]}
    if text is not None:
        d["text"] = text
    return d


# ---------------------------------------------------------------- shared constant fragments
_CAT = {
    "laboratory": [_cc(OBS_CATEGORY, "laboratory", "Laboratory")],
    "vital-signs": [_cc(OBS_CATEGORY, "vital-signs", "Vital Signs")],
}
_LAB_CODE = {k: _cc(LOINC, lab.loinc, lab.display, lab.text) for k, lab in LABS.items()}
_LAB_CAT = {k: _CAT["vital-signs" if lab.vital else "laboratory"] for k, lab in LABS.items()}
_LAB_INT = {k: lab.decimals == 0 for k, lab in LABS.items()}
_LAB_UNIT = {k: lab.unit for k, lab in LABS.items()}
# Observations are most of the volume: they are rendered from a string template that produces
# exactly what orjson would for the equivalent dict (ids, dates and units need no escaping).
_OBS_MID = {
    k: '","status":"final","category":'
    + orjson.dumps(_LAB_CAT[k]).decode()
    + ',"code":'
    + orjson.dumps(_LAB_CODE[k]).decode()
    + ',"subject":{"reference":"Patient/'
    for k in LABS
}
_OBS_TAIL = {
    k: ',"unit":'
    + orjson.dumps(u).decode()
    + ',"system":"'
    + UCUM
    + '","code":'
    + orjson.dumps(u).decode()
    + "}}"
    for k, u in _LAB_UNIT.items()
}
_COND_CODE = {
    k: {
        "coding": [
            {"system": SNOMED, "code": c.snomed, "display": c.snomed_display},
            {"system": ICD10CM, "code": c.icd10, "display": c.icd10_display},
        ],
        "text": c.text[:1].upper() + c.text[1:],
    }
    for k, c in CONDITIONS.items()
}
_COND_CAT = {
    "problem-list-item": [_cc(COND_CATEGORY, "problem-list-item", "Problem List Item")],
    "encounter-diagnosis": [_cc(COND_CATEGORY, "encounter-diagnosis", "Encounter Diagnosis")],
}
_COND_CLIN = {s: {"coding": [{"system": COND_CLINICAL, "code": s}]} for s in ("active", "resolved")}
_COND_VER = {"coding": [{"system": COND_VER, "code": "confirmed"}]}
_MED_CODE = {
    k: {"coding": [{"system": RXNORM, "code": m.rxcui, "display": m.name}], "text": m.product}
    for k, m in MEDS.items()
}
_MED_DOSE = {k: [{"text": m.sig}] for k, m in MEDS.items()}
_MED_CAT = {
    c: [_cc(MEDREQ_CATEGORY, c, c.capitalize())]
    for c in ("inpatient", "outpatient", "community", "discharge")
}
_PROC_CODE = {k: _cc(SNOMED, p.snomed, p.display, p.display) for k, p in PROCEDURES.items()}
_ENC_TYPE = {k: [_cc(SNOMED, c, d)] for k, (c, d) in ENC_TYPE.items()}
_PRIORITY = {k: _cc(ACT_PRIORITY, k, v) for k, v in PRIORITY.items()}
_ADMIT = {k: _cc(ADMIT_SOURCE, k, v) for k, v in ADMIT_SOURCES.items()}
_DISP = {
    k: {
        "coding": [
            {"system": DISCHARGE_DISPOSITION, "code": d.code, "display": d.display},
            {"system": NUBC_DISCHARGE, "code": d.nubc, "display": d.nubc_display},
        ],
        "text": d.text,
    }
    for k, d in DISPOSITIONS.items()
}
_PART = {
    "ATND": [_cc(PARTICIPATION, "ATND", "attender")],
    "PPRF": [_cc(PARTICIPATION, "PPRF", "primary performer")],
}
_DOC_TYPE = {
    "discharge": _cc(LOINC, "18842-5", "Discharge summary", "Discharge summary"),
    "progress": _cc(LOINC, "11506-3", "Progress note", "Progress note"),
}
_DOC_TITLE = {"discharge": "Discharge summary", "progress": "Progress note"}
_DOC_CAT = [_cc(DOC_CATEGORY, "clinical-note", "Clinical Note")]
_MARITAL = {k: _cc(MARITAL, k, v, v) for k, v in MARITAL_STATUS.items()}
_MRN_TYPE = {"coding": [{"system": V2_0203, "code": "MR", "display": "Medical record number"}]}
_SSN_TYPE = {"coding": [{"system": V2_0203, "code": "SS", "display": "Social Security number"}]}
_NPI_TYPE = {
    "coding": [{"system": V2_0203, "code": "NPI", "display": "National provider identifier"}]
}
_CONTACT_REL = {
    "N": {"system": V2_0131, "code": "N", "display": "Next-of-Kin"},
    "C": {"system": V2_0131, "code": "C", "display": "Emergency Contact"},
}
_ORG_TYPE = [_cc(ORG_TYPE, "prov", "Healthcare Provider")]
_MD = [{"code": _cc(V2_0360, "MD", "Doctor of Medicine", "MD")}]
_ACTIVE_CLS = {k: v for k, v in ENC_CLASS.items()}


def _race_ext(code: str, display: str, hispanic: bool) -> list[dict]:
    if code == "UNK":
        race_coding = {
            "system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor",
            "code": "UNK",
            "display": "Unknown",
        }
    else:
        race_coding = {"system": OMB, "code": code, "display": display}
    eth_code, eth_display = ETHNICITY_BY_FLAG[hispanic]
    return [
        {
            "url": US_CORE_RACE,
            "extension": [
                {"url": "ombCategory", "valueCoding": race_coding},
                {"url": "text", "valueString": display},
            ],
        },
        {
            "url": US_CORE_ETHNICITY,
            "extension": [
                {
                    "url": "ombCategory",
                    "valueCoding": {"system": OMB, "code": eth_code, "display": eth_display},
                },
                {"url": "text", "valueString": eth_display},
            ],
        },
    ]


def patient(p: Person, deceased: tuple[int, int] | None) -> dict:
    rel = p.relative
    ext = _race_ext(p.race[0], p.race[1], p.hispanic)
    ext.append({"url": US_CORE_BIRTHSEX, "valueCode": "F" if p.sex == "female" else "M"})
    d = {
        "resourceType": "Patient",
        "id": p.id,
        "extension": ext,
        "identifier": [
            {"use": "usual", "type": _MRN_TYPE, "system": MRN_SYSTEM, "value": p.mrn},
            {"use": "official", "type": _SSN_TYPE, "system": SSN, "value": p.ssn},
        ],
        "active": deceased is None,
        "name": [
            {
                "use": "official",
                "family": p.family,
                "given": [p.given, p.middle],
                "prefix": [p.prefix],
            }
        ],
        "telecom": [
            {"system": "phone", "value": p.phone, "use": p.phone_use},
            {"system": "email", "value": p.email, "use": "home"},
        ],
        "gender": p.sex,
        "birthDate": iso_day(p.birth),
    }
    if deceased is not None:
        d["deceasedDateTime"] = iso_dt(*deceased)
    d["address"] = [
        {
            "use": "home",
            "line": [p.address.line],
            "city": p.address.city,
            "state": p.address.state,
            "postalCode": p.address.postal_code,
            "country": "US",
        }
    ]
    d["maritalStatus"] = _MARITAL[p.marital]
    d["contact"] = [
        {
            "relationship": [{"coding": [_CONTACT_REL[rel.code]], "text": rel.relation}],
            "name": {"use": "usual", "family": rel.family, "given": [rel.given]},
            "telecom": [{"system": "phone", "value": rel.phone, "use": "mobile"}],
            "gender": rel.gender,
        }
    ]
    d["generalPractitioner"] = [{"reference": f"Practitioner/{p.pcp.id}"}]
    d["managingOrganization"] = {"reference": f"Organization/{p.clinic.id}"}
    return d


def patient_lines(rec: PatientRecord) -> dict[str, tuple[bytes, int]]:
    """All resources of one patient by resource type: (ndjson bytes, number of resources)."""
    p = rec.person
    pref = {"reference": f"Patient/{p.id}"}
    out: dict[str, list[bytes]] = {t: [] for t in PATIENT_TYPES}
    out["Patient"].append(_dumps(patient(p, rec.deceased)))
    enc_refs: dict[int, dict] = {}
    enc_lines = out["Encounter"]
    obs_lines: list[str] = []
    pid = p.id
    for e in rec.encounters:
        eref = {"reference": f"Encounter/{e.id}"}
        enc_refs[id(e)] = eref
        period = {"start": iso_dt(e.start_day, e.start_min), "end": iso_dt(e.end_day, e.end_min)}
        d = {
            "resourceType": "Encounter",
            "id": e.id,
            "status": "finished",
            "class": _ACTIVE_CLS[e.cls],
            "type": _ENC_TYPE[e.type_key],
            "priority": _PRIORITY[e.priority],
            "subject": pref,
            "participant": [
                {
                    "type": _PART["ATND" if e.cls == "IMP" else "PPRF"],
                    "individual": {"reference": f"Practitioner/{e.practitioner.id}"},
                }
            ],
            "period": period,
        }
        if e.reason is not None:
            d["reasonCode"] = [_COND_CODE[e.reason]]
        if e.cls != "AMB":
            d["hospitalization"] = {
                "admitSource": _ADMIT[e.admit_source or "emd"],
                "dischargeDisposition": _DISP[e.disposition or "home"],
            }
        d["location"] = [
            {"location": {"reference": f"Location/{loc.id}"}, "status": "completed"}
            for loc in e.locations
        ]
        d["serviceProvider"] = {"reference": f"Organization/{e.org.id}"}
        enc_lines.append(_dumps(d))
        # observations of this encounter (see _OBS_MID: equivalent to orjson.dumps of the dict
        # resourceType, id, status, category, code, subject, encounter, effectiveDateTime, valueQuantity)
        eid = e.id
        n = 0
        for key, day, minute, value in e.obs:
            n += 1
            obs_lines.append(
                f'{{"resourceType":"Observation","id":"{eid}-o{n}{_OBS_MID[key]}{pid}"}},"encounter":{{"reference":'
                f'"Encounter/{eid}"}},"effectiveDateTime":"{iso_dt(day, minute)}","valueQuantity":{{"value":'
                f"{int(value) if _LAB_INT[key] else repr(float(value))}{_OBS_TAIL[key]}\n"
            )
    cond_lines = out["Condition"]
    for c in rec.conditions:
        d = {
            "resourceType": "Condition",
            "id": c.id,
            "clinicalStatus": _COND_CLIN[c.status],
            "verificationStatus": _COND_VER,
            "category": _COND_CAT[c.category],
            "code": _COND_CODE[c.key],
            "subject": pref,
            "encounter": enc_refs[id(c.enc)],
            "onsetDateTime": iso_dt(c.onset_day, c.onset_min),
        }
        if c.abatement is not None:
            d["abatementDateTime"] = iso_dt(*c.abatement)
        d["recordedDate"] = iso_dt(c.recorded_day, min(1439, c.recorded_min))
        cond_lines.append(_dumps(d))
    med_lines = out["MedicationRequest"]
    for m in rec.meds:
        d = {
            "resourceType": "MedicationRequest",
            "id": m.id,
            "status": m.status,
            "intent": "order",
            "category": _MED_CAT[m.category],
            "medicationCodeableConcept": _MED_CODE[m.key],
            "subject": pref,
            "encounter": enc_refs[id(m.enc)],
            "authoredOn": iso_dt(m.day, min(1439, m.minute)),
            "requester": {"reference": f"Practitioner/{m.requester.id}"},
        }
        if m.reason is not None:
            d["reasonReference"] = [{"reference": f"Condition/{m.reason.id}"}]
        d["dosageInstruction"] = _MED_DOSE[m.key]
        med_lines.append(_dumps(d))
    proc_lines = out["Procedure"]
    for pr in rec.procs:
        d = {
            "resourceType": "Procedure",
            "id": pr.id,
            "status": "completed",
            "code": _PROC_CODE[pr.key],
            "subject": pref,
            "encounter": enc_refs[id(pr.enc)],
        }
        if pr.end_day is None:
            d["performedDateTime"] = iso_dt(pr.start_day, pr.start_min)
        else:
            d["performedPeriod"] = {
                "start": iso_dt(pr.start_day, pr.start_min),
                "end": iso_dt(pr.end_day, pr.end_min),
            }
        if pr.performer is not None:
            d["performer"] = [{"actor": {"reference": f"Practitioner/{pr.performer.id}"}}]
        proc_lines.append(_dumps(d))
    doc_lines = out["DocumentReference"]
    for doc in rec.docs:
        e = doc.enc
        doc_lines.append(
            _dumps(
                {
                    "resourceType": "DocumentReference",
                    "id": doc.id,
                    "status": "current",
                    "docStatus": "final",
                    "type": _DOC_TYPE[doc.kind],
                    "category": _DOC_CAT,
                    "subject": pref,
                    "date": iso_dt(doc.day, doc.minute),
                    "author": [{"reference": f"Practitioner/{doc.author.id}"}],
                    "custodian": {"reference": f"Organization/{e.org.id}"},
                    "content": [
                        {
                            "attachment": {
                                "contentType": "text/plain; charset=utf-8",
                                "language": "en-US",
                                "data": base64.b64encode(doc.text.encode("utf-8")).decode("ascii"),
                                "title": _DOC_TITLE[doc.kind],
                                "creation": iso_dt(doc.day, doc.minute),
                            }
                        }
                    ],
                    "context": {
                        "encounter": [enc_refs[id(e)]],
                        "period": {
                            "start": iso_dt(e.start_day, e.start_min),
                            "end": iso_dt(e.end_day, e.end_min),
                        },
                    },
                }
            )
        )
    res = {t: (b"".join(lines), len(lines)) for t, lines in out.items()}
    res["Observation"] = ("".join(obs_lines).encode(), len(obs_lines))
    return res


# ---------------------------------------------------------------- provider pool
def organization(o: Organization) -> dict:
    return {
        "resourceType": "Organization",
        "id": o.id,
        "identifier": [{"use": "official", "type": _NPI_TYPE, "system": NPI, "value": o.npi}],
        "active": True,
        "type": _ORG_TYPE,
        "name": o.name,
        "telecom": [{"system": "phone", "value": o.phone, "use": "work"}],
        "address": [o.address.fhir()],
    }


def location(loc: Location) -> dict:
    return {
        "resourceType": "Location",
        "id": loc.id,
        "status": "active",
        "name": loc.name,
        "mode": "instance",
        "type": [_cc(ROLE_CODE, loc.role_code, loc.role_display)],
        "telecom": [{"system": "phone", "value": loc.org.phone, "use": "work"}],
        "address": loc.org.address.fhir(),
        "managingOrganization": {"reference": f"Organization/{loc.org.id}"},
    }


def practitioner(pr: Practitioner) -> dict:
    return {
        "resourceType": "Practitioner",
        "id": pr.id,
        "identifier": [{"use": "official", "type": _NPI_TYPE, "system": NPI, "value": pr.npi}],
        "active": True,
        "name": [
            {
                "use": "official",
                "family": pr.family,
                "given": [pr.given],
                "prefix": ["Dr."],
                "suffix": ["MD"],
            }
        ],
        "telecom": [{"system": "phone", "value": pr.phone, "use": "work"}],
        "gender": pr.gender,
        "qualification": _MD,
    }


def pool_lines(pool: Pool) -> dict[str, tuple[bytes, int]]:
    """The shared provider pool by resource type: (ndjson bytes, number of resources)."""
    return {
        "Organization": (
            b"".join(_dumps(organization(o)) for o in pool.organizations),
            len(pool.organizations),
        ),
        "Location": (
            b"".join(_dumps(location(loc)) for loc in pool.locations),
            len(pool.locations),
        ),
        "Practitioner": (
            b"".join(_dumps(practitioner(pr)) for pr in pool.practitioners),
            len(pool.practitioners),
        ),
    }
