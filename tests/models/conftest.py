"""A small synthetic RML-LAMA folder (same schema and card layout as the built one).

Names are made of syllables that each language writes in its own script (Latin for
en/fr/fi/hu, Han characters for zh, katakana for ja, Hangul for ko), so the same entity
has related labels across languages, like transliterated names. Objects come from a
small pool per relation with skewed frequencies, as in T-REx.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

import rml_lama
from rml_lama.languages import LANGUAGE_CODES, LANGUAGES
from rml_lama.relations import RELATION_IDS

_LATIN = [a + b for a in "bdgklmnprstvz" for b in "aeiou"]
_HAN = list(
    "安巴达法加卡拉马纳帕萨塔瓦扎贝德格克勒梅内佩斯特维泽比迪吉基利米尼皮西蒂"
    "维齐博多戈科洛莫诺波索托沃佐布杜古库卢穆努普苏图武祖"
)
_KANA = list("アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモラリルレロ")
_HANGUL = [chr(0xAC00 + i * 28 * 3) for i in range(60)]
_SCRIPT = {"zh": _HAN, "ja": _KANA, "ko": _HANGUL}


def _render(syllables: list[int], lang: str) -> str:
    if lang in _SCRIPT:
        chars = _SCRIPT[lang]
        return "".join(chars[s % len(chars)] for s in syllables)
    word = "".join(_LATIN[s % len(_LATIN)] for s in syllables).capitalize()
    return word + {"fi": "i", "hu": "a", "fr": "e"}.get(lang, "") if syllables[0] % 3 == 0 else word


def _words(rng: random.Random, lang: str, n: int) -> list[str]:
    return [_render([rng.randrange(1000) for _ in range(rng.randint(1, 2))], lang).lower() for _ in range(n)]


def _template(rng: random.Random, lang: str) -> str:
    glue = " " if LANGUAGES[lang].spaced else ""
    pre, mid = _words(rng, lang, rng.randint(0, 1)), _words(rng, lang, rng.randint(1, 3))
    end = "。" if lang in ("zh", "ja") else "."
    return glue.join([*pre, "[X]", *mid, "[Y]"]) + end


def make_dataset(
    root: Path,
    n_relations: int = 6,
    facts_per_relation: int = 12,
    n_templates: int = 3,
    pool: int = 8,
    seed: int = 0,
) -> Path:
    """Write ``root/README.md`` and ``root/data/<lang>/test-00000.parquet``; return root.

    Besides the regular facts it adds one fact missing in ja and two facts that share a
    subject and relation but not the object (neither is eligible for a split).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from rml_lama.schema import FEATURES

    rng = random.Random(seed)
    rows: dict[str, list[dict]] = {lang: [] for lang in LANGUAGE_CODES}
    n = 0
    for rel in RELATION_IDS[:n_relations]:
        templates = {lang: [_template(rng, lang) for _ in range(n_templates)] for lang in LANGUAGE_CODES}
        objects = [[rng.randrange(1000) for _ in range(rng.randint(1, 3))] for _ in range(pool)]
        weights = [1 / (i + 1) for i in range(pool)]
        facts = []
        for _ in range(facts_per_relation):
            subj = [rng.randrange(1000) for _ in range(rng.randint(2, 3))]
            facts.append((subj, rng.choices(range(pool), weights)[0]))
        if rel == RELATION_IDS[0]:  # two objects for one subject: ambiguous queries
            facts.append((facts[0][0], (facts[0][1] + 1) % pool))
        for subj, obj in facts:
            n += 1
            for lang in LANGUAGE_CODES:
                if n == 2 and lang == "ja":  # a fact missing in one language
                    continue
                s, o = _render(subj, lang), _render(objects[obj], lang)
                rows[lang].append(
                    {
                        "uuid": f"u{n:05d}",
                        "relation": rel,
                        "subject": s,
                        "subject_uri": f"Q{n}",
                        "object": o,
                        "object_uri": f"Q{900000 + obj}",
                        "language": lang,
                        "templates": templates[lang],
                        "queries": [t.split("[Y]")[0].rstrip().replace("[X]", s) for t in templates[lang]],
                        "template_origins": ["curated"] * n_templates,
                    }
                )
    configs = "\n".join(
        f"- config_name: {lang}\n  data_files:\n  - split: test\n    path: data/{lang}/*.parquet"
        for lang in LANGUAGE_CODES
    )
    root.mkdir(parents=True, exist_ok=True)
    (root / "README.md").write_text(f"---\nconfigs:\n{configs}\n---\n# synthetic RML-LAMA\n")
    schema = FEATURES.arrow_schema
    for lang, lang_rows in rows.items():
        (root / "data" / lang).mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pylist(lang_rows, schema=schema)
        pq.write_table(table, root / "data" / lang / "test-00000.parquet")
    return root


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("rml_lama"))


@pytest.fixture()
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RML_LAMA_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def env(synthetic_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private cache, and the synthetic dataset as the package's dataset."""
    mp = pytest.MonkeyPatch()
    mp.setenv("RML_LAMA_CACHE", str(tmp_path_factory.mktemp("cache")))
    mp.setattr(rml_lama, "DATASET_DIR", synthetic_dataset)
    yield synthetic_dataset
    mp.undo()
