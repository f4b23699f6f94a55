"""The policy and key a run uses, from the typed settings (read when the run starts)."""

from __future__ import annotations

from clinical_mlops.settings import Settings
from deid.keys import DeidKey, load_key
from deid.policy import DeidPolicy


def policy_from_settings(settings: Settings) -> DeidPolicy:
    return DeidPolicy(date_mode=settings.deid_date_mode)


def key_from_settings(settings: Settings) -> DeidKey:
    """CLINICAL_MLOPS_DEID_KEY; the demo profile alone may fall back to its local owner-only key file."""
    secret = settings.deid_key.get_secret_value() if settings.deid_key else None
    return load_key(secret, profile=settings.profile, key_file=settings.deid_key_file)
