"""HTTP JSON APIs that the control plane mounts (``tracker_api``)."""
