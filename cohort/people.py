"""Demographics and social situation of one synthetic patient."""

from __future__ import annotations

from dataclasses import dataclass
from random import Random

from . import names
from .clock import REF
from .providers import (
    Address,
    Organization,
    Pool,
    Practitioner,
    Region,
    make_uuid,
    phone,
    street_address,
)
from .vocab import ETHNICITIES, RACES

#: MRNs are a bijection of the patient index (unique for < 10^8 patients), offset by the seed.
_MRN_MULT = 48_271_109  # odd and coprime with 10^8


@dataclass(slots=True)
class Relative:
    relation: str  # "wife", "son", ... as written in notes and Patient.contact.relationship.text
    code: str  # v2-0131: N next-of-kin, C emergency contact
    given: str
    family: str
    phone: str
    gender: str


@dataclass(slots=True)
class Person:
    index: int
    id: str
    mrn: str
    ssn: str
    sex: str  # "male" | "female" (FHIR administrative gender)
    given: str
    middle: str
    family: str
    prefix: str
    birth: int  # ordinal
    phone: str
    phone_use: str
    email: str
    address: Address
    region: Region
    race: tuple[str, str]
    hispanic: bool
    marital: str
    relative: Relative
    smoker: str  # current | former | never
    alcohol: bool
    lives_alone: bool
    family_support: bool
    poor_adherence: bool
    hospital: Organization
    clinic: Organization
    pcp: Practitioner

    @property
    def he(self) -> str:
        return "he" if self.sex == "male" else "she"

    @property
    def his(self) -> str:
        return "his" if self.sex == "male" else "her"

    @property
    def man(self) -> str:
        return "man" if self.sex == "male" else "woman"

    @property
    def full_name(self) -> str:
        return f"{self.given} {self.family}"

    @property
    def initials(self) -> str:
        return f"{self.given[0]}.{self.family[0]}."


def _weighted(rng: Random, items, weights):
    return rng.choices(items, weights)[0]


def _age_years(rng: Random) -> float:
    """Age at the reference date: an adult, hospital-centred population with a 90+ tail."""
    u = rng.random()
    if u < 0.22:
        return rng.uniform(18, 45)
    if u < 0.55:
        return rng.uniform(45, 65)
    if u < 0.84:
        return rng.uniform(65, 80)
    if u < 0.965:
        return rng.uniform(80, 90)
    return rng.uniform(90, 104)


def _ssn(rng: Random) -> str:
    area = rng.randint(1, 899)
    if area == 666:
        area = 667
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def _relative(rng: Random, sex: str, family: str, age: float, marital: str, area: str) -> Relative:
    if marital == "M":
        if rng.random() < 0.95:
            rel_gender = "female" if sex == "male" else "male"
        else:
            rel_gender = sex
        relation = "wife" if rel_gender == "female" else "husband"
        rel_family = family if rng.random() < 0.85 else rng.choice(names.FAMILY)
        code = "N"
    elif age >= 45 and rng.random() < 0.8:
        rel_gender = rng.choice(("male", "female"))
        relation = "son" if rel_gender == "male" else "daughter"
        rel_family = (
            family
            if (rel_gender == "male" and rng.random() < 0.9) or rng.random() < 0.45
            else rng.choice(names.FAMILY)
        )
        code = "N"
    else:
        rel_gender = rng.choice(("male", "female"))
        u = rng.random()
        if age < 45 and u < 0.5:
            relation = "father" if rel_gender == "male" else "mother"
            rel_family = family
            code = "N"
        elif u < 0.8:
            relation = "brother" if rel_gender == "male" else "sister"
            rel_family = family if rng.random() < 0.7 else rng.choice(names.FAMILY)
            code = "N"
        else:
            relation = "friend"
            rel_family = rng.choice(names.FAMILY)
            code = "C"
    given = rng.choice(names.MALE_FIRST if rel_gender == "male" else names.FEMALE_FIRST)
    return Relative(relation, code, given, rel_family, phone(rng, area), rel_gender)


def make_person(rng: Random, ids: Random, index: int, seed: int, pool: Pool) -> Person:
    region = _weighted(rng, pool.regions, pool.region_weights)
    town, zip3, _ = _weighted(rng, region.towns, [t[2] for t in region.towns])
    area = rng.choice(region.area_codes)
    sex = "female" if rng.random() < 0.53 else "male"
    age = _age_years(rng)
    birth = REF - int(age * 365.25) - rng.randrange(1, 365)
    given = rng.choice(names.MALE_FIRST if sex == "male" else names.FEMALE_FIRST)
    family = rng.choice(names.FAMILY)
    middle = rng.choice(names.MIDDLE_INITIALS)
    u = rng.random()
    if age < 30:
        marital = "S" if u < 0.7 else "M"
    elif age < 75:
        marital = "M" if u < 0.55 else ("D" if u < 0.75 else ("S" if u < 0.92 else "W"))
    else:
        marital = "M" if u < 0.42 else ("W" if u < 0.85 else ("D" if u < 0.94 else "S"))
    prefix = (
        "Mr."
        if sex == "male"
        else ("Mrs." if marital in ("M", "W") and rng.random() < 0.7 else "Ms.")
    )
    race = _weighted(rng, [r[:2] for r in RACES], [r[2] for r in RACES])
    hispanic = rng.random() < 0.17
    line = street_address(rng)
    if rng.random() < 0.25:
        suffix = rng.choice("ABCD") if rng.random() < 0.3 else ""
        line += f" {rng.choice(names.UNIT_TYPES)} {rng.randint(1, 40)}{suffix}"
    address = Address(line, town, region.state, f"{zip3}{rng.randint(1, 98):02d}")
    u = rng.random()
    smoker = "current" if u < 0.14 else ("former" if u < 0.14 + (0.18 + 0.003 * age) else "never")
    alcohol = rng.random() < 0.06
    lives_alone = rng.random() < (0.05 if marital == "M" else (0.55 if age >= 65 else 0.35))
    family_support = rng.random() < (0.15 if lives_alone else 0.6)
    poor_adherence = rng.random() < (0.13 + (0.08 if smoker == "current" else 0.0))
    hospital = rng.choice(region.hospitals)
    clinic = rng.choice(region.clinics)
    pcp = rng.choice(clinic.staff["primary care"])
    mrn = f"MRN{(index * _MRN_MULT + seed * 7_919 + 1_000_003) % 100_000_000:08d}"
    domain = rng.choice(names.EMAIL_DOMAINS)
    handle = "".join(ch for ch in f"{given}.{family}".lower() if ch.isalnum() or ch == ".")
    email = f"{handle}{rng.randint(1, 99)}@{domain}"
    return Person(
        index=index,
        id=make_uuid(ids),
        mrn=mrn,
        ssn=_ssn(rng),
        sex=sex,
        given=given,
        middle=middle,
        family=family,
        prefix=prefix,
        birth=birth,
        phone=phone(rng, area),
        phone_use="mobile" if rng.random() < 0.6 else "home",
        email=email,
        address=address,
        region=region,
        race=race,
        hispanic=hispanic,
        marital=marital,
        relative=_relative(rng, sex, family, age, marital, area),
        smoker=smoker,
        alcohol=alcohol,
        lives_alone=lives_alone,
        family_support=family_support,
        poor_adherence=poor_adherence,
        hospital=hospital,
        clinic=clinic,
        pcp=pcp,
    )


ETHNICITY_BY_FLAG = {True: ETHNICITIES[0], False: ETHNICITIES[1]}
