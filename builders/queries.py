"""Turn templates into cloze queries: fill in the subject, cut at the object."""

from __future__ import annotations


def fill(template: str, subject: str) -> str:
    """The query: the text before ``[Y]`` with ``[X]`` replaced by the subject, stripped."""
    head = template.split("[Y]", 1)[0]
    return head.replace("[X]", subject).strip()


def sentence(template: str, subject: str, obj: str) -> str:
    """The full statement: both placeholders filled (for training and masked models)."""
    return template.replace("[X]", subject).replace("[Y]", obj)
