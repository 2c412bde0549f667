"""Tiny randomly initialized models with matching tokenizers, built offline from configs.

For tests, benchmarks and demos that must run without downloads::

    model, tokenizer = tiny_model("gpt2", seed=0)
    adapter = get_adapter(model, tokenizer)

The tokenizers are made in memory from a small built-in corpus (byte-level BPE for the
causal families, WordPiece for the BERT family), so they have the real special-token
behaviour of their family: GPT-2 and BLOOM add nothing, LLaMA, Gemma and XGLM add a BOS
token (``<s>``), BERT wraps in ``[CLS] .. [SEP]``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import torch
import transformers
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

FAMILIES = ("gpt2", "llama", "mistral", "qwen2", "gemma", "gemma2", "bloom", "xglm", "bert", "xlm-roberta")
GATED = ("llama", "mistral", "qwen2", "gemma", "gemma2")  # LLaMA-style gated MLPs

CORPUS = [
    "The capital of France is Paris.",
    "Berlin is the capital of Germany.",
    "Tokyo is the capital of Japan.",
    "Dante Alighieri was born in Florence.",
    "The Eiffel Tower is located in Paris, France.",
    "Barack Obama was born in Honolulu, Hawaii.",
    "The mother tongue of Victor Hugo is French.",
    "Albert Einstein worked in the field of physics.",
    "Marie Curie was a citizen of Poland and France.",
    "Helsinki is the capital of Finland.",
    "法国的首都是巴黎。德国的首都是柏林。",
    "日本の首都は東京です。",
]


def _bpe_tokenizer(bos: bool) -> PreTrainedTokenizerFast:
    """Byte-level BPE (GPT-2 style); with ``bos`` it prepends ``<s>`` (LLaMA style)."""
    specials = ["<s>", "</s>", "<unk>"] if bos else ["<|endoftext|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=specials,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS * 3, trainer)
    if bos:
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))]
        )
        return PreTrainedTokenizerFast(
            tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
        )
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>")


def _wordpiece_tokenizer() -> PreTrainedTokenizerFast:
    """Lower-casing WordPiece with ``[CLS] $A [SEP]`` (BERT style)."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    # The tokenizers WordPiece trainer numbers "##" pieces in hash-map order, so its vocabulary
    # (and the model built on it) changes from process to process (huggingface/tokenizers#1794).
    # A fixed vocabulary instead: every character, alone and as "##c", and every corpus word.
    pieces = (tok.pre_tokenizer.pre_tokenize_str(tok.normalizer.normalize_str(t)) for t in CORPUS)
    words = {w for text in pieces for w, _ in text}
    chars = sorted(set("".join(words)))
    vocab = specials + chars + ["##" + c for c in chars] + sorted(words - set(chars))
    tok.model = models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]")
    sep, cls = tok.token_to_id("[SEP]"), tok.token_to_id("[CLS]")
    assert sep is not None and cls is not None  # both are in `specials`
    tok.post_processor = processors.BertProcessing(("[SEP]", sep), ("[CLS]", cls))
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


@cache
def tiny_tokenizer(family: str) -> PreTrainedTokenizerFast:
    """The tokenizer for ``family`` (cached; treat it as read-only)."""
    if family in ("gpt2", "bloom"):
        return _bpe_tokenizer(bos=False)
    if family in (*GATED, "xglm"):
        return _bpe_tokenizer(bos=True)
    if family in ("bert", "xlm-roberta"):
        return _wordpiece_tokenizer()
    raise ValueError(f"unknown tiny family {family!r}; choose from {FAMILIES}")


def _config(family: str, tok: Any, overrides: dict[str, Any]) -> Any:
    vocab = len(tok)
    common = {"vocab_size": vocab, "initializer_range": 0.1}
    if family == "gpt2":
        kw = {"n_layer": 2, "n_embd": 32, "n_head": 4, "n_inner": 64, "n_positions": 64}
        kw |= {"bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id}
        return transformers.GPT2Config(**(common | kw | overrides))
    ids = {"bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id}
    if family == "bloom":  # the FFN is 4 x hidden_size
        kw = {"hidden_size": 32, "n_layer": 2, "n_head": 4, **ids}
        return transformers.BloomConfig(**(common | kw | overrides))
    if family == "xglm":
        kw = {"d_model": 32, "num_layers": 2, "attention_heads": 4, "ffn_dim": 64}
        kw |= {"max_position_embeddings": 64, "pad_token_id": tok.unk_token_id, **ids}
        return transformers.XGLMConfig(**(common | kw | overrides))
    if family in GATED:
        kw = {
            "hidden_size": 32,
            "intermediate_size": 48,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 64,
            "bos_token_id": tok.bos_token_id,
            "eos_token_id": tok.eos_token_id,
            "tie_word_embeddings": False,
        }
        cls = {
            "llama": transformers.LlamaConfig,
            "mistral": transformers.MistralConfig,
            "qwen2": transformers.Qwen2Config,
            "gemma": transformers.GemmaConfig,
            "gemma2": transformers.Gemma2Config,
        }[family]
        if family.startswith("gemma"):
            kw |= {"head_dim": 8, "pad_token_id": tok.unk_token_id}
        return cls(**(common | kw | overrides))
    kw = {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 48,
        "max_position_embeddings": 64,
        "pad_token_id": tok.pad_token_id,
    }
    cls = transformers.BertConfig if family == "bert" else transformers.XLMRobertaConfig
    return cls(**(common | kw | overrides))


def tiny_model(
    family: str, seed: int = 0, dtype: torch.dtype = torch.float32, **overrides: Any
) -> tuple[torch.nn.Module, PreTrainedTokenizerFast]:
    """A seeded random LM of ``family`` (2 layers, width 32 unless ``overrides`` say
    otherwise; config keyword names of that family) and its tokenizer, in eval mode."""
    tok = tiny_tokenizer(family)
    config = _config(family, tok, overrides)
    torch.manual_seed(seed)
    model_cls = {
        "gpt2": transformers.GPT2LMHeadModel,
        "llama": transformers.LlamaForCausalLM,
        "mistral": transformers.MistralForCausalLM,
        "qwen2": transformers.Qwen2ForCausalLM,
        "gemma": transformers.GemmaForCausalLM,
        "gemma2": transformers.Gemma2ForCausalLM,
        "bloom": transformers.BloomForCausalLM,
        "xglm": transformers.XGLMForCausalLM,
        "bert": transformers.BertForMaskedLM,
        "xlm-roberta": transformers.XLMRobertaForMaskedLM,
    }[family]
    model = model_cls(config).to(dtype).eval()
    return model, tok
