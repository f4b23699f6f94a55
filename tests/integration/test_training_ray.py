"""Ray Train (2 CPU workers) on a tiny pinned training set: the model is registered in MLflow with every
lineage key, loads without unpickling, predicts on raw feature rows, and training survives a killed worker."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import mlflow
import numpy as np
import polars as pl
import psutil
import pytest
import torch
from torchmetrics.functional.classification import binary_auroc

from features.tasks import READMISSION_30D
from lakehouse.delta import DeltaRef, write
from lineage.chain import training_set_lineage
from lineage.digest import table_digest
from training.fit import FitConfig
from training.ray_train import RayScaling, fit_ray
from training.run import train_task
from training.spec import input_spec
from training.synthetic import synthetic_training_set
from training.tracking import Tracking

pytestmark = pytest.mark.slow
SNAPSHOT = "f" * 64
TINY = FitConfig(
    max_epochs=1, batch_size=64, tabular_hidden=(16,), note_hidden=(8,), fusion_hidden=(8,)
)


def lakehouse(root: Path, frame: pl.DataFrame) -> DeltaRef:
    """silver (bronze versions, landing snapshot, de-identification) -> gold training set, each commit
    carrying what the real assets record."""
    for table in ("patients", "encounters"):
        write(
            str(root / "silver" / table),
            pl.DataFrame({"x": [1]}).to_arrow(),
            metadata={
                "bronze_versions": json.dumps({"patients": 0, "encounters": 0}),
                "landing_snapshot_id": SNAPSHOT,
                "landing_snapshot_ids": json.dumps([SNAPSHOT]),
                "deid_policy_version": "2026.11-1",
                "deid_key_fingerprint": "abcd1234",
            },
        )
    events = write(
        str(root / "gold" / "index_events_readmission_30d"),
        pl.DataFrame({"x": [1]}).to_arrow(),
        metadata={"silver_versions": json.dumps({"encounters": 0})},
    )
    upstream = {
        "gold": {"index_events_readmission_30d": {"uri": events.uri, "version": events.version}},
        "silver": {"patients": 0, "encounters": 0},
    }
    return write(
        str(root / "gold" / "training_set_readmission_30d"),
        frame.to_arrow(),
        metadata={
            "content_digest": table_digest(
                frame.to_arrow(), ["event_timestamp", "patient_id", "encounter_id"]
            ),
            "feature_service": "readmission_v1",
            "task": "readmission_30d",
            "task_version": "v1",
            "dagster_run_id": "run-ts",
            "upstream_versions": json.dumps(upstream),
        },
        table="training_set_readmission_30d",
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    frame = synthetic_training_set(n=600, seed=1)
    ref = lakehouse(root, frame)
    lineage = training_set_lineage(ref, root / "silver")
    tracking = Tracking(
        f"sqlite:///{root / 'mlflow.db'}", str(root / "artifacts"), "clinical-readmission"
    )
    before = _local_checkpoint_dirs()
    outcome = train_task(
        ref,
        READMISSION_30D,
        tracking=tracking,
        storage_path=str(root / "ray"),
        lineage_tags=lineage,
        tags={"dagster.run_id": "run-1", "dagster.asset_key": "models/x"},
        config=TINY,
        scaling=RayScaling(num_workers=2, use_gpu=False),
    )
    # each worker's local checkpoint folder (RayTrainReportCallback's) is gone after the run
    assert _local_checkpoint_dirs() - before == set()
    return root, frame, ref, lineage, tracking, outcome


def _local_checkpoint_dirs() -> set[str]:
    import glob
    import tempfile

    return set(glob.glob(os.path.join(tempfile.gettempdir(), "lightning_checkpoints-*")))


def test_the_registered_version_carries_every_lineage_key(trained):
    _, _, ref, lineage, tracking, outcome = trained
    client = mlflow.MlflowClient(tracking.tracking_uri)
    version = client.get_model_version("clinical-readmission", outcome.tracked.model_version)
    for key in (
        "lineage.training_set.digest",
        "lineage.training_set.version",
        "lineage.feature_service",
        "lineage.landing.snapshot_id",
        "lineage.deid.policy_version",
        "lineage.deid.key_fingerprint",
        "lineage.bronze.patients",
        "lineage.silver.encounters",
        "lineage.gold.index_events_readmission_30d",
        "dagster.run_id",
        "dagster.asset_key",
        "code.git_sha",
        "code.lock_sha256",
    ):
        assert key in version.tags, key
    assert version.tags["lineage.landing.snapshot_id"] == SNAPSHOT
    assert version.tags["lineage.training_set.version"] == str(ref.version)
    assert version.tags == {**version.tags, **lineage}
    run = client.get_run(outcome.tracked.run_id)
    assert (
        run.info.status == "FINISHED"
        and run.data.tags["lineage.feature_service"] == "readmission_v1"
    )
    assert {"val_auroc", "train_loss", "best_val_auroc"} <= set(run.data.metrics)
    assert run.data.params["world_size"] == "2"  # logged by rank 0 of the two workers
    inputs = run.inputs.dataset_inputs
    dataset = inputs[0].dataset
    assert dataset.source_type == "delta_table" and json.loads(dataset.source)["path"] == ref.uri
    assert dataset.name == f"training_set_readmission_30d@v{ref.version}"


def test_the_registered_model_loads_weights_only_and_scores_raw_rows(trained):
    _, frame, _, _, tracking, outcome = trained
    mlflow.set_tracking_uri(tracking.tracking_uri)
    model = mlflow.pyfunc.load_model(outcome.tracked.model_uri)
    rows = (
        frame.filter(pl.col("split") == "test")
        .select(input_spec("readmission_30d").columns)
        .head(20)
    )
    # the signature: every feature optional, numbers as doubles
    served = model.predict(
        rows.with_columns(pl.col(pl.Int64).cast(pl.Float64)).to_pandas()
    ).to_numpy()
    assert served.shape == (20,) and np.all((served >= 0) & (served <= 1))
    np.testing.assert_allclose(served, outcome.fit.model.predict_raw(rows), rtol=1e-5)
    artifacts = Path(mlflow.artifacts.download_artifacts(f"runs:/{outcome.tracked.run_id}/model"))
    assert not list(artifacts.rglob("*.pkl")), "the model must not be a pickle"
    assert (artifacts / "artifacts" / "model.pt").exists()
    # one patient with most features missing still gets a risk
    sparse = rows.head(1).with_columns(
        [pl.lit(None).alias(c) for c in rows.columns if c != "age_years"]
    )
    assert (
        0
        <= model.predict(sparse.with_columns(pl.col(pl.Int64).cast(pl.Float64)).to_pandas()).iloc[0]
        <= 1
    )


def test_local_ray_listens_on_loopback_only():
    from training.ray_train import ray_session

    with ray_session(num_cpus=1):
        import ray

        @ray.remote
        def pid() -> int:
            return os.getpid()

        ray.get(pid.remote())  # a worker process is up too
        listening = {
            (c.laddr.ip, proc.name())
            for proc in psutil.Process().children(recursive=True)
            for c in proc.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        }
    assert listening, "no Ray server found"
    exposed = {
        (ip, name) for ip, name in listening if ip not in ("127.0.0.1", "::ffff:127.0.0.1", "::1")
    }
    assert not exposed, f"Ray servers listening beyond loopback: {exposed}"


LOOPBACK = ("127.0.0.1", "::ffff:127.0.0.1", "::1")


def _listening(stop: threading.Event, seen: dict) -> None:
    """Every listening socket of this process tree, sampled until ``stop``: (ip, port) -> process name."""
    while not stop.is_set():
        for proc in psutil.Process().children(recursive=True):
            try:
                for c in proc.net_connections(kind="inet"):
                    if c.status == psutil.CONN_LISTEN:
                        seen[(c.laddr.ip, c.laddr.port)] = " ".join(proc.cmdline())[:60]
            except psutil.Error:  # gone between the listing and the look
                pass
        time.sleep(0.05)


def test_local_ray_training_listens_on_loopback_only(tmp_path):
    """During DDP training (2 workers: Ray's servers, the workers' gRPC, torch's rendezvous store on rank 0
    and gloo's sockets) nothing in our process tree listens on 0.0.0.0, :: or another address."""
    frame = synthetic_training_set(n=2000, seed=4)
    ref = write(str(tmp_path / "training_set"), frame.to_arrow())
    seen: dict[tuple[str, int], str] = {}
    stop = threading.Event()
    poller = threading.Thread(target=_listening, args=(stop, seen), daemon=True)
    poller.start()
    try:
        fit_ray(
            ref.uri,
            ref.version,
            "readmission_30d",
            FitConfig(max_epochs=3, patience=10, batch_size=32, tabular_hidden=(16,)),
            scaling=RayScaling(num_workers=2, use_gpu=False),
            storage_path=tmp_path / "ray",
            run_name="loopback",
        )
    finally:
        stop.set()
        poller.join()
    workers = {addr for addr, name in seen.items() if "RayTrainWorker" in name}
    assert workers, f"no training worker was seen listening: {seen}"
    exposed = {addr: name for addr, name in seen.items() if addr[0] not in LOOPBACK}
    assert not exposed, f"listening beyond loopback during training: {exposed}"


def test_a_run_shorter_than_the_interval_reports_one_checkpoint_holding_the_best_epoch(tmp_path):
    """Between reports the workers keep training; the one checkpoint (after the last epoch) carries the best
    validation epoch's weights, which is the model returned."""
    frame = synthetic_training_set(n=600, seed=3)
    ref = write(str(tmp_path / "training_set"), frame.to_arrow())
    config = FitConfig(
        max_epochs=4,
        patience=10,
        batch_size=64,
        tabular_hidden=(16,),
        note_hidden=(8,),
        fusion_hidden=(8,),
    )
    fit = fit_ray(
        ref.uri,
        ref.version,
        "readmission_30d",
        config,
        scaling=RayScaling(num_workers=2, use_gpu=False),
        storage_path=tmp_path / "ray",
        run_name="paced",
        checkpoint_interval_s=3600,
    )
    checkpoints = [
        p for p in (tmp_path / "ray" / "paced").iterdir() if p.name.startswith("checkpoint_2")
    ]
    assert len(checkpoints) == 1, checkpoints
    assert fit.epochs_run == 4 and [h["epoch"] for h in fit.history] == [0, 1, 2, 3]
    assert fit.extra["worker_on_gpu"] is False and not fit.use_gpu
    assert fit.best_val_auroc == max(h["val_auroc"] for h in fit.history)
    assert fit.history[fit.best_epoch]["val_auroc"] == fit.best_val_auroc
    val = frame.filter(pl.col("split") == "validation")
    auroc = binary_auroc(
        torch.from_numpy(fit.model.predict_raw(val)), torch.tensor(val["label"].to_list())
    )
    assert auroc.item() == pytest.approx(fit.best_val_auroc, abs=1e-5)


def _a_checkpoint_is_registered(tracking: Tracking) -> bool:
    """Rank 0 logs epoch 1's metrics only once every rank got through epoch 0's report: its checkpoint is
    registered with Ray (killing a worker right after epoch 0's own report could beat the other rank's)."""
    client = mlflow.MlflowClient(tracking.tracking_uri)
    experiment = client.get_experiment_by_name(tracking.experiment)
    if experiment is None:
        return False
    runs = client.search_runs([experiment.experiment_id])
    return bool(runs) and any(
        m.step >= 1 for m in client.get_metric_history(runs[0].info.run_id, "val_auroc")
    )


def _kill_a_worker_after_the_first_checkpoint(tracking: Tracking, killed: list[int]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not killed:
        if _a_checkpoint_is_registered(tracking):
            for proc in psutil.process_iter(["pid", "cmdline"]):
                if proc.info["pid"] != os.getpid() and "RayTrainWorker" in " ".join(
                    proc.info["cmdline"] or []
                ):
                    os.kill(proc.info["pid"], signal.SIGKILL)
                    killed.append(proc.info["pid"])
                    return
        time.sleep(
            0.05
        )  # Ray reports quickly (a 0.05 s controller poll): look often, or training ends first


EPOCHS_WITH_A_KILL = 5


def test_a_killed_worker_is_replaced_and_training_resumes_from_the_checkpoint(tmp_path):
    frame = synthetic_training_set(n=4000, seed=2)
    ref = lakehouse(tmp_path, frame)
    tracking = Tracking(
        f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "artifacts"), "clinical-readmission"
    )
    killed: list[int] = []
    killer = threading.Thread(
        target=_kill_a_worker_after_the_first_checkpoint, args=(tracking, killed), daemon=True
    )
    killer.start()
    config = FitConfig(
        max_epochs=EPOCHS_WITH_A_KILL,
        patience=10,
        batch_size=32,
        tabular_hidden=(16,),
        note_hidden=(8,),
        fusion_hidden=(8,),
    )
    outcome = train_task(
        ref,
        READMISSION_30D,
        tracking=tracking,
        storage_path=str(tmp_path / "ray"),
        lineage_tags=training_set_lineage(ref, tmp_path / "silver"),
        config=config,
        scaling=RayScaling(num_workers=2, use_gpu=False),
        max_failures=2,
        checkpoint_interval_s=0,
    )  # a checkpoint every epoch: the kill lands after one
    killer.join(timeout=5)
    assert killed, "no Ray Train worker was found to kill"
    run = mlflow.MlflowClient(tracking.tracking_uri).get_run(outcome.tracked.run_id)
    assert "ray.resumed_from_checkpoint" in run.data.tags, (
        "the replaced workers did not resume from a checkpoint"
    )
    assert outcome.fit.epochs_run == EPOCHS_WITH_A_KILL and outcome.tracked.model_version == "1"
    steps = [
        m.step
        for m in mlflow.MlflowClient(tracking.tracking_uri).get_metric_history(
            run.info.run_id, "val_auroc"
        )
    ]
    assert sorted(set(steps)) == list(range(EPOCHS_WITH_A_KILL)) and steps.count(0) == 1, (
        steps
    )  # epoch 0 not retrained
