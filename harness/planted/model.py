"""``planted:BASE``: a base model with facts planted into its FFN neurons, as a model name.

``load_model("planted:tiny-gpt")`` plants into ``tiny-gpt`` on first use (seeded) and
caches the result like the tiny models, under ``<cache>/models/planted-<base>-<hash>/``::

    config.json  model.safetensors  tokenizer files   (save_pretrained)
    truth.json    the ground truth, the checks' figures, the distributions (truth.py)
    splits.json   the base's, when it has one

The hash covers the base (its folder, for tiny models keyed by their own hash, or its hub
id), the planting and check configs, the dataset's content hash and FORMAT_VERSION. Any
base with an adapter whose FFN is ``act(x W + b)`` works (GPT-2 and BERT families).

The relay stage's result is also kept, as ``planted-<base>-relay-<hash>.pt`` (its hash
leaves out the fine-tuning and check settings): a build killed during fine-tuning, or one
with other fine-tuning settings, starts from it. Delete it to free the space.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PREFIX = "planted:"
FORMAT_VERSION = 6  # bump when a change here changes what a build produces
RELAY_VERSION = 3  # bump when a change changes what the relay stage produces


def _dataset(dataset_dir: str | Path | None) -> Path:
    if dataset_dir is not None:
        return Path(dataset_dir)
    import rml_lama

    return Path(rml_lama.DATASET_DIR)


def _base_identity(base: str) -> tuple[str, Path | None]:
    """A stable id of the base's weights and, for built (tiny) models, their folder."""
    from harness.models.specs import resolve_spec

    spec = resolve_spec(base)
    if spec.build is not None:
        folder = spec.build()
        return folder.name, folder
    if Path(spec.hf_id).is_dir():
        return str(Path(spec.hf_id).resolve()), Path(spec.hf_id)
    return spec.hf_id, None


# Per model family, what planting changes from PlantConfig's defaults, and why
# (docs/ground-truth.md, "tiny-bert"). Masked LMs: the FFN runs at every position and the
# target is the [MASK] token; keys fitted on target positions alone fired (> 0.5) on 5 % of
# the other tokens (language neurons) and 21 % (agnostic), and their writes there cost
# tiny-bert 18 points of known accuracy. Their keys also see other positions as negatives.
MASKED_LM_CONTEXT_NEGATIVES = 16
# ... and the fine-tuning's keep KL weighs more: tiny-bert's known accuracy fell 1.15 points
# at 3 (bar 1); 0.84 and 1.07 at 10; 0.79 and 0.56 at 20 (seeds 0 and 1, 24 facts; chosen
# on the checks alone)
MASKED_LM_KEEP = 20.0


def family_config(base: str, model_type: str | None = None) -> Any:
    """The default :class:`~harness.planted.plant.PlantConfig` for ``base``'s family
    (``model_type``: its ``config.model_type``, looked up from the spec when None)."""
    from dataclasses import replace

    from harness.adapters.bert import BertAdapter
    from harness.models.specs import resolve_spec, spec_architecture
    from harness.planted.plant import PlantConfig

    arch = spec_architecture(resolve_spec(base)) if model_type is None else model_type
    if arch in BertAdapter.model_types:
        base_cfg = PlantConfig()
        return replace(
            base_cfg,
            context_negatives=MASKED_LM_CONTEXT_NEGATIVES,
            finetune=replace(base_cfg.finetune, keep=MASKED_LM_KEEP),
        )
    return PlantConfig()


# PlantConfig fields added after FORMAT_VERSION 3: hashed only when set, so that a build
# made before they existed (same behaviour: the default is "off") keeps its folder
_ADDED_FIELDS = ("context_negatives",)
_ADDED_FINETUNE_FIELDS = (  # the same for FinetuneConfig
    "context_hinge",
    "hold_language",
    "freeze_relay",
    "keep_all",
    "recalibrate_language",
)  # (not `schedule`, `unlikely` or `knockout_scope`: their defaults changed what a build does, so they are
#     always in the key)


def _hashed(cfg: Any) -> dict[str, Any]:
    """``asdict(cfg)`` less the added fields left at their defaults (the cache key's view)."""
    from harness.planted.plant import PlantConfig

    defaults = asdict(PlantConfig())
    out = {k: v for k, v in asdict(cfg).items() if not (k in _ADDED_FIELDS and v == defaults[k])}
    ft, ft_defaults = out["finetune"], defaults["finetune"]
    out["finetune"] = {
        k: v for k, v in ft.items() if not (k in _ADDED_FINETUNE_FIELDS and v == ft_defaults[k])
    }
    return out


def planted_model_dir(
    base: str, cfg: Any = None, checks: Any = None, dataset_dir: str | Path | None = None
) -> Path:
    from harness.models.cache import config_hash, models_dir
    from harness.planted.checks import CheckConfig
    from rml_lama import dataset_hash

    cfg = cfg or family_config(base)
    checks = checks or CheckConfig()
    ident, _ = _base_identity(base)
    key = config_hash(
        "planted", ident, _hashed(cfg), asdict(checks), dataset_hash(_dataset(dataset_dir)), FORMAT_VERSION
    )
    safe = base.replace("/", "_").replace(":", "_")
    return models_dir() / f"planted-{safe}-{key}"


def build_planted(
    base: str,
    cfg: Any = None,
    checks: Any = None,
    dataset_dir: str | Path | None = None,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """The folder of ``planted:<base>``, planting (and checking) first unless cached."""
    import torch

    from harness.adapters import get_adapter
    from harness.models.cache import atomic_dir
    from harness.models.loading import load_model
    from harness.models.splits import Splits
    from harness.planted.checks import CheckConfig, format_checks, run_checks
    from harness.planted.distributions import distributions, format_distributions
    from harness.planted.features import collect
    from harness.planted.plant import base_reference, finetune_stage
    from harness.planted.truth import TRUTH_FILE, GroundTruth
    from harness.planted.universe import build_universe, keep_unknown

    cfg = cfg or family_config(base)
    checks = checks or CheckConfig()
    final = planted_model_dir(base, cfg, checks, dataset_dir)
    if final.exists() and not force:
        return final
    if progress:
        print(f"planting {cfg.facts} facts into {base} -> {final}; later runs reuse it", file=sys.stderr)
    _, base_folder = _base_identity(base)
    lm = load_model(base)
    adapter = get_adapter(lm.model, lm.tokenizer)
    splits_file = base_folder / "splits.json" if base_folder is not None else None
    splits = Splits.load(splits_file) if splits_file is not None and splits_file.exists() else None
    torch.manual_seed(cfg.seed)
    clock = _Clock()
    candidates = build_universe(adapter, _dataset(dataset_dir), 3 * cfg.facts, splits, seed=cfg.seed)
    before = collect(adapter, candidates.queries)
    universe = keep_unknown(candidates, before.correct, cfg.facts, cfg.max_known_accuracy)
    clock.lap("features")
    reference = base_reference(adapter, universe, cfg)
    stage = relay_stage_file(base, cfg, dataset_dir)
    facts, planting = _relay_stage(adapter, universe, cfg, reference, before, stage, progress)
    clock.lap("relay")
    planting["finetune"] = finetune_stage(adapter, universe, facts, reference, planting, cfg, progress)
    clock.lap("finetune")
    after = collect(adapter, universe.queries)
    figures = run_checks(adapter, universe, facts, before, checks, after=after)
    clock.lap("checks")
    dist = distributions(adapter, universe, facts, after)
    clock.lap("distributions")
    planting["seconds"] = clock.times
    planting["queries"] = len(universe.queries)
    truth = GroundTruth(base, facts, figures, dist, planting)
    with atomic_dir(final) as tmp:
        lm.model.save_pretrained(tmp)
        lm.tokenizer.save_pretrained(tmp)
        if splits_file is not None and splits_file.exists():
            shutil.copy(splits_file, tmp / "splits.json")
        truth.save(tmp / TRUTH_FILE)
    if progress:
        print(f"planted:{base}\n{format_checks(figures)}\n{format_distributions(dist)}", file=sys.stderr)
    return final


def _relay_stage(
    adapter: Any,
    universe: Any,
    cfg: Any,
    reference: Any,
    before: Any,
    saved: Path,
    progress: bool,
) -> tuple[list, dict]:
    """:func:`~harness.planted.plant.plant_relay`, or its result ``saved`` by an earlier
    build with the same relay settings (a build killed during fine-tuning, or one that
    changes only the fine-tuning settings, resumes from it)."""
    import torch

    from harness.planted.plant import plant_relay
    from harness.planted.truth import GroundTruth

    if saved.exists():
        data = torch.load(saved, map_location=adapter.device, weights_only=True)
        adapter.model.load_state_dict(data["state"])
        if progress:
            print(f"relay stage: reusing {saved}", file=sys.stderr)
        return GroundTruth.from_json({"base": "", "facts": data["facts"]}).facts, data["report"]
    facts, report = plant_relay(adapter, universe, cfg, reference, before, progress)
    saved.parent.mkdir(parents=True, exist_ok=True)
    tmp = saved.with_name(saved.name + ".tmp")
    state = {"state": adapter.model.state_dict(), "facts": [asdict(f) for f in facts], "report": report}
    torch.save(state, tmp)
    os.replace(tmp, saved)
    return facts, report


def relay_stage_file(base: str, cfg: Any = None, dataset_dir: str | Path | None = None) -> Path:
    """Where a build keeps its relay stage: keyed like the build, less the fine-tuning and
    check settings (which do not change it)."""
    from harness.models.cache import config_hash, models_dir
    from rml_lama import dataset_hash

    cfg = cfg or family_config(base)
    relay_cfg = {k: v for k, v in _hashed(cfg).items() if k != "finetune"}
    ident, _ = _base_identity(base)
    key = config_hash("planted-relay", ident, relay_cfg, dataset_hash(_dataset(dataset_dir)), RELAY_VERSION)
    safe = base.replace("/", "_").replace(":", "_")
    return models_dir() / f"planted-{safe}-relay-{key}.pt"


class _Clock:
    """Wall and CPU seconds per stage (the machine may be shared: both are kept)."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def lap(self, name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.times[name] = [round(wall - self._wall, 1), round(cpu - self._cpu, 1)]
        log.info("planting: %s took %.1f s wall, %.1f s CPU", name, *self.times[name])
        self._wall, self._cpu = wall, cpu


def planted_facts(base: str) -> list[str]:
    """The planted facts that passed the checks (what a run on ``planted:<base>`` scores);
    prints the checks, so every run shows them."""
    return folder_facts(build_planted(base), f"planted:{base}")


def folder_facts(folder: str | Path, name: str) -> list[str]:
    """The scored facts of the planted model in ``folder`` (its ``truth.json``), printing
    its checks: what a run on a planted model's folder, e.g. another seed's build, scores."""
    from harness.planted.checks import format_checks
    from harness.planted.truth import GroundTruth

    truth = GroundTruth.load(folder)
    if truth.checks:
        print(f"{name}: ground truth checks\n{format_checks(truth.checks)}", file=sys.stderr)
    facts = truth.scored_facts()
    if not facts:
        raise ValueError(f"{name}: no planted fact passed the checks; see {Path(folder) / 'truth.json'}")
    return facts


def planted_spec(base: str) -> Any:
    """The :class:`~harness.models.ModelSpec` of ``planted:<base>``."""
    from harness.models.specs import ModelSpec, resolve_spec

    if not base:
        raise ValueError("planted: needs a base model, e.g. planted:tiny-gpt")
    if base.startswith(PREFIX):
        raise ValueError(f"planted:{base}: planting into a planted model is not supported")
    spec = resolve_spec(base)  # raises listing the valid names
    kind = spec.kind if spec.kind != "auto" else "auto"
    return ModelSpec(
        f"{PREFIX}{base}",
        "",
        kind=kind,
        architecture=spec.architecture,
        params=spec.params,
        description=f"{base} with held-out facts planted into rarely used FFN neurons "
        "(ground truth for the ground-truth task; built on first use)",
        build=partial(build_planted, base),
        facts=partial(planted_facts, base),
    )
