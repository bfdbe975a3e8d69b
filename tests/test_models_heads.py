"""heads.pt: one save/load pair in models/, atomic, and a wrong file is an InputError."""

import pytest
import torch
from torch import nn

from ecgcmr.errors import InputError
from ecgcmr.models.cmr_encoders import build_cmr_encoder, encoder_state, load_cmr_encoder, save_cmr_encoder
from ecgcmr.models.heads import ProjectionHead, load_heads, save_heads


def test_heads_round_trip_and_refuse_another_model_file(tmp_path):
    torch.manual_seed(0)
    heads = nn.ModuleDict({"ecg": ProjectionHead(24, 16, 8), "ed": ProjectionHead(32, 16, 8)}).eval()
    save_heads(heads, tmp_path / "heads.pt", variant="dual", pairs=[("ecg", "ed")], weights=[1.0],
               log_logit_scale=torch.tensor(2.0))
    assert [p.name for p in tmp_path.iterdir()] == ["heads.pt"]   # no temporary left
    back = load_heads(tmp_path / "heads.pt")
    x = torch.randn(3, 32)
    torch.testing.assert_close(back["ed"](x), heads["ed"](x))
    assert torch.load(tmp_path / "heads.pt", weights_only=True)["pairs"] == [["ecg", "ed"]]

    torch.save(encoder_state(build_cmr_encoder("ed3d", backbone="resnet10")), tmp_path / "encoder.pt")
    with pytest.raises(InputError, match="not_alignment_heads") as e:
        load_heads(tmp_path / "encoder.pt")
    assert e.value.path == str(tmp_path / "encoder.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "heads.pt").read_bytes()[:100])
    with pytest.raises(InputError, match="unreadable_heads"):
        load_heads(tmp_path / "cut.pt")


def test_cmr_encoder_save_is_the_format_load_reads(tmp_path):
    model = build_cmr_encoder("ed3d", backbone="resnet10").eval()
    save_cmr_encoder(model, tmp_path / "encoder.pt", meta={"val_r2": {"LVEF": 0.5}})
    back = load_cmr_encoder(tmp_path / "encoder.pt")
    assert back.config == model.config
    assert torch.load(tmp_path / "encoder.pt", weights_only=True)["meta"] == {"val_r2": {"LVEF": 0.5}}
