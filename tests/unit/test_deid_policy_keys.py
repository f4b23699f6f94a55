"""De-identification groundwork: policy, key handling, pseudonyms and date offsets."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from clinical_mlops.settings import load_settings
from deid.keys import DeidKey, MissingKeyError, load_key
from deid.policy import RESTRICTED_ZIP3, DeidPolicy

KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


def test_policy_digest_changes_with_any_rule_and_not_otherwise() -> None:
    base = DeidPolicy()
    assert base.digest == DeidPolicy().digest
    assert DeidPolicy(date_mode="safe_harbor").digest != base.digest
    assert DeidPolicy(restricted_zip3=("036",)).digest != base.digest
    assert base.describe()["deid_policy_version"] == base.version


def test_policy_rejects_bad_configuration() -> None:
    with pytest.raises(ValidationError, match="three digits"):
        DeidPolicy(restricted_zip3=("36",))
    with pytest.raises(ValidationError, match="shift_max_days"):
        DeidPolicy(shift_min_days=10, shift_max_days=5)
    assert "036" in RESTRICTED_ZIP3 and len(RESTRICTED_ZIP3) == 17


def test_pseudonyms_are_keyed_stable_and_kind_separated() -> None:
    key = DeidKey(bytes.fromhex(KEY), "environment")
    other = DeidKey(bytes.fromhex(KEY[::-1]), "environment")
    assert key.pseudonym("patient-1") == key.pseudonym("patient-1")
    assert key.pseudonym("patient-1") != key.pseudonym("patient-2")
    assert key.pseudonym("patient-1") != other.pseudonym("patient-1")
    assert key.pseudonym("x", kind="encounter") != key.pseudonym("x", kind="patient")
    assert "patient-1" not in key.pseudonym("patient-1")


def test_shift_days_stay_in_range_and_spread() -> None:
    key = DeidKey(bytes.fromhex(KEY), "environment")
    days = [key.shift_days(f"p{i}") for i in range(2000)]
    assert min(days) >= 1 and max(days) <= 365
    assert len(set(days)) > 300
    assert key.shift_days("p1") == key.shift_days("p1")


def test_key_never_shows_in_repr_or_settings_dump(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = DeidKey(bytes.fromhex(KEY), "environment")
    assert KEY not in repr(key) and key.fingerprint in repr(key)
    monkeypatch.setenv("CLINICAL_MLOPS_DEID_KEY", KEY)
    settings = load_settings(home=tmp_path)
    assert KEY not in repr(settings) and KEY not in str(settings.model_dump(mode="json"))
    assert (
        load_key(
            settings.deid_key.get_secret_value(), profile="prod", key_file=settings.deid_key_file
        ).fingerprint
        == key.fingerprint
    )


def test_non_demo_profiles_refuse_to_run_without_a_key(tmp_path: Path) -> None:
    for profile in ("dev", "prod"):
        with pytest.raises(MissingKeyError, match="CLINICAL_MLOPS_DEID_KEY is not set"):
            load_key(None, profile=profile, key_file=tmp_path / "deid.key")
    assert not (tmp_path / "deid.key").exists()


def test_demo_creates_an_owner_only_key_once_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "secrets" / "deid.key"
    with caplog.at_level(logging.WARNING):
        first = load_key(None, profile="demo", key_file=path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "created a local de-identification key" in caplog.text
    assert path.read_text().strip() not in caplog.text
    assert load_key(None, profile="demo", key_file=path).fingerprint == first.fingerprint


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deid.key"
    path.write_text(KEY)
    path.chmod(0o644)
    with pytest.raises(MissingKeyError, match="readable by group or others"):
        load_key(None, profile="demo", key_file=path)


def test_short_keys_are_refused() -> None:
    with pytest.raises(MissingKeyError, match="shorter than"):
        load_key("abcd", profile="prod", key_file=Path("/nonexistent"))


def test_batch_pseudonyms_equal_the_single_hmac_for_every_key_length() -> None:
    from deid.keys import DeidKey

    for secret in (b"s" * 16, b"s" * 64, b"s" * 65, bytes(range(100))):
        key = DeidKey(secret, "test")
        values = ["Patient/1", "é", "", "x" * 300]
        assert key.pseudonyms(values, "encounter") == [
            key.pseudonym(v, "encounter") for v in values
        ]
