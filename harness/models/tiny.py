"""The embedded tiny models: ``tiny-gpt`` (GPT-2) and ``tiny-bert`` (BERT), trained here.

They are trained on the built RML-LAMA so that they really know a known set of facts in
all seven languages, another set only in en/zh/fr, and nothing of a held-out set (see
:mod:`harness.models.splits`). A build trains the tokenizer, then the model, scores it, and
writes a folder that ``from_pretrained`` reads like any hub model::

    <cache>/models/tiny-gpt-demo-<hash>/
        config.json  model.safetensors  generation_config.json   (save_pretrained)
        tokenizer.json  tokenizer_config.json                    (the BPE)
        splits.json   uuid lists per split and the languages each was trained in
        report.json   accuracy per split and language, timings, the config

The hash covers the dataset's content and the config, so a rebuilt dataset or an edited
config gives a new folder. Build one with ``rml-eval models train tiny-gpt`` or just
``load_model("tiny-gpt")``: it is trained on first use (about 3 minutes on 2 CPU cores for
``demo``; ``micro``, for tests, takes seconds).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel

from harness.models.cache import atomic_dir, config_hash, models_dir
from harness.models.configs import (
    SHARED_ENTITY_MODELS,
    TINY_MODELS,
    TinyConfig,
    check_tiny_name,
    tiny_config,
)
from harness.models.entities import EntityVocab, build_entity_vocab, markers
from harness.models.facts import Cloze, clozes, read_rows
from harness.models.report import accuracy_report, format_report
from harness.models.splits import TRAIN_LANGUAGES, Splits, make_splits
from harness.models.tokenizer import prenormalized_ids, train_tokenizer
from harness.models.training import Encoded, encode, torch_threads, train
from rml_lama import dataset_hash

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # bump when a change to this code changes what a build produces


def _dataset(dataset_dir: str | Path | None) -> Path:
    if dataset_dir is not None:
        return Path(dataset_dir)
    import rml_lama  # read at call time: tests point it at a synthetic folder

    return Path(rml_lama.DATASET_DIR)


def tiny_model_dir(
    name: str, config: str | TinyConfig = "demo", dataset_dir: str | Path | None = None
) -> Path:
    """The cache folder of a tiny model for this dataset and config (built or not)."""
    cfg = tiny_config(name, config)
    key = config_hash(name, asdict(cfg), dataset_hash(_dataset(dataset_dir)), FORMAT_VERSION)
    return models_dir() / f"{name}-{cfg.name}-{key}"


def _build_model(arch: str, cfg: TinyConfig, tokenizer: Any) -> PreTrainedModel:
    common = dict(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    if arch == "gpt2":
        from transformers import GPT2Config, GPT2LMHeadModel

        return GPT2LMHeadModel(
            GPT2Config(
                n_positions=cfg.max_length,
                n_embd=cfg.d_model,
                n_layer=cfg.n_layer,
                n_head=cfg.n_head,
                n_inner=cfg.ffn_mult * cfg.d_model,
                resid_pdrop=0.0,
                embd_pdrop=0.0,
                attn_pdrop=0.0,
                **common,
            )
        )
    from transformers import BertConfig, BertForMaskedLM

    return BertForMaskedLM(
        BertConfig(
            hidden_size=cfg.d_model,
            num_hidden_layers=cfg.n_layer,
            num_attention_heads=cfg.n_head,
            intermediate_size=cfg.ffn_mult * cfg.d_model,
            max_position_embeddings=cfg.max_length,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
            type_vocab_size=1,
            **common,
        )
    )


@dataclass
class _Counters:
    builds: int = 0  # how many times a tiny model was trained in this process (tests)


COUNTERS = _Counters()


def train_tiny(
    name: str,
    config: str | TinyConfig = "demo",
    dataset_dir: str | Path | None = None,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """The folder of a trained tiny model, training it first unless it is cached.

    ``name`` is ``tiny-gpt`` or ``tiny-bert``; ``config`` a name in :data:`CONFIGS` (micro,
    demo) or a :class:`TinyConfig`; ``dataset_dir`` a built RML-LAMA folder (default: the
    package's). ``force`` retrains even when cached.
    """
    arch = TINY_MODELS[check_tiny_name(name)]
    cfg = tiny_config(name, config)
    dataset = _dataset(dataset_dir)
    final = tiny_model_dir(name, cfg, dataset)
    if final.exists() and not force:
        return final
    log.info("training %s (%s config) into %s", name, cfg.name, final)
    if progress:
        tqdm.write(f"training {name} ({cfg.name} config) into {final}; later runs reuse it", file=sys.stderr)
    with torch_threads(cfg.optim.threads):
        _build(name, arch, cfg, dataset, final, progress)
    return final


def _build(name: str, arch: str, cfg: TinyConfig, dataset: Path, final: Path, progress: bool) -> None:
    start, cpu_start = time.perf_counter(), time.process_time()
    torch.manual_seed(cfg.optim.seed)
    rows = read_rows(dataset)
    splits = make_splits(rows, cfg.splits)
    split_of = splits.split_of
    chosen = [c for lang_rows in rows.values() for r in lang_rows if r["uuid"] in split_of for c in clozes(r)]
    entities = build_entity_vocab(rows, split_of) if name in SHARED_ENTITY_MODELS else None
    tokenizer = train_tokenizer(
        (c.sentence for c in chosen),
        cfg.vocab_size,
        add_eos=arch == "bert",
        max_length=cfg.max_length,
        entities=entities,
    )
    t_tok = time.perf_counter() - start
    masked = arch == "bert"
    # the shared-entity tokenizer's normalizer is slow: encode through its exact fast twin
    fast = prenormalized_ids(tokenizer, entities) if entities is not None else None
    items: dict[Cloze, Encoded] = {c: encode(tokenizer, c, masked, fast) for c in chosen}
    too_long = {c for c, e in items.items() if len(e.input_ids) > cfg.max_length}
    items = {c: e for c, e in items.items() if c not in too_long}
    train_items = [e for c, e in items.items() if c.language in TRAIN_LANGUAGES[split_of[c.uuid]]]
    model = _build_model(arch, cfg, tokenizer)
    losses = train(
        model,
        train_items,
        tokenizer.pad_token_id,
        masked,
        cfg.optim,
        progress=progress,
        desc=f"{name} ({cfg.name})",
    )
    t_train = time.perf_counter() - start - t_tok
    report = accuracy_report(model, tokenizer.pad_token_id, items, splits)
    report.update(
        model=name,
        architecture=arch,
        config=asdict(cfg),
        dataset=str(dataset),
        dataset_hash=dataset_hash(dataset),
        format_version=FORMAT_VERSION,
        parameters=sum(p.numel() for p in model.parameters()),
        vocab_size=len(tokenizer),
        train_sentences=len(train_items),
        skipped_too_long=len(too_long),
        epoch_losses=[round(x, 4) for x in losses],
        seconds={
            "tokenizer": round(t_tok, 1),
            "training": round(t_train, 1),
            "total": round(time.perf_counter() - start, 1),
            "cpu": round(time.process_time() - cpu_start, 1),
        },
        torch=torch.__version__,
        threads=torch.get_num_threads(),
    )
    if entities is not None:
        report["entities"] = entity_report(entities, tokenizer, items, splits)
    with atomic_dir(final) as tmp:
        if entities is not None:
            entities.save(tmp / "entities.json")
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        splits.save(tmp / "splits.json")
        (tmp / "report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    COUNTERS.builds += 1
    log.info(
        "%s (%s) trained in %.0f s\n%s", name, cfg.name, report["seconds"]["total"], format_report(report)
    )


def entity_report(
    entities: EntityVocab, tokenizer: Any, items: dict[Cloze, Encoded], splits: Splits
) -> dict[str, Any]:
    """How many entities have a token, and how many of the split's queries read their
    subject and answer as entity tokens (the rest, left out, go through the BPE)."""
    ids = {tokenizer.convert_tokens_to_ids(t) for t in entities.tokens}
    vocab = set(entities.uris)
    n = subject_ok = answer_ok = 0
    for c, e in items.items():
        n += 1
        answer_ok += e.answer_id in ids
        subject_ok += bool(markers(entities.normalize(c.query)))
    return {
        "entity_tokens": len(vocab),
        "labels": len(entities.labels),
        "left_out": len(entities.left_out),
        "dropped_labels": len(entities.dropped_labels),
        "queries": n,
        "queries_with_entity_subject": subject_ok,
        "queries_with_entity_answer": answer_ok,
        "split_facts_with_entity_answer_in_all_languages": sum(
            all(e.answer_id in ids for c, e in items.items() if c.uuid == u) for u in splits.split_of
        ),
    }


def _model_dir(model: Any, config: str | TinyConfig, dataset_dir: str | Path | None) -> Path:
    if hasattr(model, "spec"):  # a LoadedModel
        return Path(model.spec.hf_id)
    if isinstance(model, str) and model in TINY_MODELS:
        return train_tiny(model, config, dataset_dir)
    if isinstance(model, str) and not Path(model).exists():
        from harness.models.specs import resolve_spec

        spec = resolve_spec(model)  # e.g. tiny-gpt-micro; raises listing the names
        if spec.build is None:
            raise ValueError(f"model {model!r} is not a tiny model: only tiny models have splits")
        return spec.build()
    return Path(model)


def load_splits(
    model: Any, config: str | TinyConfig = "demo", dataset_dir: str | Path | None = None
) -> Splits:
    """Which facts a tiny model knows: its ``splits.json`` (building the model if needed).

    ``model`` is ``tiny-gpt``/``tiny-bert`` (with ``config`` and ``dataset_dir``), a
    registered tiny name such as ``tiny-gpt-micro``, a model folder, or a LoadedModel.
    """
    path = _model_dir(model, config, dataset_dir) / "splits.json"
    if not path.exists():
        raise FileNotFoundError(f"{path.parent} has no splits.json: it is not a tiny model folder")
    return Splits.load(path)


def load_report(
    model: Any, config: str | TinyConfig = "demo", dataset_dir: str | Path | None = None
) -> dict[str, Any]:
    """A tiny model's ``report.json`` (accuracy per split and language, timings)."""
    path = _model_dir(model, config, dataset_dir) / "report.json"
    return json.loads(path.read_text(encoding="utf-8"))
