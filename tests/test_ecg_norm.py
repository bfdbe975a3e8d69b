"""NormStats: the one lead-wise normalisation (cache reader, predict, export) and the
checks on norm_stats.json that keep a wrong file from mixing leads silently."""

import json

import numpy as np
import pytest

from ecgcmr.ecg.norm import STD_FLOOR, NormStats
from ecgcmr.io.record import STANDARD_LEADS
from ecgcmr.errors import InputError


def _write(path, **stats):
    path.write_text(json.dumps(stats))
    return path


def test_apply_is_lead_wise_with_the_floored_std(tmp_path):
    mean, std = np.arange(12.0), np.r_[np.ones(11) * 2.0, 0.0]   # lead V6 flat in training
    norm = NormStats.load(_write(tmp_path / "n.json", leads=list(STANDARD_LEADS), mean=mean.tolist(),
                                 std=std.tolist(), n_records=3))
    x = np.random.default_rng(0).normal(size=(2, 12, 50)).astype(np.float32)
    got = norm.apply(x.copy())
    np.testing.assert_allclose(got[:, :11], (x[:, :11] - mean[:11, None]) / 2.0, rtol=1e-6)
    np.testing.assert_allclose(got[:, 11], (x[:, 11] - 11.0) / STD_FLOOR, rtol=1e-5)
    assert got.dtype == np.float32


@pytest.mark.parametrize("stats, match", [
    (dict(leads=list(reversed(STANDARD_LEADS)), mean=[0.0] * 12, std=[1.0] * 12), "leads"),
    (dict(mean=[0.0] * 11, std=[1.0] * 11), "12 finite"),
    (dict(mean=[0.0] * 12, std=[1.0] * 11 + [float("nan")]), "12 finite"),
    (dict(mean=[0.0] * 12), "not a norm_stats.json"),
])
def test_a_wrong_file_is_one_clear_error_naming_it(tmp_path, stats, match):
    path = _write(tmp_path / "norm_stats.json", **stats)
    with pytest.raises(InputError, match=match) as e:
        NormStats.load(path)
    assert e.value.path == str(path) and e.value.reason == "bad_norm_stats"


def test_predictor_and_exported_embedder_normalise_as_the_cache(tmp_path):
    """Training read (x - mean) * (1/std); predict divided by std: not bit-equal."""
    from ecgcmr.inference.export import EcgEmbedder
    from ecgcmr.inference.predict import Predictor

    rng = np.random.default_rng(1)
    path = _write(tmp_path / "n.json", mean=rng.normal(size=12).tolist(),
                  std=rng.uniform(0.1, 0.3, 12).tolist())
    norm = NormStats.load(path)
    x = rng.normal(size=(4, 12, 500)).astype(np.float32)
    predictor = Predictor.__new__(Predictor)   # only its normalisation, without a run dir
    predictor.norm = norm
    np.testing.assert_array_equal(predictor.normalise(x), norm.apply(x.copy()))
    emb = EcgEmbedder(__import__("torch").nn.Identity(), norm)
    np.testing.assert_array_equal(emb.std.numpy().ravel(), norm.std.ravel())


def test_record_mode_is_the_authors_per_record_z_score(tmp_path):
    """ecg.normalisation: record: each record over all its leads and samples (the
    authors' code), the same in the cache reader and the exported embedder; invert
    gives back the millivolts."""
    import torch

    from ecgcmr.inference.export import EcgEmbedder

    path = _write(tmp_path / "n.json", mean=[5.0] * 12, std=[2.0] * 12, mode="record")
    norm = NormStats.load(path)
    x = (np.random.default_rng(2).normal(size=(3, 12, 400)) * 0.3 + 0.1).astype(np.float32)
    got = norm.apply(x.copy())
    want = (x - x.mean(axis=(1, 2), keepdims=True)) / x.std(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)   # stored mean/std unused
    np.testing.assert_allclose(norm.invert(got, x), x, rtol=1e-5, atol=1e-6)
    emb = EcgEmbedder(torch.nn.Identity(), norm)
    emb.encoder.embed = lambda t: t   # the normalised input itself
    np.testing.assert_allclose(emb(torch.from_numpy(x)).numpy(), got, rtol=1e-5, atol=1e-5)
    with pytest.raises(InputError, match="mode"):
        NormStats.load(_write(tmp_path / "m.json", mean=[0.0] * 12, std=[1.0] * 12, mode="global"))


def test_compute_norm_stats_writes_the_mode(tmp_path):
    from ecgcmr.ecg.cache import compute_norm_stats

    with pytest.raises(ValueError, match="ecg.normalisation"):
        compute_norm_stats(tmp_path / "index.parquet", tmp_path / "splits.parquet", tmp_path / "n.json", mode="x")
