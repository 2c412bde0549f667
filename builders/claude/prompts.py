"""Render the prompts in ``prompts/`` (Jinja2, StrictUndefined) from the public sources.

A prompt depends only on the sources, the relation table and its parameters, never on the
curated bank, so its cache key stays stable while the bank is edited.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from builders import sources as src
from builders.validate import clean_whitespace
from rml_lama.languages import LANGUAGES, Language
from rml_lama.relations import RELATIONS, Relation


def find_prompts_dir() -> Path:
    """``prompts/`` of the checkout, else the copy an installed wheel put in the prefix."""
    checkout = Path(__file__).resolve().parents[2] / "prompts"
    if checkout.is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "rml-lama" / "prompts"


PROMPTS_DIR = find_prompts_dir()
MAX_PARAPHRASES = 20  # ParaRel has up to ~40 patterns for a relation; the first ones suffice


@dataclass(frozen=True)
class Example:
    subject: str
    object: str
    uuid: str = ""


@dataclass(frozen=True)
class RelationContext:
    """What the prompts say about one (relation, language)."""

    relation: Relation
    language: Language
    pararel: tuple[str, ...]  # English paraphrases ([] for P31, P527)
    english_template: str  # the English mLAMA template, used when ParaRel has none
    mlama_template: str  # the target language's mLAMA template
    examples: tuple[Example, ...] = field(default=())


def relation_context(root: Path, relation: str, language: str, n_examples: int = 5) -> RelationContext:
    facts = sorted(src.read_facts(root, language, relation), key=lambda f: (f.lineid, f.uuid))
    seen, examples = set(), []
    for f in facts:  # prefer examples with different objects: they show more of the relation
        if f.object not in seen:
            seen.add(f.object)
            examples.append(Example(f.subject, f.object, f.uuid))
        if len(examples) == n_examples:
            break
    pararel = tuple(dict.fromkeys(clean_whitespace(p) for p in src.read_pararel(root, relation)))
    return RelationContext(
        relation=RELATIONS[relation],
        language=LANGUAGES[language],
        pararel=pararel[:MAX_PARAPHRASES],
        english_template=src.read_mlama_templates(root, "en").get(relation, ""),
        mlama_template=src.read_mlama_templates(root, language).get(relation, ""),
        examples=tuple(examples),
    )


@lru_cache(maxsize=4)
def environment(prompts_dir: Path = PROMPTS_DIR) -> Environment:
    return Environment(
        loader=FileSystemLoader(prompts_dir),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
    )


def render(name: str, **inputs) -> str:
    return environment().get_template(f"{name}.j2").render(**inputs).strip() + "\n"


def render_system() -> str:
    """The shared system prompt: the same for every request, so it is cached once."""
    return render("system", languages=list(LANGUAGES.values()))


def _context_inputs(ctx: RelationContext) -> dict:
    return {
        "relation": ctx.relation,
        "language": ctx.language,
        "pararel": list(ctx.pararel),
        "english_template": ctx.english_template,
        "mlama_template": ctx.mlama_template,
        "examples": list(ctx.examples),
    }


def render_rephrase(ctx: RelationContext, n: int) -> str:
    return render("rephrase", n=n, **_context_inputs(ctx))


def render_repair(
    ctx: RelationContext, n: int, rejected: list[dict], accepted: list[str], problem: str = ""
) -> str:
    """``rejected``: ``[{"template", "rule", "reason"}]``; ``problem``: why a whole answer failed."""
    return render(
        "repair", n=n, rejected=rejected, accepted=accepted, problem=problem, **_context_inputs(ctx)
    )


def render_fact_integration(ctx: RelationContext, templates: list[str], facts: list[Example]) -> str:
    return render("fact_integration", templates=templates, facts=facts, **_context_inputs(ctx))
