"""ECG ViT masked autoencoder: shapes, masking, positions, loss, sizes (Table 3)."""

from __future__ import annotations

import pytest
import torch

from conftest_pretrain_ecg import synthetic_ecgs
from ecgcmr.models import load_ecg_encoder, save_ecg_encoder
from ecgcmr.models.vit_mae import TABLE3_PARAMS_M, VIT_SIZES, EcgMAE

SMALL = dict(depth=2, decoder_depth=1, decoder_embed_dim=64, decoder_num_heads=4)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.mark.parametrize("size", sorted(VIT_SIZES))
def test_encoder_parameter_count_matches_table3(size):
    with torch.device("meta"):  # no memory, no init cost
        model = EcgMAE.from_size(size)
    n = model.encoder_parameters()
    assert round(n / 1e6) == TABLE3_PARAMS_M[size]       # Table 3 gives whole millions
    assert abs(n / 1e6 - TABLE3_PARAMS_M[size]) / TABLE3_PARAMS_M[size] < 0.08
    assert model.config["depth"] == 12 and model.config["embed_dim"] == VIT_SIZES[size]["embed_dim"]


def test_patchify_is_lead_major_and_inverts():
    m = EcgMAE.from_size("tiny", **SMALL)
    x = torch.randn(2, 12, 5000)
    p = m.patchify(x)
    assert p.shape == (2, 600, 100)
    assert torch.equal(p[1, 3 * 50 + 7], x[1, 3, 700:800])   # lead 3, time patch 7
    assert torch.equal(m.unpatchify(p), x)


@pytest.mark.parametrize("ratio", [0.75, 0.5, 0.9])
def test_random_masking_keeps_exactly_the_ratio(ratio):
    m = EcgMAE.from_size("tiny", **SMALL)
    tokens = torch.arange(3 * 600 * 2, dtype=torch.float32).view(3, 600, 2)
    kept, mask, ids_restore = m.random_masking(tokens, ratio)
    n_hidden = round(600 * ratio)
    assert kept.shape == (3, 600 - n_hidden, 2)
    assert torch.equal(mask.sum(1), torch.full((3,), float(n_hidden)))
    for b in range(3):  # the kept tokens are exactly the unmasked ones
        assert torch.equal(kept[b].sort(0).values, tokens[b][mask[b] == 0].sort(0).values)
        assert torch.equal(torch.sort(ids_restore[b]).values, torch.arange(600))
    assert not torch.equal(mask[0], mask[1])  # per-sample masks


def test_positions_tell_every_lead_and_time_patch_apart():
    m = EcgMAE.from_size("tiny", **SMALL)
    pos = m._positions(m.lead_embed, m.time_embed)
    assert pos.shape == (600, 192)
    assert torch.unique(pos, dim=0).shape[0] == 600
    # the same time patch on two leads differs only in the lead half, and vice versa
    d = pos[50 * 2 + 5] - pos[50 * 4 + 5]
    assert d[:96].abs().max() == 0 and d[96:].abs().max() > 0


def test_loss_reads_only_masked_patches():
    m = EcgMAE.from_size("tiny", **SMALL)
    x = torch.randn(2, 12, 5000)
    mask = (torch.rand(2, 600) < 0.75).float()
    pred = m.patchify(x).clone()
    pred[mask == 0] += 100.0  # wrong only where visible
    assert m.forward_loss(x, pred, mask).item() == 0.0
    pred[mask == 1] += 1.0
    assert m.forward_loss(x, pred, mask).item() == pytest.approx(1.0)


def test_mae_loss_falls_on_synthetic_ecgs():
    torch.manual_seed(0)
    x = synthetic_ecgs(4, seed=1)
    m = EcgMAE.from_size("tiny", **SMALL)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)

    def fixed_mask_loss():
        with torch.no_grad(), torch.random.fork_rng():
            torch.manual_seed(99)
            return m(x)[0].item()

    before = fixed_mask_loss()
    for _ in range(15):
        loss, pred, mask = m(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = fixed_mask_loss()
    assert pred.shape == (4, 600, 100) and mask.shape == (4, 600)
    assert after < 0.8 * before, (before, after)


def test_embed_and_saved_encoder_round_trip(tmp_path):
    torch.manual_seed(0)
    m = EcgMAE.from_size("tiny", **SMALL).eval()
    x = torch.randn(3, 12, 5000)
    z = m.embed(x)
    assert z.shape == (3, 192)
    assert torch.equal(z, m.embed(x))  # no masking: deterministic
    save_ecg_encoder(m, tmp_path / "encoder.pt", meta={"size": "tiny"})
    enc = load_ecg_encoder(tmp_path / "encoder.pt")
    assert not enc.training and not any(n.startswith("decoder") for n, _ in enc.named_parameters())
    assert sum(p.numel() for p in enc.parameters()) == m.encoder_parameters()
    torch.testing.assert_close(enc.embed(x), z)
    with pytest.raises(RuntimeError, match="without its decoder"):
        enc(x)


def test_load_ecg_encoder_rejects_other_files(tmp_path):
    from ecgcmr.errors import InputError
    torch.save({"kind": "cmr"}, tmp_path / "x.pt")
    with pytest.raises(InputError, match="not_ecg_encoder"):
        load_ecg_encoder(tmp_path / "x.pt")
    (tmp_path / "y.pt").write_bytes(b"garbage")
    with pytest.raises(InputError, match="unreadable_encoder"):
        load_ecg_encoder(tmp_path / "y.pt")


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="patch_size"):
        EcgMAE(patch_size=300)
    with pytest.raises(ValueError, match="unknown ViT size"):
        EcgMAE.from_size("huge")
    with pytest.raises(ValueError, match=r"\(B, 12, 5000\)"):
        EcgMAE.from_size("tiny", **SMALL).embed(torch.zeros(1, 12, 2500))
