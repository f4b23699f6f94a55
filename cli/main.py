"""`clinical-mlops`: the platform's command line. Every command has --help; reporting commands --json."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from cli.config_doc import settings_markdown
from cli.deid_commands import app as deid_app
from cli.home_guard import holding_home, secure_umask
from cli.lineage_commands import app as lineage_app
from cli.progress import progress_bar
from cli.run_view import StepView, print_outcome, print_wide, quiet_third_party
from clinical_mlops.settings import Settings, load_settings
from cohort.generator import generate_cohort as generate_fhir
from serving.refs import BentoRef

app = typer.Typer(
    help="Clinical MLOps platform: FHIR -> Delta -> de-identified features -> models, with lineage.",
    no_args_is_help=True,
    add_completion=False,
)
pipeline_app = typer.Typer(help="Run the Dagster graph.", no_args_is_help=True)
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(deid_app, name="deid")
app.add_typer(lineage_app, name="lineage")

console = Console(stderr=True)


@app.callback()
def _start() -> None:
    """Every command: owner-only file modes (or the shared group's) for whatever it writes."""
    secure_umask()


HomeOption = typer.Option(
    None, "--home", help="Lakehouse root (default: $CLINICAL_MLOPS_HOME or .clinical-mlops)."
)
JsonOption = typer.Option(False, "--json", help="Print the report as JSON on stdout.")


def _settings(home: Path | None, **overrides: object) -> Settings:
    try:
        return load_settings(home=home, **overrides)
    except Exception as exc:  # noqa: BLE001 - pydantic ValidationError names the variable and the value
        console.print(f"[red]invalid configuration:[/red] {exc}")
        raise typer.Exit(2) from None


def _emit_json(payload: dict) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


@app.command()
def generate(
    out: Path = typer.Option(
        ..., "--out", help="Directory to write FHIR R4 Bulk ndjson files into."
    ),
    patients: int = typer.Option(1000, "--patients", min=1, help="Number of patients."),
    seed: int = typer.Option(42, "--seed", help="Seed: the same seed gives byte-identical files."),
    gzip: bool = typer.Option(
        False, "--gzip/--no-gzip", help="Write .ndjson.gz instead of .ndjson."
    ),
    workers: int = typer.Option(
        1, "--workers", min=1, help="Worker processes (output does not depend on it)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Write a seeded synthetic longitudinal FHIR cohort (the embedded default data)."""
    import contextlib
    from dataclasses import asdict

    settings = _settings(None)
    inside_home = out.expanduser().resolve().is_relative_to(settings.root)
    with (
        holding_home(settings, "generate") if inside_home else contextlib.nullcontext(),
        progress_bar(console) as progress,
    ):
        task = progress.add_task("generating patients", total=patients)
        report = generate_fhir(
            out,
            patients,
            seed,
            gzip=gzip,
            workers=workers,
            progress=lambda n: progress.advance(task, n),
        )
    if as_json:
        _emit_json(asdict(report))
        return
    table = Table("file", "resources", title=f"{report.patients} patients (seed {seed}) -> {out}")
    for name, count in report.files.items():
        table.add_row(name, f"{count:,}")
    console.print(table)
    console.print(
        f"{report.resources:,} resources in {report.seconds:.1f}s ({report.patients_per_s:,.0f} patients/s); "
        f"30-day readmission after {report.inpatient_discharges:,} inpatient discharges: "
        f"{report.readmission_rate:.1%}"
    )


@app.command()
def snapshot(
    landing_dir: Path = typer.Argument(..., help="Landing directory to fingerprint."),
    as_json: bool = JsonOption,
) -> None:
    """Print the landing snapshot id and manifest of a directory (reads only)."""
    from ingestion.landing import take_snapshot  # lazy: pyarrow, pandas: +0.4 s on --help

    try:
        snap = take_snapshot(landing_dir)
    except FileNotFoundError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if as_json:
        _emit_json(snap.to_dict())
        return
    console.print(
        f"snapshot {snap.snapshot_id}: {len(snap.files)} files, {snap.total_bytes:,} bytes "
        f"({len(snap.ignored)} non-FHIR files ignored)"
    )


def _print_ingest(report: dict) -> None:
    table = Table(
        "resource type",
        "read",
        "written",
        "quarantined",
        title=f"snapshot {report['snapshot_id'][:16]}…",
    )
    for rtype, c in report["per_type"].items():
        table.add_row(rtype, f"{c['read']:,}", f"{c['written']:,}", f"{c['quarantined']:,}")
    table.add_row(
        "[b]total",
        f"[b]{report['read']:,}",
        f"[b]{report['written']:,}",
        f"[b]{report['quarantined']:,}",
    )
    console.print(table)
    versions = Table("bronze table", "Delta version", "rows in snapshot", "inserted", "updated")
    for name, t in report["tables"].items():
        versions.add_row(
            name,
            str(t["version"]),
            f"{t['rows_in_snapshot']:,}",
            f"{t['inserted']:,}",
            f"{t['updated']:,}",
        )
    console.print(versions)
    for reason, count in report["quarantine_reasons"].items():
        console.print(f"  quarantined {count:,}: {reason}")
    console.print(
        f"{report['read']:,} resources in {report['seconds']:.1f}s ({report['resources_per_s'] or 0:,.0f}/s)"
    )


@app.command()
def ingest(
    landing_dir: Path = typer.Argument(
        ..., help="Directory of FHIR ndjson[.gz] / Bundle json[.gz] files."
    ),
    home: Path | None = HomeOption,
    as_json: bool = JsonOption,
) -> None:
    """Ingest a landing directory into the bronze Delta tables, outside Dagster (same code)."""
    from ingestion.ingest import ingest_directory  # lazy: polars, pyarrow, pandas: +0.5 s on --help
    from ingestion.landing import take_snapshot  # lazy: pyarrow, pandas: +0.4 s on --help

    settings = _settings(home)
    try:
        files = len(take_snapshot(landing_dir).files)
    except FileNotFoundError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    with holding_home(settings, "ingest"):  # one writer per home
        if settings.engine == "spark":  # CLINICAL_MLOPS_ENGINE=spark: the same parser under Spark
            from functools import partial

            from ingestion.spark import (  # lazy: polars, pyarrow, pandas: +0.5 s on --help
                ingest_snapshot_spark,
            )
            from lakehouse.spark import engine_session  # lazy: pyarrow, pandas: +0.4 s on --help

            if not as_json:
                console.print(f"ingesting {files} files on Spark ({settings.spark_master})")
            with engine_session(settings.spark_master, settings.spark_home) as spark:
                report = ingest_directory(
                    landing_dir,
                    settings.bronze,
                    batch_rows=settings.ingest_batch_rows,
                    ingest=partial(
                        ingest_snapshot_spark,
                        spark=spark,
                        staging_root=settings.spark_home / "staging",
                    ),
                ).to_dict()
        else:
            with progress_bar(console) as progress:
                task = progress.add_task("ingesting files", total=files)
                report = ingest_directory(
                    landing_dir,
                    settings.bronze,
                    batch_rows=settings.ingest_batch_rows,
                    on_file=lambda _: progress.advance(task),
                ).to_dict()
    if as_json:
        _emit_json(report)
    else:
        _print_ingest(report)


@pipeline_app.command("run")
def pipeline_run(
    home: Path | None = HomeOption,
    patients: int | None = typer.Option(
        None, "--patients", help="Demo cohort size when generating (default 1000)."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Demo cohort seed when generating."),
    generate_cohort: bool = typer.Option(
        True,
        "--generate/--no-generate",
        help="Generate the demo cohort into an empty landing zone first.",
    ),
    verbose: bool = typer.Option(
        False,
        "--verbose",
        "-v",
        help="Also print Dagster's own log (every event, DEBUG) and third-party warnings and INFO logs.",
    ),
    strict: bool = typer.Option(
        False,
        "--strict",
        help="Exit 1 when any task is not trainable on this cohort (default: exit 0 when every task the "
        "data allows was trained, reporting the others).",
    ),
    serve: bool = typer.Option(
        True,
        "--serve/--no-serve",
        help="End by serving the champion's Bento on loopback for one HTTP prediction.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Materialize the whole graph in process (generating the demo cohort into an empty landing zone), then
    serve the champion once over HTTP."""
    settings = _settings(home, demo_patients=patients, demo_seed=seed)
    # one writer per home, from generating the cohort until the demo prediction is served
    with holding_home(settings, "pipeline run"):
        summary = _pipeline_run(settings, generate_cohort, verbose, serve)
    _print_pipeline(settings, summary, as_json, strict)


def _pipeline_run(settings: Settings, generate_cohort: bool, verbose: bool, serve: bool):
    from ingestion.landing import take_snapshot  # lazy: pyarrow, pandas: +0.4 s on --help
    from orchestration.run import run_pipeline  # lazy: imports dagster (+0.5 s on --help)

    if generate_cohort and not take_snapshot(settings.landing).files:
        console.print(
            f"landing zone {settings.landing} is empty: generating the demo cohort "
            f"({settings.demo_patients} patients, seed {settings.demo_seed})"
        )
        with progress_bar(console) as progress:
            task = progress.add_task("generating patients", total=settings.demo_patients)
            generate_fhir(
                settings.landing,
                settings.demo_patients,
                settings.demo_seed,
                gzip=True,
                progress=lambda n: progress.advance(task, n),
            )
    console.print(f"materializing the graph (Dagster home {settings.dagster_home}) …")
    # each step as it ends; Dagster's own console log (tracebacks included) only with --verbose: a failure's
    # root cause is on its step's line and in the summary, the full event log in the UI
    with quiet_third_party(verbose):
        with StepView(console) as view:
            summary = run_pipeline(
                settings, log_level="DEBUG" if verbose else "CRITICAL", on_step=view
            )
        if serve and summary.exit_code() == 0 and summary.bentos:
            console.print("serving the champion on 127.0.0.1 for one prediction …")
            summary.prediction = _demo_prediction(settings)
    return summary


def _print_pipeline(settings: Settings, summary, as_json: bool, strict: bool = False) -> None:
    if summary.recovered:
        console.print(
            f"[yellow]cleaned up after a killed run first:[/yellow] {summary.recovered}",
            soft_wrap=True,
        )
    if as_json:
        _emit_json(summary.to_dict())
    else:
        table = Table(
            "asset", "Delta version", "rows", "data version", title=f"run {summary.run_id}"
        )
        table.columns[0].overflow = "fold"  # the full key, folded on a narrow terminal, never cut
        for a in summary.assets:
            table.add_row(
                a["asset"],
                str(a["delta_version"]),
                f"{a['rows']:,}" if a["rows"] is not None else "",
                (a["data_version"] or "")[:16],
            )
        print_wide(console, table)
        snapshot_ids = {a["snapshot_id"] for a in summary.assets if a["snapshot_id"]}
        console.print(f"snapshot id: {', '.join(sorted(snapshot_ids))}")
        failed = [c for c in summary.checks if not c["passed"]]
        console.print(
            f"checks: {len(summary.checks) - len(failed)} passed, {len(failed)} failed"
            + "".join(f"\n  [yellow]{c['severity']}[/yellow] {c['check']}" for c in failed)
        )
        _print_deid(summary)
        for task, t in summary.tasks.items():
            console.print(
                f"task {task}: {t['row_count']:,} index events, {t['positives']:,} positive "
                f"({t['prevalence']:.1%}), {t['censored']:,} censored at the data horizon"
            )
        for task, t in summary.training_sets.items():
            sizes = ", ".join(f"{k} {v:,}" for k, v in (t["split_sizes"] or {}).items())
            console.print(
                f"training set {task} ({t['feature_service']}): {t['row_count']:,} rows ({sizes}), "
                f"digest {str(t['content_digest'])[:23]}…"
            )
        for name, m in summary.models.items():
            console.print(
                f"model {name} version {m['model_version']} registered ({m['model_uri']}): "
                f"validation AUROC {m['best_val_auroc']}, MLflow run {m['mlflow_run_id']}"
            )
        for name, e in summary.evaluations.items():
            auroc = (e["metrics"] or {}).get("auroc") or {}
            console.print(
                f"evaluation {name} v{e['model_version']}: test AUROC {_ci(auroc)} on {e['test_rows']} rows "
                f"({e['test_positives']} positive) -> [bold]{e['decision']}[/bold] "
                f"(champion: v{e['champion_version']})"
            )
        for name, b in summary.bentos.items():
            console.print(
                f"bento {b['bento_tag']} serves {name} v{b['model_version']} "
                f"(threshold {b['threshold']}); start it with `clinical-mlops serve`"
            )
        if summary.prediction:
            p = summary.prediction["response"]
            answer = (
                f"risk {p['risk']:.3f}"
                if p.get("risk") is not None
                else f"{p.get('status')} (missing views {p.get('missing_views')})"
            )
            console.print(
                f"served over HTTP: patient {p['patient_id']} {answer} from {p['model_name']} "
                f"v{p['model_version']} ({p['feature_service']}, training data "
                f"{str(p['training_set_digest'])[:23]}…)\n  try: {summary.prediction['curl']}"
            )
        if summary.online_store:
            o = summary.online_store
            loaded = (
                f"{o['materialized_views']} views loaded"
                if o["materialized_views"]
                else "up to date"
            )
            console.print(
                f"online store ({o['online_store']}): {loaded}, {o['entities']:,} patients, features "
                f"until {o['materialized_until']}"
            )
        console.print(f"outputs under {settings.root}; open the UI with `make ui`")
    code = print_outcome(console, summary, strict)  # on stderr: --json's stdout stays JSON
    if code:
        raise typer.Exit(code)


def _ci(interval: dict) -> str:
    if interval.get("estimate") is None:
        return "n/a"
    if interval.get("low") is None:
        return f"{interval['estimate']:.3f}"
    return f"{interval['estimate']:.3f} (95% CI {interval['low']:.3f}-{interval['high']:.3f})"


def _bento_refs(settings: Settings) -> list:
    """The Bentos the packaging assets last built (their pinned references beside the Dagster instance)."""
    refs = sorted((settings.dagster_home / "refs" / "bentos").glob("*.json"))
    return [BentoRef.model_validate(json.loads(p.read_text())["value"]) for p in refs]


def _demo_prediction(settings: Settings) -> dict:
    from evaluation.registry import version_tags  # lazy: imports torch, scikit-learn (+3 s)
    from serving.demo import (  # lazy: polars, pyarrow, pandas: +0.5 s on --help
        latest_test_patient,
        predict_once,
    )

    bento = _bento_refs(settings)[0]
    tags = version_tags(settings.tracking_uri, bento.registered_model, bento.model_version)
    patient = latest_test_patient(
        tags["lineage.training_set.uri"], int(tags["lineage.training_set.version"])
    )
    return predict_once(bento, patient, settings, log_dir=settings.bentoml_home)


@app.command()
def serve(
    home: Path | None = HomeOption,
    bento: str | None = typer.Option(
        None, "--bento", help="Bento tag (default: the champion's, as last built by the pipeline)."
    ),
    host: str | None = typer.Option(
        None,
        "--host",
        help="Interface (default 127.0.0.1; the service has no authentication of its own).",
    ),
    port: int | None = typer.Option(
        None, "--port", help="Port (default CLINICAL_MLOPS_SERVE_PORT, 3100)."
    ),
) -> None:
    """Serve the champion's Bento (`bentoml serve`) in the foreground until Ctrl-C."""
    import os

    from serving.server import bento_server  # lazy: polars, pyarrow, pandas: +0.5 s on --help

    settings = _settings(home, serve_host=host, serve_port=port)
    tag = bento
    if tag is None:
        refs = _bento_refs(settings)
        if not refs:
            console.print(
                f"[red]no Bento built yet under {settings.root}[/red]: run `clinical-mlops pipeline run` first"
            )
            raise typer.Exit(1)
        tag = refs[0].tag
        console.print(f"serving {refs[0].registered_model} v{refs[0].model_version} (Bento {tag})")
    server = bento_server(
        tag, settings=settings, host=settings.serve_host, port=settings.serve_port
    )
    console.print(
        f"http://{settings.serve_host}:{settings.serve_port} (POST /predict_by_id, /predict_by_id_batch, "
        "/predict_row, /predict_row_batch; Ctrl-C stops)"
    )
    os.execvpe(
        server.command[0], server.command, server.env
    )  # the server owns this process: Ctrl-C reaches it


def _print_deid(summary) -> None:
    gate, deid = summary.gate, summary.deid
    if gate is not None:
        verdict = "[green]PASSED[/green]" if gate["passed"] else "[red]FAILED[/red]"
        console.print(
            f"PHI-leak gate: {verdict}: {gate['leaked_values']} known identifier(s) of "
            f"{gate['patients_checked']:,} patients found in {gate['tables']} silver tables"
            + "".join(f"\n  {line}" for line in gate["findings"][:20])
        )
    if deid is not None:
        k_share = deid["k_share_below_5"] or 0
        console.print(
            f"de-identification: policy {deid['deid_policy_version']} ({deid['date_mode']}), key "
            f"fingerprint {deid['deid_key_fingerprint']}, {deid['replacements_total']:,} PHI spans "
            f"replaced in notes; k-anonymity min k {deid['k_min']}, {k_share:.1%} of patients in "
            "classes smaller than 5"
        )


@app.command()
def ui(
    home: Path | None = HomeOption,
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Loopback address to bind (no other is allowed)."
    ),
    port: int = typer.Option(3000, "--port", help="Port of the Dagster UI."),
) -> None:
    """Start the Dagster UI on loopback; stop it with SIGTERM or Ctrl-C."""
    from orchestration.ui import check_loopback, exec_ui  # lazy: imports dagster

    try:
        check_loopback(host)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    settings = _settings(home)
    console.print(f"Dagster UI on http://{host}:{port} (home {settings.dagster_home})")
    exec_ui(settings, host, port)


@app.command()
def daemon(home: Path | None = HomeOption) -> None:
    """Start dagster-daemon (schedules, sensors, run queue) on this home; stop it with SIGTERM or Ctrl-C.

    Schedules and sensors start switched off except the run-failure recorder: turn them on in the UI or with
    `dagster schedule start` / `dagster sensor start` (docs/operations.md).
    """
    from orchestration.automation import exec_daemon  # lazy: imports dagster and the asset modules

    settings = _settings(home)
    console.print(
        f"dagster-daemon on {settings.dagster_home} (schedules, sensors and the run queue)"
    )
    exec_daemon(settings)


@app.command("config")
def show_config(
    home: Path | None = HomeOption,
    as_json: bool = JsonOption,
    markdown: bool = typer.Option(
        False,
        "--markdown",
        help="Print the reference of every setting (env var, type, default, description) as "
        "Markdown: docs/configuration.md.",
    ),
) -> None:
    """Show the effective settings and where each zone lives."""
    if markdown:  # from the settings class alone: no environment, no lakehouse home
        sys.stdout.write(settings_markdown())
        return
    settings = _settings(home)
    values = {
        **settings.model_dump(mode="json"),
        "landing": str(settings.landing),
        "bronze": str(settings.bronze),
        "silver": str(settings.silver),
        "gold": str(settings.gold),
        "dagster_home": str(settings.dagster_home),
        "mlflow_home": str(settings.mlflow_home),
        "feast_home": str(settings.feast_home),
        "bentoml_home": str(settings.bentoml_home),
    }
    if as_json:
        _emit_json(values)
        return
    table = Table("setting", "value")
    for key, value in values.items():
        table.add_row(key, str(value))
    console.print(table)


if __name__ == "__main__":  # pragma: no cover
    app()
