"""Dagster assets and checks, one module per stage (thin: they call domain code), with the resources, IO manager and retry policies they use below them."""
