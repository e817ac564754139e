"""The audit log of every exchange: a hash chain the database keeps append-only."""
