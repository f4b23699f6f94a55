"""Shared fixtures: third-party data paths (skipped when absent), small FHIR resource builders,
an ndjson writer, Delta read helpers and a free loopback port."""

from __future__ import annotations

import gzip
import inspect
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
MIMIC_DIR = SHARED_DATA / "mimic-iv-fhir-demo-2.1.0"
SYNTHEA_DIR = SHARED_DATA / "synthea-r4-bundles"


# ---------------------------------------------------------------- shared data (read in place, never copied)


def _require(path: Path) -> Path:
    if not path.is_dir():
        pytest.skip(
            f"shared data set not available at {path} (tests that read ../shared/data skip without it)"
        )
    return path


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    return _require(SHARED_DATA)


@pytest.fixture(scope="session")
def mimic_dir() -> Path:
    return _require(MIMIC_DIR)


@pytest.fixture(scope="session")
def synthea_dir() -> Path:
    return _require(SYNTHEA_DIR)


# ---------------------------------------------------------------- FHIR resource builders


class FhirBuilders:
    """Minimal, valid FHIR R4 resources; keyword arguments are merged into the resource."""

    @staticmethod
    def patient(pid: str = "p1", **extra: Any) -> dict[str, Any]:
        return {
            "resourceType": "Patient",
            "id": pid,
            "gender": "female",
            "birthDate": "1970-05-17",
            "name": [{"use": "official", "family": f"Family{pid}", "given": ["Ann", "B"]}],
            **extra,
        }

    @staticmethod
    def encounter(eid: str = "e1", patient: str = "p1", **extra: Any) -> dict[str, Any]:
        return {
            "resourceType": "Encounter",
            "id": eid,
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": f"Patient/{patient}"},
            "period": {"start": "2020-01-01T08:00:00Z", "end": "2020-01-03T10:30:00Z"},
            **extra,
        }

    @staticmethod
    def observation(
        oid: str = "o1",
        patient: str = "p1",
        value: float | None = 7.25,
        encounter: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "id": oid,
            "status": "final",
            "code": {
                "coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}]
            },
            "subject": {"reference": f"Patient/{patient}"},
            "effectiveDateTime": "2020-01-02T09:15:00Z",
        }
        if value is not None:
            obs["valueQuantity"] = {"value": value, "unit": "mmol/L"}
        if encounter:
            obs["encounter"] = {"reference": f"Encounter/{encounter}"}
        return {**obs, **extra}

    @staticmethod
    def condition(cid: str = "c1", patient: str = "p1", **extra: Any) -> dict[str, Any]:
        return {
            "resourceType": "Condition",
            "id": cid,
            "subject": {"reference": f"Patient/{patient}"},
            "code": {
                "coding": [{"system": "http://snomed.info/sct", "code": "44054006"}],
                "text": "Diabetes",
            },
            "onsetDateTime": "2019-06",
            **extra,
        }

    @staticmethod
    def bundle(
        *resources: dict[str, Any], urn: bool = True, btype: str = "transaction"
    ) -> dict[str, Any]:
        entries = []
        for r in resources:
            full_url = (
                f"urn:uuid:{r['id']}"
                if urn
                else f"http://example.org/fhir/{r['resourceType']}/{r['id']}"
            )
            entries.append({"fullUrl": full_url, "resource": r})
        return {"resourceType": "Bundle", "type": btype, "entry": entries}


@pytest.fixture
def fhir() -> FhirBuilders:
    return FhirBuilders()


# ---------------------------------------------------------------- file writers

Line = dict | list | str | bytes


def _line_bytes(line: Line) -> bytes:
    if isinstance(line, bytes):
        return line
    if isinstance(line, str):
        return line.encode()
    return json.dumps(line, separators=(",", ":")).encode()


def write_ndjson(
    directory: Path, name: str, lines: Iterable[Line], *, trailing_newline: bool = True
) -> Path:
    """Write ``lines`` (dicts are JSON-encoded, str/bytes written as is) one per line; gzip for ``*.gz``."""
    directory = Path(directory)
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"\n".join(_line_bytes(line) for line in lines)
    if trailing_newline and data:
        data += b"\n"
    path.write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
    return path


def write_json(directory: Path, name: str, document: Any) -> Path:
    path = Path(directory) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(document).encode()
    path.write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
    return path


@pytest.fixture(name="write_ndjson")
def write_ndjson_fixture() -> Callable[..., Path]:
    return write_ndjson


@pytest.fixture(name="write_json")
def write_json_fixture() -> Callable[..., Path]:
    return write_json


# ---------------------------------------------------------------- Delta readers


def delta_rows(
    bronze_dir: Path, table: str, version: int | None = None, columns: list[str] | None = None
) -> list[dict[str, Any]]:
    from deltalake import DeltaTable

    return (
        DeltaTable(str(Path(bronze_dir) / table), version=version)
        .to_pyarrow_table(columns=columns)
        .to_pylist()
    )


def delta_version(bronze_dir: Path, table: str) -> int | None:
    from lakehouse.delta import current_version

    return current_version(str(Path(bronze_dir) / table))


@pytest.fixture(name="delta_rows")
def delta_rows_fixture() -> Callable[..., list[dict[str, Any]]]:
    return delta_rows


@pytest.fixture(name="delta_version")
def delta_version_fixture() -> Callable[..., int | None]:
    return delta_version


# ---------------------------------------------------------------- ingestion paths


def _ingest_modes() -> list:
    """Run ingestion tests through every parsing path ``ingest_snapshot`` offers (they must agree)."""
    from ingestion.ingest import ingest_snapshot

    if "vectorized" in inspect.signature(ingest_snapshot).parameters:
        return [
            pytest.param({"vectorized": True}, id="vectorized"),
            pytest.param({"vectorized": False}, id="per_resource"),
        ]
    return [pytest.param({}, id="default")]


@pytest.fixture(params=_ingest_modes())
def ingest_kwargs(request) -> dict[str, Any]:
    """Keyword arguments selecting an ingestion parsing path; pass them to ingest_directory/ingest_snapshot."""
    return dict(request.param)


# ---------------------------------------------------------------- network


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(name="free_port")
def free_port_fixture() -> int:
    return free_port()


# ---------------------------------------------------------------- redis-server (the production online store)

REDIS_MISSING = (
    "redis-server is not installed (.ci/run installs it: apt-get install -y redis-server); "
    "the Redis online store is untested here"
)


def start_redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    """A private redis-server on a free 127.0.0.1 port (no persistence); returns it and its redis:// URL.
    Raises FileNotFoundError without the binary, RuntimeError when it does not come up within 10 s."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError(REDIS_MISSING)
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"redis://127.0.0.1:{port}"
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_process(proc)
                raise RuntimeError(  # noqa: B904 - the readiness timeout is the error, not the poll
                    f"redis-server did not listen on 127.0.0.1:{port} (exit code {proc.returncode})"
                )
            time.sleep(0.05)


def stop_process(proc: subprocess.Popen) -> None:
    """Stop a server this test session started, by its PID."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """redis://127.0.0.1:<port>/0 of a redis-server started for this session; skipped, with the reason, only
    where the binary is missing."""
    redis = pytest.importorskip(
        "redis", reason="python package 'redis' (feast[redis]) is not installed"
    )
    try:
        proc, url = start_redis(tmp_path_factory.mktemp("redis"))
    except FileNotFoundError as missing:
        pytest.skip(str(missing))
    try:
        assert redis.Redis.from_url(url, socket_timeout=2).ping()
        yield f"{url}/0"
    finally:
        stop_process(proc)


# ---------------------------------------------------------------- PostgreSQL (production profile: Dagster, MLflow)

POSTGRES_MISSING = (
    "PostgreSQL server binaries (initdb, postgres) are not installed (.ci/run installs them: "
    "apt-get install -y postgresql); the production profile is untested here"
)


def postgres_bindir() -> Path | None:
    """The directory holding initdb and postgres: on PATH, else the newest /usr/lib/postgresql/<major>/bin."""
    found = shutil.which("initdb")
    if found and (Path(found).resolve().parent / "postgres").exists():
        return Path(found).resolve().parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    for initdb in reversed(candidates):
        if (initdb.parent / "postgres").exists():
            return initdb.parent
    return None


class PostgresServer:
    """A private PostgreSQL cluster in a temporary directory, on a free 127.0.0.1 port (no other interface; its
    unix socket in that directory), trust authentication for the ``postgres`` superuser: for tests only.

    PostgreSQL refuses to run as root: as root the cluster belongs to, and runs as, the unprivileged ``nobody``
    user (its directory is created under the system temp dir, where that user can reach it)."""

    def __init__(self, bindir: Path) -> None:
        import os
        import pwd
        import tempfile

        self.bindir = bindir
        self.port = free_port()
        as_root = os.geteuid() == 0
        # as root, under /tmp (world-traversable) rather than a TMPDIR the unprivileged user may not reach
        self.dir = Path(
            tempfile.mkdtemp(prefix="clinical-mlops-pg-", dir="/tmp" if as_root else None)
        )
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.proc: subprocess.Popen | None = None
        self._as: dict[str, Any] = {}
        if as_root:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)
            self._as = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
        self._env = {
            "PATH": f"{bindir}:/usr/bin:/bin",
            "LC_ALL": "C",
            "HOME": str(self.dir),
            "TZ": "UTC",
        }

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> PostgresServer:
        initdb = subprocess.run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            cwd=self.dir,
            env=self._env,
            capture_output=True,
            text=True,
            timeout=120,
            **self._as,
        )
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed in {self.data}: {initdb.stderr[-2000:]}")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    str(self.bindir / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.dir),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                ],
                cwd=self.dir,
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                **self._as,
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.connect("postgres").close()
                return self
            except Exception as error:  # noqa: BLE001 - not up yet (refused, or "starting up")
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"postgres did not accept connections on 127.0.0.1:{self.port} ({error}); "
                        f"log: {self.log_tail()}"
                    ) from None
                time.sleep(0.1)

    def connect(self, database: str):
        import psycopg2

        return psycopg2.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=database, connect_timeout=2
        )

    def create_database(self, name: str) -> str:
        """A new, empty database; returns its postgresql:// URL."""
        conn = self.connect("postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return f"{self.url}/{name}"

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Fast shutdown (SIGINT) of the postmaster this session started, by its PID; then remove its files."""
        import signal

        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server started for this session (see ``PostgresServer``), stopped at the end even when tests
    fail; skipped, with the reason, only where the binaries are missing. Tests create their own databases."""
    pytest.importorskip(
        "psycopg2", reason="python package 'psycopg2' (psycopg2-binary) is not installed"
    )
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip(POSTGRES_MISSING)
    server = PostgresServer(bindir)
    try:
        yield server.start()
    finally:
        server.stop()
