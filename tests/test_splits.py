"""Subject-level splits: proportions, determinism, and no leakage of paired val/test."""

import numpy as np
import pandas as pd
import pytest

from ecgcmr.splits import eids_of, make_splits, subjects


def _ids(a, b):
    return [str(i) for i in range(a, b)]


def test_no_paired_val_or_test_subject_in_any_training_split():
    ecg, cmr = _ids(0, 1000), _ids(400, 1100)  # 600 paired, 400 ECG-only, 100 CMR-only
    df = make_splits(ecg, cmr, _ids(0, 1100), [0.7, 0.15, 0.15], [0.8, 0.1, 0.1], seed=1)
    held_out = set(df.loc[df.paired_split.isin(["val", "test"]), "eid"])
    trained_on = set(df.loc[(df.pretrain == "train") | (df.paired_split == "train"), "eid"])
    assert held_out and not held_out & trained_on
    paired = df[df.paired]
    assert (paired.pretrain == paired.paired_split).all()
    assert len(paired) == 600
    frac = paired.paired_split.value_counts(normalize=True)
    np.testing.assert_allclose([frac["train"], frac["val"], frac["test"]], [0.7, 0.15, 0.15], atol=0.01)
    cmr_only = df[~df.has_ecg]
    assert (cmr_only.pretrain == "").all() and (cmr_only.paired_split == "").all()


def test_splits_are_deterministic_and_independent_of_input_order():
    ecg, cmr = _ids(0, 300), _ids(100, 300)
    a = make_splits(ecg, cmr, ecg, [0.7, 0.15, 0.15], [0.8, 0.1, 0.1], seed=7)
    b = make_splits(ecg[::-1], cmr[::-1], ecg, [0.7, 0.15, 0.15], [0.8, 0.1, 0.1], seed=7)
    c = make_splits(ecg, cmr, ecg, [0.7, 0.15, 0.15], [0.8, 0.1, 0.1], seed=8)
    assert a.equals(b)
    assert not a.equals(c)


def test_subject_without_targets_is_not_paired():
    df = make_splits(["1", "2"], ["1", "2"], ["1"], [1, 0, 0], [1, 0, 0], seed=0)
    assert df.set_index("eid").loc["2", "paired"] == False  # noqa: E712
    assert df.set_index("eid").loc["2", "pretrain"] == "train"


def test_subjects_is_the_one_split_query(tmp_path):
    """Every stage asks "eids of split X (paired or pretraining) that have Y" through
    ``subjects``; it reads the table or its parquet and filters by what a stage holds."""
    ecg, cmr = _ids(0, 200), _ids(100, 250)
    df = make_splits(ecg, cmr, _ids(0, 250), [0.6, 0.2, 0.2], [0.8, 0.1, 0.1], seed=3)
    df.to_parquet(tmp_path / "splits.parquet", index=False)
    for of, col in (("paired", "paired_split"), ("pretrain", "pretrain")):
        for split in ("train", "val", "test"):
            want = sorted(df.loc[df[col] == split, "eid"])
            assert subjects(df, split, of=of) == want
            assert subjects(tmp_path / "splits.parquet", split, of=of) == want
    pd.DataFrame({"eid": _ids(120, 160)}).to_parquet(tmp_path / "crops.parquet")
    pd.DataFrame({"eid": _ids(140, 400)}).to_parquet(tmp_path / "ecg.parquet")
    have = eids_of(tmp_path / "crops.parquet", tmp_path / "ecg.parquet")
    assert have == set(_ids(140, 160))
    val = subjects(df, "val", having=have)
    assert val and set(val) <= have and set(val) <= set(df.loc[df.paired_split == "val", "eid"])
    with pytest.raises(ValueError, match="of must be one of"):
        subjects(df, "train", of="cmr")
    with pytest.raises(ValueError, match="split must be one of"):
        subjects(df, "training")


def test_labelled_ecg_only_subjects_are_table1_test_subjects_and_never_trained_on():
    """splits.labelled_ecg_test: ECG + phenotypes, no CMR -> paired_split and pretrain
    both test, not paired; off, the same subjects are ordinary ECG-only pretraining
    subjects and the paired splits are the same either way."""
    ecg = [str(i) for i in range(100)]
    cmr = ecg[:40]
    tgt = ecg                      # everyone is in the main table (age, sex) ...
    labelled = ecg[:70]            # ... but only these have phenotypes
    on = make_splits(ecg, cmr, tgt, [0.7, 0.15, 0.15], [0.75, 0.125, 0.125], 0, labelled_eids=labelled)
    off = make_splits(ecg, cmr, tgt, [0.7, 0.15, 0.15], [0.75, 0.125, 0.125], 0)
    extra = on[on.eid.isin(ecg[40:70])]
    assert (extra.paired_split == "test").all() and (extra.pretrain == "test").all()
    assert not extra.paired.any()
    assert (off.loc[off.eid.isin(ecg[40:70]), "paired_split"] == "").all()
    both = on.merge(off, on="eid", suffixes=("_on", "_off"))
    pairs = both[both.paired_on]
    assert (pairs.paired_split_on == pairs.paired_split_off).all()
    # the unlabelled ECG-only subjects are still split for pretraining
    rest = on[on.eid.isin(ecg[70:])]
    assert set(rest.pretrain) == {"train", "val", "test"} and (rest.paired_split == "").all()
