"""`ecgcmr embed` on the real public ECG files: one row per record in every supported
format, the run's embedding for each readable record (equal to predict's), an error
row for the unreadable one."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from conftest_inference import DIM, build_run
from shared_data import SHARED_DATA, require
from ecgcmr.cli import main
from ecgcmr.inference.predict import Predictor

DATA = SHARED_DATA


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return build_run(tmp_path_factory.mktemp("run"))


def test_embed_real_files_one_row_per_record(run_dir, tmp_path):
    inputs = [str(require(DATA / "wfdb_ptbxl")), str(DATA / "wfdb" / "s0010_re.hea"),
              str(DATA / "cardiosoft_xml" / "ukbb_scrubbed.xml"),
              str(DATA / "other_vendor_xml" / "muse_ecg_deidentified_1.xml"), str(DATA / "wfdb" / "100")]
    out = tmp_path / "embeddings.parquet"
    assert main(["embed", "--run", str(run_dir), *inputs, "--out", str(out)]) == 0
    df = pq.read_table(out).to_pandas()
    assert len(df) == 7   # 3 PTB-XL + PTB + CardioSoft + MUSE + the 2-lead MIT-BIH record
    assert list(df["eid"]) == ["HR06000", "HR06001", "HR06002", "s0010_re", "ukbb_scrubbed",
                               "muse_ecg_deidentified_1", "100"]
    good = df[df["status"] != "error"]
    assert len(good) == 6 and all(len(e) == DIM and np.isfinite(e).all() for e in good["embedding"])
    bad = df[df["status"] == "error"].iloc[0]
    assert bad["reason"] == "not_12_lead" and bad["embedding"] is None
    assert (good["heart_rate_bpm"] > 30).all() and (good["amplitude_mv"] > 0).all()

    # the same numbers predict's encoder sees
    pred = Predictor(run_dir)
    rec = pred.read("xml", inputs[2])
    with torch.no_grad():
        want = pred.embed(pred.normalised([rec]))[0]
    np.testing.assert_allclose(good.iloc[4]["embedding"], want, atol=1e-6)


def test_readme_python_example_runs(run_dir):
    """The README's Python API example, on the hand-built run and the real files."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "Predictor" in b)
    code = (block.replace('"results/demo"', repr(str(run_dir)))
            .replace('"ecgs/"', repr(str(DATA / "wfdb_ptbxl")))
            .replace('"ecgs/1234567_20205_2_0.xml"', repr(str(DATA / "cardiosoft_xml" / "ukbb_scrubbed.xml"))))
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert len(scope["table"]) == 3 and scope["z"].shape == (1, DIM)
