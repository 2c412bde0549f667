"""Model specs: what a short model name (``mgpt``, ``llama3``, ``tiny-gpt``) stands for.

A :class:`ModelSpec` names the Hugging Face id (or a local folder), whether it is a causal
or a masked LM, its architecture (``config.model_type``) and its default dtype. The built-in
specs are registered in :mod:`harness.registry` under the kind ``"model"``; plugins add
theirs through the entry-point group ``rml_lama.models`` (see ``docs/models.md``).

Any other model is reachable as ``hf:ORG/NAME`` or as a path to a local folder saved with
``save_pretrained``; :func:`resolve_spec` turns all three forms into a spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import registry
from harness.models.configs import CONFIGS, SHARED_ENTITY_MODELS, TINY_MODELS

if TYPE_CHECKING:
    from harness.models.loading import LoadedModel

KINDS = ("causal", "masked", "auto")  # AutoModelForCausalLM, AutoModelForMaskedLM, from config
HF_PREFIX = "hf:"
PLANTED_PREFIX = "planted:"  # planted:BASE, any base with an adapter (harness.planted)


@dataclass(frozen=True)
class ModelSpec:
    name: str  # short name (`--model NAME`), or the hf:/path form it was resolved from
    hf_id: str  # Hugging Face hub id or local folder passed to from_pretrained
    kind: str = "causal"  # "causal" or "masked"; "auto" = read it from the model's config
    architecture: str = ""  # config.model_type (gpt2, llama, bert, ...); "" = not known yet
    dtype: str = "float32"  # default torch dtype when load_model gets dtype=None
    params: str = ""  # parameter count for listings, e.g. "1.3B"
    description: str = ""  # one line for `rml-eval list`
    gated: bool = False  # the hub asks to accept a licence and to log in first
    build: Callable[[], Path] | None = None  # makes the local folder first (tiny models)
    loader: Callable[..., LoadedModel] | None = None  # plugins: replaces from_pretrained
    facts: Callable[[], list[str]] | None = None  # the facts a run scores by default (planted:)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"model {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")


# name, hub id, kind, architecture, dtype, params, gated, description
_HUB_MODELS: list[tuple[str, str, str, str, str, str, bool, str]] = [
    (
        "mgpt",
        "ai-forever/mGPT",
        "causal",
        "gpt2",
        "float32",
        "1.3B",
        False,
        "mGPT, GPT-2 architecture trained on 61 languages (the paper's model)",
    ),
    (
        "mgpt-13b",
        "ai-forever/mGPT-13B",
        "causal",
        "gpt2",
        "bfloat16",
        "13B",
        False,
        "mGPT 13B, the larger GPT-2-architecture mGPT",
    ),
    (
        "llama2",
        "meta-llama/Llama-2-7b-hf",
        "causal",
        "llama",
        "bfloat16",
        "7B",
        True,
        "Llama 2 7B base (the paper's model; gated)",
    ),
    (
        "llama3",
        "meta-llama/Meta-Llama-3-8B",
        "causal",
        "llama",
        "bfloat16",
        "8B",
        True,
        "Llama 3 8B base (the paper's model; gated)",
    ),
    (
        "llama3.1",
        "meta-llama/Llama-3.1-8B",
        "causal",
        "llama",
        "bfloat16",
        "8B",
        True,
        "Llama 3.1 8B base, multilingual pretraining (gated)",
    ),
    (
        "llama3.2-1b",
        "meta-llama/Llama-3.2-1B",
        "causal",
        "llama",
        "bfloat16",
        "1.2B",
        True,
        "Llama 3.2 1B base, small multilingual Llama (gated)",
    ),
    (
        "qwen2.5-0.5b",
        "Qwen/Qwen2.5-0.5B",
        "causal",
        "qwen2",
        "float32",
        "0.5B",
        False,
        "Qwen2.5 0.5B base, small multilingual model for quick runs",
    ),
    (
        "qwen2.5-7b",
        "Qwen/Qwen2.5-7B",
        "causal",
        "qwen2",
        "bfloat16",
        "7.6B",
        False,
        "Qwen2.5 7B base, strong on Chinese and 29 languages",
    ),
    (
        "xglm-564m",
        "facebook/xglm-564M",
        "causal",
        "xglm",
        "float32",
        "564M",
        False,
        "XGLM 564M, multilingual causal LM over 30 languages",
    ),
    (
        "xglm-7.5b",
        "facebook/xglm-7.5B",
        "causal",
        "xglm",
        "bfloat16",
        "7.5B",
        False,
        "XGLM 7.5B, multilingual causal LM over 30 languages",
    ),
    (
        "bloom-560m",
        "bigscience/bloom-560m",
        "causal",
        "bloom",
        "float32",
        "560M",
        False,
        "BLOOM 560M, 46 languages (no fi/hu/ja/ko in pretraining)",
    ),
    (
        "bloom-7b1",
        "bigscience/bloom-7b1",
        "causal",
        "bloom",
        "bfloat16",
        "7.1B",
        False,
        "BLOOM 7.1B, 46 languages (no fi/hu/ja/ko in pretraining)",
    ),
    (
        "mbert",
        "google-bert/bert-base-multilingual-cased",
        "masked",
        "bert",
        "float32",
        "178M",
        False,
        "multilingual BERT base cased, masked LM over 104 languages (the paper's model)",
    ),
    (
        "xlm-r-base",
        "FacebookAI/xlm-roberta-base",
        "masked",
        "xlm-roberta",
        "float32",
        "278M",
        False,
        "XLM-RoBERTa base, masked LM over 100 languages",
    ),
    (
        "xlm-r-large",
        "FacebookAI/xlm-roberta-large",
        "masked",
        "xlm-roberta",
        "float32",
        "560M",
        False,
        "XLM-RoBERTa large, masked LM over 100 languages",
    ),
]


def _train_tiny(name: str, config: str) -> Path:
    from harness.models.tiny import train_tiny  # torch and transformers only when needed

    return train_tiny(name, config)


def _tiny_specs() -> dict[str, ModelSpec]:
    specs = {}
    for name, arch in TINY_MODELS.items():
        for config in ("demo", "micro"):
            cfg = CONFIGS[config][name]
            short = name if config == "demo" else f"{name}-{config}"
            specs[short] = ModelSpec(
                short,
                "",
                kind="masked" if arch == "bert" else "causal",
                architecture=arch,
                params="1.3M" if config == "demo" else "0.2M",
                description=f"{arch}, {cfg.n_layer} layers x {cfg.d_model}, trained here on RML-LAMA "
                f"({config} config; built on first use); "
                + (
                    "entities as language-neutral tokens: shared knowledge by construction"
                    if name in SHARED_ENTITY_MODELS
                    else "entity names per language (BPE)"
                ),
                build=partial(_train_tiny, name, config),
            )
    return specs


HUB_SPECS: dict[str, ModelSpec] = {
    name: ModelSpec(name, hf_id, kind, arch, dtype, params, desc, gated)
    for name, hf_id, kind, arch, dtype, params, gated, desc in _HUB_MODELS
}
TINY_SPECS = _tiny_specs()
for _spec in [*HUB_SPECS.values(), *TINY_SPECS.values()]:
    registry.add("model", _spec.name, _spec, description=_spec.description)


def _as_spec(name: str, obj: Any) -> ModelSpec:
    """A registry entry as a spec: a ModelSpec, or a zero-argument factory returning one."""
    if isinstance(obj, ModelSpec):
        return obj
    if callable(obj):
        made = obj()
        if isinstance(made, ModelSpec):
            return made
    raise registry.RegistryError(
        f"model {name!r} is registered as {type(obj).__name__}, not a ModelSpec "
        "(a plugin must register a harness.models.ModelSpec or a function returning one)"
    )


def resolve_spec(name: str) -> ModelSpec:
    """The spec for a registered short name, ``hf:ORG/NAME`` or a local folder.

    Raises :class:`harness.registry.RegistryError` listing the valid names when ``name`` is
    none of these.
    """
    if name.startswith(PLANTED_PREFIX):
        from harness.planted.model import planted_spec

        return planted_spec(name[len(PLANTED_PREFIX) :])
    if name.startswith(HF_PREFIX):
        hf_id = name[len(HF_PREFIX) :]
        if not hf_id:
            raise registry.RegistryError("model 'hf:' needs a hub id, e.g. hf:facebook/xglm-564M")
        return ModelSpec(name, hf_id, kind="auto", description=f"Hugging Face model {hf_id}")
    path = Path(name).expanduser()
    if path.is_dir():
        planted = (path / "truth.json").is_file()  # a planted model's folder: its planted facts
        facts = None
        if planted:
            from harness.planted.model import folder_facts

            facts = partial(folder_facts, path.resolve(), name)
        kind = "local planted model" if planted else "local model"
        return ModelSpec(name, str(path.resolve()), kind="auto", description=f"{kind} {path}", facts=facts)
    try:
        return _as_spec(name, registry.get("model", name))
    except registry.RegistryError as e:
        if name in registry.failures("model"):
            raise
        looks_like_path = "/" in name and (name.startswith((".", "~")) or Path(name).is_absolute())
        hint = (
            f"no folder {name} exists"
            if looks_like_path
            else f"for any hub model use hf:ORG/NAME (e.g. hf:{name})"
            if "/" in name
            else "or hf:ORG/NAME for any hub model, or a path to a local model folder"
        )
        raise registry.RegistryError(f"{e}; {hint}") from None


def spec_architecture(spec: ModelSpec) -> str:
    """``config.model_type`` of a spec without loading weights: the spec's own, else the
    ``config.json`` of a local folder; ``""`` when unknown before download (``hf:`` ids)."""
    if spec.architecture:
        return spec.architecture
    config = Path(spec.hf_id) / "config.json"
    if spec.hf_id and config.is_file():
        import json

        try:
            return str(json.loads(config.read_text(encoding="utf-8")).get("model_type") or "")
        except (OSError, ValueError):
            return ""  # load_model reports an unreadable config with its own message
    return ""


def check_architecture(spec: ModelSpec) -> None:
    """Refuse a model whose architecture no attribution adapter serves, before anything is
    loaded (the adapter is what finds the FFN neurons). Unknown architectures pass: they are
    checked again by ``get_adapter`` once the config is read."""
    from harness.adapters import UnsupportedModelError, supported_model_types

    arch = spec_architecture(spec)
    if arch and arch not in supported_model_types():
        raise UnsupportedModelError(
            f"model {spec.name!r}: no adapter for its architecture (model_type {arch!r}); "
            f"supported: {', '.join(supported_model_types())}"
        )


def model_specs() -> list[ModelSpec]:
    """Every registered model spec (built-ins, tiny models, plugins), sorted by name."""
    specs = []
    for entry in registry.entries("model"):
        try:
            specs.append(_as_spec(entry.name, entry.obj))
        except registry.RegistryError:
            continue
    return specs


for _base in ("tiny-gpt", "tiny-bert"):  # listed; any other planted:BASE resolves by prefix
    registry.add(
        "model",
        f"{PLANTED_PREFIX}{_base}",
        partial(resolve_spec, f"{PLANTED_PREFIX}{_base}"),
        description=f"{_base} with held-out facts planted into rarely used FFN neurons "
        "(ground truth; experimental: no planted fact passes the checks yet, "
        "see docs/ground-truth.md)",
    )
