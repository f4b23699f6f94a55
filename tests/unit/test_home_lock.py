"""One writer per lakehouse home (clinical_mlops/home_lock.py), the file modes of a home, conflict-checked Delta
writes (lakehouse/delta.py) and the generator's temporary names: each against the real OS, Delta and Dagster."""

from __future__ import annotations

import grp
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from deltalake import DeltaTable

from clinical_mlops.home_lock import HomeBusyError, current_holder, hold_home, read_record
from clinical_mlops.settings import Settings
from cohort.generator import generate_cohort
from lakehouse.delta import ConcurrentWriteError, upsert, write

HOLD = textwrap.dedent(
    """
    import sys, time
    from clinical_mlops.home_lock import hold_home
    from clinical_mlops.settings import Settings
    with hold_home(Settings(home=sys.argv[1]), "test holder"):
        print("holding", flush=True)
        sys.stdin.readline()  # hold until told (or killed)
    """
)


def _holder(home: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(home)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    return proc


def test_a_second_writer_is_refused_naming_the_holder(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    proc = _holder(settings.root)
    try:
        with pytest.raises(HomeBusyError) as refused:
            with hold_home(settings, "pipeline run"):
                pytest.fail("took a lock another process holds")
        message = str(refused.value)
        assert f"PID {proc.pid}" in message and "`test holder`" in message and "since " in message
        holder = current_holder(settings)
        assert holder is not None and holder.pid == proc.pid and holder.command == "test holder"
    finally:
        assert proc.stdin is not None
        proc.stdin.write("\n")
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    # released cleanly: free again, and no holder record is left behind
    assert current_holder(settings) is None
    assert read_record(settings.root / ".lock") == {}
    with hold_home(settings, "pipeline run") as lock:
        assert lock.unreleased == []


def test_a_killed_holder_releases_the_lock_and_is_remembered_as_unreleased(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    proc = _holder(settings.root)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    with hold_home(settings, "next run") as lock:  # the kernel released the dead holder's flock
        assert [h.pid for h in lock.unreleased] == [proc.pid]
        assert lock.unreleased[0].command == "test holder"
        lock.forget_unreleased(lock.unreleased)  # what recovery does once it cleaned up
    assert read_record(settings.root / ".lock") == {}


def test_the_lock_is_reentrant_within_a_process(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    with hold_home(settings, "pipeline run") as outer:
        with hold_home(settings, "pipeline run (clinical_pipeline)") as inner:
            assert inner is outer
        assert current_holder(settings) is not None  # still held by the outer block
    assert current_holder(settings) is None


def _offenders(root: Path, mask: int) -> list[str]:
    return [
        f"{stat.S_IMODE(p.lstat().st_mode):o} {p}"
        for p in [root, *root.rglob("*")]
        if stat.S_IMODE(p.lstat().st_mode) & mask and not p.is_symlink()
    ]


def test_the_layout_is_owner_only_and_tightens_an_existing_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "bronze").mkdir(parents=True, mode=0o755)
    home.chmod(0o755)
    settings = Settings(home=home)
    previous = os.umask(0o022)
    try:
        with hold_home(settings, "ingest"):
            assert os.umask(0o077) == 0o077  # hold_home set it
            (settings.bronze / "part-0.parquet").write_bytes(b"phi")
    finally:
        os.umask(previous)
    assert _offenders(home, 0o077) == []
    assert stat.S_IMODE(settings.bronze.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / ".lock").stat().st_mode) == 0o600


def test_a_shared_group_gets_group_read_and_nothing_for_others(tmp_path: Path) -> None:
    group = grp.getgrgid(os.getgid()).gr_name
    settings = Settings(home=tmp_path / "home", shared_group=group)
    previous = os.umask(0o022)
    try:
        with hold_home(settings, "ingest"):
            (settings.bronze / "part-0.parquet").write_bytes(b"phi")
    finally:
        os.umask(previous)
    assert _offenders(settings.root, 0o007) == []  # nothing for others
    assert stat.S_IMODE(settings.bronze.stat().st_mode) == 0o2750  # setgid: files inherit the group
    assert stat.S_IMODE((settings.bronze / "part-0.parquet").stat().st_mode) == 0o640
    assert settings.bronze.stat().st_gid == os.getgid()


def test_an_unknown_shared_group_is_invalid_configuration() -> None:
    with pytest.raises(ValueError, match="no such group on this host: 'no-such-group-xyz'"):
        Settings(shared_group="no-such-group-xyz")


def test_the_instance_config_allows_one_run_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster import DagsterInstance
    from dagster._core.run_coordinator import QueuedRunCoordinator

    from orchestration.run import dagster_yaml, prepare_dagster_home

    # settings read the environment, and prepare_dagster_home writes into it: start from none of ours
    for key in {*os.environ, "DAGSTER_HOME", "CLINICAL_MLOPS_HOME"}:
        if key.startswith(("CLINICAL_MLOPS_", "DAGSTER_")):
            monkeypatch.delenv(key, raising=False)
    for settings in (
        Settings(home=tmp_path / "demo"),
        Settings(home=tmp_path / "prod", dagster_postgres_url="postgresql://u@db.internal/dagster"),
    ):
        config = yaml.safe_load(dagster_yaml(settings))
        assert config["concurrency"] == {"runs": {"max_concurrent_runs": 1}}
    demo = Settings(home=tmp_path / "demo")
    prepare_dagster_home(demo)
    with DagsterInstance.from_config(str(demo.dagster_home)) as instance:
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1


def _race(target, rounds: int = 8) -> list[tuple[list[object], list[BaseException]]]:
    """Run ``target(round)`` in two threads released together, ``rounds`` times."""
    outcomes = []
    for i in range(rounds):
        barrier = threading.Barrier(2)
        results: list[object] = []
        errors: list[BaseException] = []

        def go(
            i: int = i,
            barrier: threading.Barrier = barrier,
            results: list[object] = results,
            errors: list[BaseException] = errors,
        ) -> None:
            barrier.wait()
            try:
                results.append(target(i))
            except BaseException as exc:  # noqa: BLE001 - collected and asserted on
                errors.append(exc)

        threads = [threading.Thread(target=go) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        outcomes.append((results, errors))
    return outcomes


def test_two_writers_creating_one_table_never_duplicate_rows(tmp_path: Path) -> None:
    """delta-rs retried a lost mode="error" commit at the next version: both creations committed."""
    data = pa.table(
        {"resource_key": [f"Observation/{i}" for i in range(2000)], "raw_json": ["{}"] * 2000}
    )
    uri = lambda i: str(tmp_path / f"t{i}")  # noqa: E731
    for i, (results, errors) in enumerate(
        _race(lambda i: upsert(uri(i), data, key="resource_key"))
    ):
        assert results, errors  # one of them wrote
        assert all(isinstance(e, ConcurrentWriteError) for e in errors), errors
        table = DeltaTable(uri(i)).to_pyarrow_table()
        assert table.num_rows == 2000 and len(set(table["resource_key"].to_pylist())) == 2000
        if errors:
            assert "another writer committed to this Delta table" in str(errors[0])


def test_two_appends_to_one_table_version_fail_loudly(tmp_path: Path) -> None:
    row = pa.table({"run": ["x"]})
    for i in range(8):
        write(str(tmp_path / f"t{i}"), row)
    outcomes = _race(lambda i: write(str(tmp_path / f"t{i}"), row, mode="append"))
    for i, (results, errors) in enumerate(outcomes):
        assert all(isinstance(e, ConcurrentWriteError) for e in errors), errors
        # every write that returned is in the table, every refused one is not
        assert DeltaTable(str(tmp_path / f"t{i}")).to_pyarrow_table().num_rows == 1 + len(results)
    assert any(errors for _, errors in outcomes), "no round raced: the test exercised nothing"


def test_two_generators_into_one_folder_do_not_collide(tmp_path: Path) -> None:
    """Both wrote `.Patient.ndjson.gz.part`; one renamed it away under the other (FileNotFoundError)."""
    out = tmp_path / "landing"
    reference = tmp_path / "reference"
    generate_cohort(reference, 30, 7, gzip=True)
    for results, errors in _race(lambda _: generate_cohort(out, 30, 7, gzip=True), rounds=3):
        assert errors == [] and len(results) == 2
    for f in reference.iterdir():
        assert (out / f.name).read_bytes() == f.read_bytes(), f.name
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in reference.iterdir())
