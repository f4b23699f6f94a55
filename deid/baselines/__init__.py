"""Third-party de-identification baselines run beside ours in the benchmark."""
