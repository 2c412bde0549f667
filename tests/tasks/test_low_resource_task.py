"""enhance-low-resource: the Q_error definition, the doubling, the summary."""

import math

import pytest
from task_helpers import FACTS, NSet, context, fake_predictions, weights_hash

from harness.adapters import get_adapter
from harness.adapters.tiny import tiny_model
from harness.attribution import ClozeQuery, predict_batch
from harness.data import Fact
from harness.registry import get
from harness.tasks import build_task
from harness.tasks.base import manipulated
from harness.tasks.low_resource import EnhanceLowResource, knows, q_error, summarize_low_resource

PAIRS = [(0, 3), (1, 7), (1, 11)]


@pytest.fixture(scope="module")
def adapter():
    model, tok = tiny_model("gpt2", seed=0)
    return get_adapter(model, tok)


def test_registered():
    assert get("task", "enhance-low-resource") is EnhanceLowResource


def test_knows_criteria():
    assert knows([True, False, False], "first") and not knows([False, True, True], "first")
    assert knows([False, True, True], "majority") and not knows([True, False], "majority")
    assert knows([True, True], "all") and not knows([True, False], "all")
    assert knows([False, True], "any") and not knows([False, False], "any")
    assert not knows([], "any")
    with pytest.raises(ValueError, match="english='most'; valid choices: majority, first"):
        knows([True], "most")


def test_q_error_is_wrong_in_x_and_known_in_english(adapter):
    fact = FACTS["c-fr"]  # en: 3 queries, fi: 2
    ctx = context(adapter)
    langs = ("fi", "hu")
    fake_predictions(ctx, fact, {"en": [True, True, False], "fi": [False, True]})
    assert q_error(ctx, fact, languages=langs) == {"fi": [0]}  # no hu queries: not the fact's
    fake_predictions(ctx, fact, {"en": [False, True, False], "fi": [False, False]})
    assert q_error(ctx, fact, languages=langs) == {"fi": []}  # English majority wrong: nothing
    assert q_error(ctx, fact, "any", langs) == {"fi": [0, 1]}
    fake_predictions(ctx, fact, {"en": [True, True, True], "fi": [True, True]})
    assert q_error(ctx, fact, languages=langs) == {"fi": []}  # nothing wrong in fi


def test_options_from_the_command_line_are_typed_and_checked():
    task = build_task("enhance-low-resource", {"languages": "fi, hu", "factor": "3", "english": "any"})
    assert task.languages == ("fi", "hu") and task.factor == 3.0 and task.english == "any"
    with pytest.raises(ValueError, match="unknown language.*xx"):
        build_task("enhance-low-resource", {"languages": "fi,xx"})
    with pytest.raises(ValueError, match="english.*'most' is not one of majority, first, all, any"):
        build_task("enhance-low-resource", {"english": "most"})
    with pytest.raises(ValueError, match="unknown option.*lowres_factor; valid options: english, factor"):
        build_task("enhance-low-resource", {"lowres_factor": "3"})


def test_english_from_the_pool_when_not_in_the_run(adapter):
    full = FACTS["c-fr"]
    fact = Fact(full.uuid, full.relation, {"fi": full.queries["fi"]}, object_uri=full.object_uri)
    ctx = context(adapter)
    fake_predictions(ctx, fact, {"fi": [False, False]})
    english = [p.correct for p in predict_batch(adapter, full.queries["en"])]
    want = [0, 1] if knows(english) else []
    assert q_error(ctx, fact, languages=("fi",)) == {"fi": want}


def test_enhancement_accuracy_and_restore(adapter):
    q = ClozeQuery("The capital of France is", "Paris", ".")
    fact = Fact("x", "P36", {"en": (q, q), "fi": (q, q, q)}, object_uri="Q90")
    ctx = context(adapter)
    fake_predictions(ctx, fact, {"en": [True, True], "fi": [False, True, False]})
    h0 = weights_hash(adapter.model)
    recs = EnhanceLowResource(languages=("fi",)).evaluate(ctx, fact, {"a": NSet(PAIRS), "none": NSet([])})
    assert weights_hash(adapter.model) == h0
    with manipulated(adapter, NSet(PAIRS), "scale", 2.0):
        doubled = predict_batch(adapter, [q])[0].correct
    by = {r["localizer"]: r for r in recs}
    assert by["a"]["q_error"] == 2 and by["a"]["queries"] == [0, 2]
    assert by["a"]["fixed"] == 2 * doubled
    assert "none" not in by  # no neurons: nothing enhanced, no record (not "0 % fixed")
    assert by["a"]["language"] == "fi" and by["a"]["n_neurons"] == 3


def test_no_record_without_q_error(adapter):
    fact = FACTS["c-de"]
    ctx = context(adapter)
    fake_predictions(ctx, fact, {"en": [False, False, False], "fi": [False, False]})
    assert EnhanceLowResource(languages=("fi",)).evaluate(ctx, fact, {"a": NSet(PAIRS)}) == []


def test_summary_from_hand_made_records():
    def rec(loc, lang, fact, rel, n, fixed):
        return {
            "localizer": loc,
            "language": lang,
            "fact": fact,
            "relation": rel,
            "q_error": n,
            "fixed": fixed,
        }

    rows = summarize_low_resource(
        [
            rec("matrice", "fi", "f1", "P36", 2, 1),
            rec("matrice", "fi", "f2", "P36", 3, 3),
            rec("matrice", "fi", "f3", "P19", 1, 0),
            rec("matrice", "ja", "f1", "P36", 4, 1),
        ]
    )
    keys = [(r["localizer"], r["language"], r["relation"]) for r in rows]
    assert keys == [
        ("matrice", "fi", "all"),
        ("matrice", "fi", "P19"),
        ("matrice", "fi", "P36"),
        ("matrice", "ja", "all"),
        ("matrice", "ja", "P36"),
    ]
    fi_all, fi_19, fi_36, ja_all, _ = rows
    assert fi_all["accuracy"] == pytest.approx(4 / 6) and fi_all["queries"] == 6
    assert fi_all["facts"] == 3 and fi_all["accuracy_before"] == 0.0
    assert fi_19["accuracy"] == 0 and fi_36["accuracy"] == pytest.approx(4 / 5)
    assert ja_all["accuracy"] == 0.25
    assert math.isnan(summarize_low_resource([rec("a", "fi", "f", "P1", 0, 0)])[0]["accuracy"])
