"""CLI command groups that register themselves on the ``sre-space`` parser (``register(subparsers)``)."""
