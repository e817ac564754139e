"""`rongchang`: the operator's command line (issue 9): API clients, dead letters, projection
rebuilds, CSV imports through the gateway, and outbox/inbox purges."""
