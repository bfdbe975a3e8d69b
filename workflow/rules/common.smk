# Shared by every stage: paths (built in one place: ecgcmr.paths), wildcard
# constraints, and the list of final targets each stage appends to.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))  # run from a checkout without install

from ecgcmr.paths import Paths

P = Paths(config["results_dir"])
SHARDS = list(range(config["ingest"]["n_shards"]))
ALL_TARGETS = []
EXCLUSION_TABLES = []  # every stage appends its exclusions CSVs; gathered last


wildcard_constraints:
    shard=r"\d+",
    seed=r"\d+",
    eid=r"[A-Za-z0-9]+",


def raw_ready(wildcards=None):
    """The synthetic cohort must exist before ingest; real UKB folders just are."""
    return [P.synth_done] if cfg("cohort", "synthetic") else []


def cfg(*keys):
    """A nested config value, e.g. cfg("ecg", "notch_hz")."""
    node = config
    for k in keys:
        node = node[k]
    return node
