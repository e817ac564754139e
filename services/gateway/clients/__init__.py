"""API clients of the gateway: agencies, scopes, keys and the endpoints that manage them."""
