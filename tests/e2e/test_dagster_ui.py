"""The Dagster UI, end to end: what a platform engineer does in the browser, done through the same GraphQL API.

One module-scoped UI (`clinical-mlops ui`, the SIGTERM-safe launcher) on a free 127.0.0.1 port over a small
generated cohort. The tests read the asset graph, launch a materialization of ingestion + de-identification
(landing -> bronze -> silver, with their asset checks) as the "Materialize" button does, poll it to SUCCESS,
read the PHI-leak gate's results, and take headless Chromium screenshots of the asset graph and the run page
(kept under $CLINICAL_MLOPS_TEST_ARTIFACTS, default <repo>/.test-artifacts/dagster-ui/).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(
        not sys.platform.startswith("linux"), reason="process-tree cleanup uses Linux semantics"
    ),
]

REPO_ROOT = Path(__file__).resolve().parents[2]
PATIENTS = 40
SEED = 3
STARTUP_TIMEOUT_S = (
    180  # busy 2-core CI machines: the webserver, daemon and code server all import the graph
)
RUN_TIMEOUT_S = 420
STOP_TIMEOUT_S = 30
JOB = "clinical_pipeline"
REPOSITORY = "__repository__"
DEID_GROUPS = (
    "ingestion",
    "bronze",
    "silver",
)  # landing/snapshot, bronze/*, silver/* (and their checks)
GATE = "phi_leak_gate"
SILVER_GATED = ("patients", "encounters", "observations", "notes", "conditions", "medications")
MIN_PNG_BYTES = 20_000
MIN_PNG_COLOURS = 16
TEST_ARTIFACTS = "CLINICAL_MLOPS_TEST_ARTIFACTS"


# ---------------------------------------------------------------- GraphQL (the UI's own API)

WORKSPACE = """
query Workspace {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on RepositoryLocation { name repositories { name jobs { name } } }
          ... on PythonError { message }
        }
      }
    }
    ... on PythonError { message }
  }
}"""

ASSET_GRAPH = """
query AssetGraph {
  assetNodes {
    assetKey { path }
    groupName
    jobNames
    dependencyKeys { path }
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name blocking } }
    }
  }
}"""

LAUNCH_RUN = """
mutation LaunchRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message stack }
    ... on Error { message }
  }
}"""

RUN_STATUS = """
query RunStatus($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      status
      assetSelection { path }
      assetCheckSelection { assetKey { path } name }
      assetMaterializations { assetKey { path } }
    }
    ... on Error { message }
  }
}"""

RUN_ERRORS = """
query RunErrors($runId: ID!) {
  logsForRun(runId: $runId, limit: 5000) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message level stepKey }
        ... on ErrorEvent { error { message cause { message } } }
      }
    }
    ... on Error { message }
  }
}"""

CHECK_EXECUTIONS = """
query CheckExecutions($assetKey: AssetKeyInput!, $checkName: String!) {
  assetCheckExecutions(assetKey: $assetKey, checkName: $checkName, limit: 10) {
    runId
    status
    evaluation {
      success
      severity
      metadataEntries {
        label
        ... on IntMetadataEntry { intValue }
        ... on TextMetadataEntry { text }
      }
    }
  }
}"""

SET_NUX_SEEN = "mutation SetNuxSeen { setNuxSeen }"


class GraphQLError(AssertionError):
    pass


@dataclass
class DagsterUI:
    url: str
    home: Path
    location: str

    def gql(
        self, query: str, variables: dict[str, Any] | None = None, timeout: float = 60
    ) -> dict[str, Any]:
        return graphql(self.url, query, variables, timeout)


def graphql(
    url: str, query: str, variables: dict[str, Any] | None = None, timeout: float = 60
) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        payload = json.loads(response.read())
    if payload.get("errors"):
        raise GraphQLError(
            f"GraphQL errors from {url}/graphql: {json.dumps(payload['errors'])[:2000]}"
        )
    return payload["data"]


def key(path: list[str]) -> str:
    return "/".join(path)


# ---------------------------------------------------------------- the UI process (started and stopped here)


def _tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _stop(proc: subprocess.Popen, known: dict[int, psutil.Process]) -> None:
    """SIGTERM the PID we started (the launcher makes it stop its tree); then, only if something is left,
    SIGKILL the processes it started (its session, plus descendants seen while it ran), by PID."""
    known.update({p.pid: p for p in _descendants(proc.pid)})
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(p) for p in known.values()):
        time.sleep(0.3)
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the session we created for it (start_new_session)
        except ProcessLookupError:
            pass
    for p in known.values():
        if _alive(p):
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (tests/conftest.py's fixture is per test)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _clean_env() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("CLINICAL_MLOPS_", "DAGSTER_"))
    }


def _cli() -> list[str]:
    return [sys.executable, "-m", "cli.main"]


def _wait_for_location(url: str, proc: subprocess.Popen, stderr: Path, deadline: float) -> str:
    """Wait for HTTP 200 on /server_info, then for the code location to load; return its name."""
    last: Any = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the UI exited early with {proc.returncode}:\n{_tail(stderr)}")
        try:
            workspace = graphql(url, WORKSPACE, timeout=10)["workspaceOrError"]
            last = workspace
            entries = workspace.get("locationEntries") or []
            for entry in entries:
                location = entry["locationOrLoadError"] or {}
                if location.get("__typename") == "PythonError":
                    pytest.fail(
                        f"code location {entry['name']} failed to load: {location['message']}"
                    )
                if (
                    entry["loadStatus"] == "LOADED"
                    and location.get("__typename") == "RepositoryLocation"
                ):
                    return entry["name"]
        except (
            urllib.error.URLError,
            ConnectionError,
            TimeoutError,
            OSError,
            json.JSONDecodeError,
        ):
            pass
        time.sleep(1)
    pytest.fail(
        f"the UI at {url} did not load its code location within {STARTUP_TIMEOUT_S}s "
        f"(last workspace answer: {last}):\n{_tail(stderr)}"
    )


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("dagster-ui")
    home = work / "home"
    env = _clean_env()
    generated = subprocess.run(
        [
            *_cli(),
            "generate",
            "--out",
            str(home / "landing"),
            "--patients",
            str(PATIENTS),
            "--seed",
            str(SEED),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        timeout=300,
    )
    assert generated.returncode == 0, f"clinical-mlops generate failed:\n{generated.stderr[-3000:]}"
    assert json.loads(generated.stdout)["patients"] == PATIENTS

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    stdout, stderr = work / "ui.stdout", work / "ui.stderr"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(
            [*_cli(), "ui", "--home", str(home), "--port", str(port)],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            cwd=work,
            env=env,
            start_new_session=True,
        )
    known: dict[int, psutil.Process] = {}
    try:
        location = _wait_for_location(url, proc, stderr, time.monotonic() + STARTUP_TIMEOUT_S)
        known.update({p.pid: p for p in _descendants(proc.pid)})
        yield DagsterUI(url=url, home=home, location=location)
    finally:
        _stop(proc, known)
        left = [(p.pid, " ".join(p.cmdline())[:160]) for p in known.values() if _alive(p)]
        assert proc.poll() is not None and not left, f"the UI did not stop: {proc.poll()=}, {left}"


@pytest.fixture(scope="module")
def asset_graph(ui: DagsterUI) -> dict[str, dict[str, Any]]:
    return {key(node["assetKey"]["path"]): node for node in ui.gql(ASSET_GRAPH)["assetNodes"]}


def _run_errors(ui: DagsterUI, run_id: str) -> str:
    try:
        logs = ui.gql(RUN_ERRORS, {"runId": run_id})["logsForRun"]
    except Exception as exc:  # noqa: BLE001 - reporting a failure: say what we could not read
        return f"(could not read the run's events: {exc})"
    lines = []
    for event in logs.get("events", []):
        error = event.get("error")
        if error or event.get("level") == "ERROR" or event["__typename"].endswith("FailureEvent"):
            cause = (error or {}).get("cause") or {}
            lines.append(
                f"{event['__typename']} {event.get('stepKey') or ''}: {event.get('message', '')} "
                f"{(error or {}).get('message', '')} {cause.get('message', '')}".strip()
            )
    return "\n".join(lines)[-6000:] or json.dumps(logs)[:2000]


@pytest.fixture(scope="module")
def deid_run(ui: DagsterUI, asset_graph: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Materialize landing/snapshot, bronze/* and silver/* with all their checks, as the UI's
    "Materialize selected" does for those groups (launchRun with an asset and an asset-check selection)."""
    selected = [node for node in asset_graph.values() if node["groupName"] in DEID_GROUPS]
    assets = [{"path": node["assetKey"]["path"]} for node in selected]
    checks = [
        {"assetKey": {"path": node["assetKey"]["path"]}, "name": check["name"]}
        for node in selected
        for check in node["assetChecksOrError"].get("checks", [])
    ]
    params = {
        "selector": {
            "repositoryLocationName": ui.location,
            "repositoryName": REPOSITORY,
            "jobName": JOB,
            "assetSelection": assets,
            "assetCheckSelection": checks,
        }
    }
    started = time.monotonic()
    launched = ui.gql(LAUNCH_RUN, {"executionParams": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", f"launchRun refused: {launched}"
    run_id = launched["run"]["runId"]

    deadline = started + RUN_TIMEOUT_S
    status = launched["run"]["status"]
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = ui.gql(RUN_STATUS, {"runId": run_id})["runOrError"]
        assert run["__typename"] == "Run", run
        status = run["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(2)
    if status != "SUCCESS":
        pytest.fail(
            f"run {run_id} of {JOB} ended {status} after {time.monotonic() - started:.0f}s "
            f"(timeout {RUN_TIMEOUT_S}s); its errors:\n{_run_errors(ui, run_id)}"
        )
    return {
        "run_id": run_id,
        "seconds": time.monotonic() - started,
        "assets": assets,
        "checks": checks,
        **run,
    }


# ---------------------------------------------------------------- the asset graph


def test_the_ui_serves_the_asset_graph_with_the_deid_stage_and_its_gate(ui, asset_graph) -> None:
    assert "landing/snapshot" in asset_graph
    for table in SILVER_GATED:
        silver = asset_graph[f"silver/{table}"]
        assert silver["groupName"] == "silver"
        assert JOB in silver["jobNames"]
        assert f"bronze/{table}" in {key(d["path"]) for d in silver["dependencyKeys"]}, table
        checks = {c["name"]: c for c in silver["assetChecksOrError"]["checks"]}
        assert checks.get(GATE, {}).get("blocking") is True, (
            f"silver/{table} lacks the blocking {GATE}"
        )
        bronze = asset_graph[f"bronze/{table}"]
        assert [key(d["path"]) for d in bronze["dependencyKeys"]] == ["landing/snapshot"]
    # the graph goes on past silver: the de-identification launch below must not run those
    assert {n["groupName"] for n in asset_graph.values()} - set(DEID_GROUPS), (
        "only the deid stage is defined?"
    )


# ---------------------------------------------------------------- launched from the UI's API


def test_materializing_the_deid_assets_through_graphql_succeeds(deid_run, asset_graph) -> None:
    materialized = {key(m["assetKey"]["path"]) for m in deid_run["assetMaterializations"]}
    expected = {key(a["path"]) for a in deid_run["assets"]}
    assert materialized == expected, (
        f"missing {expected - materialized}, unexpected {materialized - expected}"
    )
    assert {key(a["path"]) for a in deid_run["assetSelection"]} == expected
    downstream = {k for k, n in asset_graph.items() if n["groupName"] not in DEID_GROUPS}
    assert downstream and not materialized & downstream, (
        "the launch ran assets outside its selection"
    )
    selected_checks = {
        (key(c["assetKey"]["path"]), c["name"]) for c in deid_run["assetCheckSelection"]
    }
    assert ("silver/patients", GATE) in selected_checks


def test_the_phi_leak_gate_passed_on_every_silver_table(ui, deid_run) -> None:
    for table in SILVER_GATED:
        executions = ui.gql(
            CHECK_EXECUTIONS, {"assetKey": {"path": ["silver", table]}, "checkName": GATE}
        )
        mine = [e for e in executions["assetCheckExecutions"] if e["runId"] == deid_run["run_id"]]
        assert len(mine) == 1, f"{GATE} on silver/{table}: executions {executions}"
        execution = mine[0]
        assert execution["status"] == "SUCCEEDED", execution
        evaluation = execution["evaluation"]
        assert evaluation["success"] is True and evaluation["severity"] == "ERROR", evaluation
        meta = {m["label"]: m.get("intValue", m.get("text")) for m in evaluation["metadataEntries"]}
        assert meta["leaked_values"] == 0 and meta["findings"] == "none", (table, meta)
        assert meta["patients_checked"] == PATIENTS, (table, meta)


def test_every_selected_check_ran_and_passed(ui, deid_run) -> None:
    failed, missing = [], []
    for check in deid_run["checks"]:
        executions = ui.gql(
            CHECK_EXECUTIONS, {"assetKey": check["assetKey"], "checkName": check["name"]}
        )
        mine = [e for e in executions["assetCheckExecutions"] if e["runId"] == deid_run["run_id"]]
        label = f"{key(check['assetKey']['path'])}:{check['name']}"
        if not mine:
            missing.append(label)
        elif mine[0]["status"] != "SUCCEEDED" or not (mine[0]["evaluation"] or {}).get("success"):
            failed.append((label, mine[0]["status"]))
    assert len(deid_run["checks"]) >= len(SILVER_GATED)
    assert not missing and not failed, f"checks missing: {missing}; failed: {failed}"


# ---------------------------------------------------------------- what the engineer sees (headless Chromium)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _artifact_dir() -> Path:
    root = Path(os.environ.get(TEST_ARTIFACTS) or REPO_ROOT / ".test-artifacts")
    out = root / "dagster-ui"
    out.mkdir(parents=True, exist_ok=True)
    return out


def _screenshot(chromium: str, url: str, png: Path, profile: Path) -> None:
    png.unlink(missing_ok=True)
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--screenshot={png}",
        "--window-size=1600,1000",
        "--virtual-time-budget=15000",
        url,
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL
    )
    assert result.returncode == 0 and png.is_file(), (
        f"chromium could not screenshot {url} (exit {result.returncode}):\n{result.stderr[-3000:]}"
    )


def _distinct_colours(png: Path) -> int | None:
    try:
        from PIL import Image
    except ImportError:
        return None
    with Image.open(png) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    return len(colours) if colours is not None else 1 << 20


def test_headless_chromium_screenshots_of_the_asset_graph_and_the_run(
    ui, deid_run, tmp_path
) -> None:
    chromium = _chromium()
    if chromium is None:
        pytest.skip(
            "chromium is not installed (.ci/chromium.sh installs it as root: "
            "apt-get install -y --no-install-recommends chromium); no UI screenshot taken"
        )
    # first visits from 127.0.0.1 get a "Join the Dagster community" dialog over the graph: dismiss it for the
    # instance, as its Skip button does
    assert ui.gql(SET_NUX_SEEN)["setNuxSeen"] is True
    out = _artifact_dir()
    pages = {
        "asset-graph.png": f"{ui.url}/asset-groups",  # Lineage: the global asset graph
        "deid-run.png": f"{ui.url}/runs/{deid_run['run_id']}",
    }
    for name, url in pages.items():
        png = out / name
        _screenshot(chromium, url, png, tmp_path / "chromium-profile")
        size = png.stat().st_size
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{png} is not a PNG"
        assert size > MIN_PNG_BYTES, f"{png} is {size} bytes: blank or an error page?"
        colours = _distinct_colours(png)
        if colours is not None:
            assert colours >= MIN_PNG_COLOURS, f"{png} has {colours} distinct colours: blank?"
    print(f"UI screenshots kept in {out}")
