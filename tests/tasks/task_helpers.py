"""Helpers for the application-task tests: tiny facts, a fact pool, neuron sets, weight
hashes and parameter snapshots."""

from __future__ import annotations

import hashlib

import torch

from harness.attribution import ClozeQuery, Prediction
from harness.data import Fact, FactPool
from harness.tasks.base import TaskContext


class NSet:
    """A neuron set as localizers return it (``.neurons`` [K, 2])."""

    def __init__(self, pairs):
        self.neurons = torch.tensor(pairs, dtype=torch.long).reshape(-1, 2)
        self.scores = torch.ones(len(pairs))


def _fact(uuid, rel, uri, subj, obj_en, obj_fi, en, fi):
    return Fact(
        uuid=uuid,
        relation=rel,
        queries={
            "en": tuple(ClozeQuery(p.format(s=subj), obj_en, ".") for p in en),
            "fi": tuple(ClozeQuery(p.format(s=subj), obj_fi, ".") for p in fi),
        },
        objects={"en": obj_en, "fi": obj_fi},
        object_uri=uri,
    )


CAPITAL_EN = ("The capital of {s} is", "{s} has its capital in", "The seat of {s} is")
CAPITAL_FI = ("Maan {s} pääkaupunki on", "{s}n pääkaupunki on")
BORN_EN = ("{s} was born in", "The birthplace of {s} is")
BORN_FI = ("{s} syntyi kaupungissa",)
TONGUE_EN = ("The mother tongue of {s} is",)
TONGUE_FI = ("Henkilön {s} äidinkieli on",)

POOL = [
    _fact("c-fr", "P36", "Q90", "France", "Paris", "Pariisi", CAPITAL_EN, CAPITAL_FI),
    _fact("c-de", "P36", "Q64", "Germany", "Berlin", "Berliini", CAPITAL_EN, CAPITAL_FI),
    _fact("c-jp", "P36", "Q1490", "Japan", "Tokyo", "Tokio", CAPITAL_EN, CAPITAL_FI),
    _fact("c-fi", "P36", "Q1757", "Finland", "Helsinki", "Helsinki", CAPITAL_EN, CAPITAL_FI),
    _fact("b-da", "P19", "Q2044", "Dante Alighieri", "Florence", "Firenze", BORN_EN, BORN_FI),
    _fact("b-ob", "P19", "Q18094", "Barack Obama", "Honolulu", "Honolulu", BORN_EN, BORN_FI),
    _fact("t-vh", "P103", "Q150", "Victor Hugo", "French", "ranska", TONGUE_EN, TONGUE_FI),
    _fact("t-ae", "P103", "Q188", "Albert Einstein", "German", "saksa", TONGUE_EN, TONGUE_FI),
]
FACTS = {f.uuid: f for f in POOL}


def context(adapter, fact_pool=POOL, splits=None, correct_only=False, seed=0) -> TaskContext:
    """A context over the hand-made pool (the tasks' options are their own fields)."""
    return TaskContext(
        adapter=adapter, pool=FactPool.of(fact_pool), splits=splits, correct_only=correct_only, seed=seed
    )


def weights_hash(model: torch.nn.Module) -> str:
    """sha256 of every parameter and buffer's bytes, by name."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def fake_predictions(ctx: TaskContext, fact: Fact, correct: dict[str, list[bool]]) -> None:
    """Make the unedited predictions of ``fact`` what ``correct`` says (the tasks read them
    from the per-fact cache)."""
    ctx.cache[f"predictions:{fact.uuid}"] = {
        lang: [Prediction(7 if ok else 8, 7, 0.5) for ok in flags] for lang, flags in correct.items()
    }
