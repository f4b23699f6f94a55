"""Dagster assets and checks, one module per stage (thin: they call domain code).

The resources, IO manager and retry policies they use sit below them (resources, io_manager, retries).
"""
