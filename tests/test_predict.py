"""`ecgcmr predict` on real public ECG files, with a small hand-built run directory
(a tiny ViT MAE encoder, norm stats, probes trained on its embedding width)."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest_inference import ECG_PARAMS, build_run
from shared_data import SHARED_DATA
from ecgcmr.cli import main
from ecgcmr.inference.manifest import write_manifest
from ecgcmr.inference.predict import outcome_column, phenotype_column, predict_files
from ecgcmr.phenotypes import OUTCOMES, PHENOTYPES

DATA = SHARED_DATA
PTBXL = sorted(str(p.with_suffix("")) for p in (DATA / "wfdb_ptbxl").glob("*.hea"))
CARDIOSOFT = DATA / "cardiosoft_xml" / "ukbb_scrubbed.xml"
MUSE = DATA / "other_vendor_xml" / "muse_ecg_deidentified_1.xml"

pytestmark = pytest.mark.skipif(not CARDIOSOFT.exists(), reason="shared real ECG files absent")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run directory laid out like {results}: encoder, norm stats, probes, manifest."""
    return build_run(tmp_path_factory.mktemp("run"))


def test_manifest_paths_are_relative(run_dir):
    m = json.loads((run_dir / "inference" / "manifest.json").read_text())
    assert m["encoder"] == "models/align_dual_phase/ecg_encoder.pt"
    assert m["probes"]["LVEF"] == ["probes/dual_phase/LVEF/seed0.pt", "probes/dual_phase/LVEF/seed1.pt"]
    with pytest.raises(ValueError, match="inference/manifest.json"):   # predict would not find it
        write_manifest(run_dir / "manifest.json", "dual_phase", run_dir / "x.pt", run_dir / "n.json", {}, [])


def test_predict_real_records_and_two_lead_error(run_dir):
    inputs = [*PTBXL, str(DATA / "wfdb" / "s0010_re.hea"), str(CARDIOSOFT), str(MUSE), str(DATA / "wfdb" / "100")]
    df = predict_files(inputs, run_dir)
    assert len(df) == len(inputs)
    ok = df[df["status"] == "ok"]
    assert list(ok["eid"]) == ["HR06000", "HR06001", "HR06002", "s0010_re", "ukbb_scrubbed",
                               "muse_ecg_deidentified_1"]
    for t in ["LVEF", "LVDV"]:
        v = ok[phenotype_column(t)]
        assert v.notna().all() and np.isfinite(v).all()
    p = ok[outcome_column("HF")]
    assert ((p > 0) & (p < 1)).all()
    assert ok[outcome_column("SCD")].isna().all()          # untrainable probe: reported empty
    assert phenotype_column("LVCO") == "LVCO [L/min]"
    assert set(df.columns) >= {phenotype_column(t) for t in PHENOTYPES} | {outcome_column(t) for t in OUTCOMES}
    bad = df[df["status"] == "error"].iloc[0]
    assert bad["reason"] == "not_12_lead" and "100" in bad["detail"]


def test_predict_is_the_cached_pipeline(run_dir):
    """predict's normalised input = ingest's filter + cache dtype + cache normalisation."""
    from ecgcmr.ecg.cache import EcgCache, gather_ecg_index
    from ecgcmr.ecg.ingest import ingest_wfdb
    from ecgcmr.inference.predict import Predictor
    from ecgcmr.io.wfdb_records import read_wfdb_record

    shard = run_dir / "cache" / "shard_0.parquet"
    ingest_wfdb(PTBXL[:1], shard, run_dir / "cache" / "ex.csv", ECG_PARAMS)
    gather_ecg_index([shard], run_dir / "cache" / "index.parquet", run_dir / "cache" / "index_ex.csv")
    cached = EcgCache(run_dir / "cache" / "index.parquet", run_dir / "ecg" / "norm_stats.json").get(["HR06000"])
    pred = Predictor(run_dir)
    mine = pred.normalised([read_wfdb_record(PTBXL[0])])
    np.testing.assert_allclose(mine, cached, atol=1e-5)


def test_cli_csv_json_and_exit_codes(run_dir, tmp_path, capsys):
    out = tmp_path / "p.json"
    assert main(["predict", "--run", str(run_dir), "--format", "json", "-o", str(out), PTBXL[0]]) == 0
    obj = json.loads(out.read_text())
    assert obj[0]["phenotypes"]["LVEF"]["unit"] == "%" and obj[0]["outcome_probabilities"]["SCD"] is None
    assert main(["predict", "--run", str(run_dir), str(DATA / "wfdb" / "100")]) == 1
    err = capsys.readouterr().err
    assert "100" in err and "not_12_lead" in err
    assert main(["predict", "--run", str(tmp_path / "nope"), PTBXL[0]]) == 2
    assert "missing_manifest" in capsys.readouterr().err
    csv = tmp_path / "p.csv"
    assert main(["predict", "--run", str(run_dir), "-o", str(csv), str(DATA / "wfdb_ptbxl"),
                 str(tmp_path / "missing.xml")]) == 0
    df = pd.read_csv(csv)
    assert len(df) == 4 and (df["status"] == "error").sum() == 1
