"""Turn templates into cloze queries: fill in the subject, cut at the object."""

from __future__ import annotations


def fill(template: str, subject: str) -> str:
    """The query: the text before ``[Y]`` with ``[X]`` replaced by the subject, stripped."""
    head = template.split("[Y]", 1)[0]
    return head.replace("[X]", subject).strip()
