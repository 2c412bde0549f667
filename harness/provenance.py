"""Provenance of a run: what code, libraries, model, data and machine made it, and how long
each stage took, so that a number in ``summary.json`` can be traced back and reproduced.

    env = environment()                      # versions, git commit, command line
    clock = Laps(); ...; clock.lap("load model"); ...; clock.as_dict()
    model_provenance(loaded)                 # hub commit or sha256 of local weights, dtype, device

``config.json`` gets :func:`environment` when a run starts; ``summary.json`` gets the whole
record when it ends (see :func:`run_provenance`).
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import click

LIBRARIES = (
    "torch",
    "transformers",
    "datasets",
    "huggingface_hub",
    "accelerate",
    "tokenizers",
    "numpy",
    "pyarrow",
)
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.pth")


def package_version() -> str:
    try:
        return version("rml-lama")
    except PackageNotFoundError:
        return "unknown"


def git_commit() -> dict[str, Any] | None:
    """``{"commit": sha, "dirty": bool}`` of the source checkout this code runs from, or None
    (an installed wheel, or no git)."""
    from rml_lama.home import PACKAGE_DIR, in_checkout

    if not in_checkout():
        return None
    repo = PACKAGE_DIR.parent

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    sha = git("rev-parse", "HEAD")
    if not sha:
        return None
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": sha, "dirty": bool(status)}


def library_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def command_line(argv: list[str] | None = None, orig_argv: list[str] | None = None) -> list[str]:
    """The command as typed: the program's name (not its install path), then its arguments;
    ``python -m harness.cli …`` stays that, not ``cli.py …``."""
    argv = list(sys.argv if argv is None else argv)
    orig = list(getattr(sys, "orig_argv", []) if orig_argv is None else orig_argv)
    if argv and argv[0].endswith(".py") and orig:
        return ["python", *orig[1:]]
    if argv:
        argv[0] = Path(argv[0]).name
    return argv


def environment() -> dict[str, Any]:
    """Code, libraries, interpreter, machine and command line of this process."""
    return {
        "package_version": package_version(),
        "git": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": library_versions(),
        "command_line": command_line(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def version_text(prog: str) -> str:
    """What ``--version`` prints: the package version, the git commit when in a checkout,
    and the versions of the libraries that shape results."""
    git = git_commit()
    where = f" (git {git['commit'][:12]}{', uncommitted changes' if git['dirty'] else ''})" if git else ""
    libs = ", ".join(f"{k} {v}" for k, v in library_versions().items() if v)
    return f"{prog} {package_version()}{where}\npython {platform.python_version()}, {libs}"


def version_option(prog: str):
    """``--version``: the package version, the git commit and the library versions."""

    def show(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if not value or ctx.resilient_parsing:
            return
        click.echo(version_text(prog))
        ctx.exit()

    return click.option(
        "--version",
        is_flag=True,
        is_eager=True,
        expose_value=False,
        callback=show,
        help="Show the version (and git commit) and exit.",
    )


def weights_sha256(folder: Path) -> str | None:
    """One sha256 over the weight files of a local model folder (name and bytes of each, in
    name order), or None when it holds none."""
    folder = Path(folder)
    files = sorted({p for pattern in WEIGHT_PATTERNS for p in folder.glob(pattern)})
    if not files:
        return None
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.name}\n".encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def hub_revision(hf_id: str, model: Any = None) -> str | None:
    """The commit hash of a hub model as loaded: the config's record of it, else the
    ``refs/main`` entry of the hub cache it was read from."""
    commit = getattr(getattr(model, "config", None), "_commit_hash", None)
    if commit:
        return str(commit)
    from huggingface_hub import constants

    ref = Path(constants.HF_HUB_CACHE) / f"models--{hf_id.replace('/', '--')}" / "refs" / "main"
    try:
        return ref.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def model_provenance(name: str, loaded: Any) -> dict[str, Any]:
    """Model id, where it came from and which exact weights, and the device and dtype used."""
    spec = loaded.spec
    source = spec.hf_id
    out: dict[str, Any] = {"id": name, "source": source, "architecture": spec.architecture, "kind": spec.kind}
    if Path(source).is_dir():
        out["weights_sha256"] = weights_sha256(Path(source))
    else:
        out["revision"] = hub_revision(source, loaded.model)
    try:
        param = next(loaded.model.parameters())
        out["device"], out["dtype"] = str(param.device), str(param.dtype).removeprefix("torch.")
    except (StopIteration, AttributeError, TypeError):
        out["device"] = out["dtype"] = None
    return out


class Laps:
    """Wall and CPU time of consecutive stages: ``lap(name)`` closes the stage that began at
    the previous lap (or at creation). CPU time is this process's (all threads): on a
    loaded machine wall time grows and CPU time does not."""

    def __init__(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        self.stages: list[dict[str, Any]] = []

    def lap(self, name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.stages.append(
            {"stage": name, "wall_s": round(wall - self._wall, 3), "cpu_s": round(cpu - self._cpu, 3)}
        )
        self._wall, self._cpu = wall, cpu

    def as_list(self) -> list[dict[str, Any]]:
        """``[{"stage", "wall_s", "cpu_s"}, …]`` in the order run (a list: JSON keeps it)."""
        return [dict(s) for s in self.stages]


def run_provenance(env: dict, model: dict, dataset_hash: str, laps: Laps, resumed: bool) -> dict[str, Any]:
    """The record ``summary.json`` keeps under ``provenance``."""
    return {
        **env,
        "model": model,
        "dataset_hash": dataset_hash,
        "stages": laps.as_list(),
        "resumed": resumed,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
