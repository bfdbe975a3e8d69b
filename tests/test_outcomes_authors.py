"""config/outcomes-authors.yaml: the authors' ICD-10 lists as an overlay over a config,
merged key by key as Snakemake merges --configfile files."""

from pathlib import Path

import pandas as pd
import yaml

from ecgcmr.config import merged, validate
from ecgcmr.outcomes import outcome_labels
from ecgcmr.phenotypes import OUTCOMES

ROOT = Path(__file__).resolve().parents[1]


def _cfg(*names):
    cfg = {}
    for n in names:
        cfg = merged(cfg, yaml.safe_load((ROOT / "config" / n).read_text()))
    return validate(cfg)


def test_overlay_replaces_four_lists_and_keeps_the_rest():
    ours, theirs = _cfg("config.yaml", "ukb.yaml"), _cfg("config.yaml", "ukb.yaml", "outcomes-authors.yaml")
    assert set(theirs["outcomes"]) == set(OUTCOMES)
    assert {k for k in OUTCOMES if theirs["outcomes"][k] != ours["outcomes"][k]} == {"MI", "SCD", "HF", "CMP"}
    assert theirs["outcomes"]["MI"] == ["I25"] and theirs["outcomes"]["CMP"] == ["I42"]
    assert {k: v for k, v in theirs.items() if k != "outcomes"} == {k: v for k, v in ours.items() if k != "outcomes"}


def test_the_two_definitions_label_differently():
    diagnoses = pd.DataFrame({"eid": ["1", "2", "3", "4"], "icd10": ["I251", "I219", "I110", "I43"]})
    eids = pd.Series(["1", "2", "3", "4", "5"])
    ours = outcome_labels(diagnoses, eids, _cfg("config.yaml", "ukb.yaml")["outcomes"]).set_index("eid")
    theirs = outcome_labels(diagnoses, eids, _cfg("config.yaml", "ukb.yaml", "outcomes-authors.yaml")["outcomes"]).set_index("eid")
    # chronic IHD (I25.1) is MI for the authors, acute MI (I21.9) only for us
    assert (ours.loc["1", "MI"], theirs.loc["1", "MI"]) == (0, 1)
    assert (ours.loc["2", "MI"], theirs.loc["2", "MI"]) == (1, 0)
    # hypertensive heart disease with HF (I11.0) is HF for us only; I43 is CMP for us only
    assert (ours.loc["3", "HF"], theirs.loc["3", "HF"]) == (1, 0)
    assert (ours.loc["4", "CMP"], theirs.loc["4", "CMP"]) == (1, 0)
    assert (ours.loc["5"] == 0).all() and (theirs.loc["5"] == 0).all()
