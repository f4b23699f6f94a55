"""Schedules and sensors (placeholder: filled by the automation work)."""

from __future__ import annotations

SCHEDULES: list = []
SENSORS: list = []
