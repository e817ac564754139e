"""Large-scale unemployment warnings (规模性失业风险预警, SPEC 2.5)."""
