"""Scout's pipeline stages, one job each, in the order ``pipeline.py`` runs them:
fingerprint → severity → dedupe → group → inhibit → flapping → pending → route (open or reopen),
and for open incidents: report (throttled repeat comments) → resolve."""
