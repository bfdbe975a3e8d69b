"""`ecgcmr export`: TorchScript and ONNX graphs of a run's encoder give the eager
model's embeddings (within 1e-5, at a batch size other than the one exported), and the
safetensors weights + model card rebuild the same encoder."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest_inference import build_run
from ecgcmr.cli import main
from ecgcmr.inference.export import example_input, load_embedder


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return build_run(tmp_path_factory.mktemp("run"), cohort={
        "source": "synthetic demo cohort (ecgcmr synth)", "synthetic": True, "run_name": "t",
        "n_ecg_train": 9, "n_paired_train": 5, "n_paired_test": 2})


@pytest.fixture(scope="module")
def eager(run_dir):
    module, _ = load_embedder(run_dir)
    x = example_input(module, 5)
    with torch.no_grad():
        return x, module(x).numpy()


def test_torchscript_equals_eager(run_dir, eager, tmp_path):
    out = tmp_path / "enc.pt"
    assert main(["export", "--run", str(run_dir), "--format", "torchscript", "--out", str(out)]) == 0
    x, want = eager
    with torch.no_grad():
        got = torch.jit.load(str(out))(x).numpy()
    assert got.shape == want.shape == (5, 16)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_onnx_equals_eager(run_dir, eager, tmp_path):
    import onnxruntime as ort

    out = tmp_path / "enc.onnx"
    assert main(["export", "--run", str(run_dir), "--format", "onnx", "--out", str(out)]) == 0
    x, want = eager
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = sess.run(["embedding"], {"ecg": x.numpy()})[0]
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_safetensors_and_model_card(run_dir, eager):
    from ecgcmr.inference.card import load_safetensors_encoder

    assert main(["export", "--run", str(run_dir), "--format", "safetensors"]) == 0
    path = run_dir / "inference" / "ecg_encoder.safetensors"
    encoder, mean, std = load_safetensors_encoder(path)
    x, want = eager
    with torch.no_grad():
        got = encoder.embed((x - torch.as_tensor(mean)[:, None]) / torch.as_tensor(std)[:, None]).numpy()
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)
    card = json.loads((path.parent / "model_card.json").read_text())
    assert card["training_data"]["synthetic"] is True and card["training_data"]["n_ecg_train"] == 9
    assert card["architecture"]["config"]["embed_dim"] == 16
    assert card["input"]["sample_rate"] == 500 and card["limits"] and card["intended_use"]


def test_export_of_a_non_run_says_why(tmp_path, capsys):
    assert main(["export", "--run", str(tmp_path), "--format", "torchscript"]) == 2
    assert "missing_manifest" in capsys.readouterr().err
