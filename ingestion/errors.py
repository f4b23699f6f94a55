"""Why a resource is quarantined instead of written."""

from __future__ import annotations


class QuarantineError(ValueError):
    """A resource (or a whole file) that cannot be written to bronze; the message is the reason, ``field`` the
    JSON path of the offending value (``gender``, ``code.coding[0].system``) when one field is to blame."""

    def __init__(self, reason: str, field: str | None = None):
        super().__init__(reason)
        self.field = field
