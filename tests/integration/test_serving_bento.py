"""The Bento of a registered model, served for real (`bentoml serve` on 127.0.0.1, a free port): predictions by
patient pseudonym (features from a small Feast online store) and by raw rows equal the RiskModel's own
``predict_raw`` and carry the model version and its lineage; bad requests are field-level 400s, unknown patients
404, pickle 415, oversized bodies 413; nothing listens beyond loopback and the server is gone afterwards."""

from __future__ import annotations

import hashlib
import pickle
import time
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import polars as pl
import psutil
import pyarrow as pa
import pytest

from clinical_mlops.settings import load_settings
from feature_store import materialize, sync_repository
from feature_store.config import open_store
from feature_store.online import get_online_features
from feature_store.runtime import store_config
from feature_store.synthetic import random_gold, write_gold
from features.build import VIEWS
from features.tasks import READMISSION_30D
from serving.build import build_bento
from serving.server import bento_server
from training.fit import FitConfig, fit_local
from training.spec import input_spec
from training.synthetic import synthetic_training_set
from training.tracking import Tracking, end_run, log_and_register, start_run

pytestmark = pytest.mark.slow

TASK = READMISSION_30D.name
SERVICE = READMISSION_30D.feature_service
TINY = FitConfig(
    max_epochs=1, batch_size=64, tabular_hidden=(16,), note_hidden=(8,), fusion_hidden=(8,)
)
PATIENTS = 24
DIGEST = "sha256:" + "ab" * 32
SNAPSHOT = "f" * 64
UNKNOWN = "pat_" + "e" * 24


def pseudonym(i: int) -> str:
    return "pat_" + hashlib.sha256(f"patient-{i}".encode()).hexdigest()[:24]


def online_store(settings) -> list[str]:
    """Gold tables of the task's views with rows from the last two days (inside every TTL), materialized."""
    now = datetime.now(UTC).replace(microsecond=0)
    specs = [VIEWS[v] for v in READMISSION_30D.feature_views]
    ids = [pseudonym(i) for i in range(PATIENTS)]
    refs = {}
    for i, spec in enumerate(specs):
        table = random_gold(
            spec,
            patients=PATIENTS,
            rows=3 * PATIENTS,
            seed=i,
            days=2,
            start=now - timedelta(days=3),
            list_len=input_spec(TASK).embedding_dim,
        )
        raw = table.column("patient_id").to_pylist()
        table = table.set_column(0, "patient_id", pa.array([ids[int(p[1:])] for p in raw]))
        refs[spec.name] = write_gold(settings.gold, spec, table)
    store, _ = sync_repository(
        store_config(settings), specs, refs, {SERVICE: list(READMISSION_30D.feature_views)}
    )
    materialize(store, now + timedelta(minutes=1))
    return ids


def register(settings):
    frame = synthetic_training_set(TASK, n=300, seed=1)
    fit = fit_local(frame, TASK, TINY)
    tracking = Tracking(
        settings.tracking_uri,
        str(settings.mlflow_home / "artifacts"),
        READMISSION_30D.registered_model,
    )
    tags = {
        "lineage.task": TASK,
        "lineage.feature_service": SERVICE,
        "lineage.training_set.digest": DIGEST,
        "lineage.landing.snapshot_id": SNAPSHOT,
    }
    run_id = start_run(tracking, "serving-test", tags)
    tracked = log_and_register(
        tracking,
        run_id,
        fit.model,
        task=TASK,
        registered_model=READMISSION_30D.registered_model,
        training_frame=frame,
        training_set_uri=str(settings.gold / "training_set_readmission_30d"),
        training_set_version=0,
        metrics={"val_auroc": fit.best_val_auroc},
        tags=tags,
    )
    end_run(tracking, run_id)
    return fit.model, tracked


def as_scored(model, frame: pl.DataFrame) -> pl.DataFrame:
    """The rows as the service scores them under its default range policy (clip): every numeric value
    clipped to the training range the model's preprocessor recorded."""
    ranges = model.preprocessor.training_range or {}
    return frame.with_columns(
        pl.col(name).cast(pl.Float64).clip(low, high) for name, (low, high) in ranges.items()
    )


def out_of_range(model, row: dict) -> list[str]:
    """The features of ``row`` outside the model's training range (the answer's ``clipped``)."""
    ranges = model.preprocessor.training_range or {}
    return [
        name
        for name, (low, high) in ranges.items()
        if row[name] is not None and not low <= row[name] <= high
    ]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("serving")
    settings = load_settings(home=home)
    settings.ensure_layout()
    timings = {}
    t0 = time.perf_counter()
    ids = online_store(settings)
    timings["online_store"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    model, tracked = register(settings)
    timings["register"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    tag = build_bento(
        tracked.model_name,
        tracked.model_version,
        settings=settings,
        threshold=0.5,
        max_batch=16,
        max_body_bytes=200_000,
    )
    timings["build"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = build_bento(
        tracked.model_name,
        tracked.model_version,
        settings=settings,
        threshold=0.5,
        max_batch=16,
        max_body_bytes=200_000,
    )
    timings["rebuild"] = time.perf_counter() - t0
    server = bento_server(tag, settings=settings, log_path=home / "bentoml-serve.log")
    t0 = time.perf_counter()
    server.start()
    timings["start"] = time.perf_counter() - t0
    pids = [server.pid] + [p.pid for p in psutil.Process(server.pid).children(recursive=True)]
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield {
                "settings": settings,
                "ids": ids,
                "model": model,
                "tracked": tracked,
                "tag": tag,
                "again": again,
                "server": server,
                "client": client,
                "timings": timings,
                "store": open_store(store_config(settings)),
            }
    finally:
        port = server.port
        server.stop()
        alive = [
            pid
            for pid in pids
            if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        ]
        assert not alive, f"server processes still alive after stop: {alive}"
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
        print("serving test timings (s):", {k: round(v, 1) for k, v in timings.items()})


def lineage_of(body, tracked):
    assert (
        body["model_name"] == tracked.model_name and body["model_version"] == tracked.model_version
    )
    assert body["feature_service"] == SERVICE
    assert body["training_set_digest"] == DIGEST and body["landing_snapshot_id"] == SNAPSHOT


def test_the_bento_pins_the_model_version_and_its_lineage(served):
    assert served["again"] == served["tag"], (
        "a second build of the same model version and code must reuse the bento"
    )
    assert f"v{served['tracked'].model_version}-" in served["tag"]


def test_predict_by_id_equals_predict_raw_on_the_online_features(served):
    client, ids, tracked = served["client"], served["ids"], served["tracked"]
    pid = ids[3]
    latencies = []
    for _ in range(20):
        t0 = time.perf_counter()
        resp = client.post("/predict_by_id", json={"patient_id": pid})
        latencies.append(time.perf_counter() - t0)
        assert resp.status_code == 200, resp.text
    body = resp.json()
    features = get_online_features(served["store"], [pid], SERVICE)
    expected = float(served["model"].predict_raw(as_scored(served["model"], features))[0])
    assert body["status"] == "scored", body
    assert body["range_policy"] == "clip"
    assert [c["feature"] for c in body["clipped"]] == out_of_range(
        served["model"], features.to_dicts()[0]
    )
    assert 0.0 <= body["risk"] <= 1.0
    assert body["risk"] == pytest.approx(expected, rel=1e-5, abs=1e-7)
    assert body["patient_id"] == pid
    lineage_of(body, tracked)
    assert body["threshold"] == 0.5 and body["flagged"] == (body["risk"] >= 0.5)
    print(
        f"predict_by_id over HTTP: median {1000 * float(np.median(latencies)):.1f} ms, "
        f"max {1000 * max(latencies):.1f} ms (20 calls)"
    )


def test_predict_by_id_batch_keeps_the_order(served):
    client, ids = served["client"], served["ids"]
    batch = [ids[5], ids[1], ids[9]]
    resp = client.post("/predict_by_id_batch", json={"patient_ids": batch})
    assert resp.status_code == 200, resp.text
    predictions = resp.json()["predictions"]
    assert [p["patient_id"] for p in predictions] == batch
    features = get_online_features(served["store"], batch, SERVICE)
    expected = served["model"].predict_raw(as_scored(served["model"], features))
    for p, want, row in zip(predictions, expected, features.to_dicts()):
        # the random online store leaves some patients without a required view: no risk for them
        if any(
            all(row[c] is None for c in VIEWS[v].features) for v in ("demographics", "utilization")
        ):
            assert p["status"] == "insufficient_data" and p["risk"] is None, p
        else:
            assert p["status"] == "scored" and p["risk"] == pytest.approx(
                float(want), rel=1e-5, abs=1e-7
            )
    assert any(p["status"] == "scored" for p in predictions)
    for p in predictions:
        lineage_of(p, served["tracked"])


def test_predict_row_equals_predict_raw_on_the_row(served):
    client, model = served["client"], served["model"]
    spec = input_spec(TASK)
    frame = synthetic_training_set(TASK, n=3, seed=7).select(spec.columns)
    rows = frame.to_dicts()
    resp = client.post("/predict_row", json={"features": rows[0]})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["risk"] == pytest.approx(
        float(model.predict_raw(as_scored(model, frame.head(1)))[0]), rel=1e-5, abs=1e-7
    )
    assert [c["feature"] for c in body["clipped"]] == out_of_range(model, rows[0])
    assert body["patient_id"] is None
    lineage_of(body, served["tracked"])
    resp = client.post("/predict_row_batch", json={"rows": rows})
    assert resp.status_code == 200, resp.text
    np.testing.assert_allclose(
        [p["risk"] for p in resp.json()["predictions"]],
        model.predict_raw(as_scored(model, frame)),
        rtol=1e-5,
        atol=1e-7,
    )
    sparse = dict.fromkeys(
        spec.columns
    )  # every feature unknown: no risk, every view reported missing
    resp = client.post("/predict_row", json={"features": sparse})
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "insufficient_data" and resp.json()["risk"] is None
    assert resp.json()["missing_views"] == list(READMISSION_30D.feature_views)


def test_an_absurd_value_is_a_422_naming_the_feature_not_a_nan_risk(served):
    """A value of 1e40 used to become an infinite z-score in float32, a NaN risk and a 400 blaming the
    Prediction model; it is refused before scoring (serving.policy), with the request id."""
    row = synthetic_training_set(TASK, n=1, seed=7).select(input_spec(TASK).columns).to_dicts()[0]
    resp = served["client"].post(
        "/predict_row",
        json={"features": {**row, "last_los_days": 1e40}},
        headers={"X-Request-ID": "t-1"},
    )
    assert resp.status_code == 422, resp.text
    assert resp.headers["x-request-id"] == "t-1" and resp.json()["request_id"] == "t-1"
    assert [p["feature"] for p in resp.json()["refused"]] == ["last_los_days"]


def test_unknown_patients_are_404_listing_every_unknown_id(served):
    client, ids = served["client"], served["ids"]
    resp = client.post("/predict_by_id", json={"patient_id": UNKNOWN})
    assert resp.status_code == 404
    assert resp.json()["unknown_patient_ids"] == [UNKNOWN] and "no features" in resp.json()["error"]
    other = "pat_" + "d" * 24
    resp = client.post("/predict_by_id_batch", json={"patient_ids": [ids[0], other, UNKNOWN]})
    assert resp.status_code == 404
    assert resp.json()["unknown_patient_ids"] == sorted([other, UNKNOWN])


@pytest.mark.parametrize(
    "path, payload, field",
    [
        ("/predict_by_id", {"patient_id": "MRN-12345"}, "patient_id"),
        ("/predict_by_id", {"patient_id": "pat_" + "a" * 24, "name": "Jane"}, "name"),
        ("/predict_by_id_batch", {"patient_ids": []}, "patient_ids"),
        (
            "/predict_by_id_batch",
            {"patient_ids": [pseudonym(0)] * 17},
            "patient_ids",
        ),  # max_batch=16
        ("/predict_row", "misspelled", "age_yaers"),
        ("/predict_row", "short_embedding", "note_embedding"),
        ("/predict_row", "string_age", "age_years"),
    ],
)
def test_bad_requests_are_400_naming_the_field(served, path, payload, field):
    columns = input_spec(TASK).columns
    row = dict.fromkeys(columns)
    if payload == "misspelled":
        row["age_yaers"] = row.pop("age_years")
        payload = {"features": row}
    elif payload == "short_embedding":
        payload = {"features": {**row, "note_embedding": [0.1] * 10}}
    elif payload == "string_age":
        payload = {"features": {**row, "age_years": "70"}}
    resp = served["client"].post(path, json=payload)
    assert resp.status_code == 400, resp.text
    locs = [list(map(str, e["loc"])) for e in resp.json()["detail"]]
    assert any(field in loc for loc in locs), locs


def test_pickle_is_refused_and_never_unpickled(served, tmp_path):
    sentinel = tmp_path / "unpickled"

    class Exploit:
        def __reduce__(self):
            return (open, (str(sentinel), "w"))

    payload = pickle.dumps(Exploit())
    for path in ("/predict_by_id", "/predict_by_id_batch", "/predict_row", "/predict_row_batch"):
        for ctype in (
            "application/vnd.bentoml+pickle",
            "Application/VND.BentoML+Pickle; charset=binary",
        ):
            resp = served["client"].post(path, content=payload, headers={"Content-Type": ctype})
            assert resp.status_code == 415, (path, ctype, resp.status_code, resp.text)
    resp = served["client"].post(
        "/predict_by_id", content=b'{"patient_id": "x"}', headers={"Content-Type": "text/plain"}
    )
    assert resp.status_code == 415
    assert not sentinel.exists(), "a pickled request body was unpickled"


def test_oversized_bodies_are_413(served):
    big = {"patient_id": "pat_" + "a" * 24, "padding": "x" * 300_000}  # max_body_bytes=200_000
    resp = served["client"].post("/predict_by_id", json=big)
    assert resp.status_code == 413

    def chunks():  # no Content-Length: the limit holds while reading too
        for _ in range(30):
            yield b" " * 10_000

    resp = served["client"].post(
        "/predict_by_id", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 413


def test_the_server_listens_on_loopback_only(served):
    server = served["server"]
    procs = [psutil.Process(server.pid), *psutil.Process(server.pid).children(recursive=True)]
    listening = set()
    for proc in procs:
        try:
            listening |= {
                (c.laddr.ip, c.laddr.port)
                for c in proc.net_connections(kind="inet")
                if c.status == psutil.CONN_LISTEN
            }
        except psutil.NoSuchProcess:
            pass
    assert ("127.0.0.1", server.port) in listening, listening
    exposed = {a for a in listening if a[0] not in ("127.0.0.1", "::1", "::ffff:127.0.0.1")}
    assert not exposed, f"listening beyond loopback: {exposed}"


def test_the_fastapi_baseline_answers_like_the_bento(served):
    """The benchmark's baseline app (in process, same Scorer, schemas and guard) gives the served answers."""
    from fastapi.testclient import TestClient

    from serving.args import ServiceArgs
    from serving.baseline import create_app
    from serving.scoring import Scorer, model_card

    tracked, ids = served["tracked"], served["ids"]
    pinned = ServiceArgs(
        registered_model=tracked.model_name,
        model_version=tracked.model_version,
        task=TASK,
        feature_service=SERVICE,
        training_set_digest=DIGEST,
        landing_snapshot_id=SNAPSHOT,
        threshold=0.5,
        max_batch=16,
        max_body_bytes=200_000,
    )
    app = create_app(lambda: Scorer(served["model"], model_card(pinned), served["store"]), pinned)
    row = synthetic_training_set(TASK, n=1, seed=7).select(input_spec(TASK).columns).to_dicts()[0]
    requests = [
        ("/predict_by_id", {"patient_id": ids[2]}),
        ("/predict_by_id_batch", {"patient_ids": ids[:3]}),
        ("/predict_row", {"features": row}),
        ("/predict_by_id", {"patient_id": UNKNOWN}),
        ("/predict_by_id", {"patient_id": "MRN-1"}),
        ("/predict_by_id_batch", {"patient_ids": ids[:1] * 17}),
    ]
    with TestClient(app) as baseline:
        assert baseline.get("/readyz").status_code == 200
        for path, payload in requests:
            ours, theirs = (
                baseline.post(path, json=payload),
                served["client"].post(path, json=payload),
            )
            assert ours.status_code == theirs.status_code, (path, ours.text, theirs.text)
            if ours.status_code == 200:
                a, b = ours.json(), theirs.json()
                for x, y in zip(a.get("predictions", [a]), b.get("predictions", [b])):
                    assert x.pop("risk") == pytest.approx(y.pop("risk"), rel=1e-5, abs=1e-7)
                    assert x == y
            elif ours.status_code == 404:  # the same answer, each with its own request id
                a, b = ours.json(), theirs.json()
                assert a.pop("request_id") and b.pop("request_id")
                assert a == b
        resp = baseline.post(
            "/predict_row",
            content=b"\x80\x05.",
            headers={"Content-Type": "application/vnd.bentoml+pickle"},
        )
        assert resp.status_code == 415


def test_the_service_through_to_asgi_in_process(served):
    """The Bento's service as an ASGI app in process (``bentoml.load`` then ``to_asgi()``, in a child process so
    that BentoML's home and the pinned arguments are the Bento's): a good request, a bad one, an unknown patient
    and a pickled body; the prediction endpoints are left out of tracing by default (``ServiceArgs.tracing``)."""
    import json
    import subprocess
    import sys

    from serving.build import PROJECT_ROOT
    from serving.server import server_env

    ids, tracked = served["ids"], served["tracked"]
    proc = subprocess.run(
        [sys.executable, "-m", "tests.integration.asgi_probe", served["tag"], ids[0], UNKNOWN],
        cwd=PROJECT_ROOT,
        env=server_env(served["settings"]),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["good"]["status"] == 200
    lineage_of(out["good"]["body"], tracked)
    want = served["client"].post("/predict_by_id", json={"patient_id": ids[0]}).json()
    assert out["good"]["body"]["risk"] == pytest.approx(
        want["risk"], abs=1e-6
    )  # the same answer as over HTTP
    assert out["bad"]["status"] == 400 and any(
        "patient_id" in map(str, e["loc"]) for e in out["bad"]["body"]["detail"]
    )
    assert out["unknown"]["status"] == 404 and out["unknown"]["body"]["unknown_patient_ids"] == [
        UNKNOWN
    ]
    assert out["unknown"]["body"]["request_id"]
    assert out["pickle"]["status"] == 415
    assert sorted(out["tracing"]["excluded_urls"]) == sorted(f"/{api}" for api in out["apis"])
