"""`clinical-mlops lineage`: trace a model version back to its landing snapshot, and verify the chain."""

from __future__ import annotations

import typer

app = typer.Typer(help="Trace and verify the lineage of a registered model version.", no_args_is_help=True)
