"""The auditor's tool: trace a model version to its data, re-derive and verify a training set, retention, OpenLineage events."""
