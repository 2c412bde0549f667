"""Time per fact of each stage of an rml-eval run: attribution, localization, tasks.

    python benchmarks/bench_pipeline.py [--model tiny-gpt] [--facts 4] [--threads 1]

Attribution is the engine filling the shared provider (every method the localizers ask
for, once per query); localization is the localizers reading it (cache hits only); each
task is timed on its own. A benchmark, not a test: it prints numbers only.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import torch

from harness import registry
from harness.adapters import get_adapter
from harness.data import load_facts
from harness.localizers import EngineProvider, build_localizer, run_localizers
from harness.models import load_model
from harness.tasks.base import TaskContext

LOCALIZERS = ("matrice", "matrice-no-uaq", "matrice-no-ual", "amig", "random")
TASKS = (
    "layer-distribution",
    "suppress-enhance",
    "ablation",
    "edit-erasure",
    "edit-update",
    "enhance-low-resource",
    "inject",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny-gpt")
    ap.add_argument("--facts", type=int, default=4)
    ap.add_argument("--languages", default="en,zh,fr,fi,hu,ja,ko")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    loaded = load_model(args.model)
    adapter = get_adapter(loaded.model, loaded.tokenizer)
    facts = load_facts(args.languages.split(","), limit=args.facts)
    provider = EngineProvider(adapter, model_id=args.model, steps=args.steps)
    localizers = {n: build_localizer(n) for n in LOCALIZERS}
    tasks = {t: registry.get("task", t)() for t in TASKS}
    ctx = TaskContext(adapter=adapter, model_name=args.model, options={"loaded_model": loaded})
    seconds: dict[str, float] = defaultdict(float)
    for fact in facts:
        ctx.cache.clear()
        t0 = time.perf_counter()
        for qs in fact.queries.values():  # fill the cache: what the localizers will read
            for q in qs:
                for method in ("saig", "amig"):
                    provider.attribute(q, method)
        t1 = time.perf_counter()
        sets = run_localizers(fact, provider, localizers)
        t2 = time.perf_counter()
        seconds["attribution"] += t1 - t0
        seconds["localization"] += t2 - t1
        ok = {n: s for n, s in sets.items() if not isinstance(s, Exception)}
        for name, task in tasks.items():
            if all(r in ok for r in task.requires):
                t = time.perf_counter()
                task.evaluate(ctx, fact, ok)
                seconds[f"task {name}"] += time.perf_counter() - t
        provider.clear()
    n = len(facts)
    queries = sum(len(qs) for f in facts for qs in f.queries.values())
    print(
        f"model {args.model}: {adapter.n_layers} layers × {adapter.n_neurons} neurons; "
        f"{n} facts, {queries} queries, M={args.steps}, {args.threads} thread(s)"
    )
    print(f"{'stage':<28}{'s per fact':>12}")
    for stage, s in seconds.items():
        print(f"{stage:<28}{s / n:>12.2f}")
    print(f"{'total':<28}{sum(seconds.values()) / n:>12.2f}")
    print(
        f"engine calls: {provider.stats.computed} "
        f"({', '.join(f'{k} {v}' for k, v in provider.stats.by_method.items())})"
    )


if __name__ == "__main__":
    main()
