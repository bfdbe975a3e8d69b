"""The ECG ingest's fast paths stay equal to the slow ones they replaced (issue 15)."""

from __future__ import annotations

import subprocess
import sys

from ecgcmr.exclusions import COLUMNS, Exclusion, to_frame, write


def test_ingest_import_pulls_in_neither_torch_nor_pandas():
    # torch alone was ~2 CPU-s and ~200 MB of every ingest process's start
    code = ("import sys, ecgcmr.ecg.ingest, ecgcmr.ecg.cache; "
            "print(sorted(m for m in ('torch', 'pandas', 'wfdb', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_ecg_dataset_is_still_a_torch_dataset():
    import torch.utils.data

    from ecgcmr.ecg.cache import EcgDataset

    assert issubclass(EcgDataset, torch.utils.data.Dataset)
    assert EcgDataset.__module__ == "ecgcmr.ecg.cache"


def test_exclusions_csv_is_byte_identical_to_pandas(tmp_path):
    rows = [Exclusion("1", "ingest_ecg", "not_xml", 'bad "quote", comma\nnewline', "/a b/c.xml"),
            Exclusion("2", "ingest_ecg", "flat_lead", "", ""), Exclusion("3", "s", "r", "ü ✓", "p")]
    for case in (rows, []):
        write(case, tmp_path / "new.csv")
        to_frame(case).to_csv(tmp_path / "pandas.csv", index=False)
        assert (tmp_path / "new.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    assert list(to_frame(rows).columns) == COLUMNS
