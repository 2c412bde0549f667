"""The generation loop: rephrase → validate → repair up to K rounds → accept or reject.

One job per (relation, language). Round 0 asks for N templates (``prompts/rephrase.j2``);
each later round sends the rejected ones back with the validator's reasons
(``prompts/repair.j2``) and asks for as many as are still missing. Candidates pass the
curated bank's rules (:func:`builders.validate.validate_template`) and must not duplicate
the bank or each other. All requests of a round go out together, so a round is one
Message Batch in ``--batch`` mode.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import anthropic

from builders.bank import load_bank
from builders.claude import prompts, store
from builders.claude.cache import ResponseCache, default_cache_dir
from builders.claude.client import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_MODEL,
    Failure,
    Request,
    Sender,
    answer_text,
    message_body,
)
from builders.claude.cost import Estimate, UsageTally, estimate
from builders.claude.schema import TEMPLATES_SCHEMA, AnswerError, parse_templates
from builders.errors import BuildError
from builders.validate import Rejection, normalize, validate_template
from rml_lama import check_languages, check_relations

log = logging.getLogger(__name__)

FACT_LANGUAGES = ("fi", "hu", "ja", "ko")  # inflection depends on the entity


@dataclass
class GenerateConfig:
    sources: Path
    languages: list[str]
    relations: list[str]
    model: str = DEFAULT_MODEL
    per_relation: int = 6  # templates wanted per (relation, language)
    rounds: int = 2  # repair rounds after the first request
    batch: bool = False  # Message Batches API instead of Messages
    cache_dir: Path = field(default_factory=default_cache_dir)
    out_dir: Path | None = None  # default builders/generated
    bank_dir: Path | None = None  # the curated bank, for duplicate checks
    max_tokens: int = DEFAULT_MAX_TOKENS
    effort: str | None = None  # output_config.effort; None: the model's default
    workers: int = 4  # parallel Messages requests
    examples: int = 5  # example facts in each prompt
    poll_interval: float = 30.0  # seconds between batch polls
    batch_resubmits: int = 2
    fact_integration: int = 0  # facts per (relation, language) of fi/hu/ja/ko to query

    def __post_init__(self) -> None:
        self.languages = check_languages(self.languages)
        self.relations = check_relations(self.relations)
        if self.per_relation < 1 or self.rounds < 0:
            raise BuildError("--per-relation must be at least 1 and --rounds at least 0")


@dataclass
class Job:
    ctx: prompts.RelationContext
    existing: dict[str, str]  # normalized bank template -> template
    accepted: list[dict] = field(default_factory=list)  # template + provenance
    rejected: list[dict] = field(default_factory=list)  # last round's, for the repair prompt
    problem: str = ""  # why the last answer as a whole was unusable
    rejections: list[Rejection] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)  # provenance, one per request
    failure: str = ""  # set when a request failed for good in this run
    done: bool = False

    @property
    def relation(self) -> str:
        return self.ctx.relation.id

    @property
    def language(self) -> str:
        return self.ctx.language.code


@dataclass
class Result:
    jobs: list[Job]
    usage: UsageTally

    @property
    def failed(self) -> list[Job]:
        return [j for j in self.jobs if j.failure]


def plan(config: GenerateConfig) -> list[Job]:
    jobs = []
    for lang in config.languages:
        try:
            bank = load_bank(lang, config.bank_dir)
        except BuildError as e:
            log.warning("no duplicate check against the bank for %s: %s", lang, e)
            bank = {}
        for rel in config.relations:
            ctx = prompts.relation_context(config.sources, rel, lang, config.examples)
            existing = {normalize(t.template): t.template for t in bank.get(rel, [])}
            jobs.append(Job(ctx, existing))
    return jobs


def request_for(job: Job, rnd: int, config: GenerateConfig, system: str) -> Request:
    missing = config.per_relation - len(job.accepted)
    if rnd == 0:
        prompt = prompts.render_rephrase(job.ctx, missing)
    else:
        prompt = prompts.render_repair(
            job.ctx, missing, job.rejected, [a["template"] for a in job.accepted], job.problem
        )
    body = message_body(config.model, system, prompt, TEMPLATES_SCHEMA, config.max_tokens, config.effort)
    return Request(body, f"{job.relation}/{job.language} round {rnd}")


def dry_run(config: GenerateConfig) -> Estimate:
    """What round 0 would send, without a key or a request."""
    cache, system = ResponseCache(config.cache_dir), prompts.render_system()
    reqs = [request_for(j, 0, config, system) for j in plan(config)]
    todo = [r for r in reqs if r.key not in cache]
    return estimate(
        config.model,
        [(system, r.body["messages"][0]["content"], config.per_relation) for r in todo],
        len(reqs) - len(todo),
        config.rounds,
        config.batch,
    )


def make_sender(config: GenerateConfig, client: Callable[[], anthropic.Anthropic]) -> Sender:
    return Sender(
        ResponseCache(config.cache_dir),
        client,
        batch=config.batch,
        workers=config.workers,
        poll_interval=config.poll_interval,
        batch_resubmits=config.batch_resubmits,
    )


def judge(job: Job, candidates: list[str], rnd: int, provenance: dict, want: int) -> dict:
    """Validate one answer's candidates; returns the request's provenance record."""
    where = f"claude: {job.relation}/{job.language} round {rnd}"
    seen = {normalize(a["template"]): a["template"] for a in job.accepted}
    job.rejected, taken, refused = [], [], []
    for cand in candidates:
        failed = validate_template(cand, job.language)
        key = normalize(cand)
        if not failed and (key in job.existing or key in seen):
            other = job.existing.get(key) or seen[key]
            source = "the curated bank" if key in job.existing else "an accepted template"
            failed = [("duplicate", f"same as {other!r} ({source}) after normalization")]
        if failed:
            rule, reason = failed[0][0], "; ".join(why for _, why in failed)
            job.rejected.append({"template": cand, "rule": rule, "reason": reason})
            job.rejections += [
                Rejection(r, why, job.language, job.relation, cand, source=where) for r, why in failed
            ]
            refused.append({"template": cand, "rule": rule, "reason": reason})
        elif len(job.accepted) < want:
            seen[key] = cand
            job.accepted.append({"template": cand, **provenance, "round": rnd})
            taken.append(cand)
    return {"accepted": taken, "rejected": refused}


def run_round(jobs: list[Job], rnd: int, config: GenerateConfig, sender: Sender, system: str) -> None:
    active = [j for j in jobs if not j.done]
    requests = {id(j): request_for(j, rnd, config, system) for j in active}
    answers = sender.fetch(list(requests.values()))
    for job in active:
        req = requests[id(job)]
        got = answers[req.key]
        if isinstance(got, Failure):
            job.failure, job.done = f"{req.label}: {got.reason}", True
            continue
        provenance = {
            "model": got["response"].get("model", config.model),
            "request_id": got.get("request_id", ""),
            "message_id": got["response"].get("id", ""),
        }
        record = {
            "relation": job.relation,
            "language": job.language,
            "round": rnd,
            "kind": "rephrase" if rnd == 0 else "repair",
            "key": req.key,
            **provenance,
        }
        job.problem = ""
        text = answer_text(got)
        try:
            candidates = parse_templates(text)
        except AnswerError as e:
            stop = got["response"].get("stop_reason")
            job.problem = str(e) + (f" (the answer stopped: {stop})" if stop != "end_turn" else "")
            job.rejected = []
            job.rejections.append(
                Rejection(
                    "malformed_answer",
                    job.problem,
                    job.language,
                    job.relation,
                    text[:300],
                    source=f"claude: {job.relation}/{job.language} round {rnd}",
                )
            )
            record.update(accepted=[], rejected=[], problem=job.problem)
        else:
            record.update(judge(job, candidates, rnd, provenance, config.per_relation))
            if not job.rejected and len(job.accepted) < config.per_relation:
                job.problem = (
                    f"only {len(candidates)} usable templates came back; {config.per_relation} are needed"
                )
        job.records.append(record)
        if len(job.accepted) >= config.per_relation or rnd == config.rounds:
            job.done = True


def generate(config: GenerateConfig, client: Callable[[], anthropic.Anthropic]) -> Result:
    """Run every round, then write the outputs of the jobs that finished. ``client`` is
    called only if some request is not in the cache."""
    jobs = plan(config)
    sender = make_sender(config, client)
    system = prompts.render_system()
    for rnd in range(config.rounds + 1):
        if all(j.done for j in jobs):
            break
        run_round(jobs, rnd, config, sender, system)
    if config.fact_integration:
        integrate_facts(jobs, config, sender, system)
    write_outputs(jobs, config)
    return Result(jobs, sender.usage)


def write_outputs(jobs: list[Job], config: GenerateConfig) -> None:
    finished = [j for j in jobs if not j.failure]
    for lang in config.languages:
        mine = [j for j in finished if j.language == lang]
        store.write_language(
            lang,
            config.out_dir,
            [j.relation for j in mine],
            {j.relation: j.accepted for j in mine},
            [r for j in mine for r in j.rejections],
        )
    store.write_provenance(
        config.out_dir, {(j.relation, j.language) for j in finished}, [r for j in finished for r in j.records]
    )


def integrate_facts(jobs: list[Job], config: GenerateConfig, sender: Sender, system: str) -> None:
    """Fact-specific queries for languages whose inflection depends on the entity. They are
    validated and written to ``<lang>.facts.jsonl``; the dataset does not use them yet."""
    from builders.claude.facts import fact_requests, judge_facts

    todo = [j for j in jobs if j.language in FACT_LANGUAGES and j.accepted and not j.failure]
    requests = fact_requests(todo, config, system)
    answers = sender.fetch([r for r, _ in requests.values()])
    judge_facts(todo, requests, answers, config)
