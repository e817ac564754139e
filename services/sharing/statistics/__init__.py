"""The monthly statistics reports the sharing service publishes: counts by town and measure."""
