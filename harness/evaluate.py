"""The evaluation loop behind ``rml-eval``: localize each fact's LAKNs, run the tasks, store.

    from harness.evaluate import EvalConfig, evaluate
    run = evaluate(EvalConfig(model="tiny-gpt", localizers=["matrice", "random"], facts=10))

Facts are sharded over processes when launched with ``accelerate launch`` (data parallel
over facts): each process writes its own shards, and rank 0 merges them.
"""

from __future__ import annotations

import inspect
import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from harness import provenance, registry
from harness.context import limit_to_context, query_fits
from harness.data import Fact, FactPool, load_facts
from harness.options import options_of
from harness.runs import RunFolder
from harness.tasks.base import Task, TaskContext, build_task, flat_option_hint, neuron_pairs
from rml_lama import LANGUAGE_CODES, check_languages, check_relations, dataset_hash

if TYPE_CHECKING:
    from harness.localizers import EngineProvider, Localizer, NeuronSet

log = logging.getLogger(__name__)

DEFAULT_TASKS = ("layer-distribution", "suppress-enhance", "ablation")


@dataclass
class EvalConfig:
    model: str  # registry name, hf:ORG/NAME or a local path
    localizers: list[str]  # registry names
    tasks: list[str] = field(default_factory=lambda: list(DEFAULT_TASKS))
    languages: list[str] = field(default_factory=lambda: list(LANGUAGE_CODES))
    relations: list[str] | None = None  # None: all
    facts: int | None = None  # at most this many facts (dataset order)
    fact_ids: list[str] | None = None  # exactly these facts
    dataset: str | None = None  # dataset folder or Hub id (default: rml_lama.DATASET_DIR)
    out: str = "runs/latest"  # run folder
    resume: bool = False
    device: str | None = None  # None: the process's accelerator, else cpu
    dtype: str | None = None  # float32, bfloat16, float16; None: the model's default
    seed: int = 0
    steps: int = 20  # Riemann steps M of the attribution
    correct_only: bool = True  # ΔP over the queries the model answers correctly
    known_only: bool = False  # only facts the model answers in every language (harness/known.py)
    localizer_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    task_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # task -> key -> value
    plugins: list[str] = field(default_factory=list)  # modules to import (--plugin)
    shard_size: int = 4  # facts per shard: the most a killed run has to redo
    attribution_cache: str | None = None  # on-disk attribution cache folder
    max_rows: int = 256  # rows per batched pass of the attribution engine (speed vs memory)
    progress: bool = True

    def resolved(self) -> dict:
        """What the run folder records: everything that determines the results."""
        d = asdict(self)
        for k in ("out", "resume", "progress", "attribution_cache", "max_rows"):
            d.pop(k)
        d["dataset_hash"] = dataset_hash(self.dataset)
        d["package_version"] = package_version()
        return d


def package_version() -> str:
    from harness.provenance import package_version as version

    return version()


def check_config(cfg: EvalConfig) -> list[str]:
    """Fail on unknown names before any model is loaded; returns every localizer needed."""
    for module in cfg.plugins:
        registry.load_plugin_module(module)
    if not cfg.localizers:
        raise ValueError("--localizer: give at least one localizer (see `rml-eval list`)")
    if not cfg.tasks:
        raise ValueError("--tasks: give at least one task (see `rml-eval list`)")
    for option, value in (("--facts", cfg.facts), ("--steps", cfg.steps), ("--max-rows", cfg.max_rows)):
        if value is not None and value < 1:
            raise ValueError(f"{option} must be at least 1, not {value}")
    cfg.languages = check_languages(cfg.languages)
    if cfg.relations is not None:
        cfg.relations = check_relations(cfg.relations)
    tasks = [registry.get("task", t) for t in cfg.tasks]
    check_task_options(cfg)
    needed = list(dict.fromkeys(cfg.localizers))
    for name in needed:
        registry.get("localizer", name)
    for task in tasks:
        for name in task.requires:
            if name not in needed:
                needed.append(name)
    for name in cfg.localizer_options:
        if name not in needed:
            raise ValueError(
                f"--localizer-option: {name!r} is not among the run's localizers ({', '.join(needed)})"
            )
    build_localizers(cfg, needed)  # every option's value is checked here, not mid-run
    from harness.models import resolve_spec
    from harness.models.loading import check_device
    from harness.models.specs import check_architecture

    check_architecture(resolve_spec(cfg.model))  # unknown name, or no adapter for it: raises
    if cfg.device:
        check_device(cfg.device)
    if cfg.attribution_cache:
        check_writable_folder(Path(cfg.attribution_cache), "--attribution-cache")
    return needed


def check_task_options(cfg: EvalConfig) -> None:
    """Every ``task_options`` entry is ``{task: {key: value}}`` for a task of the run, and
    builds (unknown keys and unreadable values fail here, before the model loads); string
    values are replaced by the typed ones."""
    for name, opts in cfg.task_options.items():
        if not isinstance(opts, dict):
            raise ValueError(
                f"--task-option {name}={opts!r}: options are TASK.KEY=VALUE now{flat_option_hint(name)}"
            )
        if name not in cfg.tasks:
            raise ValueError(f"--task-option: {name!r} is not among the run's tasks ({', '.join(cfg.tasks)})")
    for name, opts in cfg.task_options.items():  # typed, as the run folder records them
        typed = options_of(build_task(name, opts))
        cfg.task_options[name] = {k: typed[k] for k in opts}
    for name in cfg.tasks:
        build_task(name, cfg.task_options.get(name))


def check_writable_folder(folder: Path, option: str) -> None:
    """``folder`` exists (or is created) and a file can be written in it."""
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise ValueError(f"{option} {folder}: cannot write there ({e.strerror or e})") from None


def build_localizers(cfg: EvalConfig, names: list[str]) -> dict[str, Any]:
    """Every localizer of the run, built with its options (a bad value raises ValueError
    naming the option, before any model is loaded or any file written)."""
    from harness.localizers import build_localizer

    out = {}
    for name in names:
        try:
            out[name] = build_localizer(name, _with_seed(cfg, name))
        except TypeError as e:  # a plain class refusing its keyword arguments
            raise ValueError(f"--localizer-option: localizer {name!r}: {e}") from None
    return out


def _distributed(device: str | None) -> tuple[int, int, Any]:
    """(rank, world size, state). Under ``accelerate launch`` every process gets a share of
    the facts; without an accelerator (or with --device cpu) the processes talk over gloo."""
    import torch
    from accelerate import PartialState

    cpu = (device or "").startswith("cpu") or not torch.cuda.is_available()
    state = PartialState(cpu=cpu)
    return state.process_index, state.num_processes, state


def evaluate(cfg: EvalConfig) -> RunFolder:
    """Run (or resume) an evaluation; returns the run folder, merged and summarized."""
    import torch

    from harness.adapters import get_adapter
    from harness.localizers import EngineProvider, run_localizers
    from harness.models import load_model
    from harness.models.splits import splits_beside

    laps, env = provenance.Laps(), provenance.environment()
    names = check_config(cfg)
    from harness.models import resolve_spec

    fact_ids = cfg.fact_ids
    spec = resolve_spec(cfg.model)
    if fact_ids is None and spec.facts is not None:  # e.g. planted:BASE scores its planted facts
        fact_ids = spec.facts()
    pool = FactPool(cfg.dataset)  # the run's facts, and the others the tasks draw on
    limit = None if cfg.known_only else cfg.facts  # --facts counts known facts with --known-only
    facts = load_facts(cfg.languages, cfg.relations, fact_ids, limit, pool=pool)
    if not facts:
        raise ValueError("no fact matches the selection (--languages/--relations/--facts)")
    rank, world, state = _distributed(cfg.device)
    run = RunFolder(cfg.out)
    resumed = (run.path / "config.json").exists()
    resolved = {**cfg.resolved(), "provenance": env}
    run.check_start(resolved, cfg.resume)  # refuses before the model is loaded
    laps.lap("load data")

    device = cfg.device or str(state.device)  # this process's accelerator, else the CPU
    torch.manual_seed(cfg.seed)
    # The model is loaded before the folder is touched: a model that cannot be had leaves
    # no config.json behind to refuse the corrected command.
    loaded = load_model(cfg.model, device=device, dtype=cfg.dtype)
    if rank == 0:
        run.start(resolved, cfg.resume)
    state.wait_for_everyone()
    adapter = get_adapter(loaded.model, loaded.tokenizer)
    laps.lap("load model")
    # queries longer than the model's context would crash it: left out, counted, reported
    facts, left_out = limit_to_context(facts, adapter, cfg.languages)
    pool.restrict(query_fits(adapter))  # the facts tasks draw from the pool as well
    if left_out.message() and rank == 0:
        log.warning("%s", left_out.message())
    if not facts:
        raise ValueError(
            f"no selected fact has a query that fits {cfg.model}'s context of "
            f"{left_out.context} tokens in every language ({', '.join(cfg.languages)})"
        )
    if cfg.known_only:
        from harness.known import known_facts

        scanned = len(facts)
        facts = list(known_facts(adapter, facts, cfg.facts))
        if not facts:
            raise ValueError(
                f"--known-only: {cfg.model} answers none of the {scanned} selected facts in "
                f"every language ({', '.join(cfg.languages)}); try fewer --languages"
            )
        laps.lap("select known facts")
    provider = EngineProvider(
        adapter, model_id=cfg.model, steps=cfg.steps, cache_dir=cfg.attribution_cache, max_rows=cfg.max_rows
    )
    localizers = build_localizers(cfg, names)
    tasks = {t: build_task(t, cfg.task_options.get(t)) for t in cfg.tasks}
    ctx = TaskContext(
        adapter=adapter,
        pool=pool,
        facts=facts,
        model=loaded,
        splits=splits_beside(loaded.spec.hf_id),
        correct_only=cfg.correct_only,
        seed=cfg.seed,
        provider=provider,
        localizers=localizers,
        chosen=tuple(cfg.localizers),
    )

    done = run.done_facts()
    mine = [f for i, f in enumerate(facts) if i % world == rank and f.uuid not in done]
    seq = run.next_seq(rank)
    pending: list[tuple[Fact, list[dict], dict[str, list[dict]], list[dict]]] = []
    bar = tqdm(
        mine,
        desc=f"rml-eval[{rank}]" if world > 1 else "rml-eval",
        disable=not cfg.progress or not sys.stderr.isatty() or (rank != 0 and world > 1),
        unit="fact",
    )
    for fact in bar:
        pending.append((fact, *_one_fact(fact, provider, localizers, tasks, ctx, run_localizers)))
        if len(pending) >= cfg.shard_size:
            _flush(run, rank, seq, pending)
            seq, pending = seq + 1, []
    if pending:
        _flush(run, rank, seq, pending)
    laps.lap("localize and run tasks")
    state.wait_for_everyone()
    if rank == 0:
        run.merge([f.uuid for f in facts], cfg.tasks)
        summary = summarize(run, tasks)
        summary["left_out"] = left_out.as_dict()
        laps.lap("merge and summarize")
        summary["provenance"] = provenance.run_provenance(
            env, provenance.model_provenance(cfg.model, loaded), run.config()["dataset_hash"], laps, resumed
        )
        run.write_summary(summary)
    state.wait_for_everyone()
    return run


def _with_seed(cfg: EvalConfig, name: str) -> dict:
    opts = dict(cfg.localizer_options.get(name, {}))
    params: Mapping[str, Any]
    try:
        params = inspect.signature(registry.get("localizer", name)).parameters
    except (TypeError, ValueError):
        params = {}
    if "seed" in params and "seed" not in opts:
        opts["seed"] = cfg.seed
    return opts


def _one_fact(
    fact: Fact,
    provider: EngineProvider,
    localizers: Mapping[str, Localizer],
    tasks: Mapping[str, Task],
    ctx: TaskContext,
    run_localizers: Callable[..., Mapping[str, NeuronSet | Exception]],
) -> tuple[list[dict], dict[str, list[dict]], list[dict]]:
    """Localize one fact with every localizer and run every task on it. Returns the neuron
    rows, the task records and the failures (a localizer that raised or returned something
    malformed; a task skipped for want of a localizer it requires)."""
    ctx.cache.clear()
    results = run_localizers(fact, provider, localizers)
    sets: dict[str, NeuronSet] = {}
    neurons: list[dict] = []
    failures: list[dict] = []
    for name, res in results.items():
        if isinstance(res, Exception):
            log.warning("%s", res)  # the error names the localizer and the fact
            failures.append({"fact": fact.uuid, "kind": "localizer", "name": name, "error": str(res)})
            continue
        sets[name] = res
        scores = res.scores.tolist()  # validated by run_localizers: one per neuron
        for j, (layer, idx) in enumerate(neuron_pairs(res)):
            neurons.append(
                {
                    "fact": fact.uuid,
                    "relation": fact.relation,
                    "localizer": name,
                    "layer": layer,
                    "index": idx,
                    "score": float(scores[j]) if j < len(scores) else float("nan"),
                }
            )
    records: dict[str, list[dict]] = {}
    for tname, task in tasks.items():
        wanted = {n: s for n, s in sets.items()}
        if any(n not in wanted for n in task.requires):
            missing = [n for n in task.requires if n not in wanted]
            why = f"task {tname!r} skipped on fact {fact.uuid}: no result from {', '.join(missing)}"
            log.warning("%s", why)
            failures.append({"fact": fact.uuid, "kind": "task", "name": tname, "error": why})
            records[tname] = []
            continue
        rows = task.evaluate(ctx, fact, wanted)
        for r in rows:
            r.setdefault("fact", fact.uuid)
            r.setdefault("relation", fact.relation)
        records[tname] = rows
    provider.clear()
    return neurons, records, failures


def _flush(run: RunFolder, rank: int, seq: int, pending: list) -> None:
    facts = [f.uuid for f, _, _, _ in pending]
    neurons = [n for _, ns, _, _ in pending for n in ns]
    tasks = {t for _, _, rec, _ in pending for t in rec}
    records = {t: [r for _, _, rec, _ in pending for r in rec.get(t, [])] for t in sorted(tasks)}
    failures = [x for _, _, _, fs in pending for x in fs]
    run.write_shard(rank, seq, facts, neurons, records, failures)


def summarize(run: RunFolder, tasks: dict[str, Task]) -> dict:
    cfg = run.config()
    out = {"config": cfg, "tasks": {}}
    out["empty"] = {}
    for name, task in tasks.items():
        records = run.results(name)
        out["tasks"][name] = task.summarize(records)
        if not out["tasks"][name]:
            out["empty"][name] = why_empty(records, len(run.done_facts()), cfg.get("model", "the model"))
    out["localizers"] = localizer_counts(run, tasks)
    out["failures"] = summarize_failures(run.failures(), len(run.done_facts()))
    return out


def localizer_counts(run: RunFolder, tasks: dict[str, Task]) -> dict[str, dict]:
    """Per localizer of the run: facts localized, mean neurons per fact, and ``no_neurons``
    (facts where it selected nothing: counted, not hidden)."""
    cfg = run.config()
    required = [n for t in tasks.values() for n in t.requires]
    names = list(dict.fromkeys([*cfg.get("localizers", []), *required]))
    done = run.done_facts()
    failed: dict[str, set[str]] = {}
    for f in run.failures():
        if f["kind"] == "localizer":
            failed.setdefault(f["name"], set()).add(f["fact"])
    counts: dict[str, dict[str, int]] = {}
    for r in run.neurons():
        c = counts.setdefault(r["localizer"], {})
        c[r["fact"]] = c.get(r["fact"], 0) + 1
    out = {}
    for loc in dict.fromkeys([*names, *counts]):
        n = len(done) - len(failed.get(loc, set()) & set(done))
        c = counts.get(loc, {})
        out[loc] = {
            "facts": n,
            "mean_neurons": sum(c.values()) / n if n else float("nan"),
            "no_neurons": n - len(c),
        }
    return out


def why_empty(records: list[dict], n_facts: int, model: str) -> str:
    """One line saying why a task has no summary rows (printed instead of a bare "no results")."""
    if not records:
        return (
            f"no records from {n_facts} facts: every fact was skipped or failed for this task "
            "(see failures), or it has nothing to measure on them"
        )
    if "included" in records[0]:
        own = [r for r in records if r.get("condition", "own") == "own" and r.get("scope", "fact") == "fact"]
        ok = sum(bool(r["included"]) for r in own)
        if ok == 0:
            return (
                f"0 of {len(own)} queries answered correctly by {model}: the chosen facts are not "
                "known to the model; use --known-only (or --all-queries)"
            )
    return f"{len(records)} records from {n_facts} facts, but no summary row (see the task's docs)"


def summarize_failures(failures: list[dict], n_facts: int) -> dict[str, dict]:
    """``{"localizer matrice": {"facts": 3, "of": 12, "first": "<its first error>"}, ...}``."""
    out: dict[str, dict] = {}
    for f in failures:
        entry = out.setdefault(f"{f['kind']} {f['name']}", {"facts": 0, "of": n_facts, "first": f["error"]})
        entry["facts"] += 1
    return out
