"""Synthetic landing-area generator (`incidents demo-data`)."""

from demo.generator import DEFAULT_INCIDENTS, FORCE_STARTS, DemoSummary, generate_landing

__all__ = ["DEFAULT_INCIDENTS", "FORCE_STARTS", "DemoSummary", "generate_landing"]
