"""Memory's recall: past incidents and runbooks similar to a new one.

Minimal until the Memory issue lands (Chroma store, embeddings): nothing is recalled, so the
workflow's recall node runs, posts and checkpoints like the real one will.
"""

from __future__ import annotations

from typing import Any

from sre_space.models.events import IncidentWorkItem


def recall(item: IncidentWorkItem) -> list[dict[str, Any]]:
    """Similar past incidents (most similar first); none yet."""
    return []
