"""`clinical-mlops deid`: run the note PHI detector over a corpus (detect) and score it (eval)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from cli.progress import progress_bar
from deid.corpora import CorpusError, read_corpus

app = typer.Typer(
    help="De-identification of clinical notes: detect PHI spans, evaluate against a gold corpus.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)

FORMATS = ("physionet", "i2b2", "presidio", "text")
FormatOption = typer.Option(
    ..., "--format", "-f", help="Corpus format: physionet, i2b2, presidio or text."
)
InputOption = typer.Option(
    ..., "--input", "-i", help="Corpus file or directory (physionet: the id.text file)."
)
JsonOption = typer.Option(False, "--json", help="Print the report as JSON on stdout.")


def _emit_json(payload: dict) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def _read(fmt: str, path: Path, gold: Path | None):
    if fmt not in FORMATS:
        console.print(f"[red]unknown --format {fmt!r}[/red] (one of {', '.join(FORMATS)})")
        raise typer.Exit(2)
    for p, what in ((path, "--input"), (gold, "--gold")):
        if p is not None and not p.exists():
            console.print(f"[red]{what} {p}: no such file or directory[/red]")
            raise typer.Exit(2)
    try:
        return read_corpus(fmt, path, gold)
    except CorpusError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
        console.print(f"[red]{path}: not a {fmt} corpus ({type(exc).__name__}: {exc})[/red]")
        raise typer.Exit(2) from None


def _detect(docs):
    from deid.evaluate import detect_corpus  # lazy: polars: +0.2 s on --help

    with progress_bar(console) as progress:
        task = progress.add_task("detecting PHI", total=len(docs))
        return detect_corpus(docs, progress=lambda n: progress.advance(task, n))


@app.command()
def detect(
    fmt: str = FormatOption,
    input_path: Path = InputOption,
    output: Path = typer.Option(
        ...,
        "--output",
        "-o",
        help="spans.jsonl to write: one {doc_id,start,end,label,text} per line.",
    ),
    gold: Path | None = typer.Option(
        None, "--gold", help="Gold file, when the format keeps it apart (physionet id-phi.phrase)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Detect PHI spans in every document of a corpus and write them as JSON lines (end exclusive)."""
    import time

    from deid.evaluate import write_spans_jsonl  # lazy: polars: +0.2 s on --help

    docs = _read(fmt, input_path, gold)
    started = time.perf_counter()
    detected = _detect(docs)
    seconds = time.perf_counter() - started
    spans = write_spans_jsonl(detected, output)
    from collections import Counter

    labels = Counter(s.label for doc in detected.values() for s in doc)
    report = {
        "documents": len(docs),
        "spans": spans,
        "output": str(output),
        "seconds": round(seconds, 3),
        "documents_per_s": round(len(docs) / seconds, 1) if seconds else None,
        "by_label": dict(sorted(labels.items())),
    }
    if as_json:
        _emit_json(report)
        return
    console.print(
        f"{spans:,} PHI spans in {len(docs):,} documents -> {output} "
        f"({report['documents_per_s'] or 0:,.0f} documents/s)"
    )


@app.command("eval")
def evaluate_cmd(
    fmt: str = FormatOption,
    input_path: Path = InputOption,
    gold: Path | None = typer.Option(
        None,
        "--gold",
        help="Gold spans (physionet: id-phi.phrase); presidio and "
        "i2b2 carry their gold inside --input.",
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the metrics as JSON to this file."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Score the detector against gold spans: recall, precision and F2, overall, HIPAA-relevant, per label."""
    from deid.evaluate import evaluate  # lazy: polars: +0.2 s on --help

    if fmt == "physionet" and gold is None:
        console.print(
            "[red]--gold is required for --format physionet (the id-phi.phrase file)[/red]"
        )
        raise typer.Exit(2)
    if fmt == "text":
        console.print("[red]--format text has no gold spans to evaluate against[/red]")
        raise typer.Exit(2)
    docs = _read(fmt, input_path, gold)
    if not any(d.gold for d in docs):
        console.print(f"[red]{gold or input_path}: no gold spans found[/red]")
        raise typer.Exit(2)
    metrics = evaluate(docs, _detect(docs))
    metrics["input"] = str(input_path)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    if as_json:
        _emit_json(metrics)
        return
    table = Table(
        "gold label",
        "category",
        "gold",
        "found",
        "recall",
        title=f"{len(docs):,} documents: {input_path}",
    )
    for label, s in metrics["by_gold_label"].items():
        table.add_row(
            label,
            s["category"] or "[dim]not HIPAA[/dim]",
            f"{s['gold']:,}",
            f"{s['found']:,}",
            f"{s['recall']:.3f}",
        )
    for name in ("overall", "hipaa_relevant"):
        s = metrics[name]
        table.add_row(
            f"[b]{name}", "", f"[b]{s['gold']:,}", f"[b]{s['found']:,}", f"[b]{s['recall']:.3f}"
        )
    console.print(table)
    detected = Table("detected label", "detected", "correct", "precision")
    for label, s in metrics["by_detected_label"].items():
        detected.add_row(label, f"{s['detected']:,}", f"{s['correct']:,}", f"{s['precision']:.3f}")
    console.print(detected)
    for name in ("overall", "hipaa_relevant"):
        s = metrics[name]
        console.print(
            f"{name}: recall {s['recall']:.4f}  precision {s['precision']:.4f}  F2 {s['f2']:.4f}"
        )
    if output is not None:
        console.print(f"metrics -> {output}")
