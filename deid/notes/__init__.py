"""Clinical-note de-identification: PHI span detection (known identifiers, patterns, gazetteers,
context cues) and replacement with consistent surrogates or typed tags."""

from deid.notes.deidentify import DeidentifiedText, NoteDeidentifier
from deid.notes.detect import detect_phi

__all__ = ["DeidentifiedText", "NoteDeidentifier", "detect_phi"]
