"""The accuracy report: per split and language, with a leave-one-fact-out majority baseline."""

from __future__ import annotations

import torch

from harness.models.facts import Cloze
from harness.models.report import accuracy_report, format_report
from harness.models.splits import Splits
from harness.models.training import Encoded

A, B = 7, 8  # answer token ids


class AlwaysA(torch.nn.Module):
    """A 'model' whose top-1 is token A everywhere."""

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):  # noqa: ANN201
        logits = torch.zeros(*input_ids.shape, 10)  # [batch, seq, vocab]
        logits[..., A] = 1.0

        class Out:
            pass

        out = Out()
        out.logits = logits
        return out


def test_accuracy_and_baseline() -> None:
    facts = {"u1": A, "u2": A, "u3": B, "u4": A}
    items = {
        Cloze(u, "P1", "en", f"query {u}", " x", "."): Encoded([2, 5, 6], [2, 5, 6], 2, answer)
        for u, answer in facts.items()
    }
    splits = Splits(known=("u1", "u2", "u3"), high_resource_only=(), held_out=("u4",))
    report = accuracy_report(AlwaysA(), 0, items, splits)
    assert report["accuracy"]["known"] == {"en": round(2 / 3, 4)}
    assert report["accuracy"]["held_out"] == {"en": 1.0}
    # u1: the others answer A once and B once (tie: the first seen, A) -> right;
    # u2: others A, B -> A, right; u3: others A, A -> wrong. u4 (never trained): A -> right.
    assert report["baseline"]["known"] == {"en": round(2 / 3, 4)}
    assert report["baseline"]["held_out"] == {"en": 1.0}
    assert report["queries"]["known"]["en"] == 3 and report["queries"]["known"]["zh"] == 0
    table = format_report(report)
    assert "0.67 (0.67)" in table and table.splitlines()[0].split() == [
        "zh",
        "en",
        "fr",
        "fi",
        "hu",
        "ja",
        "ko",
    ]
