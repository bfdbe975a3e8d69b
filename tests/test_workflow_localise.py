"""The localiser path of the real workflow: the tiny run's raw cohort and ingested
cines, re-run from `segment` on with `segmentation.method: localise` (the default for
real data without weights or labels), through `crop` and `seg_agreement`."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from conftest_workflow import TINY, TINY_RESULTS, planned_jobs, snakemake, tiny_run  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_run")]


def test_localiser_path_segments_crops_and_reports_agreement(tiny_run, tmp_path):  # noqa: F811
    work = tmp_path / "localise"
    for part in ("raw", "cmr/nifti", "cmr/index.parquet"):  # copy2 keeps mtimes: ingest is not redone
        src, dst = tiny_run / TINY_RESULTS / part, work / TINY_RESULTS / part
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
    conf = tmp_path / "localise.yaml"
    conf.write_text("segmentation:\n  method: localise\n")
    targets = [f"{TINY_RESULTS}/cmr/crops.parquet", f"{TINY_RESULTS}/cmr/seg/agreement.png"]
    dry = snakemake(work, "-n", "--cores", "1", *targets, configfiles=(TINY, conf))
    jobs = planned_jobs(dry.stdout)
    assert jobs["segment"] == 2 and jobs["seg_agreement"] == 1 and "train_segmenter" not in jobs
    assert not {"ingest_cmr", "synth_cohort"} & set(jobs), jobs
    snakemake(work, "--cores", "2", *targets, configfiles=(TINY, conf))

    res = work / TINY_RESULTS
    log = (res / "logs" / "segment_0.log").read_text()
    assert "training-free localiser" in log
    index = pd.read_parquet(res / "cmr" / "index.parquet")
    seg = pd.concat([pd.read_parquet(res / "cmr" / "seg" / f"shard_{k}.parquet") for k in (0, 1)])
    crops = pd.read_parquet(res / "cmr" / "crops.parquet")
    ex = pd.concat([pd.read_csv(res / "cmr" / "seg" / f"shard_{k}.exclusions.csv") for k in (0, 1)])
    # at the tiny cohort's 6 mm pixels a few ES blood pools shrink to a handful of
    # pixels (LVEF > 90 %): excluded with that reason, never dropped
    assert len(seg) + len(ex) == len(index) and len(seg) >= 0.8 * len(index)
    assert set(ex.reason) <= {"ef_out_of_range", "no_heart_found", "flat_curve", "several_candidates",
                              "no_moving_region"}, ex
    assert len(crops) == len(seg)
    truth = pd.read_parquet(res / "raw" / "truth" / "latents.parquet").astype({"eid": str}).set_index("eid")
    n_frames = int(index.nt.iloc[0])
    err = [min(abs(int(r.es_frame) - int(truth.loc[str(r.eid), "es_frame"])),
               n_frames - abs(int(r.es_frame) - int(truth.loc[str(r.eid), "es_frame"]))) for r in seg.itertuples()]
    assert sum(e <= 2 for e in err) >= 0.9 * len(seg), err
    summary = json.loads((res / "cmr" / "seg" / "agreement.json").read_text())
    assert summary["method"] == "localise" and summary["n_compared"] == len(seg)
    assert summary["reference"] == "the synthetic generator's truth"
    assert (res / "cmr" / "seg" / "agreement.png").stat().st_size > 10_000
