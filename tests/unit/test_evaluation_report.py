"""The evaluation report end to end on synthetic scored frames: threshold from validation, JSON round trip,
flat MLflow tags, a test split without positives, plots and the model card."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from evaluation import (
    EvaluationReport,
    GatePolicy,
    choose_threshold,
    decide,
    evaluate,
    model_card,
    render_plots,
)
from features.tasks import OperatingPoint

OP = OperatingPoint(policy="sensitivity", target=0.7)
ATTRIBUTES = ("sex", "age_band", "race_ethnicity")


def scored(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 6, n)
    return pl.DataFrame(
        {
            "label": (rng.random(n) < p).astype(np.int8),
            "score": p,
            "sex": rng.choice(["F", "M"], n),
            "age_band": rng.choice(["18-44", "45-64", "65+"], n).astype(object),
            "race_ethnicity": rng.choice(["white", "black", "asian"], n, p=[0.7, 0.25, 0.05]),
        }
    ).with_columns(
        pl.when(pl.int_range(pl.len()) % 10 == 0)
        .then(None)
        .otherwise(pl.col("age_band"))
        .alias("age_band")
    )


@pytest.fixture(scope="module")
def frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    return scored(600, seed=1), scored(400, seed=2)


@pytest.fixture(scope="module")
def report(frames) -> EvaluationReport:
    test, validation = frames
    return evaluate(
        test,
        validation,
        OP,
        model_name="readmission_30d",
        model_version="4",
        n_boot=200,
        seed=0,
        attributes=ATTRIBUTES,
        split_digest="sha256:abc",
    )


def test_report_numbers_and_threshold_from_validation(frames, report):
    test, validation = frames
    assert (report.n, report.positives) == (600, int(test["label"].sum()))
    assert report.threshold == choose_threshold(validation["label"], validation["score"], OP)
    assert report.threshold != choose_threshold(test["label"], test["score"], OP)
    assert report.operating_point["chosen_on"] == "validation"
    assert report.operating_point["validation_sensitivity"] >= 0.7
    tm = report.threshold_metrics
    flagged = test["score"].to_numpy() >= report.threshold
    assert tm.tp == int((flagged & (test["label"].to_numpy() == 1)).sum())
    assert tm.tp + tm.fp + tm.tn + tm.fn == 600
    auroc = report.metrics["auroc"]
    assert auroc.low < auroc.estimate < auroc.high and auroc.n_boot_used == 200
    assert [g.group for g in report.subgroups["age_band"].groups] == [
        "18-44",
        "45-64",
        "65+",
        "unknown",
    ]
    asian = {g.group: g for g in report.subgroups["race_ethnicity"].groups}["asian"]
    assert (
        not asian.evaluable and asian.auroc is None
    )  # ~30 rows, ~6 positives: below min_n or min_positives


def test_json_round_trip(report):
    text = json.dumps(report.to_dict())
    back = EvaluationReport.from_dict(json.loads(text))
    assert back == report
    assert json.dumps(back.to_dict()) == text


def test_flat_tags_are_short_strings(report):
    tags = report.flat_tags()
    auroc = report.metrics["auroc"]
    assert tags["eval.auroc"] == f"{auroc.estimate:.3f}"
    assert tags["eval.auroc_ci"] == f"[{auroc.low:.3f}, {auroc.high:.3f}]"
    assert tags["eval.n"] == "600" and tags["eval.split_digest"] == "sha256:abc"
    assert tags["eval.threshold"] == f"{report.threshold:.4f}"
    gap = report.subgroups["sex"].auroc_gap
    assert tags["eval.auroc_gap.sex"].startswith(f"{gap.value:.3f} ({gap.high_group} ")
    assert all(isinstance(v, str) and len(v) <= 5000 for v in tags.values())


def test_test_split_without_positives_is_reported_and_rejected(frames, tmp_path):
    test, validation = frames
    no_positives = test.with_columns(pl.lit(0, dtype=pl.Int8).alias("label"))
    report = evaluate(
        no_positives,
        validation,
        OP,
        model_name="m",
        model_version="1",
        n_boot=50,
        attributes=ATTRIBUTES,
    )
    assert report.value("auroc") is None and report.metrics["auroc"].n_boot_used == 0
    assert report.notes[0].startswith("test split has no positives (n=600)")
    assert report.threshold is not None  # the validation split still had positives
    decision = decide(report, None, GatePolicy())
    assert not decision.promoted
    assert "FAIL: test AUROC undefined: test split has no positives (n=600)" in decision.reasons
    paths = render_plots(
        no_positives, report, tmp_path
    )  # ROC/PR panels say why they are empty, no crash
    assert all(p.stat().st_size > 5_000 for p in paths.values())


def test_validation_without_positives_gives_no_threshold_but_a_report(frames):
    test, validation = frames
    report = evaluate(
        test,
        validation.with_columns(pl.lit(0).alias("label")),
        OP,
        model_name="m",
        model_version="1",
        n_boot=20,
        attributes=ATTRIBUTES,
    )
    assert report.threshold is None and report.threshold_metrics is None
    assert any("validation split has no positives" in note for note in report.notes)


def test_invalid_scores_raise_with_the_problem(frames):
    test, validation = frames
    with pytest.raises(ValueError, match="scores outside \\[0, 1\\]"):
        evaluate(
            test.with_columns(pl.col("score") * 3),
            validation,
            OP,
            model_name="m",
            model_version="1",
            n_boot=5,
        )
    with pytest.raises(ValueError, match=r"validation frame lacks column\(s\) \['score'\]"):
        evaluate(test, validation.drop("score"), OP, model_name="m", model_version="1", n_boot=5)


def test_plots_write_four_small_pngs(frames, report, tmp_path):
    paths = render_plots(frames[0], report, tmp_path / "plots")
    assert sorted(paths) == ["calibration", "precision_recall", "roc", "subgroups"]
    for name, path in paths.items():
        data = path.read_bytes()
        assert path.parent == tmp_path / "plots" and path.name.endswith(".png")
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        assert 5_000 < len(data) < 100_000, (name, len(data))


def test_model_card_has_metrics_lineage_and_decision(report):
    lineage = {
        "training_set_digest": "sha256:feed",
        "silver_delta_version": "12",
        "deid_policy_version": "v3",
        "landing_snapshot_id": "snap-0042",
        "feature_service": "readmission_30d_v1",
    }
    decision = decide(report, None, GatePolicy(min_auroc=0.99))
    card = model_card(
        report,
        task_description="Unplanned readmission within 30 days of discharge.",
        intended_use=None,
        lineage=lineage,
        decision=decision,
        training={"max_epochs": 20},
    )
    assert card.startswith("# Model card: readmission_30d v4\n")
    auroc = report.metrics["auroc"]
    assert f"| AUROC | {auroc.estimate:.3f} | {auroc.low:.3f} – {auroc.high:.3f} |" in card
    for key, value in lineage.items():
        assert f"| {key} | `{value}` |" in card
    keys = [
        line.split("|")[1].strip()
        for line in card.splitlines()
        if line.split("|")[1:2] and line.split("|")[1].strip() in lineage
    ]
    assert keys == sorted(lineage)
    assert "decision **support**" in card and "Not a diagnosis" in card
    assert f"FAIL: test AUROC {auroc.estimate:.3f} < floor 0.990" in card
    assert "kept as **challenger**" in card
    assert "race_ethnicity=asian" in card  # the non-evaluable subgroup is named in the limitations
    assert "| max_epochs | 20 |" in card
    assert "Validation is temporal only" in card
