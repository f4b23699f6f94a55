"""The end of the README's first command: start the champion's Bento on loopback, ask it for one patient's
risk over HTTP, stop it. The patient is the one behind the latest index event of the served model's own test
split (a real discharge in the demo cohort, present in the online store)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import polars as pl

from serving.refs import BentoRef
from serving.server import bento_server


def latest_test_patient(training_set_uri: str, training_set_version: int) -> str:
    from training.data import read_training_set  # lazy: imports torch and lightning

    frame = read_training_set(
        training_set_uri, training_set_version, columns=["patient_id", "event_timestamp", "split"]
    )
    test = frame.filter(pl.col("split") == "test").sort("event_timestamp")
    if test.height == 0:
        raise ValueError(
            f"training set {training_set_uri}@v{training_set_version} has no test rows"
        )
    return str(test["patient_id"][-1])


def curl_example(url: str, patient_id: str) -> str:
    return (
        f"curl -s -X POST {url}/predict_by_id -H 'Content-Type: application/json' "
        f'-d \'{{"patient_id": "{patient_id}"}}\''
    )


def predict_once(
    bento: BentoRef, patient_id: str, settings, log_dir: Path | None = None
) -> dict[str, Any]:
    """Serve ``bento`` on a free loopback port, POST ``/predict_by_id`` once, stop the server."""
    log_path = (log_dir / "demo-serve.log") if log_dir else None
    with bento_server(bento.tag, settings=settings, log_path=log_path) as server:
        response = httpx.post(
            f"{server.url}/predict_by_id", json={"patient_id": patient_id}, timeout=30
        )
        if response.status_code != 200:
            raise RuntimeError(
                f"POST {server.url}/predict_by_id answered {response.status_code}: {response.text[:500]}"
            )
        return {
            "url": server.url,
            "request": {"patient_id": patient_id},
            "response": response.json(),
            "curl": curl_example(f"http://127.0.0.1:{settings.serve_port}", patient_id),
        }
