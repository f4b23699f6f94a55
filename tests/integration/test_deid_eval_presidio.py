"""`clinical-mlops deid eval` on the presidio-research synthetic corpus: HIPAA-relevant recall >= 0.95."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli.deid_commands import app

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


@pytest.fixture(scope="module")
def presidio_file(shared_data_dir):
    path = shared_data_dir / "presidio-synth" / "synth_dataset_v2.json"
    if not path.exists():
        pytest.skip(f"presidio-synth corpus not available at {path}")
    return path


def test_eval_presidio_meets_hipaa_recall(presidio_file, tmp_path) -> None:
    out = tmp_path / "metrics.json"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "--format",
            "presidio",
            "--input",
            str(presidio_file),
            "--output",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(out.read_text())
    assert json.loads(result.stdout)["hipaa_relevant"] == metrics["hipaa_relevant"]
    assert metrics["documents"] == 1500
    assert metrics["hipaa_relevant"]["recall"] >= 0.95, metrics["hipaa_relevant"]
    assert metrics["by_gold_label"]["ORGANIZATION"]["hipaa"] is False
    assert metrics["by_gold_label"]["PERSON"]["hipaa"] is True


def test_detect_writes_jsonl(presidio_file, tmp_path) -> None:
    out = tmp_path / "spans.jsonl"
    result = CliRunner().invoke(
        app,
        [
            "detect",
            "--format",
            "presidio",
            "--input",
            str(presidio_file),
            "--output",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and set(rows[0]) == {"doc_id", "start", "end", "label", "text"}
    assert all(r["end"] > r["start"] for r in rows)


def test_bad_input_names_the_file(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = CliRunner().invoke(app, ["eval", "--format", "presidio", "--input", str(bad)])
    assert result.exit_code == 2 and "bad.json" in result.output
    missing = CliRunner().invoke(
        app,
        [
            "detect",
            "--format",
            "text",
            "--input",
            str(tmp_path / "nope"),
            "--output",
            str(tmp_path / "o.jsonl"),
        ],
    )
    assert missing.exit_code == 2 and "nope" in missing.output
