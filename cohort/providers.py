"""The shared provider pool: hospitals and clinics (Organization + Location) and clinicians
(Practitioner). It depends only on the seed, so every patient chunk sees the same pool and a
bigger cohort is a superset of a smaller one."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from random import Random

from . import names

HOSPITALS_PER_CITY = 1
CLINICS_PER_REGION = 5
HOSPITALISTS_PER_HOSPITAL = 8
SURGEONS_PER_HOSPITAL = 3
CARDIOLOGISTS_PER_HOSPITAL = 2
ED_PHYSICIANS_PER_HOSPITAL = 4
PCPS_PER_CLINIC = 4


def rng_for(seed: int, *key: object) -> Random:
    """An independent, reproducible random stream for (seed, *key)."""
    h = hashlib.blake2b(repr((seed,) + key).encode(), digest_size=16).digest()
    return Random(int.from_bytes(h, "big"))


def make_uuid(rng: Random) -> str:
    """A version-4-shaped UUID drawn from ``rng``."""
    n = rng.getrandbits(128)
    n = (n & ~(0xF << 76)) | (0x4 << 76)
    n = (n & ~(0x3 << 62)) | (0x2 << 62)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def npi_check_digit(base9: str) -> int:
    """Luhn check digit of an NPI (computed over the ``80840`` prefix + 9 digits)."""
    total = 0
    for i, ch in enumerate(reversed("80840" + base9)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def make_npi(rng: Random, used: set[str]) -> str:
    while True:
        base = str(rng.choice("12")) + "".join(str(rng.randrange(10)) for _ in range(8))
        npi = base + str(npi_check_digit(base))
        if npi not in used:
            used.add(npi)
            return npi


def phone(rng: Random, area: str) -> str:
    return f"{area}-{rng.randint(201, 989)}-{rng.randrange(10000):04d}"


def zip_code(rng: Random, zip3: str) -> str:
    return f"{zip3}{rng.randint(1, 98):02d}"


def street_address(rng: Random) -> str:
    return (
        f"{rng.randint(1, 9899)} {rng.choice(names.STREET_NAMES)} {rng.choice(names.STREET_TYPES)}"
    )


@dataclass(slots=True)
class Address:
    line: str
    city: str
    state: str
    postal_code: str

    def fhir(self) -> dict:
        return {
            "line": [self.line],
            "city": self.city,
            "state": self.state,
            "postalCode": self.postal_code,
            "country": "US",
        }


@dataclass(slots=True)
class Practitioner:
    id: str
    npi: str
    given: str
    family: str
    gender: str
    specialty: str
    phone: str

    @property
    def display(self) -> str:
        return f"Dr. {self.given} {self.family}"


@dataclass(slots=True)
class Location:
    id: str
    name: str
    role_code: str
    role_display: str
    org: Organization


@dataclass(slots=True)
class Organization:
    id: str
    npi: str
    name: str
    kind: str  # "hospital" | "clinic"
    address: Address
    phone: str
    region: int
    locations: dict[str, Location] = field(default_factory=dict)
    staff: dict[str, list[Practitioner]] = field(default_factory=dict)


@dataclass(slots=True)
class Region:
    index: int
    state: str
    area_codes: tuple[str, ...]
    towns: tuple[tuple[str, str, int], ...]
    hospitals: list[Organization] = field(default_factory=list)
    clinics: list[Organization] = field(default_factory=list)


@dataclass(slots=True)
class Pool:
    regions: list[Region]
    region_weights: list[float]
    organizations: list[Organization]
    locations: list[Location]
    practitioners: list[Practitioner]


def _practitioner(
    rng: Random, ids: Random, npis: set[str], specialty: str, area: str
) -> Practitioner:
    gender = rng.choice(("male", "female"))
    given = rng.choice(names.MALE_FIRST if gender == "male" else names.FEMALE_FIRST)
    return Practitioner(
        make_uuid(ids),
        make_npi(rng, npis),
        given,
        rng.choice(names.FAMILY),
        gender,
        specialty,
        phone(rng, area),
    )


@lru_cache(maxsize=8)
def build_pool(seed: int) -> Pool:
    rng = rng_for(seed, "pool")
    ids = rng_for(seed, "pool-ids")
    npis: set[str] = set()
    regions: list[Region] = []
    orgs: list[Organization] = []
    locs: list[Location] = []
    pracs: list[Practitioner] = []
    used_names: set[str] = set()

    def unique(name: str) -> str:
        base, n = name, 2
        while name in used_names:
            name = f"{base} {('North', 'South', 'East', 'West')[n % 4]}"
            n += 1
        used_names.add(name)
        return name

    for ri, spec in enumerate(names.REGIONS):
        region = Region(ri, spec.state, spec.area, spec.towns)
        area = spec.area[0]
        for city, zip3 in spec.hospital_cities:
            for _ in range(HOSPITALS_PER_CITY):
                pattern = rng.choice(names.HOSPITAL_PATTERNS)
                name = unique(pattern.format(city=city, saint=rng.choice(names.SAINTS)))
                org = Organization(
                    make_uuid(ids),
                    make_npi(rng, npis),
                    name,
                    "hospital",
                    Address(street_address(rng), city, spec.state, zip_code(rng, zip3)),
                    phone(rng, area),
                    ri,
                )
                for key, lname, code, disp in (
                    ("ed", "Emergency Department", "ER", "Emergency room"),
                    ("ward", "Medical Ward", "HU", "Hospital unit"),
                    ("surgical", "Surgical Ward", "HU", "Hospital unit"),
                    ("icu", "Intensive Care Unit", "ICU", "Intensive care unit"),
                ):
                    loc = Location(make_uuid(ids), f"{name} {lname}", code, disp, org)
                    org.locations[key] = loc
                    locs.append(loc)
                for role, n in (
                    ("hospitalist", HOSPITALISTS_PER_HOSPITAL),
                    ("surgeon", SURGEONS_PER_HOSPITAL),
                    ("cardiologist", CARDIOLOGISTS_PER_HOSPITAL),
                    ("emergency", ED_PHYSICIANS_PER_HOSPITAL),
                ):
                    staff = [_practitioner(rng, ids, npis, role, area) for _ in range(n)]
                    org.staff[role] = staff
                    pracs.extend(staff)
                region.hospitals.append(org)
                orgs.append(org)
        for _ in range(CLINICS_PER_REGION):
            town, zip3, _w = rng.choice(spec.towns)
            pattern = rng.choice(names.CLINIC_PATTERNS)
            name = unique(pattern.format(town=town, street=rng.choice(names.STREET_NAMES)))
            org = Organization(
                make_uuid(ids),
                make_npi(rng, npis),
                name,
                "clinic",
                Address(street_address(rng), town, spec.state, zip_code(rng, zip3)),
                phone(rng, area),
                ri,
            )
            internal = "Internal Medicine" in name or rng.random() < 0.5
            loc = Location(
                make_uuid(ids),
                name,
                "GIM" if internal else "FMC",
                "General internal medicine clinic" if internal else "Family Medicine Clinic",
                org,
            )
            org.locations["clinic"] = loc
            locs.append(loc)
            staff = [
                _practitioner(rng, ids, npis, "primary care", area) for _ in range(PCPS_PER_CLINIC)
            ]
            org.staff["primary care"] = staff
            pracs.extend(staff)
            region.clinics.append(org)
            orgs.append(org)
        regions.append(region)
    weights = [float(spec.weight) for spec in names.REGIONS]
    return Pool(regions, weights, orgs, locs, pracs)
