"""Model adapters: uniform access to FFN neurons across model families.

``get_adapter(model, tokenizer)`` picks the adapter from ``model.config.model_type``:

=============  ==========================================  ==============================
family         model types                                 neuron = input of
=============  ==========================================  ==============================
GPT-2          gpt2 (GPT-2, mGPT)                          ``mlp.c_proj`` (= ``mlp.act`` output)
LLaMA          llama, mistral, qwen2, qwen3, gemma, gemma2 ``mlp.down_proj``
BLOOM          bloom                                       ``mlp.dense_4h_to_h``
XGLM           xglm                                        ``fc2``
BERT           bert, roberta, xlm-roberta                  ``output.dense`` (= ``intermediate`` output)
=============  ==========================================  ==============================
"""

from harness.adapters import bert, bloom, gpt2, llama, xglm  # noqa: F401  (register the built-ins)
from harness.adapters.base import (
    ActivationFn,
    ModelAdapter,
    NeuronParameter,
    UnsupportedModelError,
    get_adapter,
    register_adapter,
    supported_model_types,
)
from harness.adapters.bert import BertAdapter
from harness.adapters.bloom import BloomAdapter
from harness.adapters.gpt2 import GPT2Adapter
from harness.adapters.interventions import InterventionSpec
from harness.adapters.llama import LlamaAdapter
from harness.adapters.xglm import XGLMAdapter

__all__ = [
    "ActivationFn",
    "BertAdapter",
    "BloomAdapter",
    "GPT2Adapter",
    "InterventionSpec",
    "LlamaAdapter",
    "ModelAdapter",
    "NeuronParameter",
    "UnsupportedModelError",
    "XGLMAdapter",
    "get_adapter",
    "register_adapter",
    "supported_model_types",
]
