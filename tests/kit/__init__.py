"""Unit tests of the shared runtime in services/kit."""
