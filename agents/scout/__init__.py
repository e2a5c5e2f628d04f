"""Scout: detects problems in the fleet and opens one incident per real problem.

``ls agents/scout`` reads as the design: ``detectors/`` (health, business, red, slo, broker) emit
typed symptoms; ``pipeline.py`` runs them through ``stages/`` (fingerprint → severity → dedupe →
group → inhibit → flapping → pending → route; report → resolve); ``incidents.py`` writes the
tracker and ``publish.py`` the workflow's work items; ``ingest.py`` + ``state.py`` count Kafka
events exactly once across Scout processes; ``service.py`` is the loop; ``report.py`` is
``sre-space slo``.
"""
