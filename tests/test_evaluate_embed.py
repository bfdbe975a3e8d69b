"""Embedding a cohort from the real ECG cache format with a saved encoder."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from shared_data import SHARED_DATA, require

from ecgcmr.evaluate.embed import embed_cohort, read_embeddings, select_subjects, write_embeddings
from ecgcmr.models import load_ecg_encoder, save_ecg_encoder
from ecgcmr.models.vit_mae import EcgMAE

PTBXL = sorted((SHARED_DATA / "wfdb_ptbxl").glob("*.hea"))


def test_embeddings_roundtrip(tmp_path):
    x = np.random.default_rng(0).standard_normal((5, 7)).astype(np.float32)
    write_embeddings(list("abcde"), x, tmp_path / "e.parquet")
    eids, y = read_embeddings(tmp_path / "e.parquet")
    assert eids == list("abcde") and np.array_equal(x, y)
    with pytest.raises(ValueError):
        write_embeddings(["a"], x, tmp_path / "bad.parquet")


def test_select_subjects():
    splits = pd.DataFrame({"eid": ["3", "1", "2", "4"], "has_ecg": [True, True, True, False],
                           "paired_split": ["train", "", "test", ""], "pretrain": ["train", "val", "test", ""]})
    assert select_subjects(splits, "paired") == ["2", "3"]
    assert select_subjects(splits, "ecg") == ["1", "2", "3"]


def test_embed_cohort_from_cache(tmp_path):
    from ecgcmr.ecg.cache import gather_ecg_index
    from ecgcmr.ecg.ingest import ingest_wfdb

    require(SHARED_DATA / "wfdb_ptbxl")
    assert len(PTBXL) >= 3, "the test needs three PTB-XL records in shared/data/wfdb_ptbxl"
    torch.set_num_threads(1)
    from ecgcmr.config import EMBEDDED, load_config

    params = load_config(EMBEDDED)["ecg"]   # the pipeline's own filter settings (no library defaults)
    shard = tmp_path / "ecg" / "shards" / "shard_0.parquet"
    ingest_wfdb([str(p) for p in PTBXL], shard, tmp_path / "ex.csv", params)
    gather_ecg_index([shard], tmp_path / "ecg" / "index.parquet", tmp_path / "ex2.csv")
    (tmp_path / "norm.json").write_text(json.dumps({"mean": [0.0] * 12, "std": [0.3] * 12}))
    eids = [p.stem for p in PTBXL]
    pd.DataFrame({"eid": eids, "has_ecg": True, "paired_split": ["train", "", "test"],
                  "pretrain": ["train", "val", "test"]}).to_parquet(tmp_path / "splits.parquet")
    torch.manual_seed(0)
    save_ecg_encoder(EcgMAE(embed_dim=16, depth=1, num_heads=2, decoder=False), tmp_path / "enc.pt")

    n = embed_cohort(tmp_path / "enc.pt", tmp_path / "ecg" / "index.parquet", tmp_path / "norm.json",
                     tmp_path / "splits.parquet", tmp_path / "emb.parquet", subjects="paired", batch_size=1,
                     device="cpu")
    got_eids, z = read_embeddings(tmp_path / "emb.parquet")
    assert n == 2 and got_eids == [eids[0], eids[2]] and z.shape == (2, 16) and np.isfinite(z).all()

    # the same as embedding the cache's normalised signals directly, in one batch
    from ecgcmr.ecg.cache import EcgCache
    x = EcgCache(tmp_path / "ecg" / "index.parquet", tmp_path / "norm.json").get(got_eids)
    with torch.no_grad():
        ref = load_ecg_encoder(tmp_path / "enc.pt").embed(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(z, ref, atol=1e-5)


def test_load_heads_reads_the_alignment_format(tmp_path):
    """heads.pt as ecgcmr.train.align writes it -> the same projections."""
    from torch import nn

    from ecgcmr.models.heads import load_heads
    from ecgcmr.models.heads import ProjectionHead

    torch.manual_seed(0)
    heads = nn.ModuleDict({"ecg": ProjectionHead(16, 8, 4), "ed": ProjectionHead(32, 8, 4)}).eval()
    torch.save({"kind": "align_heads", "variant": "3d_ed", "pairs": [["ecg", "ed"]], "weights": [1.0],
                "hidden_dim": 8, "out_dim": 4, "in_dims": {"ecg": 16, "ed": 32},
                "log_logit_scale": torch.tensor(2.0), "state_dict": heads.state_dict()}, tmp_path / "heads.pt")
    loaded = load_heads(tmp_path / "heads.pt")
    x = torch.randn(3, 32)
    with torch.no_grad():
        assert torch.allclose(loaded["ed"](x), heads["ed"](x))
