"""The schema is the one home of defaults: where a library function keeps a default
for a config key (so it can be called from tests and notebooks), it is the schema's."""

import dataclasses
import inspect

import pytest
import yaml

from ecgcmr.cmr.localise import LocaliserParams
from ecgcmr.cmr.phases import CurveRules
from ecgcmr.config import SCHEMA
from ecgcmr.evaluate.probe import ProbeConfig
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


@pytest.mark.parametrize("cls, section", [(LocaliserParams, "segmentation.localise"),
                                          (CurveRules, "segmentation.qc"), (ProbeConfig, "evaluate.probe")],
                         ids=lambda x: getattr(x, "__name__", x))
def test_a_config_dataclass_defaults_to_its_schema_section(cls, section):
    # each field is a key of its section with the schema's default (the QC curve rules
    # once had their values only here and in the demo config)
    node = {"properties": PROPERTIES}
    for key in section.split("."):
        node = node["properties"][key]
    schema = node["properties"]
    fields = {f.name: f.default for f in dataclasses.fields(cls)}
    assert set(fields) == set(schema), (set(fields) ^ set(schema))
    wrong = {k: (d, schema[k].get("default", "no default"))
             for k, d in fields.items() if (list(d) if isinstance(d, tuple) else d) != schema[k].get("default")}
    assert wrong == {}


def test_every_trainer_field_is_a_param_or_a_runtime_setting():
    # a TrainConfig field in neither list would never reach a trainer from the config
    from ecgcmr.config import TRAINER_KEYS, TRAINER_RUNTIME_KEYS
    from ecgcmr.train.loop import TrainConfig
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert not set(TRAINER_KEYS) & set(TRAINER_RUNTIME_KEYS)
    assert set(TRAINER_KEYS) | set(TRAINER_RUNTIME_KEYS) | {"drop_last"} == fields
