"""OpenLineage run events for every asset materialization (placeholder: filled by the OpenLineage work)."""

from __future__ import annotations

OPENLINEAGE_HOOKS: set = set()
