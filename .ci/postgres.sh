#!/usr/bin/env bash
# Sourced by .ci/run: PostgreSQL for the production-profile test (placeholder: filled by that work).
