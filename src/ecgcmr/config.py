"""The pipeline config for ``ecgcmr`` subcommands: read and validated with the same
schema (and the same Snakemake validator, which fills the schema's defaults) as the
workflow, so a command run by hand filters, reads and bounds exactly as the rule would.

A config path that does not exist, does not parse or breaks the schema is one
:class:`ConfigError` naming the file; there are no built-in fallbacks (the schema is
the one source of defaults).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
# the Snakefile's embedded default: a --configfile is merged over it key by key
EMBEDDED = ROOT / "config" / "config.yaml"


class ConfigError(Exception):
    """A config file a command cannot use (the message is the whole explanation)."""


def load_config(path: str | Path | None) -> dict:
    """The validated config of ``path`` as the workflow would see it given
    ``--configfile path``: merged key by key over the embedded config/config.yaml, then
    validated (defaults of the schema filled in)."""
    import yaml

    if path is None:
        raise ConfigError("no --config given: pass the pipeline config (e.g. --config config/config.yaml)")
    p = Path(path)
    if not p.is_file():
        where = "" if p.is_absolute() else f" (relative to the current directory {Path.cwd()})"
        raise ConfigError(f"config file {path} does not exist{where}")
    try:
        cfg = yaml.safe_load(p.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {path} is not valid YAML: {str(e).splitlines()[0]}") from e
    if not isinstance(cfg, dict):
        raise ConfigError(f"config file {path} holds no mapping of settings")
    if EMBEDDED.is_file() and p.resolve() != EMBEDDED:
        cfg = _merged(yaml.safe_load(EMBEDDED.read_text()), cfg)
    validate(cfg, str(path))
    return cfg


def _merged(base: dict, over: dict) -> dict:
    """``over`` merged into ``base`` recursively (as Snakemake's update_config)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def validate(cfg: dict, name: str = "config") -> dict:
    """Validate ``cfg`` in place against the workflow's schema (filling defaults)."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate as snakemake_validate

    if not SCHEMA.is_file():
        raise ConfigError(f"the config schema {SCHEMA} is missing: install ecgcmr from a checkout (pip install -e .)")
    try:
        snakemake_validate(cfg, str(SCHEMA))
    except WorkflowError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        reason = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("ValidationError")), lines[-1])
        where = next((ln.split("instance", 1)[1].rstrip(":") for ln in lines if ln.startswith("On instance")), "")
        raise ConfigError(f"config file {name} does not match {SCHEMA.name}: {reason}"
                          + (f" (at {where})" if where else "")) from e
    return cfg
