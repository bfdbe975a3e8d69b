"""``ecgcmr`` command line: each subcommand is one library function.

Subcommands are a table of (module, function). Only the module of the subcommand
being run is imported (``ecgcmr --help`` imports none: torch and MONAI take seconds),
and a module that fails to import breaks only its own subcommand.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, function that takes the parsed args, help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "synth": ("ecgcmr.synth.cohort", "cli", "write a synthetic UK Biobank cohort"),
    "bulk-index": ("ecgcmr.bulk", "cli", "index bulk folders (flat or nested): files ingest uses, why not others"),
    "ingest-ecg": ("ecgcmr.ecg.ingest", "cli", "CardioSoft / MUSE XML or WFDB records -> ECG parquet cache"),
    "ingest-cmr": ("ecgcmr.cmr.ingest", "cli", "UKB short-axis zips -> NIfTI cines"),
    "ingest-tables": ("ecgcmr.targets", "cli", "phenotype and diagnosis tables -> targets table"),
    "splits": ("ecgcmr.splits", "cli", "subject-level train/val/test splits"),
    "predict": ("ecgcmr.inference.predict", "cli", "ECG-only phenotypes and risks"),
    "embed": ("ecgcmr.inference.embed", "cli", "ECG files -> encoder embeddings (parquet)"),
    "export": ("ecgcmr.inference.export", "cli", "the run's ECG encoder as TorchScript, ONNX or safetensors + model card"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ecgcmr", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    argv = sys.argv[1:] if argv is None else list(argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module, func, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_)
        p.set_defaults(_target=(module, func))
        if name == chosen:  # the only module imported: its arguments, then its function
            try:
                loaded = importlib.import_module(module)
            except ImportError as e:
                parser.exit(2, f"ecgcmr {name}: unavailable ({type(e).__name__}: {e})\n")
            if hasattr(loaded, "add_arguments"):
                loaded.add_arguments(p)
    args = parser.parse_args(argv)
    module, func = args._target
    try:
        return int(getattr(importlib.import_module(module), func)(args) or 0)
    except Exception as e:
        # (the error types are imported only now: --help must import nothing heavy)
        if not isinstance(e, _user_errors()):
            raise
        # a wrong command line or a missing/invalid input is the user's to fix: one line
        # naming the file and the reason, not a traceback
        print(f"ecgcmr {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 2


def _user_errors() -> tuple[type[BaseException], ...]:
    from .config import ConfigError
    from .errors import InputError

    return (ConfigError, InputError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and e.filename is not None:
        return f"{e.filename}: {e.strerror}"
    return " ".join(str(e).split())


if __name__ == "__main__":
    sys.exit(main())
