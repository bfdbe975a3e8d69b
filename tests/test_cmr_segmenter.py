"""The segmenter's training/inference contract: inference shows the net slices in the
geometry it was trained on (padded to the training patch), and a rerun resumes a
checkpoint only when it was written with the same hyperparameters and inputs."""

from __future__ import annotations

import contextlib
import logging

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import torch
from conftest_cmr_volumes import TEST_ARCH, TEST_TRAIN, render_subjects, segmentation_params, write_subjects
from monai.transforms import ResizeWithPadOrCrop

from ecgcmr import exclusions
from ecgcmr.cmr.phases import CurveRules
from ecgcmr.cmr.segment import segment_shard, segment_subject
from ecgcmr.cmr.segmenter import build_unet, labelled_images, load_segmenter, predict_labels
from ecgcmr.errors import InputError
from ecgcmr.train.loop import TrainingInterrupted
from ecgcmr.train.segmenter import train_model, train_segmenter

# the demo's field of view (64 px x 3.2 mm) on a matrix smaller than the training patch
SMALL_MATRIX = {"matrix": 32, "pixel_spacing_mm": 6.4}


class Threshold(torch.nn.Module):
    """A pointwise stand-in for the U-Net (class 1 where the pixel > 0.5) that keeps
    what it was fed: any shift between padding and cropping back shows in its labels."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return torch.cat([torch.full_like(x, 0.5), x], dim=1)


@pytest.mark.parametrize("shape", [(3, 32, 32), (2, 30, 37)])
def test_inference_pads_small_slices_exactly_as_training_does(shape):
    images = np.random.default_rng(0).random(shape, np.float32)
    net = Threshold()
    pred = predict_labels(net, images, batch_size=8, divisor=8, min_size=64)
    assert pred.shape == shape and np.array_equal(pred, (images > 0.5).astype(np.uint8))
    fed = net.seen[0][:, 0].numpy()
    assert fed.shape == (shape[0], 64, 64)
    # the very image sample_slices trains on: centre zero padded to the patch
    for img, x in zip(images, fed):
        assert np.array_equal(x, np.asarray(ResizeWithPadOrCrop((64, 64))(img[None]))[0])


def test_inference_never_crops_slices_larger_than_the_patch():
    images = np.random.default_rng(1).random((2, 80, 72), np.float32)
    net = Threshold()
    assert np.array_equal(predict_labels(net, images, min_size=64), (images > 0.5).astype(np.uint8))
    assert net.seen[0].shape[2:] == (80, 72)


def test_segment_subject_uses_the_patch_saved_with_the_weights(tmp_path):
    subjects = render_subjects(1, seed=4, **SMALL_MATRIX)
    index, _ = write_subjects(subjects, tmp_path)
    path = pd.read_parquet(index).path[0]
    net, shapes = build_unet(**TEST_ARCH).eval(), []
    net.register_forward_pre_hook(lambda _m, args: shapes.append(tuple(args[0].shape[2:])))
    params = segmentation_params()
    with contextlib.suppress(InputError):  # an untrained net finds no heart: only shapes matter
        segment_subject(net, {**TEST_ARCH, "patch": 64}, "1", path, tmp_path / "masks",
                        CurveRules.from_config(params["qc"]), params, "cpu")
    assert shapes and set(shapes) == {(64, 64)}


# --- checkpoint key ------------------------------------------------------------------

TINY_ARCH = {"channels": [4, 8], "strides": [2], "num_res_units": 0, "dropout": 0.0}
TINY_TRAIN = {**TEST_TRAIN, "epochs": 1, "batch_size": 4, "patch": 16}


def _tiny_data():
    rng = np.random.default_rng(0)
    return rng.random((8, 1, 16, 16), np.float32), rng.integers(0, 4, (8, 1, 16, 16)).astype(np.uint8)


def _train(out_dir, train=TINY_TRAIN, signature=None):
    torch.set_num_threads(1)
    x, y = _tiny_data()
    return train_model(x, y, TINY_ARCH, train, seed=0, out_dir=out_dir, signature=signature)


def _same_weights(a, b) -> bool:
    return all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())


@pytest.mark.parametrize("change", ["patch", "lr", "signature"])
def test_a_checkpoint_of_other_hyperparameters_or_inputs_is_not_resumed(tmp_path, caplog, change):
    _train(tmp_path, signature={"inputs": "a"})
    train, signature = dict(TINY_TRAIN), {"inputs": "a"}
    if change == "patch":      # the reported case: patch 64 -> 32 resumed and gave Dice 0
        train["patch"] = 8
    elif change == "lr":
        train["lr"] = 1e-3
    else:
        signature = {"inputs": "b"}
    with caplog.at_level(logging.INFO, logger="ecgcmr.train.loop"):
        retrained = _train(tmp_path, train, signature)
    assert "another config/signature" in caplog.text and "finished training" not in caplog.text
    # from scratch: the same weights as a run that never had a checkpoint
    assert _same_weights(retrained, _train(None, train, signature))


def test_the_same_run_reuses_its_finished_checkpoint(tmp_path, caplog):
    first = _train(tmp_path, signature={"inputs": "a"})
    with caplog.at_level(logging.INFO, logger="ecgcmr.train.loop"):
        again = _train(tmp_path, signature={"inputs": "a"})
    assert "holds a finished training" in caplog.text and "another config" not in caplog.text
    assert _same_weights(first, again)


def test_a_run_stopped_by_sigterm_resumes_to_the_weights_of_an_uninterrupted_run(tmp_path, monkeypatch):
    """SIGTERM in the first step of epoch 2 of 3: the loop checkpoints after that step
    and the rerun continues inside the epoch. The augmentations draw from torch's
    generator, which the checkpoint holds, so the rerun continues their stream
    instead of replaying it, and ends on the uninterrupted run's weights."""
    import signal

    import ecgcmr.train.segmenter as seg

    train = {**TINY_TRAIN, "epochs": 3, "augment": {**TINY_TRAIN["augment"], "flip_prob": 0.5,
                                                      "rotate_prob": 0.5, "intensity_prob": 0.5}}
    uninterrupted = _train(None, train)
    forwards = {"n": 0}
    real_build = seg.build_unet

    def build_with_sigterm(**arch):
        net = real_build(**arch)

        def hook(module, *_):
            forwards["n"] += module.training
            if module.training and forwards["n"] == 3:   # epoch 2's first batch (2 batches an epoch)
                signal.raise_signal(signal.SIGTERM)
        net.register_forward_hook(hook)
        return net

    monkeypatch.setattr(seg, "build_unet", build_with_sigterm)
    with pytest.raises(TrainingInterrupted, match="in epoch 1 after step 1"):
        _train(tmp_path, train)
    monkeypatch.setattr(seg, "build_unet", real_build)
    resumed = _train(tmp_path, train)
    assert _same_weights(resumed, uninterrupted)


def test_augmentation_follows_torch_generator_and_skips_validation():
    """The same torch seed gives the same augmented batch; eval mode is not augmented."""
    from ecgcmr.train.segmenter import augmentations, augmented, make_step

    x, y = (torch.as_tensor(a) for a in _tiny_data())
    aug = {**TINY_TRAIN["augment"], "flip_prob": 0.5, "rotate_prob": 1.0, "intensity_prob": 1.0}
    torch.manual_seed(1)
    a = augmented(augmentations(aug), x, y)
    torch.manual_seed(1)
    b = augmented(augmentations(aug), x, y)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], x)
    seen = []
    net = build_unet(**TINY_ARCH).eval()
    net.register_forward_hook(lambda m, inp, out: seen.append(inp[0]))
    make_step(aug)(net, {"image": x, "label": y})
    assert torch.equal(seen[0], x)


# --- end to end on a matrix smaller than the patch ----------------------------------------

@pytest.mark.slow
def test_small_matrix_cines_train_on_padded_patches_and_are_segmented(tmp_path):
    """32x32 cines with the demo's patch 64: trained on padded slices, the segmenter
    must find the heart at inference (it found none when inference did not pad)."""
    torch.set_num_threads(1)
    subjects = render_subjects(10, seed=3, **SMALL_MATRIX)
    index, masks = write_subjects(subjects, tmp_path)
    eids = [str(r.eid) for r, *_ in subjects]
    pd.DataFrame({"eid": eids, "paired_split": ["train"] * 8 + ["val"] * 2}).to_parquet(tmp_path / "splits.parquet")
    labelled = {"masks_dir": str(masks), "mask_suffix": "_labels", "val_fraction": 0.15}
    model = {k: v for k, v in TEST_ARCH.items() if k != "intensity_percentiles"}
    train = {**TEST_TRAIN, "seed": 0, "frames_per_subject": 2, "patch": 64, "max_train_subjects": None}
    train_segmenter(labelled_images(None, str(index), "_labels"), labelled, str(tmp_path / "splits.parquet"),
                    str(tmp_path / "seg" / "model.pt"), str(tmp_path / "seg" / "metrics.json"), model, train,
                    [1.0, 99.0])
    assert load_segmenter(tmp_path / "seg" / "model.pt")[1]["patch"] == 64

    val = pd.read_parquet(index).iloc[8:]
    val.to_parquet(tmp_path / "val.parquet")
    seg = segment_shard(str(tmp_path / "val.parquet"), 0, 1, str(tmp_path / "seg" / "model.pt"),
                        str(tmp_path / "seg.parquet"), str(tmp_path / "ex.csv"), str(tmp_path / "masks_pred"),
                        segmentation_params())
    ex = exclusions.read(tmp_path / "ex.csv")
    assert "no_heart_found" not in set(ex.reason), ex
    for r in seg.itertuples():
        pred = np.asarray(nib.load(r.mask_path).dataobj) == 1
        truth = np.asarray(nib.load(masks / f"{r.eid}_labels.nii.gz").dataobj) == 1
        assert 2 * (pred & truth).sum() / (pred.sum() + truth.sum()) > 0.3, r.eid


def test_class_argmax_is_argmax_over_classes_ties_included():
    from ecgcmr.cmr.segmenter import class_argmax

    logits = torch.randint(0, 3, (5, 4, 7, 9)).float()   # many ties: the first class wins, as in argmax
    assert torch.equal(class_argmax(logits), logits.argmax(1))
    x = torch.randn(3, 4, 16, 8)
    assert torch.equal(class_argmax(x), x.argmax(1))
