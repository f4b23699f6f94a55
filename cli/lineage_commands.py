"""`clinical-mlops lineage`: trace a model version back to its landing snapshot, and verify the chain."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from cli.home_guard import holding_home
from clinical_mlops.settings import load_settings

app = typer.Typer(
    help="Trace and verify the lineage of a registered model version.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)
HomeOption = typer.Option(
    None, "--home", help="Lakehouse root (default: $CLINICAL_MLOPS_HOME or .clinical-mlops)."
)
JsonOption = typer.Option(False, "--json", help="Print the result as JSON on stdout.")
ModelArg = typer.Argument(
    None,
    metavar="MODEL@VERSION|ALIAS",
    help="e.g. clinical-readmission@champion or clinical-readmission@3",
)
ResponseOption = typer.Option(
    None,
    "--response",
    help="A served prediction's JSON response (a file, or - for stdin): "
    "trace the model version that answered it.",
)


def _settings(home: Path | None):
    try:
        return load_settings(home=home)
    except Exception as exc:  # noqa: BLE001 - pydantic ValidationError names the variable and the value
        console.print(f"[red]invalid configuration:[/red] {exc}")
        raise typer.Exit(2) from None


def _emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def _read_response(source: str) -> dict:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
        data = json.loads(text)
    except OSError as exc:
        console.print(f"[red]--response {source}: cannot read it ({exc})[/red]")
        raise typer.Exit(2) from None
    except json.JSONDecodeError as exc:
        console.print(f"[red]--response {source}: not JSON ({exc})[/red]")
        raise typer.Exit(2) from None
    if not isinstance(data, dict):
        console.print(
            f"[red]--response {source}: expected a JSON object (a prediction response)[/red]"
        )
        raise typer.Exit(2)
    return data


def _resolve(model: str | None, response: str | None) -> tuple[str, str, dict | None]:
    """(name, ref, response lineage fields or None) from MODEL@REF and/or --response."""
    from audit.trace import (  # lazy: pyarrow, pandas: +0.4 s on --help
        TraceError,
        parse_model_ref,
        response_lineage,
    )

    fields = None
    try:
        if response is not None:
            fields = response_lineage(_read_response(response))
        if model:
            name, ref = parse_model_ref(model)
            if fields and (fields["model_name"], fields["model_version"]) != (name, ref):
                console.print(
                    f"[red]{model} disagrees with the response, which names "
                    f"{fields['model_name']}@{fields['model_version']}[/red]"
                )
                raise typer.Exit(2)
            return name, ref, fields
    except TraceError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if fields is None:
        console.print("[red]give MODEL@VERSION|ALIAS or --response FILE|-[/red]")
        raise typer.Exit(2)
    return fields["model_name"], fields["model_version"], fields


def _trace(settings, name: str, ref: str, fields: dict | None) -> dict:
    from audit.trace import (  # lazy: pyarrow, pandas: +0.4 s on --help
        TraceError,
        response_mismatches,
        trace_in_home,
    )

    try:
        result = trace_in_home(settings, name, ref)
    except TraceError as exc:
        console.print(f"[red]{exc}[/red] (registry {settings.tracking_uri})")
        raise typer.Exit(2) from None
    if fields is not None:
        tags = {
            "lineage.training_set.digest": result["training_set"]["digest"],
            "lineage.feature_service": result["feature_service"]["name"],
            "lineage.landing.snapshot_id": result["landing"]["snapshot_id"],
        }
        mismatches = response_mismatches(fields, tags)
        result["response"] = {"fields": fields, "agrees_with_registry": not mismatches}
        result["problems"].extend(mismatches)
    return result


def _tree(t: dict) -> Tree:
    m, ts, landing = t["model"], t["training_set"], t["landing"]
    aliases = f" [green]({', '.join(m['aliases'])})[/green]" if m["aliases"] else ""
    root = Tree(f"[bold]{m['name']} v{m['version']}[/bold]{aliases}  status {m['status']}")
    root.add(
        f"MLflow run {m['run_id']}  ({t['run'].get('run_name', '')}, {t['run'].get('status', '?')})"
    )
    code = t["code"]
    root.add(
        f"code git {code.get('git_sha', '?')[:12]} (dirty {code.get('git_dirty', '?')}), "
        f"lock sha256 {code.get('lock_sha256', '?')[:12]}"
    )
    node = root.add(f"training set [cyan]{ts['uri']}@{ts['version']}[/cyan]  digest {ts['digest']}")
    node.add(f"task {ts['task']} {ts['task_version']}, Dagster run {ts['dagster_run_id']}")
    fs = node.add(f"FeatureService [cyan]{t['feature_service']['name']}[/cyan]")
    for g in t["gold"]:
        parent = fs if g["table"].startswith("features/") else node
        parent.add(f"gold {g['table']}@{g['version']}  (run {g['dagster_run_id'][:8]})")
    silver = node.add(
        f"silver (de-identification policy {t['deid']['policy_version']}, "
        f"key {t['deid']['key_fingerprint']})"
    )
    for s in t["silver"]:
        silver.add(f"{s['table']}@{s['version']}  dates {s['deid_date_mode'] or '?'}")
    bronze = silver.add("bronze (versions from silver's commits; rows never read)")
    bronze.add(", ".join(f"{b['table']}@{b['version']}" for b in t["bronze"]))
    bronze.add(
        f"landing snapshot [cyan]{landing['snapshot_id']}[/cyan]: {landing.get('files', '?')} files, "
        f"{landing.get('total_bytes', '?')} bytes under {landing.get('root', '?')}, manifest "
        f"{landing['manifest_table']}@{landing.get('manifest_version')}"
    )
    gate, ev = t["gate"], t["evaluation"]
    metrics = ev["metrics"]
    root.add(
        f"evaluation on {metrics.get('split', '?')} (n={metrics.get('n', '?')}): AUROC {metrics.get('auroc', '?')} "
        f"{metrics.get('auroc_ci', '')}, AUPRC {metrics.get('auprc', '?')}; row in {ev['table']}@{ev['table_version']}"
    )
    root.add(
        f"gate: [bold]{gate.get('decision', 'not evaluated')}[/bold] -> alias {gate.get('alias', '-')}, "
        f"{gate.get('failed_rules', '?')} failed rule(s), compared with {gate.get('compared_with', '-')}"
    )
    bentos = root.add(f"Bento(s): {len(t['bentos'])}")
    for b in t["bentos"]:
        bentos.add(b["tag"])
    root.add("Dagster runs: " + ", ".join(t["dagster_run_ids"]))
    if "response" in t:
        ok = t["response"]["agrees_with_registry"]
        root.add(
            f"served response: {'[green]agrees[/green]' if ok else '[red]DISAGREES[/red]'} with the registry"
        )
    return root


@app.command()
def trace(
    model: str | None = ModelArg,
    response: str | None = ResponseOption,
    home: Path | None = HomeOption,
    as_json: bool = JsonOption,
) -> None:
    """Print the chain from a model version (or a served response) down to its landing snapshot.
    Exits 1 when two records of the same link disagree."""
    name, ref, fields = _resolve(model, response)
    settings = _settings(home)
    result = _trace(settings, name, ref, fields)
    if as_json:
        _emit_json(result)
    else:
        console.print(_tree(result))
    for problem in result["problems"]:
        console.print(f"[red]problem:[/red] {problem}")
    if result["problems"]:
        raise typer.Exit(1)


@app.command()
def verify(
    model: str | None = ModelArg,
    response: str | None = ResponseOption,
    home: Path | None = HomeOption,
    as_json: bool = JsonOption,
    rederive: bool = typer.Option(
        True,
        "--rederive/--no-rederive",
        help="Re-derive the training set through Feast from the pinned versions.",
    ),
) -> None:
    """Time-travel to every recorded Delta version, re-derive the training set and check its digest, re-hash
    the landing snapshot. Exits 1 naming the first broken link."""
    from audit.trace import HomePaths  # lazy: pyarrow, pandas: +0.4 s on --help
    from audit.verify import verify as run_verify  # lazy: polars, pyarrow, pandas: +0.5 s on --help

    name, ref, fields = _resolve(model, response)
    settings = _settings(home)
    result = _trace(settings, name, ref, fields)
    with console.status("verifying", spinner="dots") as status:
        checks, failed = run_verify(
            result,
            HomePaths.of(settings),
            rederive=rederive,
            progress=lambda msg: status.update(msg),
        )
    label = f"{result['model']['name']} v{result['model']['version']}"
    if as_json:
        _emit_json(
            {
                "model": result["model"],
                "ok": failed is None,
                "checks": [c.to_dict() for c in checks],
                "broken_link": failed.to_dict() if failed else None,
            }
        )
    else:
        table = Table(title=f"lineage verify {label}", show_lines=False)
        for column in ("", "link", "detail"):
            table.add_column(column)
        for c in checks:
            table.add_row("[green]ok[/green]" if c.ok else "[red]BROKEN[/red]", c.link, c.detail)
        console.print(table)
    if failed:
        console.print(f"[red]lineage of {label} is broken at {failed.link}:[/red] {failed.detail}")
        raise typer.Exit(1)
    console.print(f"[green]lineage of {label} verified:[/green] {len(checks)} links hold")


@app.command()
def vacuum(
    home: Path | None = HomeOption,
    as_json: bool = JsonOption,
    retention_hours: int = typer.Option(
        168,
        "--retention-hours",
        min=0,
        help="Only files removed from the table longer ago than this go.",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List what would be deleted; delete nothing."
    ),
) -> None:
    """Vacuum every Delta table of the home, keeping every version a registered model version refers to."""
    from audit.retention import vacuum_home  # lazy: pyarrow, pandas: +0.4 s on --help

    settings = _settings(home)
    with (
        contextlib.nullcontext() if dry_run else holding_home(settings, "lineage vacuum"),
        console.status("computing protected versions and vacuuming", spinner="dots"),
    ):
        protected, results = vacuum_home(settings, retention_hours=retention_hours, dry_run=dry_run)
    payload = {
        "dry_run": dry_run,
        "retention_hours": retention_hours,
        "protected": {uri: sorted(v) for uri, v in sorted(protected.items())},
        "tables": [r.__dict__ for r in results if r.deleted or r.kept_for_protected],
    }
    if as_json:
        _emit_json(payload)
    verb = "would delete" if dry_run else "deleted"
    for r in results:
        if r.deleted or r.kept_for_protected:
            console.print(
                f"{r.uri}: {verb} {len(r.deleted)} file(s), kept {len(r.kept_for_protected)} for "
                f"protected version(s) {r.protected_versions}"
            )
    console.print(
        f"{len(protected)} table(s) hold protected versions; {verb} "
        f"{sum(len(r.deleted) for r in results)} file(s) in {len(results)} table(s)"
    )
