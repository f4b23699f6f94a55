"""OpenLineage run events for asset steps, built with the openlineage-python client (no Dagster here).

Why this lives apart from the hooks: the same naming and event shape must hold whether a step ran under
Dagster, a test or a backfill script, and it is easier to test as pure functions.

Naming (what an auditor will search Marquez for):
- Delta tables, the landing directory, the Feast home: namespace = the lakehouse root as a URI
  (``file:///abs/root`` locally, ``s3://bucket/prefix`` at scale), name = the path under it
  (``silver/patients``). A path outside the root falls back to the OpenLineage spec's own naming
  (``file`` + absolute path, or ``<scheme>://<bucket>`` + key).
- Every Delta dataset carries its version in the DatasetVersion facet; the landing directory carries
  the snapshot id; a Feast registry the gold versions it was applied from; an MLflow model its registered
  version (namespace ``mlflow+<tracking uri>``, name ``models/<name>``); a Bento its tag's version
  (namespace ``bentoml+<store URI>``, name the bento name).
- One OpenLineage run per Dagster step: runId = uuid5(dagster run id, step key), so START and
  COMPLETE/FAIL of the same step meet in one run whatever process emits them; its parent is the
  Dagster run (same runId as the Dagster run id), job ``<namespace>/<dagster job>``.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

import attr
from openlineage.client.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    JobFacet,
    RunFacet,
    dataset_version_dataset,
    error_message_run,
    job_type_job,
    output_statistics_output_dataset,
    parent_run,
    processing_engine_run,
    schema_dataset,
    storage_dataset,
)
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpConfig,
    HttpTransport,
    TokenProvider,
)
from pydantic import BaseModel

from lakehouse.delta import row_count

log = logging.getLogger(__name__)

# The project has no public address yet, so producer and facet schema are URNs naming the module and the
# document (docs/openlineage.md) rather than invented URLs; swap in the repository URL once it is published.
PRODUCER = "urn:clinical-mlops:lineage/openlineage.py"
FACET_SCHEMA = "urn:clinical-mlops:docs/openlineage.md"  # documents our two custom facets
RUN_ID_NAMESPACE = uuid.UUID(
    "6f1c3a52-2d0e-4f55-9a57-8c3c1f1b0e21"
)  # fixed: run ids stay stable across releases


# ---------------------------------------------------------------- custom facets


@attr.define
class DagsterStepRunFacet(RunFacet):
    """Which Dagster run and step this OpenLineage run is, and the code version that ran it."""

    dagsterRunId: str  # noqa: N815
    stepKey: str  # noqa: N815
    dagsterJob: str  # noqa: N815
    codeVersion: dict[str, str] = attr.field(factory=dict)  # noqa: N815

    @staticmethod
    def _get_schema() -> str:
        return f"{FACET_SCHEMA}#dagsterstep-run-facet"


@attr.define
class DagsterAssetsJobFacet(JobFacet):
    """The asset keys a step materializes (a multi-asset step has several) and its op."""

    assetKeys: list[str] = attr.field(factory=list)  # noqa: N815
    opName: str = ""  # noqa: N815
    _additional_skip_redact: ClassVar[list[str]] = ["assetKeys", "opName"]

    @staticmethod
    def _get_schema() -> str:
        return f"{FACET_SCHEMA}#dagsterassets-job-facet"


# ---------------------------------------------------------------- naming


def path_uri(path: str | Path) -> str:
    """A local path as a ``file://`` URI; an object-store URI unchanged (no trailing slash)."""
    text = str(path)
    if "://" in text:
        return text.rstrip("/")
    return Path(text).expanduser().resolve().as_uri().rstrip("/")


def dataset_location(uri: str | Path, root: str) -> tuple[str, str]:
    """(namespace, name) of a table or directory: under the lakehouse ``root`` (a URI) the namespace is
    the root and the name the relative path; elsewhere the OpenLineage spec's naming for the store."""
    full = path_uri(uri)
    root = path_uri(root)
    if full.startswith(root + "/"):
        return root, full[len(root) + 1 :]
    parsed = urlparse(full)
    if parsed.scheme == "file":
        return "file", parsed.path
    return f"{parsed.scheme}://{parsed.netloc}", parsed.path.lstrip("/")


@dataclass(frozen=True)
class Naming:
    """Where things live, from the settings: every dataset name is relative to these."""

    lakehouse_root: str  # a path or URI
    bentoml_home: str
    namespace: str = "clinical-mlops"  # the OpenLineage namespace of jobs

    @classmethod
    def from_settings(cls, settings: Any) -> Naming:
        return cls(
            lakehouse_root=path_uri(settings.root),
            bentoml_home=path_uri(settings.bentoml_home),
            namespace=settings.openlineage_namespace,
        )


@dataclass(frozen=True)
class LineageDataset:
    """One dataset as a step saw it: where, which version, and (for Delta) where to read its schema."""

    namespace: str
    name: str
    version: str | None
    delta_uri: str | None = None
    storage: str | None = None  # storage layer for the storage facet ("delta")


def _delta(ref: BaseModel, naming: Naming) -> LineageDataset:
    namespace, name = dataset_location(ref.uri, naming.lakehouse_root)
    return LineageDataset(namespace, name, str(ref.version), delta_uri=ref.uri, storage="delta")


def mlflow_namespace(tracking_uri: str) -> str:
    """``mlflow+http://host:5000``, ``mlflow+sqlite:////abs/mlflow.db``: the registry the version lives in."""
    return f"mlflow+{tracking_uri.rstrip('/')}"


def datasets_of(ref: Any, naming: Naming) -> list[LineageDataset]:
    """The datasets a pinned reference stands for (``[]`` for anything that is not a known ref).

    Dispatch is on the class name, as the IO manager does, so this module needs none of the stage packages.
    """
    kind = type(ref).__name__
    if kind == "DeltaRef":
        return [_delta(ref, naming)]
    if kind == "SnapshotRef":  # the landing directory at that snapshot, and its recorded manifest
        namespace, name = dataset_location(ref.root, naming.lakehouse_root)
        return [LineageDataset(namespace, name, ref.snapshot_id), _delta(ref.manifest, naming)]
    if kind == "FeastRef":
        namespace, name = dataset_location(ref.home, naming.lakehouse_root)
        version = ",".join(f"{view}={v}" for view, v in sorted(ref.views.items()))
        return [
            LineageDataset(namespace, f"{name}/{ref.project}", version or None, storage="feast")
        ]
    if kind == "ModelRef":
        return [
            LineageDataset(
                mlflow_namespace(ref.tracking_uri), f"models/{ref.name}", str(ref.version)
            )
        ]
    if kind == "EvaluationRef":
        return [*datasets_of(ref.model, naming), _delta(ref.evaluations, naming)]
    if kind == "BentoRef":
        bento, _, version = ref.tag.partition(":")
        return [LineageDataset(f"bentoml+{naming.bentoml_home}", bento, version or None)]
    return []


def datasets_of_all(refs: Iterable[Any], naming: Naming) -> list[LineageDataset]:
    """Datasets of several refs, each (namespace, name, version) once, in first-seen order."""
    seen: dict[tuple[str, str, str | None], LineageDataset] = {}
    for ref in refs:
        for ds in datasets_of(ref, naming):
            seen.setdefault((ds.namespace, ds.name, ds.version), ds)
    return list(seen.values())


def output_datasets_of(refs: Iterable[Any], naming: Naming) -> list[LineageDataset]:
    """What a step wrote. An evaluation writes its Delta row and only *reads* the model it evaluated, so the
    model is not one of its outputs (it is an input: the IO manager loaded its ModelRef)."""
    out = []
    for ref in refs:
        out.append(ref.evaluations if type(ref).__name__ == "EvaluationRef" else ref)
    return datasets_of_all(out, naming)


# ---------------------------------------------------------------- facets and events


def run_id_for_step(dagster_run_id: str, step_key: str) -> str:
    """Deterministic OpenLineage runId of one step of one Dagster run."""
    return str(uuid.uuid5(RUN_ID_NAMESPACE, f"{dagster_run_id}/{step_key}"))


def as_uuid(value: str) -> str:
    """A Dagster run id is a UUID already; anything else (a test's id) is mapped to one deterministically."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return str(uuid.uuid5(RUN_ID_NAMESPACE, value))


def delta_schema_fields(
    uri: str, version: int | None
) -> list[schema_dataset.SchemaDatasetFacetFields]:
    """The columns of one Delta version, from its log (no data read)."""
    from deltalake import DeltaTable

    def type_name(t: Any) -> str:
        return getattr(t, "type", None) or type(t).__name__.removesuffix("Type").lower()

    schema = DeltaTable(uri, version=version).schema()
    return [
        schema_dataset.SchemaDatasetFacetFields(name=f.name, type=type_name(f.type))
        for f in schema.fields
    ]


def _dataset_facets(ds: LineageDataset, *, describe: bool) -> dict[str, Any]:
    facets: dict[str, Any] = {}
    if ds.version is not None:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=ds.version, producer=PRODUCER
        )
    if ds.storage:
        facets["storage"] = storage_dataset.StorageDatasetFacet(
            storageLayer=ds.storage,
            fileFormat="parquet" if ds.storage == "delta" else None,
            producer=PRODUCER,
        )
    if describe and ds.delta_uri and ds.version is not None:
        try:
            facets["schema"] = schema_dataset.SchemaDatasetFacet(
                fields=delta_schema_fields(ds.delta_uri, int(ds.version)), producer=PRODUCER
            )
        except Exception as exc:  # noqa: BLE001 - a schema is a nicety, the event still goes out
            log.warning("OpenLineage: no schema for %s/%s: %s", ds.namespace, ds.name, exc)
    return facets


def _row_count(ds: LineageDataset) -> int | None:
    if not ds.delta_uri or ds.version is None:
        return None
    try:
        return row_count(ds.delta_uri, int(ds.version))
    except Exception as exc:  # noqa: BLE001
        log.warning("OpenLineage: no row count for %s/%s: %s", ds.namespace, ds.name, exc)
        return None


def to_input(ds: LineageDataset) -> InputDataset:
    return InputDataset(
        namespace=ds.namespace, name=ds.name, facets=_dataset_facets(ds, describe=False)
    )


def to_output(ds: LineageDataset, *, describe: bool = True) -> OutputDataset:
    output_facets = {}
    if describe and (rows := _row_count(ds)) is not None:
        output_facets["outputStatistics"] = (
            output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=rows, producer=PRODUCER
            )
        )
    return OutputDataset(
        namespace=ds.namespace,
        name=ds.name,
        facets=_dataset_facets(ds, describe=describe),
        outputFacets=output_facets,
    )


@dataclass(frozen=True)
class StepRun:
    """One Dagster step as OpenLineage sees it."""

    dagster_run_id: str
    step_key: str
    dagster_job: str
    op_name: str
    asset_keys: Sequence[str]
    started_at: datetime
    ended_at: datetime
    code_version: Mapping[str, str] = field(default_factory=dict)
    engine_version: str | None = None  # the Dagster version

    @property
    def run_id(self) -> str:
        return run_id_for_step(self.dagster_run_id, self.step_key)


def error_facet(error: BaseException | str) -> error_message_run.ErrorMessageRunFacet:
    """The failure as the FAIL event carries it: the root cause's message and the whole traceback."""
    if isinstance(error, str):
        return error_message_run.ErrorMessageRunFacet(
            message=error, programmingLanguage="PYTHON", producer=PRODUCER
        )
    cause = error
    while getattr(cause, "__cause__", None) is not None:  # Dagster wraps the op's own exception
        cause = cause.__cause__
    stack = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return error_message_run.ErrorMessageRunFacet(
        message=f"{type(cause).__name__}: {cause}",
        programmingLanguage="PYTHON",
        stackTrace=stack,
        producer=PRODUCER,
    )


def _run(step: StepRun, naming: Naming, extra: Mapping[str, Any] | None = None) -> Run:
    parent_id = as_uuid(step.dagster_run_id)
    facets: dict[str, Any] = {
        "parent": parent_run.ParentRunFacet(
            run=parent_run.Run(runId=parent_id),
            job=parent_run.Job(namespace=naming.namespace, name=step.dagster_job),
            root=parent_run.Root(
                run=parent_run.RootRun(runId=parent_id),
                job=parent_run.RootJob(namespace=naming.namespace, name=step.dagster_job),
            ),
            producer=PRODUCER,
        ),
        "dagsterStep": DagsterStepRunFacet(
            dagsterRunId=step.dagster_run_id,
            stepKey=step.step_key,
            dagsterJob=step.dagster_job,
            codeVersion=dict(step.code_version),
            producer=PRODUCER,
        ),
    }
    if step.engine_version:
        from openlineage.client import __version__ as client_version

        facets["processing_engine"] = processing_engine_run.ProcessingEngineRunFacet(
            version=step.engine_version,
            name="Dagster",
            openlineageAdapterVersion=client_version,
            producer=PRODUCER,
        )
    return Run(runId=step.run_id, facets={**facets, **(extra or {})})


def _job(step: StepRun, naming: Naming) -> Job:
    return Job(
        namespace=naming.namespace,
        name=step.step_key,
        facets={
            "jobType": job_type_job.JobTypeJobFacet(
                processingType="BATCH", integration="DAGSTER", jobType="ASSET", producer=PRODUCER
            ),
            "dagsterAssets": DagsterAssetsJobFacet(
                assetKeys=list(step.asset_keys), opName=step.op_name, producer=PRODUCER
            ),
        },
    )


def _time(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def build_step_events(
    step: StepRun,
    naming: Naming,
    inputs: Sequence[LineageDataset],
    outputs: Sequence[LineageDataset],
    error: BaseException | str | None = None,
    *,
    describe: bool = True,
) -> tuple[RunEvent, RunEvent]:
    """START (at the step's start) and COMPLETE, or FAIL with the error, of one step.

    Both carry the inputs (versions as read); the outputs (versions written, schema and row count when
    ``describe``) go on the terminal event, when they exist.
    """
    ins = [to_input(ds) for ds in inputs]
    start = RunEvent(
        eventType=RunState.START,
        eventTime=_time(step.started_at),
        run=_run(step, naming),
        job=_job(step, naming),
        inputs=ins,
        outputs=[],
        producer=PRODUCER,
    )
    outs = [to_output(ds, describe=describe) for ds in outputs]
    if error is None:
        end = RunEvent(
            eventType=RunState.COMPLETE,
            eventTime=_time(step.ended_at),
            run=_run(step, naming),
            job=_job(step, naming),
            inputs=ins,
            outputs=outs,
            producer=PRODUCER,
        )
    else:
        end = RunEvent(
            eventType=RunState.FAIL,
            eventTime=_time(step.ended_at),
            run=_run(step, naming, {"errorMessage": error_facet(error)}),
            job=_job(step, naming),
            inputs=ins,
            outputs=outs,
            producer=PRODUCER,
        )
    return start, end


# ---------------------------------------------------------------- transport


class AppendFileTransport(FileTransport):
    """The client's FileTransport in append mode (one JSON event a line), holding an exclusive lock per
    write: steps of a multiprocess run append to the same file, and a long line is not one atomic write."""

    def emit(self, event: Any) -> None:
        try:
            import fcntl
        except (
            ImportError
        ):  # not POSIX: no advisory locks, one writer at a time is the caller's business
            return super().emit(event)
        lock_path = f"{self.config.log_file_path}.lock"
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                super().emit(event)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def make_client(settings: Any) -> OpenLineageClient:
    """A client for the configured destination: the HTTP endpoint (Marquez-compatible) when
    ``openlineage_url`` is set, else the JSONL file ``openlineage_events_file`` (appended)."""
    if settings.openlineage_url:
        key = settings.openlineage_api_key
        auth = ApiKeyTokenProvider({"apiKey": key.get_secret_value()}) if key else TokenProvider({})
        # few, quick retries: a step waits for its events, and a lineage server being down must not stall runs
        retry = {
            "total": 2,
            "connect": 2,
            "read": 2,
            "backoff_factor": 0.2,
            "status_forcelist": [500, 502, 503, 504],
            "allowed_methods": ["POST"],
        }
        config = HttpConfig(
            url=settings.openlineage_url,
            timeout=settings.openlineage_timeout_s,
            auth=auth,
            retry=retry,
        )
        return OpenLineageClient(transport=HttpTransport(config))
    path = Path(settings.openlineage_events_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    return OpenLineageClient(
        transport=AppendFileTransport(FileConfig(log_file_path=str(path), append=True))
    )


def describe_destination(settings: Any) -> str:
    """Where events go, for log lines (never the API key)."""
    if settings.openlineage_url:
        return f"{settings.openlineage_url.rstrip('/')}/api/v1/lineage"
    return str(settings.openlineage_events_file)


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """The events of a JSONL file as dicts (tests and `clinical-mlops` users reading them back)."""
    import json

    lines = Path(path).read_text().splitlines() if Path(path).exists() else []
    return [json.loads(line) for line in lines if line.strip()]
