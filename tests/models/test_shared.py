"""The -shared tiny models on the synthetic RML-LAMA, and the cross-lingual measurements."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import rml_lama
from harness.adapters import get_adapter
from harness.data import load_facts
from harness.models import load_model, load_report, load_splits, train_tiny
from harness.models.crosslingual import (
    bootstrap_interval,
    known_subset,
    neuron_overlap,
    suppression_matrix,
    transfer,
)
from harness.models.entities import EntityVocab, entity_token, nfc
from rml_lama.languages import LANGUAGE_CODES

# Template words from letters and characters the synthetic names never use, so that no
# entity label collides with template text (in the shared conftest's data, templates and
# names are drawn from the same syllables, and most entities would be left out).
_FREE = {
    "latin": "cfhjqwxy",
    "zh": "的首都是在与关系国家城市语言位于属",
    "ja": "のはがにでをとへや",
    "ko": "의는이가을를에서와도",
}


def _clean_template(rng, lang: str) -> str:  # noqa: ANN001
    key = lang if lang in ("zh", "ja", "ko") else "latin"
    word = "".join(rng.choice(_FREE[key]) for _ in range(3))
    if lang in ("zh", "ja"):
        return f"[X]{word}[Y]。"
    return f"{word} [X] {word[::-1]} [Y]."


def _clean_dataset(root: Path, source: Path) -> Path:
    """The synthetic dataset with every relation's templates rewritten from ``_FREE``."""
    import random
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    from harness.models.facts import read_rows
    from rml_lama.schema import FEATURES

    rows = read_rows(source)
    rng = random.Random(0)
    templates = {
        (r["relation"], lang): [_clean_template(rng, lang) for _ in r["templates"]]
        for lang, lang_rows in rows.items()
        for r in lang_rows
    }
    for lang, lang_rows in rows.items():
        for r in lang_rows:
            r["templates"] = templates[r["relation"], lang]
            r["queries"] = [t.split("[Y]")[0].rstrip().replace("[X]", r["subject"]) for t in r["templates"]]
        (root / "data" / lang).mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pylist(lang_rows, schema=FEATURES.arrow_schema)
        pq.write_table(table, root / "data" / lang / "test-00000.parquet")
    shutil.copy(source / "README.md", root / "README.md")
    return root


@pytest.fixture(scope="module")
def env(synthetic_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    mp = pytest.MonkeyPatch()
    mp.setenv("RML_LAMA_CACHE", str(tmp_path_factory.mktemp("cache")))
    clean = _clean_dataset(tmp_path_factory.mktemp("clean_rml_lama"), synthetic_dataset)
    mp.setattr(rml_lama, "DATASET_DIR", clean)
    yield clean
    mp.undo()


@pytest.fixture(scope="module")
def shared(env: Path) -> Path:
    return train_tiny("tiny-gpt-shared", "micro", progress=False)


@pytest.fixture(scope="module")
def facts(shared: Path, env: Path) -> dict[str, list]:
    splits = load_splits(shared)
    by_id = {f.uuid: f for f in load_facts(list(LANGUAGE_CODES), dataset=env)}
    return {s: [by_id[u] for u in splits.of(s)] for s in ("known", "high_resource_only", "held_out")}


def test_shared_model_answers_with_entity_tokens(shared: Path, facts: dict[str, list], env: Path) -> None:
    report = load_report(shared)
    vocab = EntityVocab.load(shared / "entities.json")
    ent = report["entities"]
    assert ent["entity_tokens"] == len(vocab.uris) > 0
    # one-syllable Han names fire inside other names and are left out: 75 % here, 99 % on
    # the real data (docs/models.md)
    assert 0.6 * ent["queries"] <= ent["queries_with_entity_answer"] <= ent["queries"]
    acc = report["accuracy"]
    assert min(acc["known"].values()) >= 0.9, acc
    # the same splits as the mono model of the same config
    from harness.models import CONFIGS, make_splits
    from harness.models.facts import read_rows

    assert load_splits(shared) == make_splits(read_rows(env), CONFIGS["micro"]["tiny-gpt"].splits)
    lm = load_model("tiny-gpt-shared-micro")
    adapter = get_adapter(lm.model, lm.tokenizer)
    from harness.attribution.query import encode_query

    checked = 0
    for f in facts["known"]:
        if f.object_uri not in vocab.uris:
            continue
        token = lm.tokenizer.convert_tokens_to_ids(entity_token(f.object_uri))
        for lang, qs in f.queries.items():
            if nfc(f.objects[lang]) in vocab.dropped_labels:  # a label two entities share
                continue
            checked += 1
            assert encode_query(adapter, qs[0]).object_ids.tolist() == [token], (f.uuid, lang)
    assert checked >= len(facts["known"]) * 3


def test_transfer_matches_the_training_report(shared: Path, facts: dict[str, list]) -> None:
    """The harness's predictions (dataset queries, AutoTokenizer, adapter) agree with the
    accuracy the trainer computed on its own encoding."""
    lm = load_model(str(shared))
    acc = transfer(get_adapter(lm.model, lm.tokenizer), facts)
    report = load_report(shared)["accuracy"]
    for split, row in acc.items():
        for lang, cell in row.items():
            assert cell["accuracy"] == pytest.approx(report[split][lang], abs=1e-3), (split, lang)
            lo, hi = cell["ci95"]
            assert lo <= cell["accuracy"] <= hi
    # Facts trained only in en/zh/fr are answered in ja and ko: the entity is the same token.
    hro = acc["high_resource_only"]
    assert min(hro[lang]["accuracy"] for lang in ("fi", "hu", "ja", "ko")) >= 0.5, hro


def test_bootstrap_interval() -> None:
    assert bootstrap_interval([0.25] * 10) == [0.25, 0.25]
    lo, hi = bootstrap_interval([0.0] * 50 + [1.0] * 50)
    assert 0.35 < lo < 0.5 < hi < 0.65


def test_neuron_overlap() -> None:
    langs = ("en", "fi")
    sets = [
        {"en": {(0, 1), (1, 2)}, "fi": {(1, 2), (3, 4)}},  # share (1, 2)
        {"en": {(0, 5)}, "fi": {(2, 7)}},  # nothing in common
    ]
    out = neuron_overlap(sets, langs, n_layers=4)
    assert out["nonempty_intersection_share"] == 0.5
    assert out["mean_intersection_size"] == 0.5
    assert out["pairwise_jaccard"]["en-fi"] == pytest.approx((1 / 3 + 0) / 2, abs=1e-4)
    assert out["layer_distribution"]["all_languages"] == pytest.approx([2 / 6, 2 / 6, 1 / 6, 1 / 6], abs=1e-4)
    assert out["layer_distribution"]["intersection"] == [0.0, 1.0, 0.0, 0.0]
    assert out["empty_sets_per_language"] == {"en": 0, "fi": 0}
    assert out["nonempty_intersection_by_layer"] == [0.0, 0.5, 0.0, 0.0]


def test_neuron_overlap_diagnosis() -> None:
    """Why an intersection is empty: an empty set, one language apart, or a layer."""
    langs = ("en", "fi", "ja")
    sets = [
        {"en": {(0, 1), (3, 2)}, "fi": {(0, 1), (3, 2)}, "ja": set()},  # ja found nothing
        {"en": {(0, 1), (3, 2)}, "fi": {(0, 1), (3, 2)}, "ja": {(0, 9)}},  # ja apart
        {"en": {(0, 1), (3, 2)}, "fi": {(3, 2), (0, 4)}, "ja": {(3, 2)}},  # meet in layer 3
    ]
    out = neuron_overlap(sets, langs, n_layers=4)
    assert out["nonempty_intersection_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert out["empty_sets_per_language"] == {"en": 0, "fi": 0, "ja": 1}
    assert out["nonempty_intersection_without"] == {
        "en": pytest.approx(1 / 3, abs=1e-4),
        "fi": pytest.approx(1 / 3, abs=1e-4),
        "ja": 1.0,
    }
    assert out["nonempty_intersection_by_layer"] == [0.0, 0.0, 0.0, pytest.approx(1 / 3, abs=1e-4)]


def test_known_subset_is_a_seeded_disjoint_split() -> None:
    known = [f"f{i}" for i in range(120)]
    dev, test = known_subset(known, "dev"), known_subset(known, "test")
    assert len(dev) == 40 and len(test) == 80
    assert not set(dev) & set(test) and set(dev) | set(test) == set(known)
    assert dev == known_subset(list(known), "dev")  # seeded: the same every time
    assert dev != known[:40]  # shuffled, not the split's order
    assert known_subset(known, "first") == known
    with pytest.raises(ValueError, match="valid choices: test, dev, first"):
        known_subset(known, "train")


def test_suppression_matches_a_plain_hook(shared: Path, facts: dict[str, list]) -> None:
    """One cell of the matrix against zeroing the neurons by hand with a forward hook on
    GPT-2's MLP activation at the last prompt position."""
    lm = load_model(str(shared))
    adapter = get_adapter(lm.model, lm.tokenizer)
    fact = facts["known"][0]
    neurons = {(0, 3), (1, 10), (1, 200)}
    sets = [{"en": neurons, "ja": set()}]
    out = suppression_matrix(adapter, [fact], sets, ["en", "ja"])
    assert out["ja"]["en"]["n"] == 0  # an empty set suppresses nothing: no cell

    from harness.attribution import predict_batch
    from harness.attribution.query import encode_query

    def prob(query, zero: bool) -> float:  # noqa: ANN001
        enc = encode_query(adapter, query)
        hooks = []
        if zero:
            for layer in (0, 1):
                idx = [n for lay, n in neurons if lay == layer]

                def hook(_module, _inp, act, idx=idx):  # noqa: ANN001, ANN202
                    act = act.clone()
                    act[:, enc.target_position, idx] = 0.0
                    return act

                hooks.append(lm.model.transformer.h[layer].mlp.act.register_forward_hook(hook))
        try:
            with torch.no_grad():
                logits = lm.model(enc.input_ids[None]).logits[0, enc.target_position]
        finally:
            for h in hooks:
                h.remove()
        return float(logits.softmax(-1)[enc.object_ids[0]])

    for target in ("en", "ja"):
        queries = fact.queries[target]
        right = [q for q, p in zip(queries, predict_batch(adapter, queries), strict=True) if p.correct]
        changes = [(prob(q, True) - prob(q, False)) / prob(q, False) for q in right]
        cell = out["en"][target]
        assert cell["n"] == (1 if right else 0)
        if right:
            assert cell["delta_p"] == pytest.approx(sum(changes) / len(changes), abs=1e-4)


def test_cli_stores_the_report(shared: Path, env: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from harness.models.cli import models as models_cli

    args = ["crosslingual", str(shared), "--facts", "2", "--steps", "2", "--out", str(tmp_path / "x.json")]
    out = CliRunner().invoke(models_cli, args)
    assert out.exit_code == 0, out.output
    rep = json.loads((tmp_path / "x.json").read_text())
    assert rep["kn"]["facts"] == 2 and set(rep["suppression"]) == set(LANGUAGE_CODES)
    assert load_report(shared)["crosslingual"]["kn_facts"] == rep["kn_facts"]
    bad = CliRunner().invoke(models_cli, ["crosslingual", "no-such-model"])
    assert bad.exit_code != 0 and "no-such-model" in bad.output


def test_trained_dataset_follows_the_content_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.models.crosslingual import trained_dataset

    def built(name: str, content: str) -> Path:
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text(json.dumps({"content_hash": content}))
        return tmp_path / name

    old, here = built("moved", "new-content"), built("package", "abc")
    monkeypatch.setattr(rml_lama, "DATASET_DIR", here)
    assert trained_dataset({"dataset": str(here), "dataset_hash": "abc"}) == str(here)
    # the folder the model was trained from was rebuilt since: the package's has its content
    assert trained_dataset({"dataset": str(old), "dataset_hash": "abc"}) == str(here)
    with pytest.raises(ValueError, match="content hash zzz"):
        trained_dataset({"dataset": str(old), "dataset_hash": "zzz"})


def test_shared_demo_configs_are_their_twins_with_weight_decay() -> None:
    """The -shared demo models differ from their mono twins only by weight decay (chosen
    on dev facts, docs/models.md); the micro ones, for tests, not at all."""
    from dataclasses import replace

    from harness.models.configs import CONFIGS, SHARED_WEIGHT_DECAY

    for shared, mono in (("tiny-gpt-shared", "tiny-gpt"), ("tiny-bert-shared", "tiny-bert")):
        s, m = CONFIGS["demo"][shared], CONFIGS["demo"][mono]
        assert s.optim.weight_decay == SHARED_WEIGHT_DECAY > 0 == m.optim.weight_decay
        assert replace(s, optim=replace(s.optim, weight_decay=0.0)) == m
        assert CONFIGS["micro"][shared] == CONFIGS["micro"][mono]
