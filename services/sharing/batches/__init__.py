"""Batches: agencies push dataset records; each is validated, kept, and published as a fact."""
