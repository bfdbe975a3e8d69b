"""Per-run pseudonyms: stable within a run, different between runs, and no eid left
in a pseudonymised table (not even inside a file name)."""

from __future__ import annotations

import pandas as pd

from ecgcmr.report.pseudonyms import Pseudonymiser, pseudonymised_exclusions, write_key, write_mapping


def test_pseudonyms_per_run_and_scrubbed_tables(tmp_path):
    write_key(tmp_path / "a.key")
    write_key(tmp_path / "b.key")
    a, b = Pseudonymiser(tmp_path / "a.key"), Pseudonymiser(tmp_path / "b.key")
    assert a("1000001") == a("1000001") != b("1000001")
    assert a("1000001").startswith("P-") and len(a("1000001")) == 12

    ex = pd.DataFrame({"eid": ["1000001", "1000002"], "stage": ["ingest_ecg", "crop"],
                       "reason": ["truncated_xml", "no_heart"],
                       "detail": ["1000001: ended early", "slice 3"],
                       "path": ["raw/ecg/1000001_20205_2_0.xml", "raw/cmr/1000002_20209_2_0.zip"]})
    ex.to_csv(tmp_path / "exclusions.csv", index=False)
    out = pseudonymised_exclusions(tmp_path / "a.key", tmp_path / "exclusions.csv", tmp_path / "ex_p.csv")
    text = (tmp_path / "ex_p.csv").read_text()
    assert "1000001" not in text and "1000002" not in text
    assert list(out.columns) == ["pseudonym", "stage", "reason", "detail", "path"]
    assert out["path"].iloc[0] == f"raw/ecg/{a('1000001')}_20205_2_0.xml"
    assert out["detail"].iloc[1] == "slice 3"   # numbers that are not eids stay

    pd.DataFrame({"eid": ["1000003", "1000001"]}).to_parquet(tmp_path / "splits.parquet")
    m = write_mapping(tmp_path / "a.key", tmp_path / "splits.parquet", tmp_path / "exclusions.csv",
                      tmp_path / "map.csv")
    assert list(m["eid"]) == ["1000001", "1000002", "1000003"]
    assert m.set_index("eid").loc["1000002", "pseudonym"] == a("1000002")
