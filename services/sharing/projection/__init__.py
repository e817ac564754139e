"""Sharing's own projection of the registry: what it shares outward and what its statistics count."""
