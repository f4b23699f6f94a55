"""Small, fast accessors for FHIR R4 datatypes (dates, references, codings) used by the flatteners.

Hand-written on purpose: validating every resource with a full FHIR model library costs far more than
the parse itself (see the ingestion benchmark); these read only the fields bronze types.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from ingestion.errors import QuarantineError

UTC = UTC


def parse_instant(value: Any, field: str) -> datetime | None:
    """FHIR date / dateTime / instant -> aware UTC datetime (partial dates start their period)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise QuarantineError(f"unparseable date in {field}: {value!r}", field)
    try:
        n = len(value)
        if n == 4:
            return datetime(int(value), 1, 1, tzinfo=UTC)
        if n == 7:
            return datetime(int(value[:4]), int(value[5:7]), 1, tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise QuarantineError(f"unparseable date in {field}: {value!r}", field) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_date(value: Any, field: str) -> date | None:
    """FHIR date (YYYY, YYYY-MM or YYYY-MM-DD) -> date (partial dates start their period)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise QuarantineError(f"unparseable date in {field}: {value!r}", field)
    try:
        n = len(value)
        if n == 4:
            return date(int(value), 1, 1)
        if n == 7:
            return date(int(value[:4]), int(value[5:7]), 1)
        if n == 10:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value).date()
    except ValueError:
        raise QuarantineError(f"unparseable date in {field}: {value!r}", field) from None


def reference_id(ref: Any, fullurls: dict[str, str] | None = None) -> str | None:
    """Reference -> the id of the resource it points at.

    ``Patient/123``, ``http://x/fhir/Patient/123/_history/2`` and a Bundle ``urn:uuid:...`` fullUrl
    (looked up in ``fullurls``, falling back to the uuid itself) all give ``123`` / the resource id.
    """
    if isinstance(ref, dict):
        ref = ref.get("reference")
    if not isinstance(ref, str) or not ref:
        return None
    if ref.startswith("urn:uuid:") or ref.startswith("urn:oid:"):
        if fullurls and ref in fullurls:
            return fullurls[ref]
        return ref.rsplit(":", 1)[1]
    if fullurls and ref in fullurls:
        return fullurls[ref]
    parts = ref.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return parts[-1] if len(parts) >= 2 else (parts[0] or None)


def reference_type(ref: Any) -> str | None:
    if isinstance(ref, dict):
        if ref.get("type"):
            return ref["type"]
        ref = ref.get("reference")
    if not isinstance(ref, str) or ref.startswith("urn:"):
        return None
    parts = ref.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return parts[-2] if len(parts) >= 2 else None


def first_coding(concept: Any) -> dict[str, Any]:
    """The first coding of a CodeableConcept (or of the first of a list of them), else {}."""
    if isinstance(concept, list):
        concept = concept[0] if concept else None
    if not isinstance(concept, dict):
        return {}
    codings = concept.get("coding")
    if codings and isinstance(codings, list) and isinstance(codings[0], dict):
        coding = codings[0]
        if "display" not in coding and concept.get("text"):
            return {**coding, "display": concept["text"]}
        return coding
    if concept.get("text"):
        return {"display": concept["text"]}
    return {}


def concept_code(concept: Any) -> str | None:
    return first_coding(concept).get("code")


def period_bounds(
    resource: dict[str, Any], field: str, *, instant: bool = False
) -> tuple[datetime | None, datetime | None]:
    """Start and end of a ``<field>Period`` / ``<field>DateTime`` (/ ``<field>Instant`` where the type has it,
    as Observation.effective[x] does) choice."""
    period = resource.get(field + "Period")
    if isinstance(period, dict):
        return (
            parse_instant(period.get("start"), f"{field}Period.start"),
            parse_instant(period.get("end"), f"{field}Period.end"),
        )
    for suffix in ("DateTime", "Instant") if instant else ("DateTime",):
        value = resource.get(field + suffix)
        if value is not None:
            at = parse_instant(value, field + suffix)
            return at, at
    return None, None


def extension_value(resource: dict[str, Any], url_suffix: str) -> str | None:
    """Text of a (US Core style) extension: its `text` sub-extension, ombCategory display, or value."""
    for ext in resource.get("extension") or ():
        if not isinstance(ext, dict) or not str(ext.get("url", "")).endswith(url_suffix):
            continue
        for sub in ext.get("extension") or ():
            if sub.get("url") == "text" and sub.get("valueString"):
                return sub["valueString"]
        for sub in ext.get("extension") or ():
            if sub.get("url") == "ombCategory":
                return (sub.get("valueCoding") or {}).get("display") or (
                    sub.get("valueCoding") or {}
                ).get("code")
        for key, value in ext.items():
            if key.startswith("value") and isinstance(value, str):
                return value
    return None
