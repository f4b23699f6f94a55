"""Clinical MLOps platform: command line and settings."""
