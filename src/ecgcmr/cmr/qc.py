"""The ``crop_qc`` rule: a montage of a sample of crops with the segmentation contours
(colour legend: red LV blood pool, green myocardium, blue RV), each subject's chosen
ED/ES frames and its LV/RV volume curves.

Contours are the predicted label map on the *cine* grid resampled into each crop
through the two affines (``nibabel.processing.resample_from_to``, nearest
neighbour), not cropped alongside the image: a wrong crop affine shows up as
contours that miss the heart.
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from nibabel.processing import resample_from_to  # noqa: E402

log = logging.getLogger(__name__)
CONTOURS = {1: ("LV", "tab:red"), 2: ("myocardium", "tab:green"), 3: ("RV", "tab:blue")}


def labels_in_crop(crop_path: str, mask_path: str, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """(crop image (H, W, k), labels of ``frame`` resampled onto the crop's grid)."""
    crop = nib.load(crop_path)
    mask = nib.load(mask_path)
    frame_mask = nib.Nifti1Image(np.asarray(mask.dataobj[..., frame], np.uint8), mask.affine)
    target = (crop.shape[:3], crop.affine)
    return np.asarray(crop.dataobj, np.float32), np.asarray(resample_from_to(frame_mask, target, order=0).dataobj)


def volume_panel(ax, lv_ml, rv_ml, ed: int, es: int) -> None:
    """The subject's LV/RV volume curves with the chosen ED and ES frames marked."""
    ax.set_axis_on()
    frames = np.arange(len(lv_ml))
    ax.plot(frames, lv_ml, color=CONTOURS[1][1], linewidth=1, label="LV")
    ax.plot(frames, rv_ml, color=CONTOURS[3][1], linewidth=1, label="RV")
    for f, style, name in ((ed, "-", "ED"), (es, "--", "ES")):
        ax.axvline(f, color="k", linestyle=style, linewidth=0.7)
        ax.text(f, ax.get_ylim()[1], f" {name} {f}", fontsize=6, va="top")
    ax.set_xlabel("frame", fontsize=6)
    ax.set_ylabel("mL", fontsize=6)
    ax.tick_params(labelsize=5)


def qc_montage(crop_shard: str, seg_shard: str, out_png: str, n_subjects: int = 8, seed: int = 0,
               name=str) -> dict:
    """Rows: a seeded sample of subjects; columns: ED and ES at the middle two of the
    six slices, with LV/myocardium/RV contours, and the volume curves with the chosen
    ED/ES frames; a colour legend for the contours. Returns what it drew (legend labels;
    per subject its eid, ED/ES frames and volume-curve length). ``name(eid)`` labels a
    subject (the pipeline passes its pseudonymiser: the montage goes into the report)."""
    crops = pd.read_parquet(crop_shard)
    masks = pd.read_parquet(seg_shard, columns=["eid", "mask_path", "lv_volume_ml", "rv_volume_ml"]
                            ).astype({"eid": str})
    crops = crops.astype({"eid": str}).merge(masks, on="eid")
    if len(crops) > n_subjects:
        crops = crops.sample(n_subjects, random_state=seed).sort_values("eid")
    n = max(len(crops), 1)
    fig, axes = plt.subplots(n, 5, figsize=(10.5, 2.1 * n + 0.4), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1, 1, 1, 1.5]})
    for ax in axes.ravel():
        ax.set_axis_off()
    fig.legend(handles=[Patch(facecolor="none", edgecolor=c, label=name) for name, c in CONTOURS.values()],
               loc="upper center", ncol=3, fontsize=7, frameon=False)
    shown = {"legend": [name for name, _ in CONTOURS.values()], "subjects": []}
    for row, r in zip(axes, crops.itertuples(index=False)):
        shown["subjects"].append({"eid": r.eid, "frames": {"ED": int(r.ed_frame), "ES": int(r.es_frame)},
                                  "curve_frames": len(r.lv_volume_ml)})
        volume_panel(row[4], np.asarray(r.lv_volume_ml), np.asarray(r.rv_volume_ml), int(r.ed_frame),
                     int(r.es_frame))
        for c, (view, frame) in enumerate([("ED", r.ed_frame), ("ES", r.es_frame)]):
            image, labels = labels_in_crop(getattr(r, f"path_{view}"), r.mask_path, int(frame))
            for j, k in enumerate((2, 3)):
                ax = row[2 * c + j]
                ax.imshow(image[:, :, k].T, cmap="gray", origin="lower", vmin=0, vmax=1)
                for lab, (_, colour) in CONTOURS.items():
                    if (labels[:, :, k] == lab).any():
                        ax.contour((labels[:, :, k] == lab).T.astype(float), levels=[0.5], colors=colour,
                                   linewidths=0.7, origin="lower")
                ax.set_title(f"{name(r.eid)} {view} (frame {frame}) z{k}", fontsize=7)
    if crops.empty:
        axes[0, 0].text(0, 0.5, "no crops in this shard", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (2.1 * n + 0.4)))
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=90)
    plt.close(fig)
    log.info("QC montage of %d subjects: %s", len(crops), out_png)
    return shown
