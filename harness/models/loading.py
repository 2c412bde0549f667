"""Load a model and its tokenizer by name: ``load_model("mgpt")``.

Every model, hub or local or tiny, goes through the same transformers calls:
``AutoTokenizer.from_pretrained`` and ``AutoModelForCausalLM`` / ``AutoModelForMaskedLM``
``.from_pretrained`` with the requested dtype and device (or ``device_map="auto"`` to
spread a large model over the available GPUs), then ``model.eval()``. Tiny models are
trained into the cache first if they are not there yet.

When the weights cannot be had (offline, gated, no token, a wrong id) the error is a
:class:`ModelUnavailableError` that names the model id, the Hugging Face cache folder and
what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from harness.models.specs import ModelSpec, resolve_spec

_MASKED_TYPES = {
    "bert",
    "roberta",
    "xlm-roberta",
    "distilbert",
    "electra",
    "camembert",
    "deberta",
    "deberta-v2",
    "albert",
    "xlm",
    "modernbert",
}


@dataclass(frozen=True)
class LoadedModel:
    model: Any  # a transformers PreTrainedModel, in eval mode
    tokenizer: Any  # the matching PreTrainedTokenizerFast
    spec: ModelSpec  # what was loaded; kind and architecture filled in from the config

    @property
    def masked(self) -> bool:
        return self.spec.kind == "masked"


class ModelUnavailableError(RuntimeError):
    """The weights or tokenizer of a model could not be loaded (offline, gated, not found)."""


def _hub_cache_folder(hf_id: str) -> str:
    from huggingface_hub import constants

    return str(Path(constants.HF_HUB_CACHE) / f"models--{hf_id.replace('/', '--')}")


def _unavailable(spec: ModelSpec, err: Exception) -> ModelUnavailableError:
    text = str(err)
    low = text.lower()
    first = text.strip().splitlines()[0] if text.strip() else type(err).__name__
    if Path(spec.hf_id).is_absolute() or spec.hf_id.startswith("."):
        return ModelUnavailableError(
            f"could not load model {spec.name!r} from the folder {spec.hf_id}: {first}\n"
            "The folder needs config.json, the weights and the tokenizer files "
            "(save them with model.save_pretrained(folder) and tokenizer.save_pretrained(folder))."
        )
    if spec.gated or "gated" in low or "401" in low or "403" in low or "access" in low:
        why = "it is a gated model: accept its licence on the Hub and authenticate"
    elif "offline" in low or "couldn't connect" in low or "connection" in low:
        why = "the Hub cannot be reached (offline, or HF_HUB_OFFLINE=1) and it is not in the cache"
    elif "not a valid model identifier" in low or "404" in low:
        why = "the Hub has no such (public) model; check the id, or authenticate for a private one"
    else:
        why = "it could not be downloaded or read"
    return ModelUnavailableError(
        f"cannot load model {spec.name!r} (Hugging Face id {spec.hf_id}): {why}.\n"
        f"  looked in the Hugging Face cache: {_hub_cache_folder(spec.hf_id)}\n"
        "  to fix it, one of:\n"
        f"  - log in with `hf auth login` or set HF_TOKEN (after accepting the licence at "
        f"https://huggingface.co/{spec.hf_id} if it is gated);\n"
        f"  - on a connected machine run `hf download {spec.hf_id}` (older hubs: "
        f"`huggingface-cli download {spec.hf_id}`) and copy the cache folder above here, or "
        "point HF_HOME at it;\n"
        "  - or pass a local folder saved with save_pretrained as the model name.\n"
        f"  ({type(err).__name__}: {first})"
    )


def _torch_dtype(dtype: str | torch.dtype | None, spec: ModelSpec) -> torch.dtype | str:
    dtype = spec.dtype if dtype is None else dtype
    if isinstance(dtype, torch.dtype) or dtype == "auto":
        return dtype
    value = getattr(torch, str(dtype), None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r}; use e.g. float32, bfloat16, float16 or auto")
    return value


def _kind_of(config: Any) -> str:
    archs = getattr(config, "architectures", None) or []
    if any(a.endswith("ForMaskedLM") for a in archs):
        return "masked"
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs):
        return "causal"
    return "masked" if config.model_type in _MASKED_TYPES else "causal"


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device``, or a ValueError that says what this machine has."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"--device {device!r}: not a device; use cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            build = "a CPU build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
            raise ValueError(
                f"--device {device}: no CUDA device here (torch {torch.__version__} is {build}); "
                "use --device cpu"
            )
        if dev.index is not None and dev.index >= count:
            raise ValueError(
                f"--device {device}: this machine has {count} CUDA device(s), cuda:0 … cuda:{count - 1}"
            )
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {device}: MPS is not available here; use --device cpu")
    return dev


def load_model(
    name: str,
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype | None = None,
    device_map: str | dict[str, Any] | None = None,
) -> LoadedModel:
    """Load a registered model, ``hf:ORG/NAME`` or a local folder, in eval mode.

    ``dtype`` defaults to the spec's (float32 for small models, bfloat16 for 7B+); pass
    ``"auto"`` for the checkpoint's own. ``device_map="auto"`` lets accelerate place the
    layers over all GPUs (then ``device`` is ignored). A tokenizer without a pad token gets
    its eos token as pad token.

    >>> lm = load_model("mgpt", device="cuda")          # doctest: +SKIP
    >>> lm.model, lm.tokenizer, lm.spec.kind             # doctest: +SKIP
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

    spec = resolve_spec(name)
    if device_map is None:
        check_device(device)
    if spec.loader is not None:
        return spec.loader(spec, device=device, dtype=dtype, device_map=device_map)
    torch_dtype = _torch_dtype(dtype, spec)
    if spec.build is not None:
        spec = replace(spec, hf_id=str(spec.build()))
    source = spec.hf_id
    try:
        config = AutoConfig.from_pretrained(source)
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as e:  # ValueError: a folder without a usable config.json
        raise _unavailable(spec, e) from None
    kind = _kind_of(config) if spec.kind == "auto" else spec.kind
    spec = replace(spec, kind=kind, architecture=spec.architecture or config.model_type)
    auto = AutoModelForMaskedLM if kind == "masked" else AutoModelForCausalLM
    try:
        model = auto.from_pretrained(source, config=config, dtype=torch_dtype, device_map=device_map)
    except OSError as e:
        raise _unavailable(spec, e) from None
    if device_map is None:
        model = model.to(device)
    model.eval()
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedModel(model, tokenizer, spec)
