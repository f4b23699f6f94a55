"""Why a resource is quarantined instead of written."""


class QuarantineError(ValueError):
    """A resource (or a whole file) that cannot be written to bronze; the message is the reason."""
