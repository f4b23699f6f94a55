"""The ground of the platform: its one typed settings object (imported by every layer; imports none)."""
