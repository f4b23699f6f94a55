"""Champion/challenger gate: absolute floors, champion tolerances at their exact boundary, no champion,
undefined AUROC, reports of different rows, JSON-able evidence and MLflow-sized tags."""

from __future__ import annotations

import json

import pytest

from evaluation.gate import GateDecision, GatePolicy, decide
from evaluation.metrics import Interval
from evaluation.report import EvaluationReport
from features.tasks import OperatingPoint

POLICY = GatePolicy(
    min_auroc=0.65, min_auprc_lift=1.5, max_auroc_drop=0.02, max_brier_increase=0.01
)


def report(
    auroc: float | None = 0.80,
    auprc: float | None = 0.40,
    brier: float = 0.15,
    *,
    n: int = 1000,
    positives: int = 200,
    version: str = "2",
    digest: str | None = "sha256:test",
) -> EvaluationReport:
    prevalence = positives / n
    metrics = {
        "auroc": Interval(auroc, None, None, 0)
        if auroc is None
        else Interval(auroc, auroc - 0.05, auroc + 0.05, 1000),
        "auprc": Interval(auprc),
        "auprc_lift": Interval(None if auprc is None else auprc / prevalence),
        "brier": Interval(brier),
        "prevalence": Interval(prevalence),
    }
    return EvaluationReport(
        model_name="readmission_30d",
        model_version=version,
        split="test",
        n=n,
        positives=positives,
        prevalence=prevalence,
        metrics=metrics,
        operating_point={"policy": "sensitivity", "target": 0.7},
        threshold=None,
        threshold_metrics=None,
        subgroups={},
        bootstrap={"n_boot": 1000, "seed": 0, "level": 0.95},
        split_digest=digest,
    )


def failed(decision: GateDecision) -> list[str]:
    return [r for r in decision.reasons if r.startswith("FAIL")]


def test_policy_from_operating_point():
    policy = GatePolicy.from_operating_point(
        OperatingPoint(min_auroc=0.7, min_auprc_lift=2.0), max_auroc_drop=0.05
    )
    assert policy == GatePolicy(
        min_auroc=0.7, min_auprc_lift=2.0, max_auroc_drop=0.05, max_brier_increase=0.01
    )


def test_no_champion_passing_floors_becomes_champion():
    decision = decide(report(), None, POLICY)
    assert decision.promoted and decision.alias == "champion" and decision.compared_with is None
    assert failed(decision) == []
    assert "pass: test AUROC 0.800 >= floor 0.650" in decision.reasons
    assert (
        "pass: test AUPRC/prevalence 2.00 (AUPRC 0.400 / prevalence 0.200) >= floor 1.50"
        in decision.reasons
    )
    assert (
        decision.tags()["gate.decision"] == "promoted"
        and decision.tags()["gate.compared_with"] == "none"
    )


def test_floors_fail_with_numbers():
    decision = decide(report(auroc=0.612, auprc=0.25), None, POLICY)
    assert not decision.promoted and decision.alias == "challenger"
    assert failed(decision) == [
        "FAIL: test AUROC 0.612 < floor 0.650",
        "FAIL: test AUPRC/prevalence 1.25 (AUPRC 0.250 / prevalence 0.200) < floor 1.50",
    ]
    rules = {r["rule"]: r for r in decision.evidence["rules"]}
    assert rules["min_auroc"] == {
        "rule": "min_auroc",
        "passed": False,
        "value": 0.612,
        "limit": 0.65,
    }
    assert decision.tags()["gate.failed_rules"] == "2"


def test_undefined_auroc_fails_saying_the_test_split_has_no_positives():
    decision = decide(report(auroc=None, auprc=None, positives=0), None, POLICY)
    assert not decision.promoted
    assert "FAIL: test AUROC undefined: test split has no positives (n=1000)" in decision.reasons


@pytest.mark.parametrize(
    ("candidate_auroc", "promoted"),
    [
        (0.78, True),
        (0.7799, False),
        (0.85, True),
    ],  # champion 0.80, allowed drop 0.02: 0.78 is the boundary
)
def test_champion_auroc_drop_boundary(candidate_auroc, promoted):
    decision = decide(report(auroc=candidate_auroc, version="3"), report(auroc=0.80), POLICY)
    assert decision.promoted is promoted
    assert decision.compared_with == "readmission_30d v2"
    assert decision.evidence["deltas"]["auroc"] == pytest.approx(candidate_auroc - 0.80)
    if not promoted:
        assert failed(decision) == [
            "FAIL: AUROC 0.780 vs champion readmission_30d v2 0.800 (delta -0.0201) "
            "exceeds allowed drop 0.020"
        ]


@pytest.mark.parametrize(
    ("candidate_brier", "promoted"), [(0.16, True), (0.1601, False), (0.10, True)]
)
def test_champion_brier_increase_boundary(candidate_brier, promoted):
    decision = decide(report(brier=candidate_brier, version="3"), report(brier=0.15), POLICY)
    assert decision.promoted is promoted
    assert decision.alias == ("champion" if promoted else "challenger")
    assert any(r.startswith("pass: AUROC 0.800 vs champion") for r in decision.reasons)
    brier_reasons = [r for r in decision.reasons if "Brier" in r]
    assert len(brier_reasons) == 1 and brier_reasons[0].startswith("pass" if promoted else "FAIL")


def test_candidate_below_floor_is_not_promoted_even_if_better_than_champion():
    decision = decide(report(auroc=0.64, version="3"), report(auroc=0.60), POLICY)
    assert not decision.promoted
    assert failed(decision) == ["FAIL: test AUROC 0.640 < floor 0.650"]


def test_champion_scored_on_different_rows_is_not_compared():
    decision = decide(report(version="3"), report(n=900, positives=180), POLICY)
    assert not decision.promoted
    assert failed(decision)[0].startswith(
        "FAIL: champion readmission_30d v2 was evaluated on different rows "
        "(n/positives 1000/200 vs 900/180)"
    )
    other_digest = decide(report(version="3"), report(digest="sha256:other"), POLICY)
    assert "split digest sha256:test vs sha256:other" in failed(other_digest)[0]


def test_evidence_is_json_and_paired_interval_is_reported():
    paired = {"auroc": Interval(0.012, -0.010, 0.034, 998)}
    decision = decide(report(auroc=0.812, version="3"), report(auroc=0.80), POLICY, paired)
    assert decision.promoted
    assert (
        "paired auroc difference (candidate - champion) +0.012 [-0.010, +0.034] over 998 resamples"
        in decision.reasons
    )
    data = json.loads(json.dumps(decision.to_dict()))
    assert data["evidence"]["paired"]["auroc"]["low"] == -0.010
    assert data["evidence"]["champion"]["auroc"]["estimate"] == 0.80
    assert data["evidence"]["candidate"]["version"] == "3"
    assert GateDecision.from_dict(data) == decision


def test_tags_respect_mlflow_value_limit():
    decision = GateDecision(alias="challenger", promoted=False, reasons=["FAIL: " + "x" * 3000] * 3)
    tags = decision.tags()
    assert len(tags["gate.reasons"]) == 5000 and tags["gate.reasons"].endswith("…")
    assert tags["gate.decision"] == "rejected" and tags["gate.alias"] == "challenger"
    assert tags["gate.failed_rules"] == "3"
