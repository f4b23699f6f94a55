"""Lineage trace on small fakes: reference parsing, path relocation, disagreement detection, served responses,
and the protected versions retention derives from model tags."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest

from audit.retention import protected_from_tags
from audit.trace import (
    HomePaths,
    TraceError,
    parse_model_ref,
    response_lineage,
    response_mismatches,
    trace_model,
)

DIGEST = "sha256:" + "ab" * 32
SNAP = "cd" * 32


def _paths(home: Path) -> HomePaths:
    return HomePaths({z: home / z for z in ("landing", "bronze", "silver", "gold")})


def _tags(home: Path) -> dict[str, str]:
    return {
        "lineage.training_set.uri": str(home / "gold" / "training_set_t"),
        "lineage.training_set.version": "3",
        "lineage.training_set.digest": DIGEST,
        "lineage.feature_service": "t_v1",
        "lineage.task": "t",
        "lineage.task_version": "v1",
        "lineage.gold.features/labs": "2",
        "lineage.gold.index_events_t": "1",
        "lineage.silver.patients": "4",
        "lineage.bronze.patients": "5",
        "lineage.deid.policy_version": "p1",
        "lineage.deid.key_fingerprint": "kf",
        "lineage.landing.snapshot_id": SNAP,
        "code.git_sha": "abc",
        "dagster.run_id": "run-1",
        "gate.decision": "promoted",
        "gate.alias": "champion",
        "eval.auroc": "0.8",
        "mlflow.run_id": "r1",
    }


class FakeClient:
    def __init__(self, tags: dict[str, str]) -> None:
        self.mv = SimpleNamespace(
            version="7", run_id="r1", tags=tags, source="models:/m", status="READY"
        )
        self.run = SimpleNamespace(
            info=SimpleNamespace(status="FINISHED", experiment_id="1"),
            data=SimpleNamespace(tags={k: v for k, v in tags.items()}),
            inputs=None,
        )

    def get_model_version(self, name: str, version: str):
        if version != "7":
            raise RuntimeError("RESOURCE_DOES_NOT_EXIST")
        return self.mv

    def get_model_version_by_alias(self, name: str, alias: str):
        if alias != "champion":
            raise RuntimeError("alias not found")
        return self.mv

    def get_run(self, run_id: str):
        return self.run

    def get_registered_model(self, name: str):
        return SimpleNamespace(aliases={"champion": 7})


def _commits(home: Path, digest: str = DIGEST, snapshot: str = SNAP):
    gold = {
        "features/labs": {"uri": "/elsewhere/gold/features/labs", "version": 2},
        "index_events_t": {"uri": str(home / "gold" / "index_events_t"), "version": 1},
    }
    table = {
        (str(home / "gold" / "training_set_t"), 3): {
            "content_digest": digest,
            "dagster_run_id": "run-1",
            "upstream_versions": orjson.dumps({"gold": gold, "silver": {"patients": 4}}).decode(),
        },
        (str(home / "silver" / "patients"), 4): {
            "deid_policy_version": "p1",
            "landing_snapshot_id": snapshot,
            "dagster_run_id": "run-0",
            "bronze_versions": '{"patients": 5}',
        },
        (str(home / "bronze" / "patients"), 5): {
            "dagster_run_id": "run-0",
            "snapshot_id": snapshot,
        },
    }

    def read(uri: str, version: int):
        if (uri, version) not in table:
            if "gold" in uri:
                return {"dagster_run_id": "run-1"}
            raise KeyError(f"{uri}: no commit for version {version}")
        return table[(uri, version)]

    return read


def test_parse_model_ref_needs_name_and_ref() -> None:
    assert parse_model_ref("clinical-readmission@champion") == ("clinical-readmission", "champion")
    assert parse_model_ref("a@b@3") == ("a@b", "3")
    for bad in ("clinical-readmission", "@3", "m@"):
        with pytest.raises(TraceError, match="MODEL@VERSION"):
            parse_model_ref(bad)


def test_recorded_paths_of_a_moved_home_are_read_in_this_home(tmp_path: Path) -> None:
    paths = _paths(tmp_path / "home")
    (tmp_path / "home" / "gold" / "features" / "labs").mkdir(parents=True)
    assert paths.locate("/old/home/gold/features/labs", "gold") == str(
        tmp_path / "home/gold/features/labs"
    )
    assert paths.locate("/old/home/gold/nothing_here", "gold") == "/old/home/gold/nothing_here"
    assert paths.locate("s3://bucket/gold/x", "gold") == "s3://bucket/gold/x"


def test_trace_links_every_record_and_finds_no_problem_when_they_agree(tmp_path: Path) -> None:
    home = tmp_path / "h"
    result = trace_model(
        FakeClient(_tags(home)), "m", "champion", _paths(home), read_commit=_commits(home)
    )
    assert result["problems"] == []
    assert result["model"]["version"] == "7" and result["model"]["aliases"] == ["champion"]
    assert result["training_set"]["version"] == 3 and result["training_set"]["digest"] == DIGEST
    assert [(g["table"], g["version"]) for g in result["gold"]] == [
        ("features/labs", 2),
        ("index_events_t", 1),
    ]
    assert result["feature_service"] == {"name": "t_v1", "views": ["labs"]}
    assert [(s["table"], s["version"], s["deid_policy_version"]) for s in result["silver"]] == [
        ("patients", 4, "p1")
    ]
    assert result["bronze"][0]["snapshot_id"] == SNAP
    assert result["dagster_run_ids"] == ["run-0", "run-1"]
    assert (
        result["gate"]["decision"] == "promoted"
        and result["evaluation"]["metrics"]["auroc"] == "0.8"
    )


def test_trace_names_each_disagreeing_link(tmp_path: Path) -> None:
    home = tmp_path / "h"
    read = _commits(home, digest="sha256:other", snapshot="ee" * 32)
    bento = {
        "tag": "m-service:v7",
        "labels": {
            "training_set_digest": DIGEST,
            "feature_service": "t_v0",
            "landing_snapshot_id": SNAP,
            "mlflow_run_id": "r1",
        },
    }
    result = trace_model(
        FakeClient(_tags(home)), "m", "7", _paths(home), read_commit=read, bentos=[bento]
    )
    text = "\n".join(result["problems"])
    assert f"{home / 'gold' / 'training_set_t'}@3: commit digest 'sha256:other'" in text
    assert "silver patients@4: built from landing snapshot" in text
    assert "Bento m-service:v7: label feature_service='t_v0'" in text


def test_a_missing_commit_is_a_problem_naming_table_and_version(tmp_path: Path) -> None:
    home = tmp_path / "h"
    tags = {**_tags(home), "lineage.bronze.patients": "9"}
    result = trace_model(FakeClient(tags), "m", "7", _paths(home), read_commit=_commits(home))
    assert any(
        p.startswith(f"bronze patients: {home / 'bronze' / 'patients'}@9 has no readable commit")
        for p in result["problems"]
    )


def test_unknown_version_or_alias_is_named(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="no alias 'nope'"):
        trace_model(FakeClient(_tags(tmp_path)), "m", "nope", _paths(tmp_path))
    with pytest.raises(TraceError, match="no version '8'"):
        trace_model(FakeClient(_tags(tmp_path)), "m", "8", _paths(tmp_path))


def test_served_response_fields_resolve_the_version_and_are_checked_against_the_registry(
    tmp_path: Path,
) -> None:
    answer = {
        "risk": 0.2,
        "model_name": "m",
        "model_version": "7",
        "feature_service": "t_v1",
        "training_set_digest": DIGEST,
        "landing_snapshot_id": SNAP,
    }
    fields = response_lineage({"predictions": [answer, answer]})
    assert (fields["model_name"], fields["model_version"]) == ("m", "7")
    assert response_mismatches(fields, _tags(tmp_path)) == []
    forged = response_lineage({**answer, "training_set_digest": "sha256:forged"})
    assert response_mismatches(forged, _tags(tmp_path)) == [
        f"response training_set_digest='sha256:forged' but m v7 is tagged lineage.training_set.digest={DIGEST!r}"
    ]
    with pytest.raises(TraceError, match="different model versions"):
        response_lineage({"predictions": [answer, {**answer, "model_version": "8"}]})
    with pytest.raises(TraceError, match="lacks"):
        response_lineage({"risk": 0.1})


def test_protected_versions_come_from_every_model_versions_tags(tmp_path: Path) -> None:
    home = tmp_path / "h"
    older = {**_tags(home), "lineage.training_set.version": "1", "lineage.gold.features/labs": "0"}
    protected = protected_from_tags([_tags(home), older], _paths(home))
    assert protected[str(home / "gold" / "training_set_t")] == {1, 3}
    assert protected[str(home / "gold" / "features/labs")] == {0, 2}
    assert protected[str(home / "silver" / "patients")] == {4}
    assert protected[str(home / "bronze" / "patients")] == {5}
