"""Point-in-time feature transforms on handcrafted frames: windows counted right, and for every family a
value planted after the event is ignored (while the same value before the event is used)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from features import transforms as tf
from features.build import FEATURE_VIEWS, POLARS_TYPES, VIEWS, build_feature_tables

UTC = pl.Datetime("us", "UTC")
T = datetime(2024, 6, 1, 12, tzinfo=timezone.utc)  # noqa: UP017 - UTC names the Polars dtype here


def at(days: float) -> datetime:
    """``days`` relative to the event (negative: before)."""
    return T + timedelta(days=days)


EVENTS = pl.DataFrame(
    {"patient_id": ["p1", "p2"], "event_timestamp": [T, T]},
    schema={"patient_id": pl.String, "event_timestamp": UTC},
)


def row(frame: pl.DataFrame, patient: str = "p1") -> dict:
    return frame.filter(pl.col("patient_id") == patient).row(0, named=True)


def enc_frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        orient="row",
        schema={
            "patient_id": pl.String,
            "class_code": pl.String,
            "priority_code": pl.String,
            "discharge_disposition": pl.String,
            "period_start": UTC,
            "period_end": UTC,
        },
    )


def test_utilization_windows_and_future_admission_ignored():
    enc = enc_frame(
        [
            ("p1", "IMP", "EM", "home", at(-400), at(-395)),  # outside 365 days
            ("p1", "IMP", "EL", "snf", at(-200), at(-190)),  # 180 < age <= 365
            ("p1", "IMP", "EM", "home", at(-20), at(-16)),  # within 30 days; the last finished stay
            ("p1", "EMER", "EM", "home", at(-100), at(-99.9)),
            ("p1", "EMER", "EM", "home", at(-10), at(-9.9)),
            ("p1", "AMB", "R", None, at(-50), at(-49.99)),
            (
                "p1",
                "IMP",
                "EM",
                "home",
                at(-1),
                at(3),
            ),  # under way at the event: counted, its stay not over
            ("p1", "IMP", "EM", "rehab", at(5), at(9)),  # FUTURE: ignored
            ("p1", "EMER", "EM", "home", at(1), at(1.1)),  # FUTURE: ignored
        ]
    )
    r = row(tf.utilization(enc, EVENTS))
    assert (r["admissions_30d"], r["admissions_180d"], r["admissions_365d"]) == (2, 2, 3)
    assert (r["ed_visits_30d"], r["ed_visits_180d"], r["ed_visits_365d"]) == (1, 2, 2)
    assert r["outpatient_visits_365d"] == 1
    assert r["last_los_days"] == pytest.approx(4.0) and r["last_stay_disposition"] == "home"
    assert (
        r["days_since_last_discharge"] == pytest.approx(16.0) and r["last_stay_elective"] is False
    )
    assert r["inpatient_days_365d"] == pytest.approx(14.0)
    empty = row(tf.utilization(enc, EVENTS), "p2")  # no encounters: zero counts, no last stay
    assert empty["admissions_365d"] == 0 and empty["last_los_days"] is None


def obs_frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        orient="row",
        schema={
            "patient_id": pl.String,
            "code": pl.String,
            "value_num": pl.Float64,
            "effective_at": UTC,
        },
    )


def test_labs_last_window_stats_trend_and_future_value_ignored():
    a1c = tf.LAB_PANEL["hba1c"]
    obs = obs_frame(
        [
            ("p1", a1c, 5.0, at(-300)),
            ("p1", a1c, 5.5, at(-200)),
            ("p1", a1c, 6.0, at(-100)),
            ("p1", a1c, 6.2, at(-10)),
            ("p1", a1c, 99.0, at(0.01)),  # FUTURE (15 minutes after the event): ignored
            ("p1", a1c, 4.0, at(-500)),  # too old for windows, too old to be last
            ("p1", "9999-9", 1.0, at(-1)),  # not in the panel
        ]
    )
    r = row(tf.labs(obs, EVENTS))
    assert r["hba1c_last"] == 6.2 and r["hba1c_days_since_last"] == pytest.approx(10.0)
    assert r["hba1c_max_365d"] == 6.2 and r["hba1c_min_365d"] == 5.0
    assert r["hba1c_mean_365d"] == pytest.approx((5.0 + 5.5 + 6.0 + 6.2) / 4)
    assert r["hba1c_mean_30d"] == 6.2 and r["hba1c_count_365d"] == 4
    xs, ys = np.array([-300, -200, -100, -10]) / 365.25, np.array([5.0, 5.5, 6.0, 6.2])
    assert r["hba1c_trend_365d"] == pytest.approx(np.polyfit(xs, ys, 1)[0])
    assert r["bnp_last"] is None and r["bnp_count_365d"] == 0 and r["bnp_trend_365d"] is None
    # at the event instant itself the value counts (<=)
    same = obs_frame([("p1", a1c, 7.0, at(0))])
    assert row(tf.labs(same, EVENTS))["hba1c_last"] == 7.0


def cond_frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, orient="row", schema={"patient_id": pl.String, "code": pl.String, "recorded_at": UTC}
    )


def test_conditions_flags_score_and_future_diagnosis_ignored():
    cond = cond_frame(
        [
            ("p1", "42343007", at(-1000)),  # CHF (weight 1)
            ("p1", "N18.30", at(-50)),  # CKD by ICD-10 prefix (weight 2)
            ("p1", "195951007", at(-3)),  # COPD exacerbation, recent
            ("p1", "254837009", at(2)),  # FUTURE cancer: ignored
            ("p2", "52448006", at(0.5)),  # FUTURE dementia for p2: ignored
        ]
    )
    out = tf.conditions(cond, EVENTS)
    r = row(out)
    assert r["cm_chf"] and r["cm_renal"] and r["cm_copd"] and not r["cm_cancer"]
    assert r["comorbidity_count"] == 3 and r["charlson_score"] == 1 + 2 + 1
    assert r["diagnoses_30d"] == 1 and r["acute_cardiopulmonary_30d"] is True
    r2 = row(out, "p2")
    assert not r2["cm_dementia"] and r2["comorbidity_count"] == 0 and r2["charlson_score"] == 0


def med_frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, orient="row", schema={"patient_id": pl.String, "code": pl.String, "start_at": UTC}
    )


def test_medications_active_classes_and_future_prescription_ignored():
    meds = med_frame(
        [
            ("p1", "6809", at(-300)),  # metformin, renewed yearly: active
            ("p1", "29046", at(-400)),  # lisinopril not renewed for 400 days: inactive
            ("p1", "2193", at(-30)),  # ceftriaxone 30 days ago: a short course, over
            ("p1", "1364430", at(-5)),  # apixaban, new
            ("p1", "83367", at(1)),  # FUTURE statin: ignored
            ("p2", "274783", at(0.1)),  # FUTURE insulin for p2: ignored
        ]
    )
    out = tf.medications(meds, EVENTS)
    r = row(out)
    assert (
        r["active_med_count"] == 2 and r["new_meds_30d"] == 2
    )  # apixaban and ceftriaxone first seen <= 30 d
    assert r["rx_antidiabetic_oral"] and r["rx_anticoagulant"]
    assert not r["rx_ace_arb"] and not r["rx_antibiotic"] and not r["rx_statin"]
    r2 = row(out, "p2")
    assert r2["active_med_count"] == 0 and not r2["rx_insulin"]


def note_frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        orient="row",
        schema={
            "patient_id": pl.String,
            "doc_type_code": pl.String,
            "note_date": UTC,
            "text": pl.String,
        },
    )


def test_note_representation_uses_the_latest_discharge_note_before_the_event():
    old, current, future = (
        "patient lives alone declined home health",
        "close follow-up arranged",
        "FUTURE text",
    )
    notes = note_frame(
        [
            ("p1", tf.DISCHARGE_SUMMARY, at(-100), old),
            ("p1", tf.DISCHARGE_SUMMARY, at(-0.1), current),
            ("p1", "11506-3", at(-0.05), "a progress note is not a discharge summary"),
            ("p1", tf.DISCHARGE_SUMMARY, at(0.2), future),  # FUTURE: ignored
            ("p2", tf.DISCHARGE_SUMMARY, at(3), future),  # FUTURE only: p2 has no note
        ]
    )
    out = tf.discharge_note(notes, EVENTS)
    r = row(out)
    vector = np.array(r["note_embedding"], dtype=np.float32)
    assert vector.shape == (tf.NOTE_DIM,) and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(vector, tf.hash_texts([current])[0]) and not np.allclose(
        vector, tf.hash_texts([future])[0]
    )
    assert (
        r["has_note"]
        and r["note_age_days"] == pytest.approx(0.1)
        and r["note_chars"] == len(current)
    )
    r2 = row(out, "p2")
    assert not r2["has_note"] and not any(r2["note_embedding"]) and r2["note_chars"] == 0


def test_hashing_is_stable_and_text_sensitive():
    a, b, c = tf.hash_texts(["Lives alone.", "lives ALONE", "good family support"])
    assert np.allclose(a, b) and not np.allclose(a, c)
    assert tf.token_bucket("alone") == tf.token_bucket("alone")
    assert tf.hash_texts([None, ""]).sum() == 0


def test_demographics_age_at_the_event():
    patients = pl.DataFrame(
        {
            "patient_id": ["p1", "p2"],
            "birth_date": [date(1950, 6, 2), None],
            "gender": ["female", "male"],
            "age_band": ["70-79", "90+"],
        },
        schema={
            "patient_id": pl.String,
            "birth_date": pl.Date,
            "gender": pl.String,
            "age_band": pl.String,
        },
    )
    out = tf.demographics(patients, EVENTS)
    assert (
        row(out)["age_years"] == 73
        and row(out)["age_band"] == "70-79"
        and row(out)["sex"] == "female"
    )
    assert row(out, "p2")["age_band"] == "90+" and row(out, "p2")["age_years"] == 90


def test_build_feature_tables_matches_the_view_specs():
    silver = {
        "patients": pl.DataFrame(
            {
                "patient_id": ["p1"],
                "birth_date": [date(1960, 1, 1)],
                "gender": ["male"],
                "age_band": ["60-69"],
            }
        ),
        "encounters": enc_frame([("p1", "IMP", "EM", "home", at(-5), at(-1))]),
        "observations": obs_frame([("p1", tf.LAB_PANEL["sodium"], 131.0, at(-1))]),
        "conditions": cond_frame([("p1", "42343007", at(-2))]),
        "medications": med_frame([("p1", "4603", at(-1))]),
        "notes": note_frame([("p1", tf.DISCHARGE_SUMMARY, at(-0.5), "CHF exacerbation")]),
    }
    frames = build_feature_tables(silver, EVENTS.vstack(EVENTS))  # duplicate events collapse
    assert set(frames) == {v.name for v in FEATURE_VIEWS}
    for name, frame in frames.items():
        spec = VIEWS[name]
        assert frame.columns == ["patient_id", "event_timestamp", *spec.columns], name
        assert (
            frame.height == 2 and frame.select("patient_id", "event_timestamp").is_unique().all()
        ), name
        for column, dtype in spec.columns.items():
            assert frame.schema[column] == POLARS_TYPES[dtype], (name, column)
        # the stamp is the row's own time: what the training-set check compares with the index time
        assert frame[spec.feature_ts].equals(frame["event_timestamp"], check_names=False), name
    assert (
        row(frames["labs"])["sodium_last"] == 131.0
        and row(frames["medications"])["rx_loop_diuretic"]
    )
