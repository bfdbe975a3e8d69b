"""docs/ukb-data.md holds the field list generated from the config (so it cannot
drift), and each example header of docs/ukb-fields.md is read as the form it shows."""

import re

import pytest

from ecgcmr import field_list
from ecgcmr.io.ukb_tables import MainTables

DOC = field_list.REPO / "docs" / "ukb-data.md"


def test_ukb_data_doc_has_the_current_field_list():
    doc = DOC.read_text()
    assert field_list.block(field_list.default_config()) in doc, (
        "docs/ukb-data.md is stale: python -m ecgcmr.field_list --write docs/ukb-data.md")


def test_field_list_follows_the_config():
    cfg = field_list.default_config()
    cfg["phenotype_fields"]["LVEF"] = 22420
    cfg["outcome_fields"]["death_secondary"] = None
    text = field_list.table(cfg)
    assert "`p22420_i2`" in text and "`24103-2.0`" not in text and "40002" not in text
    assert field_list.block(cfg) not in DOC.read_text()
    assert field_list.refresh(DOC.read_text(), cfg).count(field_list.BEGIN) == 1


def _examples() -> list[str]:
    text = (field_list.REPO / "docs" / "ukb-fields.md").read_text()
    return re.findall(r"```text\n(.*?)\n```", text, re.S)


@pytest.mark.parametrize("header", _examples(), ids=["ukbconv", "rap", "dx_extract"])
def test_each_documented_header_is_read_as_its_form(tmp_path, header, repo_root):
    import yaml

    cfg = yaml.safe_load((repo_root / "config" / "config.yaml").read_text())
    names = header.split("\t" if "\t" in header else ",")
    path = tmp_path / "t.txt"
    path.write_text(header + "\n" + ("\t" if "\t" in header else ",").join(["1000010"] + ["1"] * (len(names) - 1)))
    tables = MainTables(path)
    assert tables.has((31, 0, 0)) and tables.has((24100, 2, 0)) and tables.has((21003, 2, 0))
    assert tables.arrays(41280) and tables.arrays(41270)
    raw, problems, _ = tables.read([(31, 0, 0), (24100, 2, 0)])
    assert raw["eid"].tolist() == ["1000010"] and problems == []
