"""segmentation.weights from elsewhere: a plain state dict of the configured U-Net and
a MONAI bundle of a 2D network (built here, with an ACDC-order output), loaded and
giving the same labels as the network they were saved from."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest_cmr_volumes import TEST_ARCH

from ecgcmr.cmr.segmenter import build_unet, predict_labels
from ecgcmr.cmr.weights import load_weights

ACDC_ORDER = [0, 3, 2, 1]   # output channel c (ACDC: bg, RV, myo, LV) -> project label


def _images():
    return np.random.default_rng(0).random((3, 40, 40), np.float32)


def test_plain_state_dict_uses_the_configured_network(tmp_path):
    torch.manual_seed(0)
    net = build_unet(**TEST_ARCH).eval()
    torch.save(net.state_dict(), tmp_path / "sd.pt")
    model, arch = load_weights(tmp_path / "sd.pt", fallback={**TEST_ARCH, "spacing_mm": 1.8, "patch": 0})
    assert arch["source"] == "state dict" and arch["spacing_mm"] == 1.8
    assert np.array_equal(predict_labels(model, _images()), predict_labels(net, _images()))
    with pytest.raises(ValueError, match="needs segmentation.model"):
        load_weights(tmp_path / "sd.pt")
    torch.save({"epoch": 3}, tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="neither"):
        load_weights(tmp_path / "junk.pt", fallback=TEST_ARCH)


def _bundle(tmp_path, net, metadata_extra: dict) -> object:
    root = tmp_path / "lab_sax_bundle"
    (root / "configs").mkdir(parents=True)
    (root / "models").mkdir()
    (root / "configs" / "inference.json").write_text(json.dumps({"network_def": {
        "_target_": "monai.networks.nets.BasicUNet", "spatial_dims": 2, "in_channels": 1, "out_channels": 4,
        "features": [8, 8, 16, 32, 64, 8]}}))
    meta = {"name": "lab_sax", "version": "0.1.0", "network_data_format": {
        "inputs": {"image": {"type": "image", "num_channels": 1, "spatial_shape": [-1, -1], **metadata_extra.get("image", {})}},
        "outputs": {"pred": {"type": "image", "num_channels": 4, "channel_def": {"0": "bg", "1": "RV", "2": "myo", "3": "LV"},
                             **metadata_extra.get("pred", {})}}}}
    (root / "configs" / "metadata.json").write_text(json.dumps(meta))
    torch.save(net.state_dict(), root / "models" / "model.pt")
    return root


def test_monai_bundle_with_declared_spacing_normalisation_and_label_map(tmp_path):
    from monai.networks.nets import BasicUNet

    torch.manual_seed(1)
    net = BasicUNet(spatial_dims=2, in_channels=1, out_channels=4, features=(8, 8, 16, 32, 64, 8)).eval()
    root = _bundle(tmp_path, net, {"image": {"spacing_mm": 1.5, "intensity_percentiles": [0.5, 99.5]},
                                   "pred": {"label_map": ACDC_ORDER}})
    model, arch = load_weights(root)
    assert arch["spacing_mm"] == 1.5 and arch["intensity_percentiles"] == [0.5, 99.5]
    assert arch["source"] == "MONAI bundle lab_sax 0.1.0"
    # the bundle's labels, in the project's convention: ACDC's 3 (LV) -> 1, 1 (RV) -> 3
    ours = predict_labels(model, _images(), divisor=16)
    theirs = predict_labels(net, _images(), divisor=16)
    assert np.array_equal(ours, np.asarray(ACDC_ORDER, np.uint8)[theirs]) and len(np.unique(theirs)) > 1


def test_monai_bundle_without_declarations_is_refused(tmp_path):
    from monai.networks.nets import BasicUNet

    net = BasicUNet(spatial_dims=2, in_channels=1, out_channels=4, features=(8, 8, 16, 32, 64, 8))
    root = _bundle(tmp_path, net, {"image": {"intensity_percentiles": [1, 99]}})
    with pytest.raises(ValueError, match="outputs.pred.label_map.*inputs.image.spacing_mm"):
        load_weights(root)
