"""Seeded synthetic FHIR R4 cohort generator: the platform's embedded default data.

``generate_cohort(out_dir, patients, seed)`` writes FHIR Bulk ndjson (one file per resource type);
see docs/cohort.md for the generating process.
"""

from .generator import GenerateReport, generate_cohort

__all__ = ["GenerateReport", "generate_cohort"]
