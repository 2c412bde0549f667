"""The prompts in prompts/ render with every input they need, and fail loudly without one."""

from __future__ import annotations

import os
from pathlib import Path

import jinja2
import pytest

from builders.claude import prompts
from builders.claude.prompts import Example, relation_context
from builders.claude.schema import AnswerError, parse_queries, parse_templates

# the public sources, as tests/conftest.py finds them
SOURCES = Path(os.environ.get("RML_LAMA_SOURCES") or Path(__file__).resolve().parents[4] / "shared" / "data")


@pytest.fixture(scope="module")
def fi_p36():
    return relation_context(SOURCES, "P36", "fi")


def test_every_prompt_file_is_a_job_or_a_partial():
    names = sorted(p.stem for p in prompts.PROMPTS_DIR.glob("*.j2"))
    assert names == ["fact_integration", "language_notes", "repair", "rephrase", "rules", "system"]


def test_system_prompt_holds_the_rules_and_every_language():
    text = prompts.render_system()
    for rule in (
        "[X] appears exactly once",
        "[Y] is the last thing",
        "Citation forms",
        "Natural phrasing",
        "Same meaning",
    ):
        assert rule in text
    for name in ("Chinese", "English", "French", "Finnish", "Hungarian", "Japanese", "Korean"):
        assert f"- {name} (" in text
    assert "{{" not in text and "{%" not in text


def test_rephrase_renders_relation_sources_examples_and_count(fi_p36):
    text = prompts.render_rephrase(fi_p36, 6)
    assert text.startswith("Relation P36 (capital): The capital city of [X] is [Y].")
    assert "- The capital of [X] is [Y]." in text  # ParaRel, white space cleaned
    assert "- Pääoman [X] pääoma on [Y]." in text  # the Finnish mLAMA template
    assert "[X] = Azerbaidžan, [Y] = Baku" in text  # an example fact in Finnish labels
    assert "Write 6 new, different cloze templates in Finnish (fi)" in text
    assert "[Y] once and last" in text and "citation form" in text
    assert "Finnish (fi): [Y] must stand where the nominative" in text  # the language note


def test_examples_prefer_distinct_objects_and_respect_the_count():
    ctx = relation_context(SOURCES, "P31", "ko", n_examples=3)
    assert len(ctx.examples) == 3
    assert len({e.object for e in ctx.examples}) == 3


def test_relation_without_pararel_falls_back_to_the_english_template():
    ctx = relation_context(SOURCES, "P31", "ja")
    assert ctx.pararel == ()
    text = prompts.render_rephrase(ctx, 4)
    assert "none exist, the English mLAMA template is given instead" in text
    assert f"- {ctx.english_template}" in text


def test_repair_lists_rejections_with_reasons_accepted_and_problem(fi_p36):
    text = prompts.render_repair(
        fi_p36,
        2,
        rejected=[
            {"template": "[Y] on alueen [X] pääkaupunki.", "rule": "y_final", "reason": "[Y] must be last"}
        ],
        accepted=["[X] on alue, jonka pääkaupunki on [Y]."],
        problem="the answer is not valid JSON",
    )
    assert "- [Y] on alueen [X] pääkaupunki.\n  rejected (y_final): [Y] must be last" in text
    assert "already accepted (do not repeat them):\n\n- [X] on alue, jonka pääkaupunki on [Y]." in text
    assert "Your previous answer could not be used: the answer is not valid JSON" in text
    assert "Write 2 corrected or new cloze templates in Finnish (fi)" in text


def test_repair_without_problem_or_rejections_omits_those_sections(fi_p36):
    text = prompts.render_repair(fi_p36, 3, rejected=[], accepted=[])
    assert "could not be used" not in text and "were rejected" not in text
    assert "already accepted" not in text


def test_fact_integration_lists_facts_and_templates():
    ctx = relation_context(SOURCES, "P36", "hu")
    facts = [Example("Magyarország", "Budapest", "u1"), Example("Ausztria", "Bécs", "u2")]
    text = prompts.render_fact_integration(ctx, ["[X] fővárosa [Y]."], facts)
    assert "- u1: [X] = Magyarország, [Y] = Budapest" in text
    assert "- [X] fővárosa [Y]." in text
    assert "the natural Hungarian" in text and '"queries"' in text


def test_strict_undefined_rejects_a_missing_input(fi_p36):
    with pytest.raises(jinja2.UndefinedError):
        prompts.render("rephrase", relation=fi_p36.relation, language=fi_p36.language)


def test_prompts_do_not_depend_on_the_bank(fi_p36, tmp_path):
    """The cache key is the rendered prompt: editing the bank must not change it."""
    again = relation_context(SOURCES, "P36", "fi")
    assert prompts.render_rephrase(again, 6) == prompts.render_rephrase(fi_p36, 6)


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            '{"templates": ["[X] on alue, jonka pääkaupunki on [Y] .", " ", '
            '"[X] on alue, jonka pääkaupunki on [Y]."]}',
            ["[X] on alue, jonka pääkaupunki on [Y]."],
        ),
        ('```json\n{"templates": ["[X] on [Y]."]}\n```', ["[X] on [Y]."]),
    ],
)
def test_parse_templates(text, expected):
    assert parse_templates(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("Here are templates: [X] on [Y].", "not valid JSON"),
        ('{"templates": ["[X] on [Y].",', "not valid JSON"),
        ('["[X] on [Y]."]', "should be an object"),
        ('{"template": ["[X] on [Y]."]}', "lacks templates"),
        ('{"templates": "[X] on [Y]."}', "should be an array"),
        ('{"templates": [{"t": "[X] on [Y]."}]}', "should be a string"),
        ('{"templates": [], "note": "x"}', "unexpected field"),
    ],
)
def test_parse_templates_refuses_wrong_shapes(text, message):
    with pytest.raises(AnswerError, match=message):
        parse_templates(text)


def test_parse_queries():
    text = '{"queries": [{"uuid": "a", "query": "Ausztria  fővárosa"}, {"uuid": "a", "query": "x"}]}'
    assert parse_queries(text) == {"a": "Ausztria fővárosa"}
    with pytest.raises(AnswerError, match="lacks query"):
        parse_queries('{"queries": [{"uuid": "a"}]}')


def test_every_prompt_ships_in_the_wheel():
    """prompts/ sits outside the packages: pyproject's data-files must carry each template
    to <prefix>/share/rml-lama/prompts, where find_prompts_dir looks in an installed copy."""
    import tomllib

    from builders.claude import prompts

    repo = Path(prompts.__file__).resolve().parents[2]
    data_files = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    shipped = {p.name for pattern in data_files["share/rml-lama/prompts"] for p in repo.glob(pattern)}
    assert shipped == {p.name for p in (repo / "prompts").iterdir() if p.suffix == ".j2"}
    assert prompts.find_prompts_dir() == repo / "prompts"  # a checkout uses its own


def test_an_installed_copy_finds_the_prompts_in_its_prefix(monkeypatch, tmp_path):
    import sys

    from builders.claude import prompts

    monkeypatch.setattr(prompts, "__file__", str(tmp_path / "site" / "builders" / "claude" / "prompts.py"))
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv"))
    assert prompts.find_prompts_dir() == tmp_path / "venv" / "share" / "rml-lama" / "prompts"
