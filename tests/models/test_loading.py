"""load_model: a local folder goes through the same from_pretrained code as a hub id, and
weights that cannot be had give an error that says what to do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForMaskedLM, GPT2Config, GPT2LMHeadModel

from harness.models import LoadedModel, ModelUnavailableError, load_model
from harness.models.loading import _unavailable, check_device
from harness.models.specs import resolve_spec
from harness.models.tokenizer import train_tokenizer

TEXTS = ["The capital of France is Paris.", "法国的首都是巴黎。", "프랑스의 수도는 파리."] * 3


def _save(folder: Path, masked: bool) -> Path:
    tok = train_tokenizer(TEXTS, vocab_size=80, add_eos=masked)
    torch.manual_seed(0)
    ids = dict(
        vocab_size=len(tok),
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    if masked:
        model = BertForMaskedLM(
            BertConfig(
                hidden_size=32,
                num_hidden_layers=1,
                num_attention_heads=2,
                intermediate_size=64,
                max_position_embeddings=32,
                **ids,
            )
        )
    else:
        model = GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=1, n_head=2, n_positions=32, **ids))
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("masked", [False, True])
def test_local_folder_loads_like_a_hub_id(tmp_path: Path, masked: bool) -> None:
    folder = _save(tmp_path / "m", masked)
    lm = load_model(str(folder))
    assert isinstance(lm, LoadedModel)
    assert lm.masked == masked and lm.spec.kind == ("masked" if masked else "causal")
    assert lm.spec.architecture == ("bert" if masked else "gpt2")
    assert lm.spec.hf_id == str(folder.resolve())
    assert not lm.model.training
    assert next(lm.model.parameters()).dtype == torch.float32
    assert type(lm.model).__name__ == ("BertForMaskedLM" if masked else "GPT2LMHeadModel")
    enc = lm.tokenizer("法国的首都是", return_tensors="pt")
    with torch.no_grad():
        assert lm.model(**enc).logits.shape[-1] == len(lm.tokenizer)


def test_dtype_option(tmp_path: Path) -> None:
    folder = _save(tmp_path / "m", masked=False)
    lm = load_model(str(folder), dtype="bfloat16")
    assert next(lm.model.parameters()).dtype == torch.bfloat16
    with pytest.raises(ValueError, match="dtype"):
        load_model(str(folder), dtype="float7")


def test_device_is_checked_before_loading(tmp_path: Path) -> None:
    folder = _save(tmp_path / "m", masked=False)
    assert check_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match=r"--device 'gpu': not a device; use cpu, cuda, cuda:N or mps"):
        load_model(str(folder), device="gpu")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        with pytest.raises(ValueError, match="--device cuda: no CUDA device here .*use --device cpu"):
            load_model(str(folder), device="cuda")
    with pytest.raises(ValueError, match=f"--device cuda:{count + 3}: "):
        check_device(f"cuda:{count + 3}")


def test_broken_local_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelUnavailableError, match="save_pretrained"):
        load_model(str(tmp_path / "empty"))


def test_offline_hub_ids_say_what_to_do(tmp_path: Path) -> None:
    """With HF_HUB_OFFLINE=1 and an empty cache, a hub model cannot load: the message names
    the id, the cache folder and the fixes, and there is no traceback."""
    code = (
        "from harness.models import load_model, ModelUnavailableError\n"
        "for name in ('mgpt', 'hf:someone/nothing-here'):\n"
        "    try:\n"
        "        load_model(name)\n"
        "    except ModelUnavailableError as e:\n"
        "        print(e); print('---')\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True
    ).stdout
    mgpt, other, _ = out.split("---")
    assert "ai-forever/mGPT" in mgpt and "offline" in mgpt
    assert str(tmp_path / "hf" / "hub" / "models--ai-forever--mGPT") in mgpt
    for fix in ("HF_TOKEN", "hf download ai-forever/mGPT", "huggingface-cli download", "local folder"):
        assert fix in mgpt
    assert "someone/nothing-here" in other
    assert "Traceback" not in out


def test_gated_message() -> None:
    spec = resolve_spec("llama3")
    msg = str(_unavailable(spec, OSError("You are trying to access a gated repo.")))
    assert "gated" in msg and "meta-llama/Meta-Llama-3-8B" in msg and "hf auth login" in msg
