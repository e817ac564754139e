"""The shared runtime of the four services: settings, database, outbox, inbox, errors, metrics."""
