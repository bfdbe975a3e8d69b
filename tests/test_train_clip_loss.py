"""CLIP loss (paper eq. 1-2) against a brute-force reference, and its basic behaviour."""

import math

import pytest
import torch

from ecgcmr.train.clip_loss import ClipLoss

torch.set_num_threads(1)


def brute_direction(a, b, tau):
    """Eq. 1 with explicit loops over i and k and a hand-written log-sum-exp."""
    n = a.shape[0]
    total = 0.0
    for i in range(n):
        logits = []
        for k in range(n):
            cos = float(a[i] @ b[k]) / (float(a[i].norm()) * float(b[k].norm()))
            logits.append(cos / tau)
        m = max(logits)
        lse = m + math.log(sum(math.exp(x - m) for x in logits))
        total += -(logits[i] - lse)
    return total / n


def features(n=6, d=5, names=("ecg", "ed", "es"), seed=0):
    g = torch.Generator().manual_seed(seed)
    return {m: torch.randn(n, d, generator=g, dtype=torch.float64) for m in names}


def test_single_pair_matches_brute_force_both_directions():
    f = features()
    tau = 0.2
    sym, _ = ClipLoss([("ecg", "ed")], temperature=tau)(f)
    ref = 0.5 * (brute_direction(f["ecg"], f["ed"], tau) + brute_direction(f["ed"], f["ecg"], tau))
    assert sym.item() == pytest.approx(ref, rel=1e-5)
    one_way, _ = ClipLoss([("ecg", "ed")], temperature=tau, symmetric=False)(f)
    assert one_way.item() == pytest.approx(brute_direction(f["ecg"], f["ed"], tau), rel=1e-5)


def test_dual_phase_is_weighted_sum_of_pair_terms():
    f = features()
    tau = 0.07
    pairs = [("ecg", "ed"), ("ecg", "es"), ("ed", "es")]
    loss, terms = ClipLoss(pairs, weights=[1, 1, 1], temperature=tau)(f)
    ref = [0.5 * (brute_direction(f[a], f[b], tau) + brute_direction(f[b], f[a], tau)) for a, b in pairs]
    assert loss.item() == pytest.approx(sum(ref) / 3, rel=1e-5)
    assert [terms[f"{a}-{b}"].item() for a, b in pairs] == pytest.approx(ref, rel=1e-5)
    # weights are relative: 2:1:1 is (2·t0 + t1 + t2) / 4
    loss_w, _ = ClipLoss(pairs, weights=[2, 1, 1], temperature=tau)(f)
    assert loss_w.item() == pytest.approx((2 * ref[0] + ref[1] + ref[2]) / 4, rel=1e-5)


def test_symmetric_term_is_symmetric_directional_is_not():
    f = features(n=8)
    ab, _ = ClipLoss([("ecg", "ed")])(f)
    ba, _ = ClipLoss([("ed", "ecg")])(f)
    assert ab.item() == pytest.approx(ba.item(), rel=1e-9)
    ab1, _ = ClipLoss([("ecg", "ed")], symmetric=False)(f)
    ba1, _ = ClipLoss([("ed", "ecg")], symmetric=False)(f)
    assert abs(ab1.item() - ba1.item()) > 1e-3


def test_aligned_low_shuffled_near_log_n():
    n, d = 64, 1024
    z = torch.randn(n, d, generator=torch.Generator().manual_seed(1))
    loss = ClipLoss([("a", "b")], temperature=0.07)
    aligned, _ = loss({"a": z, "b": z.clone()})
    unrelated, _ = loss({"a": z, "b": torch.randn(n, d, generator=torch.Generator().manual_seed(2))})
    assert aligned.item() < 0.01
    # random unit vectors: cos ~ N(0, 1/d), so E[loss] ≈ log N + (1/(τ²d))/2 ≈ log N + 0.1
    assert unrelated.item() == pytest.approx(math.log(n), abs=0.3)
    assert aligned.item() < unrelated.item()


def test_learnable_temperature_gets_gradient_and_fixed_does_not():
    f = {k: v.float() for k, v in features().items()}
    learn = ClipLoss([("ecg", "ed")], temperature=0.1, learnable_temperature=True)
    loss, _ = learn(f)
    loss.backward()
    assert learn.log_logit_scale.grad is not None and learn.log_logit_scale.grad.abs() > 0
    assert learn.logit_scale().item() == pytest.approx(10.0, rel=1e-5)
    fixed = ClipLoss([("ecg", "ed")], temperature=0.1)
    assert list(fixed.parameters()) == []


@pytest.mark.parametrize("bad", [dict(pairs=[]), dict(pairs=[("a", "a")]),
                                 dict(pairs=[("a", "b")], weights=[1, 2]),
                                 dict(pairs=[("a", "b")], temperature=0.0)])
def test_bad_configuration_is_rejected(bad):
    with pytest.raises(ValueError):
        ClipLoss(**bad)


def test_logits_stay_fp32_under_bf16_autocast():
    f = {k: v.float() for k, v in features(n=16, d=64).items()}
    loss = ClipLoss([("ecg", "ed")], temperature=0.07)
    ref, _ = loss(f)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got, _ = loss(f)
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(ref.item(), rel=1e-6)
