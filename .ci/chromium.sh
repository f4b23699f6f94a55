#!/usr/bin/env bash
# Sourced by .ci/run: headless Chromium for the Dagster UI screenshot (placeholder: filled by that work).
