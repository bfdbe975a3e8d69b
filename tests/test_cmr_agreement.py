"""seg_agreement: the segment stage's LV volumes against UK Biobank's own phenotypes
(targets.parquet) or the synthetic truth (latents.parquet): Bland-Altman statistics,
the report plot, and the optional segmentation_disagrees_with_ukb exclusion."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ecgcmr import exclusions
from ecgcmr.cmr.agreement import REASON, bland_altman, seg_agreement

LIMITS = {"exclude": False, "max_edv_diff_ml": 30.0, "max_esv_diff_ml": 30.0, "max_ef_diff": 10.0}


def _seg_shards(tmp_path, rows):
    paths = []
    for k, part in enumerate((rows[: len(rows) // 2], rows[len(rows) // 2:])):
        p = tmp_path / f"shard_{k}.parquet"
        pd.DataFrame(part, columns=["eid", "lvedv_ml", "lvesv_ml", "lvef"]).to_parquet(p)
        paths.append(str(p))
    return paths


def test_bland_altman_known_values():
    ref = np.array([100.0, 120.0, 140.0, 160.0, np.nan])
    ours = np.array([104.0, 122.0, 146.0, 160.0, 90.0])
    s = bland_altman(ours, ref)
    d = np.array([4.0, 2.0, 6.0, 0.0])
    assert s["n"] == 4 and s["bias"] == pytest.approx(3.0)
    assert s["upper"] - s["bias"] == pytest.approx(1.96 * d.std(ddof=1))
    assert s["r"] == pytest.approx(np.corrcoef(ours[:4], ref[:4])[0, 1])


@pytest.mark.parametrize("exclude", [False, True])
def test_against_ukb_fields_flags_and_optionally_excludes(tmp_path, exclude):
    # UKB: LVDV (24100), LVSV (24102) -> LVESV (24101) = LVDV - LVSV, LVEF (24103)
    pd.DataFrame({"eid": ["1", "2", "3", "4"], "LVDV": [150.0, 130.0, 160.0, 140.0],
                  "LVSV": [90.0, 80.0, 95.0, np.nan], "LVEF": [60.0, 61.5, 59.4, 55.0]}).to_parquet(tmp_path / "t.parquet")
    seg = _seg_shards(tmp_path, [("1", 155.0, 62.0, 60.0), ("2", 128.0, 49.0, 61.7), ("3", 210.0, 66.0, 68.6),
                                 ("9", 100.0, 40.0, 60.0)])
    out = {k: str(tmp_path / f"a.{k}") for k in ("csv", "json", "png", "ex.csv")}
    summary = seg_agreement(seg, str(tmp_path / "t.parquet"), "ukb", "localise", out["csv"], out["json"], out["png"],
                            out["ex.csv"], {**LIMITS, "exclude": exclude})
    table = pd.read_csv(out["csv"], dtype={"eid": str})
    assert sorted(table.eid) == ["1", "2", "3"]          # eid 9 has no reference
    assert table.set_index("eid").loc["1", "lvesv_ml_ref"] == 60.0
    assert table.set_index("eid").loc["3", "disagrees"] and not table.set_index("eid").loc["1", "disagrees"]
    assert summary["n_disagree"] == 1 and json.loads(open(out["json"]).read())["measures"]["lvedv_ml"]["n"] == 3
    assert summary["measures"]["lvedv_ml"]["bias"] == pytest.approx((5 - 2 + 50) / 3)
    ex = exclusions.read(out["ex.csv"])
    if exclude:
        assert ex.eid.tolist() == ["3"] and ex.reason.tolist() == [REASON] and "LVEDV +50.0 mL" in ex.detail[0]
    else:
        assert ex.empty
    assert (tmp_path / "a.png").stat().st_size > 10_000


def test_against_the_synthetic_truth(tmp_path):
    pd.DataFrame({"eid": [1, 2, 3], "LVDV": [150.0, 130.0, 160.0], "LVESV": [60.0, 50.0, 65.0],
                  "LVEF": [60.0, 61.5, 59.4]}).to_parquet(tmp_path / "latents.parquet")
    seg = _seg_shards(tmp_path, [("1", 150.0, 60.0, 60.0), ("2", 132.0, 51.0, 61.4), ("3", 158.0, 66.0, 58.2)])
    s = seg_agreement(seg, str(tmp_path / "latents.parquet"), "truth", "unet", *(str(tmp_path / f"a.{k}") for k in
                      ("csv", "json", "png", "ex.csv")), LIMITS)
    assert s["reference"] == "the synthetic generator's truth" and s["n_compared"] == 3 and s["n_disagree"] == 0
    assert s["measures"]["lvedv_ml"]["r"] > 0.9


def test_a_table_without_a_field_compares_the_others(tmp_path):
    pd.DataFrame({"eid": ["1", "2", "3"], "LVDV": [150.0, 130.0, 160.0],
                  "LVEF": [60.0, 61.5, 59.4]}).to_parquet(tmp_path / "t.parquet")   # no LVSV (24102)
    seg = _seg_shards(tmp_path, [("1", 150.0, 60.0, 60.0), ("2", 132.0, 51.0, 61.4), ("3", 158.0, 66.0, 58.2)])
    s = seg_agreement(seg, str(tmp_path / "t.parquet"), "ukb", "unet", *(str(tmp_path / f"a.{k}") for k in
                      ("csv", "json", "png", "ex.csv")), {**LIMITS, "exclude": True})
    assert s["measures"]["lvedv_ml"]["n"] == 3 and s["measures"]["lvesv_ml"]["n"] == 0
    assert s["measures"]["lvesv_ml"]["bias"] is None and s["n_disagree"] == 0
