"""The ground of the platform: its one typed settings object (everything else imports it; it imports nothing of ours)."""
