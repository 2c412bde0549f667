"""Fact integration (``--fact-integration M``): queries written for specific facts.

In fi, hu, ja and ko the natural form of a sentence can depend on the subject (a case
ending, vowel harmony, a particle chosen by the last sound), which a template with the
label inserted verbatim cannot express. For the first M facts of a (relation, language)
Claude writes the query itself (``prompts/fact_integration.j2``). Queries pass the query
rules and language identification, and go to ``<lang>.facts.jsonl``; ``rml-build build
--rephrasings claude|all`` adds them to their facts' rows with origin ``claude-fact``.
"""

from __future__ import annotations

import json

from builders import sources as src
from builders.claude import prompts, store
from builders.claude.cache import write_atomic
from builders.claude.client import Failure, Request, answer_text, message_body
from builders.claude.schema import QUERIES_SCHEMA, AnswerError, parse_queries
from builders.validate import Rejection, check_language, check_query


def fact_requests(jobs, config, system: str) -> dict[int, tuple[Request, list[prompts.Example]]]:
    out = {}
    for job in jobs:
        facts = sorted(
            src.read_facts(config.sources, job.language, job.relation), key=lambda f: (f.lineid, f.uuid)
        )[: config.fact_integration]
        examples = [prompts.Example(f.subject, f.object, f.uuid) for f in facts]
        prompt = prompts.render_fact_integration(job.ctx, [a["template"] for a in job.accepted], examples)
        body = message_body(config.model, system, prompt, QUERIES_SCHEMA, config.max_tokens, config.effort)
        out[id(job)] = (Request(body, f"{job.relation}/{job.language} facts"), examples)
    return out


def judge_facts(jobs, requests, answers, config) -> None:
    rows: dict[str, list[dict]] = {}
    done: dict[str, set[str]] = {}
    for job in jobs:
        req, facts = requests[id(job)]
        got = answers[req.key]
        where = f"claude: {job.relation}/{job.language} facts"
        if isinstance(got, Failure):
            job.rejections.append(
                Rejection("request_failed", got.reason, job.language, job.relation, "", source=where)
            )
            continue
        done.setdefault(job.language, set()).add(job.relation)
        try:
            queries = parse_queries(answer_text(got))
        except AnswerError as e:
            job.rejections.append(
                Rejection(
                    "malformed_answer",
                    str(e),
                    job.language,
                    job.relation,
                    answer_text(got)[:300],
                    source=where,
                )
            )
            continue
        for f in facts:
            q = queries.get(f.uuid, "")
            bad = (
                check_query(q, f.subject, f.object, job.language)
                if q
                else ("missing", "no query was given for this fact")
            )
            if bad is None and (why := check_language(q, job.language)):
                bad = ("language", why)
            if bad:
                job.rejections.append(Rejection(bad[0], bad[1], job.language, job.relation, q, f.uuid, where))
                continue
            rows.setdefault(job.language, []).append(
                {
                    "uuid": f.uuid,
                    "relation": job.relation,
                    "language": job.language,
                    "query": q,
                    "model": got["response"].get("model", config.model),
                    "request_id": got.get("request_id", ""),
                }
            )
    for lang, rels in done.items():
        path = store.facts_path(lang, config.out_dir)
        old = []
        if path.is_file():
            old = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
        keep = [r for r in old if r["relation"] not in rels] + rows.get(lang, [])
        keep.sort(key=lambda r: (r["relation"], r["uuid"]))
        write_atomic(path, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in keep))
