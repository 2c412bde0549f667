"""The model-adapter contract: uniform access to the FFN neurons of one model family.

A *neuron* ``n_i^l`` is coordinate ``i`` of the FFN intermediate activation of layer ``l``:
the **input of the FFN's output projection**, i.e. after the nonlinearity (and after the
gate product in gated MLPs). Every adapter names that output projection
(:meth:`ModelAdapter.ffn_output_projection`); the neurons are its input, read and overwritten
with a ``forward_pre_hook``. Canonical dotted name: ``layers.{l}.ffn.act``.

Shapes in this package: ``B`` batch rows, ``S`` sequence length, ``N`` neurons per layer,
``D`` model width, ``L`` layers.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from harness.adapters.interventions import InterventionSpec, make_intervention

# fn(layer, activation [B, S, N]) -> replacement [B, S, N], or None to leave it unchanged.
ActivationFn = Callable[[int, torch.Tensor], torch.Tensor | None]


@dataclass(frozen=True)
class NeuronParameter:
    """A parameter that holds one slice per neuron of a layer.

    ``parameter.select(dim, i)`` is the slice that belongs to neuron ``i`` (a view: editing it
    in place under ``torch.no_grad()`` edits the model). ``name`` is relative to the FFN
    module, e.g. ``"c_fc.weight"``.
    """

    name: str
    parameter: nn.Parameter
    dim: int  # the neuron axis of `parameter`

    def neuron_view(self, neuron: int) -> torch.Tensor:
        return self.parameter.select(self.dim, neuron)


class ModelAdapter(ABC):
    """Uniform access to the FFN neurons of a Hugging Face model.

    Subclasses set ``model_types`` and ``is_causal`` and implement the abstract methods;
    everything else (hooks, interventions, forward passes) is shared.
    """

    model_types: ClassVar[tuple[str, ...]] = ()  # config.model_type values this adapter serves
    is_causal: ClassVar[bool]  # True: next-token LM; False: masked LM
    family: ClassVar[str] = ""  # human-readable family name, e.g. "GPT-2"
    # causal families whose attention goes through transformers' attention interface, so
    # the causal attribution engine can attend to one shared prompt prefix
    # (harness/attribution/prefix_attention.py); the others get the prefix copied per row
    prefix_attention: ClassVar[bool] = False

    def __init__(self, model: nn.Module, tokenizer: Any) -> None:
        # a transformers model: its submodules are reached by name (model.transformer.h),
        # which nn.Module's typing (Tensor | Module per attribute) cannot follow
        self.model: Any = model
        self.tokenizer = tokenizer
        self.model.eval()  # attribution and scoring need dropout off
        self._target_positions: list[torch.Tensor] = []  # stack, see `targeting`

    # ---- what each family provides -------------------------------------------------------

    @abstractmethod
    def blocks(self) -> Sequence[Any]:
        """The transformer blocks, bottom to top."""

    @abstractmethod
    def ffn_output_projection(self, layer: int) -> nn.Module:
        """The FFN output projection of ``layer``; its input is the neuron vector ``[.., N]``."""

    @abstractmethod
    def neuron_output_weights(self, layer: int) -> torch.Tensor:
        """``[N, D]`` view of the output-projection weights: row ``i`` is what neuron ``i``
        writes into the residual stream (per unit of activation). Editing it in place under
        ``torch.no_grad()`` edits the model."""

    @abstractmethod
    def neuron_input_parameters(self, layer: int) -> list[NeuronParameter]:
        """The parameters that compute the neurons of ``layer`` from the FFN input (for
        fine-tuning only selected neurons), each with its neuron axis."""

    def block_inputs_for_rows(self, args: tuple, kwargs: dict[str, Any], rows: int) -> tuple[tuple, dict]:
        """A block's inputs other than the hidden states (``args``: the positional ones
        after it), made fit for a batch of ``rows`` rows where the model built them for one
        row. Used by the causal attribution engine, which grows the batch inside the stack.
        Position embeddings broadcast over the batch; a 4-D attention mask of one row, as a
        positional argument or ``attention_mask``, is expanded (XGLM checks its batch
        size); BLOOM also repeats its per-row ALiBi bias."""

        def fit(x: Any) -> Any:
            if isinstance(x, torch.Tensor) and x.dim() == 4 and x.shape[0] == 1 and rows > 1:
                return x.expand(rows, -1, -1, -1)
            return x

        if "attention_mask" in kwargs:
            kwargs = {**kwargs, "attention_mask": fit(kwargs["attention_mask"])}
        return tuple(fit(x) for x in args), kwargs

    # ---- sizes, device, names ------------------------------------------------------------

    @property
    def n_layers(self) -> int:
        return len(self.blocks())

    @property
    def n_neurons(self) -> int:
        return self.neuron_output_weights(0).shape[0]

    @property
    def d_model(self) -> int:
        return self.neuron_output_weights(0).shape[1]

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return self.neuron_output_weights(0).dtype

    # config attributes that hold the longest input the model can read (its position table)
    CONTEXT_ATTRS: ClassVar[tuple[str, ...]] = (
        "n_positions",
        "max_position_embeddings",
        "max_seq_len",
        "n_ctx",
        "seq_length",
    )

    @property
    def context_length(self) -> int | None:
        """The most tokens one input may have (``n_positions``, ``max_position_embeddings``
        or ``max_seq_len`` of the config); None when the config names no limit."""
        config = getattr(self.model, "config", None)  # a plugin's model may have none
        for attr in self.CONTEXT_ATTRS:
            value = getattr(config, attr, None)
            if isinstance(value, int) and value > 0:
                return value
        return None

    @property
    def model_type(self) -> str:
        return str(self.model.config.model_type)

    @staticmethod
    def activation_name(layer: int) -> str:
        """Canonical dotted name of the neuron activations of ``layer``."""
        return f"layers.{layer}.ffn.act"

    @property
    def baseline_token_id(self) -> int:
        """The ⟨PAD⟩ token of SAIG baselines: the mask token (masked LMs) or eos (causal)."""
        tid = self.tokenizer.mask_token_id if not self.is_causal else self.tokenizer.eos_token_id
        if tid is None:
            kind = "mask" if not self.is_causal else "eos"
            raise ValueError(f"the tokenizer has no {kind} token, needed for SAIG baselines")
        return int(tid)

    @property
    def pad_token_id(self) -> int:
        """Token used to right-pad batches (always masked out by the attention mask)."""
        for tid in (self.tokenizer.pad_token_id, self.tokenizer.eos_token_id, 0):
            if tid is not None:
                return int(tid)
        raise AssertionError("unreachable")

    def output_embedding(self, token_ids: torch.Tensor | Sequence[int]) -> torch.Tensor:
        """Rows of the output (unembedding) matrix for ``token_ids``: ``[k, D]``."""
        head = self.model.get_output_embeddings()
        ids = torch.as_tensor(token_ids, dtype=torch.long, device=head.weight.device)
        return head.weight[ids]

    # ---- block-by-block execution (masked models; the masked attribution engine uses it) ---

    def hidden_states(self, input_ids: torch.Tensor) -> list[torch.Tensor]:
        """The input of every block for an unpadded batch: ``L + 1`` tensors ``[B, S, D]``."""
        raise NotImplementedError(f"{type(self).__name__} does not run block by block")

    def run_block(
        self, layer: int, hidden: torch.Tensor, positions: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Run block ``layer`` on unpadded ``hidden [B, S, D]``; with ``positions`` ``[K]``,
        return only those positions' outputs ``[B, K, D]`` (computing less where it can)."""
        raise NotImplementedError(f"{type(self).__name__} does not run block by block")

    def ffn_output(self, layer: int, act: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """Block ``layer``'s output from its neuron activations ``act [B, S, N]`` and the
        residual its FFN output is added to, ``residual [B, S, D]`` (recorded by
        :meth:`capture_ffn_residuals`): what the rest of the block computes after the neurons."""
        raise NotImplementedError(f"{type(self).__name__} does not run block by block")

    @contextmanager
    def capture_ffn_residuals(self) -> Iterator[dict[int, torch.Tensor]]:
        """Record the residual input of each block's FFN output (see :meth:`ffn_output`):
        yields ``{layer: [B, S, D]}``, filled by the forward passes inside the block."""
        raise NotImplementedError(f"{type(self).__name__} does not run block by block")
        yield {}

    # ---- hooks ---------------------------------------------------------------------------

    @contextmanager
    def patch(self, fn: ActivationFn, layers: Sequence[int] | None = None) -> Iterator[None]:
        """Call ``fn(layer, act)`` on the neuron activations ``act [B, S, N]`` of each layer
        (all layers by default) during forward passes inside the block; a returned tensor
        replaces the activation."""
        handles = []
        for layer in range(self.n_layers) if layers is None else layers:

            def hook(_module: nn.Module, args: tuple, layer: int = layer) -> tuple | None:
                new = fn(layer, args[0])
                return None if new is None else (new, *args[1:])

            proj = self.ffn_output_projection(layer)
            handles.append(proj.register_forward_pre_hook(hook))
        try:
            yield
        finally:
            for h in handles:
                h.remove()

    @contextmanager
    def capture(self, layers: Sequence[int] | None = None) -> Iterator[dict[int, torch.Tensor]]:
        """Record the neuron activations: yields ``{layer: act [B, S, N]}``, filled by the
        forward passes run inside the block (the last pass wins; not detached). It records
        what the output projection actually receives, i.e. after any ``patch`` or
        ``intervene``, whatever the nesting order."""
        store: dict[int, torch.Tensor] = {}
        handles = []
        for layer in range(self.n_layers) if layers is None else layers:

            def hook(_module: nn.Module, args: tuple, _out: Any, layer: int = layer) -> None:
                store[layer] = args[0]  # forward hooks see the inputs after pre-hooks

            handles.append(self.ffn_output_projection(layer).register_forward_hook(hook))
        try:
            yield store
        finally:
            for h in handles:
                h.remove()

    @contextmanager
    def targeting(self, positions: torch.Tensor) -> Iterator[None]:
        """Declare the target position of each batch row (``[B]`` long) for the forward passes
        inside the block; ``intervene(..., positions="target")`` uses it. The scoring
        functions (``answer_probability`` etc.) set it for you."""
        self._target_positions.append(positions)
        try:
            yield
        finally:
            self._target_positions.pop()

    def current_target_positions(self) -> torch.Tensor:
        if not self._target_positions:
            raise RuntimeError(
                "intervene(positions='target') needs the query's target position: run the "
                "forward pass through answer_probability/predict, inside adapter.targeting(...), "
                "or pass explicit positions"
            )
        return self._target_positions[-1]

    @contextmanager
    def intervene(
        self,
        spec: Mapping[int, InterventionSpec],
        positions: str | int | Sequence[int] | torch.Tensor | None = "target",
    ) -> Iterator[None]:
        """Overwrite neurons during the forward passes inside the block.

        ``spec`` maps a layer to ``(neuron_idx, mode, value)``: ``neuron_idx`` a long tensor
        (or list) of neurons, ``mode`` ``"set"`` (activation := value, e.g. 0 = suppress) or
        ``"scale"`` (activation *= value, e.g. 2 = enhance), ``value`` a scalar or a tensor
        broadcastable to ``[len(neuron_idx)]`` (at one position per row: ``[B, len(neuron_idx)]``,
        a value per batch row).

        ``positions``: ``"target"`` (default) the query's target position (see
        :meth:`targeting`), an int or a ``[B]`` tensor of sequence indices (negative counts
        from the end), or ``None`` for every position.

        Example::

            with adapter.intervene({3: (torch.tensor([17, 250]), "set", 0.0)}):
                p = answer_probability(adapter, query)
        """
        fns = {
            layer: make_intervention(s, positions, self.current_target_positions) for layer, s in spec.items()
        }
        for layer in fns:
            if not 0 <= layer < self.n_layers:
                raise IndexError(f"layer {layer} out of range [0, {self.n_layers})")
        with self.patch(lambda layer, act: fns[layer](act), list(fns)):
            yield

    @contextmanager
    def fused_activations(self) -> Iterator[None]:
        """Inside the block, every ``gelu_new`` activation (``NewGELUActivation``: GPT-2,
        mGPT) is computed by ``GELUTanh``, the same function as one fused kernel instead of
        eight elementwise operations (and their backward): it was about a sixth of the
        causal attribution engine's CPU time. The results differ by float rounding (about
        2e-7 relative)."""
        from transformers.activations import GELUTanh, NewGELUActivation

        swapped = [
            (parent, name, child)
            for parent in self.model.modules()
            for name, child in parent.named_children()
            if type(child) is NewGELUActivation
        ]
        for parent, name, _ in swapped:
            setattr(parent, name, GELUTanh())
        try:
            yield
        finally:
            for parent, name, child in swapped:
                setattr(parent, name, child)

    # ---- forward passes ------------------------------------------------------------------

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        cache: Any = None,
        use_cache: bool = False,
    ) -> tuple[torch.Tensor, Any]:
        """Run the model: returns ``(logits [B, S, V], cache or None)``. Hides the
        ``cache``/``past_key_values`` keyword rename across transformers versions."""
        kwargs: dict[str, Any] = {"input_ids": input_ids, "use_cache": use_cache}
        if attention_mask is not None:
            kwargs["attention_mask"] = attention_mask
        if cache is not None:
            kwargs[_cache_kwarg(self.model)] = cache
        out = self.model(**kwargs)
        if not use_cache:
            return out.logits, None
        new_cache = getattr(out, "cache", None)  # transformers >= 5.x name
        if new_cache is None:
            new_cache = getattr(out, "past_key_values", None)
        return out.logits, new_cache

    def lm_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """The LM head on the body's last hidden state (:meth:`forward_body`):
        ``[..., D] -> [..., V]``, equal to :meth:`forward`'s logits. Causal families: the
        output embedding, then Gemma-2's final soft-capping where the config has one (a test
        checks this against :meth:`forward` for every family)."""
        logits = self.model.get_output_embeddings()(hidden)
        cap = getattr(self.model.config, "final_logit_softcapping", None)
        if cap:
            logits = torch.tanh(logits / cap) * cap
        return logits

    def forward_body(
        self, input_ids: torch.Tensor, cache: Any = None, use_cache: bool = False
    ) -> tuple[torch.Tensor, Any]:
        """Run the transformer without its LM head (for when only activations or the cache
        are needed): returns ``(last hidden state [B, S, D], cache or None)``."""
        kwargs: dict[str, Any] = {"input_ids": input_ids, "use_cache": use_cache}
        if cache is not None:
            kwargs[_cache_kwarg(self.model.base_model)] = cache
        out = self.model.base_model(**kwargs)
        if not use_cache:
            return out.last_hidden_state, None
        new_cache = getattr(out, "cache", None)
        if new_cache is None:
            new_cache = getattr(out, "past_key_values", None)
        return out.last_hidden_state, new_cache

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model_type={self.model_type!r}, n_layers={self.n_layers}, "
            f"n_neurons={self.n_neurons}, device={self.device}, dtype={self.dtype})"
        )


def _cache_kwarg(model: nn.Module) -> str:
    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


# ---- dispatch ----------------------------------------------------------------------------

_ADAPTERS: dict[str, type[ModelAdapter]] = {}


class UnsupportedModelError(ValueError):
    """The model's ``config.model_type`` has no adapter."""


def register_adapter(cls: type[ModelAdapter]) -> type[ModelAdapter]:
    """Class decorator: serve every ``cls.model_types`` entry with ``cls``."""
    for model_type in cls.model_types:
        if model_type in _ADAPTERS and _ADAPTERS[model_type] is not cls:
            raise ValueError(f"model_type {model_type!r} already has an adapter")
        _ADAPTERS[model_type] = cls
    return cls


def supported_model_types() -> list[str]:
    return sorted(_ADAPTERS)


def get_adapter(model: nn.Module, tokenizer: Any) -> ModelAdapter:
    """The adapter for ``model``, chosen by ``model.config.model_type``. Puts the model in
    eval mode."""
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    cls = _ADAPTERS.get(str(model_type))
    if cls is None:
        raise UnsupportedModelError(
            f"no adapter for model_type {model_type!r}; supported model types: "
            f"{', '.join(supported_model_types())}"
        )
    return cls(model, tokenizer)
