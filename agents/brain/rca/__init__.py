"""Brain's root-cause analysis engine: ``analyze(incident, baseline) -> Diagnosis``."""

from agents.brain.rca.engine import analyze

__all__ = ["analyze"]
