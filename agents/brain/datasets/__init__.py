"""Adapters that turn public RCA datasets into Brain's windows (``TelemetryWindow``) and keep
their labels apart, for the benchmark's scorer only."""
