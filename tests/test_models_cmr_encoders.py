"""CMR encoders: every view takes its crop layout, gives its embedding width, and
survives a save/load round trip; projection heads map into the shared space."""

import pytest
import torch

from ecgcmr.errors import InputError
from ecgcmr.models.cmr_encoders import VIEWS, build_cmr_encoder, encoder_state, load_cmr_encoder
from ecgcmr.models.heads import ProjectionHead

torch.set_num_threads(1)

# batch layouts of CmrCropDataset, stacked: ED/ES (B,1,H,W,6), 2D (B,1,H,W), 2DT (B,T,1,H,W)
CROP_SHAPES = {"ED": (2, 1, 24, 24, 6), "ES": (2, 1, 24, 24, 6), "2D": (2, 1, 24, 24),
               "2DT": (2, 6, 1, 24, 24)}


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_every_view_embeds_and_regresses(view):
    model = build_cmr_encoder(view, n_targets=12, backbone="resnet10", lstm_hidden=32,
                              time_stride=2).eval()
    x = torch.randn(CROP_SHAPES[VIEWS[view].crop])
    with torch.no_grad():
        z, y = model.embed(x), model(x)
    expected = 32 if view == "mid2dt" else 512
    assert z.shape == (2, expected) and model.embed_dim == expected
    assert y.shape == (2, 12)
    assert torch.isfinite(z).all()


def test_resnet50_embedding_is_2048_wide_and_keeps_slices_in_3d():
    model = build_cmr_encoder("ed3d").eval()
    assert model.embed_dim == 2048
    conv1 = model.backbone.conv1
    assert conv1.stride == (2, 2, 1) and conv1.kernel_size == (7, 7, 3)
    with torch.no_grad():
        assert model.embed(torch.randn(1, 1, 32, 32, 6)).shape == (1, 2048)
    flat = build_cmr_encoder("ed25d", backbone="resnet10")
    assert flat.backbone.conv1.in_channels == 6   # 2.5D: slices are channels


def test_3d_encoder_sees_slice_order_25d_sees_slice_identity():
    """The 3D net and the 2.5D net both react to which slice holds what."""
    for view in ("ed3d", "ed25d"):
        model = build_cmr_encoder(view, backbone="resnet10").eval()
        x = torch.randn(1, 1, 24, 24, 6)
        with torch.no_grad():
            a, b = model.embed(x), model.embed(x.flip(-1))
        assert not torch.allclose(a, b)


def test_intensity_scale_does_not_matter():
    model = build_cmr_encoder("mid2d", backbone="resnet10").eval()
    x = torch.rand(2, 1, 24, 24)
    with torch.no_grad():
        torch.testing.assert_close(model.embed(x), model.embed(37.0 * x + 5.0), rtol=1e-4, atol=1e-4)


def test_save_load_round_trip(tmp_path):
    model = build_cmr_encoder("mid2dt", backbone="resnet10", lstm_hidden=16, time_stride=3,
                              target_columns=["LVEF"], n_targets=1).eval()
    torch.save(encoder_state(model), tmp_path / "encoder.pt")
    again = load_cmr_encoder(tmp_path / "encoder.pt")
    assert again.config == model.config and not again.training
    x = torch.randn(2, 9, 1, 24, 24)
    with torch.no_grad():
        torch.testing.assert_close(again.embed(x), model.embed(x))


def test_unknown_view_and_foreign_file_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown CMR view"):
        build_cmr_encoder("ed4d")
    torch.save({"kind": "ecg_mae", "config": {}, "state_dict": {}}, tmp_path / "x.pt")
    with pytest.raises(InputError, match="not_cmr_encoder"):
        load_cmr_encoder(tmp_path / "x.pt")


def test_projection_head_shapes():
    head = ProjectionHead(2048, 512, 128)
    assert head(torch.randn(4, 2048)).shape == (4, 128)
    assert [type(m).__name__ for m in head] == ["Linear", "BatchNorm1d", "ReLU", "Linear"]
