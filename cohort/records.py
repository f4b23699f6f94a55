"""Plain in-memory records produced by the simulation and consumed by the FHIR builders."""

from __future__ import annotations

from dataclasses import dataclass, field

from .providers import Location, Organization, Practitioner


@dataclass(slots=True)
class ConditionRec:
    id: str
    key: str
    category: str  # "problem-list-item" | "encounter-diagnosis"
    onset_day: int
    onset_min: int
    recorded_day: int
    recorded_min: int
    enc: Encounter
    status: str = "active"  # active | resolved
    abatement: tuple[int, int] | None = None


@dataclass(slots=True)
class MedOrder:
    id: str
    key: str
    day: int
    minute: int
    enc: Encounter
    requester: Practitioner
    category: str  # inpatient | outpatient | community | discharge
    reason: ConditionRec | None = None
    status: str = "active"  # finalised at the end of the simulation
    course_end: int | None = None  # last day of a fixed-length course


@dataclass(slots=True)
class ProcRec:
    id: str
    key: str
    enc: Encounter
    start_day: int
    start_min: int
    end_day: int | None  # None -> performedDateTime
    end_min: int
    performer: Practitioner | None


@dataclass(slots=True)
class DocRec:
    id: str
    kind: str  # discharge | progress
    enc: Encounter
    day: int
    minute: int
    author: Practitioner
    text: str


@dataclass(slots=True)
class Encounter:
    id: str
    cls: str  # AMB | EMER | IMP
    type_key: str
    priority: str  # R | EM | UR | EL
    start_day: int
    start_min: int
    end_day: int
    end_min: int
    org: Organization
    locations: list[Location]
    practitioner: Practitioner
    reason: str | None
    admit_source: str | None = None
    disposition: str | None = None
    #: (lab key, day, minute, value)
    obs: list[tuple[str, int, int, float]] = field(default_factory=list)


@dataclass(slots=True)
class Stay:
    """An inpatient stay with everything the discharge summary and the readmission model use."""

    enc: Encounter
    kind: str  # emergency | elective | readmission
    dx: str
    procedures: list[str]
    los: int
    adm_labs: dict[str, float]
    dis_labs: dict[str, float]
    adm_vitals: dict[str, float]
    dis_vitals: dict[str, float]
    disposition: str
    comorbidities: list[str]
    age: int
    burden: float
    prior_admissions: int
    abnormal_labs: list[str]
    declined_home_health: bool = False
    close_followup: bool = False
    followup_day: int | None = None
    transfer_to: Organization | None = None
    home_meds: list[str] = field(default_factory=list)
    new_meds: list[str] = field(default_factory=list)
    course_meds: list[str] = field(default_factory=list)
    inpatient_meds: list[str] = field(default_factory=list)
    p_readmit: float = 0.0
    index_stay: Stay | None = None  # for readmissions: the stay it follows
    consultant: Practitioner | None = None


@dataclass(slots=True)
class Visit:
    """An outpatient visit with what its progress note needs."""

    enc: Encounter
    vitals: dict[str, float]
    labs: dict[str, float]
    problems: list[str]
    new_diagnoses: list[str]
    started: list[str]
    stopped: list[str]
    meds: list[str]
    after_stay: Stay | None = None
