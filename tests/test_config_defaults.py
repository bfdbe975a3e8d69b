"""The schema is the one home of defaults: where a library function keeps a default
for a config key (so it can be called from tests and notebooks), it is the schema's."""

import inspect

import yaml

from ecgcmr.config import SCHEMA
from ecgcmr.ecg.preprocess import filter_ecg
from ecgcmr.train.align import align
from ecgcmr.train.pretrain_ecg import pretrain_ecg

PROPERTIES = yaml.safe_load(SCHEMA.read_text())["properties"]


def _disagreements(function, section: str) -> dict:
    schema = PROPERTIES[section]["properties"]
    out = {}
    for name, p in inspect.signature(function).parameters.items():
        if p.default is not inspect.Parameter.empty and "default" in schema.get(name, {}):
            # None for "no setting" in Python is the schema's empty object ({}: augment off)
            if (p.default if p.default is not None else {}) != schema[name]["default"]:
                out[name] = (p.default, schema[name]["default"])
    return out


def test_alignment_defaults_are_the_schemas():
    # embed_batch_size was 32 here and 16 in the schema
    assert _disagreements(align, "align") == {}


def test_mae_loss_defaults_are_the_schemas():
    # the paper's masked-patch MSE unless the config asks for the authors' loss
    assert _disagreements(pretrain_ecg, "pretrain_ecg") == {}
    assert PROPERTIES["pretrain_ecg"]["properties"]["loss"]["default"] == "masked"


def test_ecg_filter_defaults_are_the_schemas():
    # the notch: 50 Hz (UK mains) in the schema, so in filter_ecg too
    assert _disagreements(filter_ecg, "ecg") == {}
    assert PROPERTIES["ecg"]["properties"]["notch_hz"]["default"] == 50


def test_a_schema_default_is_not_dead_behind_required():
    # a required key's default never applies (align.temperature had both)
    dead = []

    def walk(node, where):
        if not isinstance(node, dict):
            return
        for name, sub in (node.get("properties") or {}).items():
            if isinstance(sub, dict) and "default" in sub and name in node.get("required", []):
                dead.append(f"{where}.{name}")
            walk(sub, f"{where}.{name}")
        walk(node.get("additionalProperties"), f"{where}.*")
    walk(yaml.safe_load(SCHEMA.read_text()), "config")
    assert dead == []
