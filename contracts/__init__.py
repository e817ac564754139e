"""Event contracts shared by every service: the envelope, topic names and payload models."""
