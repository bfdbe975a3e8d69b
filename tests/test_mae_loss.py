"""The MAE's two pretraining losses (pretrain_ecg.loss): the default is the masked-patch
MSE the step always computed; the authors' one is MSE over all patches + λ·(1 − NCC)."""

from __future__ import annotations

import pytest
import torch
import yaml

from ecgcmr.config import ConfigError, load_config
from ecgcmr.models.mae_loss import authors_loss, ncc
from ecgcmr.models.vit_mae import EcgMAE
from ecgcmr.train.pretrain_ecg import authors_step, mae_step, pretrain_ecg

TINY = dict(n_samples=1000, patch_size=100, embed_dim=32, depth=1, num_heads=2,
            decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2)


@pytest.fixture
def ecgs():
    g = torch.Generator().manual_seed(3)
    t = torch.linspace(0, 6.28, 1000)
    return torch.sin(t * torch.rand(4, 12, 1, generator=g) * 9) + 0.1 * torch.randn(4, 12, 1000, generator=g)


def test_the_default_step_is_the_masked_patch_mse(ecgs):
    torch.manual_seed(0)
    model = EcgMAE(**TINY)
    torch.manual_seed(1)
    loss, metrics = mae_step(model, ecgs)
    torch.manual_seed(1)  # the same masks, restated from the paper: MSE over hidden patches
    latent, mask, ids = model.forward_encoder(ecgs, model.mask_ratio)
    pred = model.forward_decoder(latent, ids)
    per_patch = ((pred - model.patchify(ecgs)) ** 2).mean(-1)
    assert metrics == {}
    assert torch.equal(loss, (per_patch * mask).sum() / mask.sum())


def test_authors_loss_is_zero_for_a_perfect_reconstruction(ecgs):
    loss, r = authors_loss(ecgs, ecgs, ncc_weight=1.0)
    assert float(r) == pytest.approx(1.0, abs=1e-6)
    assert float(loss) == pytest.approx(0.0, abs=1e-6)


def test_ncc_ignores_scale_and_sign_is_minus_one(ecgs):
    loss, r = authors_loss(2.5 * ecgs, ecgs, ncc_weight=1.0)
    assert float(r) == pytest.approx(1.0, abs=1e-6)
    mse = float(((1.5 * ecgs) ** 2).mean())
    assert mse > 0.1 and float(loss) == pytest.approx(mse, rel=1e-5)
    assert float(ncc(-ecgs, ecgs)) == pytest.approx(-1.0, abs=1e-6)
    # the weight scales the NCC term only: 0 leaves the MSE over all samples
    assert float(authors_loss(-ecgs, ecgs, 0.0)[0]) == pytest.approx(float((4 * ecgs ** 2).mean()), rel=1e-5)
    assert float(authors_loss(-ecgs, ecgs, 0.5)[0]) == pytest.approx(float((4 * ecgs ** 2).mean()) + 1.0, rel=1e-5)


def test_ncc_is_per_record_and_lead_over_time(ecgs):
    # one lead flipped of 12 leads x 4 records: mean of 47 ones and one -1
    recon = ecgs.clone()
    recon[2, 5] *= -1
    assert float(ncc(recon + 3.0, ecgs)) == pytest.approx(46 / 48, abs=1e-6)
    # a flat reconstruction (the all-zero first guess) has NCC 0 and a finite gradient
    flat = torch.zeros_like(ecgs, requires_grad=True)
    r = ncc(flat, ecgs)
    r.backward()
    assert float(r.detach()) == 0.0 and torch.isfinite(flat.grad).all()


def test_gradients_flow_through_the_authors_step(ecgs):
    torch.manual_seed(0)
    model = EcgMAE(**TINY)
    loss, metrics = authors_step(ncc_weight=1.0)(model, ecgs)
    assert set(metrics) == {"masked_mse", "ncc"} and not metrics["ncc"].requires_grad
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.patch_embed.weight.grad.abs().sum() > 0
    # the NCC term reaches the weights: its gradient differs from the plain MSE's
    model.zero_grad()
    torch.manual_seed(1)
    authors_step(ncc_weight=0.0)(model, ecgs)[0].backward()
    g0 = model.decoder_pred.weight.grad.clone()
    model.zero_grad()
    torch.manual_seed(1)
    authors_step(ncc_weight=1.0)(model, ecgs)[0].backward()
    assert not torch.allclose(g0, model.decoder_pred.weight.grad)


def test_pretrain_ecg_refuses_an_unknown_loss_and_authors_with_norm_pix_loss(tmp_path):
    with pytest.raises(ValueError, match="pretrain_ecg.loss must be one of"):
        pretrain_ecg("i", "n", "s", tmp_path, "tiny", {}, {}, loss="mse")
    with pytest.raises(ValueError, match="norm_pix_loss"):
        pretrain_ecg("i", "n", "s", tmp_path, "tiny", {"norm_pix_loss": True}, {}, loss="authors")


def test_the_config_refuses_authors_with_norm_pix_loss_naming_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"pretrain_ecg": {"loss": "authors", "model": {"norm_pix_loss": True}}}))
    with pytest.raises(ConfigError, match=r"bad\.yaml.*'authors' cannot be combined"):
        load_config(bad)
    bad.write_text(yaml.safe_dump({"pretrain_ecg": {"loss": "mse"}}))
    with pytest.raises(ConfigError, match=r"bad\.yaml.*'mse' is not one of"):
        load_config(bad)
    ok = tmp_path / "ok.yaml"
    ok.write_text(yaml.safe_dump({"pretrain_ecg": {"loss": "authors"}}))
    assert load_config(ok)["pretrain_ecg"]["ncc_weight"] == 1.0
