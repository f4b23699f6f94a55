"""Model monitoring: feature drift of recent gold features against a model's training split (no Dagster here)."""
