"""``rml-eval --config run.yaml``: the command's flags written as a YAML file.

Keys are the long option names without dashes (``localizer``, ``max-rows`` or ``max_rows``);
values are what the flag takes. Lists may be YAML lists, and the repeatable key=value options
may be mappings::

    model: tiny-gpt
    localizer: [matrice, amig, random]
    tasks: layer-distribution,suppress-enhance
    facts: 20
    all-queries: true
    localizer-option: {matrice: {tau: 0.2}}
    task-option: {inject: {steps: 50}}

The file fills the options' defaults (click's ``default_map``), so a flag on the command line
overrides it. An unknown key or a value of the wrong shape is a one-line error naming the
file and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml


def option_keys(command: click.Command) -> dict[str, click.Option]:
    """Every spelling a file may use for an option of ``command``: long names without the
    dashes, with ``-`` or ``_``."""
    keys: dict[str, click.Option] = {}
    for param in command.params:
        if not isinstance(param, click.Option) or not param.expose_value:
            continue
        for opt in param.opts:
            if opt.startswith("--"):
                name = opt[2:]
                keys[name] = keys[name.replace("-", "_")] = param
    return keys


def _value(where: str, param: click.Option, value: Any) -> Any:
    if param.multiple:  # --localizer-option, --task-option, --plugin
        if isinstance(value, dict):
            # {matrice: {tau: 0.2}} -> matrice.tau=0.2; {inject: {steps: 50}} -> inject.steps=50
            return [
                f"{k}.{k2}={v2}" if isinstance(v, dict) else f"{k}={v}"
                for k, v in value.items()
                for k2, v2 in (v.items() if isinstance(v, dict) else [(None, None)])
            ]
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        raise click.BadParameter(f"{where}: expected a value or a list, not a mapping")
    return value


def read(path: str | Path, command: click.Command) -> dict[str, Any]:
    """The ``default_map`` for ``command`` read from the YAML file at ``path``."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise click.BadParameter(f"{path}: cannot read it ({e.strerror})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark else ""
        raise click.BadParameter(f"{path}{at}: not valid YAML") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise click.BadParameter(f"{path}: expected a mapping of option names to values")
    keys = option_keys(command)
    out: dict[str, Any] = {}
    for key, value in data.items():
        param = keys.get(str(key))
        if param is None or param.name == "config":
            valid = sorted(
                {o[2:] for p in keys.values() for o in p.opts if o.startswith("--") and p.name != "config"}
            )
            raise click.BadParameter(f"{path}: unknown key {key!r}; valid: {', '.join(valid)}")
        out[param.name] = _value(f"{path}: {key}", param, value)
    return out


def config_option(command_name: str = "rml-eval"):
    """The ``--config FILE`` option: read eagerly, before the other options take defaults."""

    def load(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value:
            ctx.default_map = {**(ctx.default_map or {}), **read(value, ctx.command)}

    return click.option(
        "--config",
        type=click.Path(dir_okay=False),
        is_eager=True,
        expose_value=False,
        callback=load,
        help=f"YAML file of {command_name}'s options (keys: the long option "
        "names); flags given on the command line override it.",
    )
