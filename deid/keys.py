"""The de-identification key: keyed pseudonyms and per-patient date offsets (HMAC-SHA256).

The key comes from CLINICAL_MLOPS_DEID_KEY (or a secret store that sets it). Only the `demo` profile may
create a local key file (owner-only permissions) when none is given. The key itself is never logged
or recorded anywhere: writes record only its fingerprint.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

MIN_KEY_BYTES = 16


class MissingKeyError(RuntimeError):
    """No usable de-identification key for a profile that must not invent one."""


@dataclass(frozen=True)
class DeidKey:
    secret: bytes = field(repr=False)
    source: str  # "environment" or the key file's path: where it came from, never what it is

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_KEY_BYTES:
            raise MissingKeyError(
                f"the de-identification key from {self.source} is shorter than "
                f"{MIN_KEY_BYTES} bytes"
            )

    def __repr__(self) -> str:
        return f"DeidKey(fingerprint={self.fingerprint}, source={self.source})"

    @property
    def fingerprint(self) -> str:
        """Identifies the key in reports and metadata without revealing it."""
        return hashlib.sha256(b"clinical-mlops/deid-key-fingerprint/" + self.secret).hexdigest()[
            :16
        ]

    def _mac(self, purpose: str, value: str) -> bytes:
        return hmac.new(self.secret, f"{purpose}\x1f{value}".encode(), hashlib.sha256).digest()

    def pseudonym(self, value: str, kind: str = "patient") -> str:
        """Stable keyed pseudonym: the same (kind, value) gives the same token under one key."""
        return f"{kind[:3]}_{self._mac('pseudonym/' + kind, value).hex()[:24]}"

    def pseudonyms(self, values: list[str], kind: str = "patient") -> list[str]:
        """``pseudonym`` for many values at once: the same HMAC-SHA256 results, about 4x faster."""
        # HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)) (RFC 2104) with both padded-key states and the
        # message prefix hashed once; per value only two state copies. Equal to ``pseudonym`` (tested).
        secret = hashlib.sha256(self.secret).digest() if len(self.secret) > 64 else self.secret
        padded = secret.ljust(64, b"\0")
        inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        inner.update(f"pseudonym/{kind}\x1f".encode())
        outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
        tag, inner_copy, outer_copy = kind[:3], inner.copy, outer.copy
        out = []
        for value in values:
            i = inner_copy()
            i.update(value.encode())
            o = outer_copy()
            o.update(i.digest())
            out.append(f"{tag}_{o.hexdigest()[:24]}")
        return out

    def shift_days(self, patient_key: str, low: int = 1, high: int = 365) -> int:
        """The patient's date offset in [low, high] days, derived from the key (same in every table)."""
        number = int.from_bytes(self._mac("date-shift", patient_key)[:8], "big")
        return low + number % (high - low + 1)


def _from_text(text: str, source: str) -> DeidKey:
    text = text.strip()
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = text.encode()
    return DeidKey(secret, source)


def load_key(env_value: str | None, *, profile: str, key_file: Path) -> DeidKey:
    """The key from the environment; else, for the demo profile only, a local key file (created once)."""
    if env_value:
        return _from_text(env_value, "environment")
    if profile != "demo":
        raise MissingKeyError(
            f"CLINICAL_MLOPS_DEID_KEY is not set: the {profile!r} profile refuses to run "
            "without a de-identification key (set it from your secret store)"
        )
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
            log.warning(
                "demo profile: created a local de-identification key at %s (owner-only); "
                "set CLINICAL_MLOPS_DEID_KEY for anything but a demo",
                key_file,
            )
    mode = key_file.stat().st_mode & 0o777
    if mode & 0o077:
        raise MissingKeyError(
            f"{key_file} is readable by group or others (mode {mode:o}); chmod 600 it"
        )
    return _from_text(key_file.read_text(), str(key_file))
