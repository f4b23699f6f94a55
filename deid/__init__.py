"""De-identification (bronze -> silver): policy, keys and pseudonyms, Safe Harbor rules.

Only ingestion and this package may read bronze. Importable without Dagster.
"""
