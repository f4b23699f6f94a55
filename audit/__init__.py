"""The auditor's tool: trace a model version to its data, verify a training set, retention, OpenLineage."""
