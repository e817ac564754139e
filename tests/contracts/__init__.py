"""Tests of the event contracts: envelope, payload models and the generated schemas."""
