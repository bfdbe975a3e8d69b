"""Every `snakemake ...` command the README, docs and config comments show is parsed
by Snakemake's own argument parser, as a user's shell would pass it: it must parse, and
its --configfile values must be config files and a target it names must stay a target.
(`--configfile my.yaml all` reads `all` as a second config file, `--forcerun align all`
forces `all` too: the target belongs before such options.)"""

import re
import shlex
from pathlib import Path

import pytest
from snakemake.cli import get_argument_parser

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "config").glob("*.yaml")),
        *sorted((REPO / "profiles").glob("*/config.yaml"))]
# from "snakemake " up to the end of an inline-code span, a pipe, a comment, a "(" or the line
COMMAND = re.compile(r"(?<![\w/-])snakemake (?:[^`|#(\n])*")


def documented_commands() -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for m in COMMAND.finditer(line):
                cmd = m.group(0).strip().rstrip(".,;:)")
                if "--" in cmd or cmd.count(" ") > 1:   # prose such as "snakemake runs it" is not a command
                    found.append((f"{path.relative_to(REPO)}:{n}", cmd))
    return found


COMMANDS = documented_commands()


def test_the_docs_show_commands():
    assert len(COMMANDS) >= 10, COMMANDS


@pytest.mark.parametrize("where, command", COMMANDS, ids=[w for w, _ in COMMANDS])
def test_documented_snakemake_command_parses(where, command):
    try:
        args = get_argument_parser().parse_args(shlex.split(command)[1:])
    except SystemExit:
        pytest.fail(f"{where}: Snakemake rejects `{command}`")
    bad = [str(c) for c in args.configfile or [] if Path(c).suffix not in (".yaml", ".yml", ".json")]
    assert not bad, f"{where}: `{command}` reads {bad} as config file(s): put targets before --configfile"
    swallowed = [r for r in args.forcerun or [] if "/" in r]   # a path is a target, not a rule
    assert not swallowed, f"{where}: --forcerun in `{command}` takes the target(s) {swallowed} as rules"
    if "all" in shlex.split(command):
        assert "all" in (args.targets or []), f"{where}: an option of `{command}` swallows the target `all`"
