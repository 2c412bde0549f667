"""The three ways in: the decorator (built-ins), the entry-point group
``rml_lama.localizers`` (installed packages) and ``--plugin module.path`` (local modules).
A broken plugin gives a clear error naming it and never breaks the other localizers."""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap
import warnings

import pytest
from localizer_synth import scores_with, synthetic

from harness import registry
from harness.localizers import LocalizerError, NeuronSet, build_localizer, run_localizers

BUILTINS = {"matrice", "matrice-no-uaq", "matrice-no-ual", "amig", "kn", "random"}

GOOD = '''
import torch
from dataclasses import dataclass
from harness.localizers import NeuronSet

@dataclass(frozen=True)
class Good:
    """The first neuron, always."""
    k: int = 1

    def localize(self, fact, provider):
        return NeuronSet(torch.tensor([[0, 0]]), torch.tensor([1.0]), {"k": self.k})
'''


@pytest.fixture
def fresh_registry(monkeypatch):
    """A registry holding only the built-ins, whose entry points are not loaded yet."""
    import harness.localizers  # noqa: F401  (register the built-ins)

    fresh = registry._Registry()
    fresh.entries["localizer"] = {
        k: v for k, v in registry._REGISTRY.entries["localizer"].items() if v.origin == "builtin"
    }
    fresh.builtins_loaded.add("localizer")
    monkeypatch.setattr(registry, "_REGISTRY", fresh)
    return fresh


@pytest.fixture
def fake_distribution(tmp_path, monkeypatch):
    """An installed distribution (a dist-info folder on sys.path) declaring a good and a
    broken localizer entry point."""
    (tmp_path / "fake_good_localizer.py").write_text(GOOD)
    (tmp_path / "fake_broken_localizer.py").write_text("raise ImportError('missing dependency: fancylib')\n")
    info = tmp_path / "fake_localizers-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-localizers\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[rml_lama.localizers]\n"
        "good-fake = fake_good_localizer:Good\n"
        "broken-fake = fake_broken_localizer:Thing\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for mod in ("fake_good_localizer", "fake_broken_localizer"):
        sys.modules.pop(mod, None)


def test_builtins_are_registered():
    assert BUILTINS <= set(registry.names("localizer"))
    entries = {e.name: e for e in registry.entries("localizer")}
    assert entries["matrice"].description.startswith("MATRICE")


def test_entry_point_plugin_and_broken_plugin(fresh_registry, fake_distribution):
    with pytest.warns(RuntimeWarning, match="broken-fake.*fake_broken_localizer:Thing.*fancylib"):
        names = set(registry.names("localizer"))
    assert BUILTINS | {"good-fake"} <= names and "broken-fake" not in names
    assert "broken-fake" in registry.failures("localizer")
    with pytest.raises(registry.RegistryError, match="broken-fake.*failed to load.*fancylib"):
        build_localizer("broken-fake")
    good = build_localizer("good-fake", {"k": "3"})
    assert good.k == 3
    fact, provider = synthetic({"en": [scores_with(n0_1=1.0)]})
    results = run_localizers(fact, provider, {"good-fake": good, "matrice": build_localizer("matrice")})
    assert all(isinstance(r, NeuronSet) for r in results.values())


def test_plugin_module(fresh_registry, tmp_path, monkeypatch):
    (tmp_path / "fake_local_plugin.py").write_text(
        "from harness.registry import register\n"
        + GOOD.replace(
            "@dataclass(frozen=True)", '@register("localizer", "local-good")\n@dataclass(frozen=True)'
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        registry.load_plugin_module("fake_local_plugin")
        assert build_localizer("local-good").k == 1
        with pytest.raises(registry.RegistryError, match="--plugin no_such_module_xyz"):
            registry.load_plugin_module("no_such_module_xyz")
    finally:
        sys.modules.pop("fake_local_plugin", None)


def test_a_plugin_that_breaks_at_run_time_does_not_stop_the_others():
    class Broken:
        def localize(self, fact, provider):
            return {"neurons": [[0, 1]]}

    fact, provider = synthetic({"en": [scores_with(n0_1=1.0)]})
    out = run_localizers(fact, provider, {"my-plugin": Broken(), "matrice": build_localizer("matrice")})
    assert isinstance(out["my-plugin"], LocalizerError) and "my-plugin" in str(out["my-plugin"])
    assert isinstance(out["matrice"], NeuronSet)


def _installed(dist: str) -> bool:
    try:
        importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(
    not _installed("rml-lama-topk-localizer"),
    reason="the example plugin is not installed: pip install -e examples/localizer-plugin",
)
def test_installed_example_plugin():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # other plugins in this environment
        entry = {e.name: e for e in registry.entries("localizer")}["topk-mean"]
    assert entry.origin == "entry point rml_topk_localizer:TopKMean"
    loc = build_localizer("topk-mean", {"k": "2"})
    m = scores_with(n0_1=1.0, n1_2=0.5, n1_3=0.1)
    fact, provider = synthetic({"en": [m, m], "zh": [m]})
    got = run_localizers(fact, provider, {"topk-mean": loc})["topk-mean"]
    assert isinstance(got, NeuronSet) and got.as_tuples() == [(0, 1), (1, 2)]


def test_example_plugin_source_is_self_contained():
    """The example's module compiles and declares its entry point (without installing)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "examples" / "localizer-plugin"
    compile((root / "src/rml_topk_localizer/__init__.py").read_text(), "rml_topk_localizer", "exec")
    pyproject = (root / "pyproject.toml").read_text()
    assert '[project.entry-points."rml_lama.localizers"]' in pyproject
    assert 'topk-mean = "rml_topk_localizer:TopKMean"' in textwrap.dedent(pyproject)


def test_docs_example_localizer_runs(fresh_registry):
    """The "write and register a localizer" example of docs/localizers.md works as written."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "localizers.md").read_text()
    code = re.search(r"# my_localizers.py\n(.*?)```", doc, re.S).group(1)
    exec(compile(code, "docs/localizers.md", "exec"), {})
    m = scores_with(n0_1=1.0, n1_2=0.5, n1_3=0.1)
    fact, provider = synthetic({"en": [m, m], "zh": [m]})
    got = run_localizers(fact, provider, {"top-saig": build_localizer("top-saig", {"k": "2"})})["top-saig"]
    assert isinstance(got, NeuronSet) and got.as_tuples() == [(0, 1), (1, 2)]
