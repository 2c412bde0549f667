"""Train a tiny causal or masked LM on cloze sentences, and score it on them.

Causal LMs learn the full sentences ``<s> query answer suffix </s>``. Masked LMs learn to
fill the answer: ``<s> query <mask>… suffix </s>`` with one ``<mask>`` per answer token and
the loss on those positions only. The pieces are tokenized separately and concatenated,
which is how the harness asks the question (query, then answer), so training and probing
see the same tokens.

Scoring is top-1 accuracy on the answer's first token: after the query for causal LMs, at
the first mask for masked LMs.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from harness.models.configs import OptimConfig
from harness.models.facts import Cloze

IGNORE = -100  # label of positions without a loss


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]  # [seq]
    labels: list[int]  # [seq], IGNORE where there is no loss
    answer_pos: int  # position whose prediction is the answer's first token
    answer_id: int  # the answer's first token


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def encode(  # noqa: ANN001
    tokenizer, cloze: Cloze, masked: bool, tokenize: Callable[[str], list[int]] | None = None
) -> Encoded:
    """Token ids and labels of one cloze item (see the module docstring). ``tokenize``, if
    given, stands for ``tokenizer(text, add_special_tokens=False)["input_ids"]`` (a faster
    equivalent, :func:`harness.models.tokenizer.prenormalized_ids`)."""

    def ids(text: str) -> list[int]:
        if not text:
            return []
        return tokenize(text) if tokenize else tokenizer(text, add_special_tokens=False)["input_ids"]

    query, answer, suffix = ids(cloze.query), ids(cloze.answer), ids(cloze.suffix)
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    pos = len(query) + 1  # index of the answer's first token in the sequence
    if masked:
        input_ids = [bos, *query, *[tokenizer.mask_token_id] * len(answer), *suffix, eos]
        labels = [IGNORE] * len(input_ids)
        labels[pos : pos + len(answer)] = answer
        return Encoded(input_ids, labels, pos, answer[0])
    input_ids = [bos, *query, *answer, *suffix, eos]
    return Encoded(input_ids, list(input_ids), pos - 1, answer[0])


def _batches(items: Sequence[Encoded], size: int, rng: random.Random) -> list[list[Encoded]]:
    """Shuffled batches of similar lengths (less padding): sort within chunks of 50 batches."""
    order = list(items)
    rng.shuffle(order)
    batches = []
    chunk = size * 50
    for i in range(0, len(order), chunk):
        part = sorted(order[i : i + chunk], key=lambda e: len(e.input_ids))
        batches += [part[j : j + size] for j in range(0, len(part), size)]
    rng.shuffle(batches)
    return batches


def _collate(batch: Sequence[Encoded], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)  # [batch, seq]
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)  # [batch, seq]
    mask = torch.zeros((len(batch), width), dtype=torch.long)  # [batch, seq]
    for i, e in enumerate(batch):
        n = len(e.input_ids)
        ids[i, :n] = torch.tensor(e.input_ids)
        labels[i, :n] = torch.tensor(e.labels)
        mask[i, :n] = 1
    return ids, labels, mask


def _logits(model, ids, mask, labels, masked: bool) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: ANN001
    """Logits and their labels where there is a loss: ``[n, vocab]`` and ``[n]``."""
    if masked and hasattr(model, "bert") and hasattr(model, "cls"):
        # BertForMaskedLM: run the LM head on the masked positions only (the vocab
        # projection of every other position would be thrown away).
        hidden = model.bert(input_ids=ids, attention_mask=mask).last_hidden_state  # [batch, seq, d]
        keep = labels != IGNORE  # [batch, seq]
        return model.cls(hidden[keep]), labels[keep]
    logits = model(input_ids=ids, attention_mask=mask).logits  # [batch, seq, vocab]
    if not masked:  # predict token t+1 at position t
        logits, labels = logits[:, :-1], labels[:, 1:]
    keep = labels != IGNORE
    return logits[keep], labels[keep]


def _loss(model, ids, labels, mask, masked: bool, answer_weight: float, answer_pos) -> torch.Tensor:  # noqa: ANN001
    """Mean cross-entropy over the labelled tokens; the answer's first token (at
    ``answer_pos``, one per row) weighs ``answer_weight``."""
    scored = labels if masked else labels[:, 1:]  # labels aligned with the logits
    first = torch.zeros_like(scored, dtype=torch.bool)  # [batch, seq']
    first[torch.arange(len(answer_pos)), answer_pos] = True
    weight = 1.0 + (answer_weight - 1.0) * first[scored != IGNORE].float()  # [n]
    logits, targets = _logits(model, ids, mask, labels, masked)
    loss = torch.nn.functional.cross_entropy(logits, targets, reduction="none")  # [n]
    return (loss * weight).sum() / weight.sum()


def train(
    model,
    items: Sequence[Encoded],
    pad_id: int,
    masked: bool,
    cfg: OptimConfig,
    progress: bool = True,
    desc: str = "training",
) -> list[float]:  # noqa: ANN001
    """Train ``model`` in place; return the mean loss of each epoch."""
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    steps_per_epoch = math.ceil(len(items) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    warmup = max(1, int(cfg.warmup * total))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        t = (step - warmup) / max(1, total - warmup)
        return cfg.min_lr + (1 - cfg.min_lr) * 0.5 * (1 + math.cos(math.pi * t))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    model.train()
    losses = []
    bar = tqdm(total=total, desc=desc, disable=not progress or not sys.stderr.isatty(), unit="step")
    for _ in range(cfg.epochs):
        epoch_loss = 0.0
        for batch in _batches(items, cfg.batch_size, rng):
            ids, labels, mask = _collate(batch, pad_id)
            answer_pos = torch.tensor([e.answer_pos for e in batch])
            loss = _loss(model, ids, labels, mask, masked, cfg.answer_weight, answer_pos)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            epoch_loss += loss.item() * len(batch)
            bar.update(1)
        losses.append(epoch_loss / len(items))
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    bar.close()
    model.eval()
    return losses


@torch.no_grad()
def predict_first(model, items: Sequence[Encoded], pad_id: int, batch_size: int = 256) -> list[int]:  # noqa: ANN001
    """The top-1 token at each item's answer position."""
    model.eval()
    preds: list[int] = []
    for i in range(0, len(items), batch_size):
        batch = items[i : i + batch_size]
        ids, _, mask = _collate(batch, pad_id)
        logits = model(input_ids=ids, attention_mask=mask).logits  # [batch, seq, vocab]
        pos = torch.tensor([e.answer_pos for e in batch])
        preds += logits[torch.arange(len(batch)), pos].argmax(-1).tolist()
    return preds
