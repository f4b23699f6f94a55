"""The Dagster entry point: Definitions, jobs, schedules, sensors, hooks, the run launcher and the UI launcher."""
