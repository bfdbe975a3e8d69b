"""ECG augmentation for MAE pretraining (ecgcmr.ecg.augment): off by default and then
free (no RNG draw, the same step), FT surrogate keeps the amplitude spectrum, jitter and
rescale have their statistics, seeded, and only the training step augments."""

from __future__ import annotations

import copy

import pytest
import torch

from ecgcmr.config import ConfigError, load_config, validate
from ecgcmr.ecg.augment import EcgAugment, ft_surrogate
from ecgcmr.train.pretrain_ecg import mae_step, make_mae_step

ALL = {"ft_surrogate": {"p": 1.0, "phase_noise": 0.1}, "jitter": {"p": 1.0, "sigma": 0.25},
       "rescale": {"p": 1.0, "sigma": 0.5}}


def _ecgs(n=8, t=1000, seed=0):
    g = torch.Generator().manual_seed(seed)
    time = torch.arange(t) / 500.0
    beats = torch.sin(2 * torch.pi * 1.2 * time) ** 15   # spiky, like QRS complexes
    return beats + 0.1 * torch.randn(n, 12, t, generator=g)


class _Recorder(torch.nn.Module):
    """Stands in for the MAE: keeps the batch it was given."""

    def forward(self, x):
        self.seen = x.clone()
        return x.sum() * 0, None, None


@pytest.mark.parametrize("cfg", [None, {}, {"jitter": {"p": 0.0, "sigma": 0.3}},
                                 {k: {**v, "p": 0.0} for k, v in ALL.items()}])
def test_off_is_the_plain_step_and_draws_nothing(cfg):
    aug = EcgAugment.from_config(cfg)
    assert not aug.enabled and make_mae_step(aug) is mae_step
    x = _ecgs()
    torch.manual_seed(3)
    before = torch.get_rng_state()
    assert aug(x) is x
    assert torch.equal(torch.get_rng_state(), before)


def test_the_demo_and_ukb_configs_leave_it_off():
    for path in ("config/config.yaml", "config/ukb.yaml"):
        cfg = load_config(path)
        assert cfg["pretrain_ecg"]["augment"] == {}, path
        assert not EcgAugment.from_config(cfg["pretrain_ecg"]["augment"]).enabled


def test_the_schema_takes_all_three_and_refuses_a_half_given_transform():
    cfg = load_config("config/config.yaml")
    on = copy.deepcopy(cfg)
    on["pretrain_ecg"]["augment"] = copy.deepcopy(ALL)
    validate(on)
    assert EcgAugment.from_config(on["pretrain_ecg"]["augment"]).enabled
    bad = copy.deepcopy(cfg)
    bad["pretrain_ecg"]["augment"] = {"jitter": {"p": 0.5}}
    with pytest.raises(ConfigError, match="sigma"):
        validate(bad)


def test_ft_surrogate_keeps_each_leads_amplitude_spectrum_and_changes_its_phase():
    x = _ecgs()
    torch.manual_seed(0)
    y = ft_surrogate(x, 0.5)
    fx, fy = torch.fft.rfft(x.double()), torch.fft.rfft(y.double())
    assert torch.allclose(fy.abs(), fx.abs(), rtol=1e-4, atol=1e-3)
    dphase = torch.angle(fy * fx.conj())[..., 1:-1]
    assert dphase.abs().mean() > 0.3 and not torch.allclose(y, x, atol=1e-2)
    # the same shift for every lead of a record: the leads' relations survive
    assert torch.allclose(dphase[:, 0], dphase[:, 5], atol=1e-3)
    assert torch.allclose(ft_surrogate(x, 0.0), x, atol=1e-5)


def test_jitter_and_rescale_have_their_statistics():
    x = _ecgs(n=400)
    torch.manual_seed(1)
    noise = EcgAugment.from_config({"jitter": {"p": 1.0, "sigma": 0.2}})(x) - x
    assert abs(float(noise.mean())) < 0.005 and abs(float(noise.std()) - 0.2) < 0.005
    torch.manual_seed(2)
    y = EcgAugment.from_config({"rescale": {"p": 1.0, "sigma": 0.3}})(x)
    factor = (y / x).flatten(1)
    assert torch.allclose(factor, factor[:, :1].expand_as(factor), rtol=1e-4)  # one per record
    f = factor[:, 0]
    assert abs(float(f.mean()) - 1) < 0.05 and abs(float(f.std()) - 0.3) < 0.04
    torch.manual_seed(3)
    half = EcgAugment.from_config({"rescale": {"p": 0.5, "sigma": 0.3}})(x)
    changed = (half != x).flatten(1).any(1).float().mean()
    assert 0.4 < float(changed) < 0.6


def test_deterministic_given_the_seed():
    aug, x = EcgAugment.from_config(ALL), _ecgs()
    torch.manual_seed(7)
    a = aug(x)
    torch.manual_seed(7)
    b = aug(x)
    torch.manual_seed(8)
    c = aug(x)
    assert torch.equal(a, b) and not torch.allclose(a, c)
    assert a.dtype == x.dtype and torch.equal(x, _ecgs())   # the input is not touched


def test_only_the_training_step_augments():
    step, model, x = make_mae_step(EcgAugment.from_config(ALL)), _Recorder(), _ecgs()
    model.train()
    step(model, x)
    assert not torch.allclose(model.seen, x, atol=1e-2)
    model.eval()
    step(model, x)
    assert torch.equal(model.seen, x)
