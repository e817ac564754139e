"""The sharing service: the inter-agency bridge that turns agency datasets into canonical facts."""
