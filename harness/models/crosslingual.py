"""How language-agnostic a tiny model's knowledge is: the measurements of issue #12.

:func:`crosslingual_report` measures, on a trained tiny model (``tiny-gpt``,
``tiny-gpt-shared``, …) through the harness's own code paths (dataset queries, the model's
tokenizer, :func:`harness.attribution.predict_batch`, the ``kn`` localizer, the adapter's
interventions):

* **transfer**: top-1 accuracy of the object's first token per split and language, with a
  95 % interval from a bootstrap over facts (a fact's queries are not independent);
* **kn neurons per language**: Dai et al.'s knowledge neurons (``kn``, zero-baseline IG)
  of each known fact, found separately from each language's queries; the share of facts
  whose seven sets have a non-empty intersection, the mean pairwise Jaccard between
  languages, and the layer distribution of the neurons;
* **cross-language suppression**: the neurons found from language A set to 0 at the target
  position, the relative change of P(object's first token) (Eq. 14) in language B,
  averaged over B's queries the model answers correctly, per fact; the A×B matrix of means
  over facts, with n and a bootstrap 95 % interval.

kn and suppression run on a seeded subset of the known facts (:func:`known_subset`): a model
recipe is chosen on ``dev`` and reported on the disjoint ``test``, so the reported number is
not tuned on. ``kn`` also says why an intersection is empty (an empty set in one language,
one language apart from the others, sets that meet only within some layers).

``python -m harness.models.cli crosslingual tiny-gpt-shared`` runs it (``--subset test``, all
its facts) and stores the result in the model's ``report.json`` under ``crosslingual`` (see
``docs/models.md``).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rml_lama.languages import LANGUAGE_CODES

if TYPE_CHECKING:
    from harness.adapters.base import ModelAdapter

SUPPRESS = ("set", 0.0)
KN_SUBSETS = ("test", "dev", "first")  # which known facts kn runs on (see known_subset)
DEV_TEST_SEED = "kn-dev-test"


def bootstrap_interval(values: Sequence[float], seed: int = 0) -> list[float]:
    """95 % bootstrap interval of the mean of ``values`` (one value per fact),
    :func:`harness.stats.mean_ci` (BCa, percentile where BCa is undefined)."""
    from harness.stats import mean_ci

    est = mean_ci([float(v) for v in values], seed=seed)
    return [round(est.low, 4), round(est.high, 4)]


def _clustered(per_fact: Sequence[tuple[int, int]], seed: int = 0) -> dict[str, Any]:
    """Accuracy over queries, with a bootstrap over facts (:func:`harness.stats.cluster_mean`):
    ``per_fact`` is (right, total)."""
    from harness.stats import cluster_mean

    est = cluster_mean([r for r, _ in per_fact], [t for _, t in per_fact], seed=seed)
    return {
        "accuracy": round(est.value, 4),
        "ci95": [round(est.low, 4), round(est.high, 4)],
        "facts": est.facts,
        "queries": est.queries,
    }


def known_subset(known: Sequence[str], subset: str) -> list[str]:
    """The known facts kn and suppression are measured on.

    ``dev`` and ``test`` are disjoint: a seeded shuffle of the known facts (seed
    :data:`DEV_TEST_SEED`), its first third ``dev`` (where a model recipe may be chosen),
    the rest ``test`` (where it is reported). ``first``: the split's order (round-robin over
    relations), as in the first measurements.
    """
    if subset not in KN_SUBSETS:
        raise ValueError(f"unknown known-fact subset {subset!r}; valid choices: {', '.join(KN_SUBSETS)}")
    if subset == "first":
        return list(known)
    order = list(known)
    random.Random(DEV_TEST_SEED).shuffle(order)
    cut = len(order) // 3
    return order[:cut] if subset == "dev" else order[cut:]


def transfer(adapter: ModelAdapter, facts: dict[str, list[Any]], batch_size: int = 64) -> dict[str, Any]:
    """Accuracy per split and language: ``facts`` maps a split name to its facts."""
    from harness.attribution import predict_batch

    out: dict[str, Any] = {}
    for split, split_facts in facts.items():
        out[split] = {}
        for lang in LANGUAGE_CODES:
            per_fact = []
            for f in split_facts:
                qs = f.queries.get(lang, ())
                preds = predict_batch(adapter, qs, batch_size=batch_size) if qs else []
                per_fact.append((sum(p.correct for p in preds), len(preds)))
            out[split][lang] = _clustered(per_fact)
    return out


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else float("nan")


def _mean(values: Sequence[float]) -> float:
    vals = [v for v in values if v == v]  # drop NaN
    return round(sum(vals) / len(vals), 4) if vals else float("nan")


def kn_neurons(provider: Any, facts: Sequence[Any], languages: Sequence[str], **options: Any) -> list[dict]:
    """``[{language: set of (layer, neuron)}]``: kn's neurons of each fact from each language."""
    from harness.localizers.kn import KnowledgeNeurons

    out = []
    for f in facts:
        sets = {}
        for lang in languages:
            nset = KnowledgeNeurons(language=lang, **options).localize(f, provider)
            sets[lang] = set(map(tuple, nset.as_tuples()))
        provider.clear()
        out.append(sets)
    return out


def neuron_overlap(sets: Sequence[dict[str, set]], languages: Sequence[str], n_layers: int) -> dict[str, Any]:
    """Intersections over all languages, pairwise Jaccard, and layer distributions."""
    inter = [set.intersection(*(s[lang] for lang in languages)) for s in sets]
    pairs = {f"{a}-{b}": _mean([_jaccard(s[a], s[b]) for s in sets]) for a, b in combinations(languages, 2)}
    per_lang_layers = Counter(layer for s in sets for lang in languages for layer, _ in s[lang])
    inter_layers = Counter(layer for i in inter for layer, _ in i)

    def share(flags: Sequence[bool]) -> float | None:
        return round(sum(flags) / len(flags), 4) if flags else None

    # why an intersection is empty: one language's empty set, one language apart from the
    # other six, or sets that only meet in some layers
    without = {
        lang: share([bool(set.intersection(*(s[m] for m in languages if m != lang))) for s in sets])
        for lang in languages
        if len(languages) > 1
    }
    by_layer = [share([any(n[0] == layer for n in i) for i in inter]) for layer in range(n_layers)]

    def dist(c: Counter) -> list[float]:
        total = sum(c.values())
        return [round(c[layer] / total, 4) if total else float("nan") for layer in range(n_layers)]

    return {
        "facts": len(sets),
        "nonempty_intersection_share": round(sum(bool(i) for i in inter) / len(sets), 4) if sets else None,
        "nonempty_intersection_ci95": bootstrap_interval([float(bool(i)) for i in inter]),
        "mean_intersection_size": _mean([len(i) for i in inter]),
        "mean_neurons_per_language": {lang: _mean([len(s[lang]) for s in sets]) for lang in languages},
        "empty_sets_per_language": {lang: sum(not s[lang] for s in sets) for lang in languages},
        "nonempty_intersection_without": without,
        "nonempty_intersection_by_layer": by_layer,
        "pairwise_jaccard": pairs,
        "mean_pairwise_jaccard": _mean(list(pairs.values())),
        "layer_distribution": {"all_languages": dist(per_lang_layers), "intersection": dist(inter_layers)},
    }


def suppression_matrix(
    adapter: ModelAdapter,
    facts: Sequence[Any],
    sets: Sequence[dict[str, set]],
    languages: Sequence[str],
    batch_size: int = 64,
) -> dict[str, Any]:
    """ΔP (Eq. 14) in language B when the neurons found from language A are set to 0.

    Per fact and (A, B): the mean of ``(P_after − P_before) / P_before`` over B's queries
    the unedited model answers correctly; facts with no such query or an empty set in A are
    left out of that cell. Cells: mean over facts, n, bootstrap 95 % interval.
    """
    import torch

    from harness.attribution import answer_probabilities, predict_batch
    from harness.localizers.base import NeuronSet
    from harness.tasks.base import manipulated

    per_cell: dict[str, dict[str, list[float]]] = {a: {b: [] for b in languages} for a in languages}
    for f, s in zip(facts, sets, strict=True):
        right = {}
        for b in languages:
            qs = f.queries.get(b, ())
            preds = predict_batch(adapter, qs, batch_size=batch_size)
            right[b] = [(q, p.probability) for q, p in zip(qs, preds, strict=True) if p.correct]
        for a in languages:
            if not s[a]:
                continue
            nset = NeuronSet(torch.tensor(sorted(s[a]), dtype=torch.long), torch.zeros(len(s[a])))
            with manipulated(adapter, nset, *SUPPRESS):
                for b in languages:
                    if not right[b]:
                        continue
                    after = answer_probabilities(adapter, [q for q, _ in right[b]], batch_size=batch_size)
                    changes = [(p1 - p0) / p0 for (_, p0), p1 in zip(right[b], after, strict=True)]
                    per_cell[a][b].append(sum(changes) / len(changes))
    return {
        a: {b: {"delta_p": _mean(v), "n": len(v), "ci95": bootstrap_interval(v)} for b, v in row.items()}
        for a, row in per_cell.items()
    }


def trained_dataset(report: dict[str, Any]) -> str | None:
    """The built RML-LAMA a tiny model was trained on: the folder its ``report.json`` names
    if that still holds the same content (hash), else the package's built one if it does
    (the model's folder name carries that hash, so it may come from another checkout).
    None (the package's) when the report names no hash."""
    import rml_lama

    want = report.get("dataset_hash")
    candidates = [report.get("dataset"), str(rml_lama.DATASET_DIR)]
    if want is None:
        return report.get("dataset")
    for folder in candidates:
        if folder is not None and Path(folder).exists() and rml_lama.dataset_hash(folder) == want:
            return folder
    raise ValueError(
        f"the dataset this model was trained on (content hash {want}) is not at "
        f"{' or '.join(str(c) for c in candidates if c)}: rebuild it there or pass dataset="
    )


def crosslingual_report(
    model: str | Any,
    n_facts: int | None = None,
    subset: str = "test",
    languages: Sequence[str] = LANGUAGE_CODES,
    steps: int = 20,
    max_rows: int = 256,
    dataset: str | None = None,
) -> dict[str, Any]:
    """All three measurements on ``model`` (a tiny model name or folder; see the module
    docstring). kn and suppression use the known facts of ``subset`` (``test``, ``dev`` or
    ``first``: :func:`known_subset`), the first ``n_facts`` of them (None: all).
    ``dataset``: the built RML-LAMA to read the queries from (default: the one the model was
    trained on, from its ``report.json``)."""
    import torch

    from harness.adapters import get_adapter
    from harness.data import load_facts
    from harness.localizers.provider import EngineProvider
    from harness.models.loading import load_model
    from harness.models.tiny import load_report, load_splits

    start, cpu = time.perf_counter(), time.process_time()
    torch.manual_seed(0)
    lm = load_model(model) if isinstance(model, str) else model
    splits = load_splits(lm)
    adapter = get_adapter(lm.model, lm.tokenizer)
    names = ("known", "high_resource_only", "held_out")
    ids = [u for s in names for u in splits.of(s)]
    dataset = dataset if dataset is not None else trained_dataset(load_report(lm))
    by_id = {f.uuid: f for f in load_facts(list(languages), fact_ids=ids, dataset=dataset)}
    facts = {s: [by_id[u] for u in splits.of(s) if u in by_id] for s in names}
    t_transfer = time.perf_counter()
    acc = transfer(adapter, facts)
    t_transfer = time.perf_counter() - t_transfer
    order = known_subset(splits.known, subset)[:n_facts]
    known = {f.uuid: f for f in facts["known"]}
    chosen = [known[u] for u in order if u in known]
    provider = EngineProvider(adapter, model_id=str(lm.spec.hf_id), steps=steps, max_rows=max_rows)
    t_kn = time.perf_counter()
    sets = kn_neurons(provider, chosen, languages)
    t_kn = time.perf_counter() - t_kn
    overlap = neuron_overlap(sets, languages, int(adapter.n_layers))
    matrix = suppression_matrix(adapter, chosen, sets, languages)
    return {
        "model": str(lm.spec.name),
        "folder": str(lm.spec.hf_id),
        "languages": list(languages),
        "kn_subset": subset,
        "kn_facts": [f.uuid for f in chosen],
        "kn_options": {"steps": steps, "localizer": "kn (defaults: 0.2·max, 70 %, adjusted to 2–5)"},
        "transfer": acc,
        "kn": overlap,
        "suppression": matrix,
        "seconds": {
            "transfer": round(t_transfer, 1),
            "kn": round(t_kn, 1),
            "total": round(time.perf_counter() - start, 1),
            "cpu": round(time.process_time() - cpu, 1),
        },
    }


def format_crosslingual(rep: dict[str, Any]) -> str:
    """Plain-text tables of a :func:`crosslingual_report`."""
    langs = rep["languages"]
    lines = [f"model {rep['model']}", "transfer: accuracy [95% CI over facts] (facts)"]
    for split, row in rep["transfer"].items():
        cells = [
            f"{row[lang]['accuracy']:.2f} [{row[lang]['ci95'][0]:.2f},{row[lang]['ci95'][1]:.2f}]"
            for lang in langs
        ]
        n = row[langs[0]]["facts"]
        lines.append(f"  {split:20}" + " ".join(f"{c:>17}" for c in cells) + f"  ({n})")
    kn = rep["kn"]
    lines.append(
        f"kn over {kn['facts']} known facts ({rep['kn_subset']}): non-empty 7-language intersection "
        f"{kn['nonempty_intersection_share']:.2f} {kn['nonempty_intersection_ci95']}, mean size "
        f"{kn['mean_intersection_size']}, mean pairwise Jaccard {kn['mean_pairwise_jaccard']}"
    )
    lines.append(f"  facts with an empty set, per language: {kn['empty_sets_per_language']}")
    lines.append(f"  non-empty without one language: {kn['nonempty_intersection_without']}")
    lines.append(f"  non-empty within one layer: {kn['nonempty_intersection_by_layer']}")
    lines.append(f"  layer distribution (all languages): {kn['layer_distribution']['all_languages']}")
    lines.append(f"  layer distribution (intersection):  {kn['layer_distribution']['intersection']}")
    lines.append("suppression ΔP (rows: neurons found from; columns: measured in), mean (n)")
    lines.append("      " + "".join(f"{b:>14}" for b in langs))
    for a in langs:
        row = rep["suppression"][a]
        lines.append(f"  {a:4}" + "".join(f"{row[b]['delta_p']:>9.3f} ({row[b]['n']:>2})" for b in langs))
    return "\n".join(lines)
