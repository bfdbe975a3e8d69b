"""Benchmark: the CMR volume stage per core, at the demo size of config/config.yaml.

* segment — subjects/s on one CPU thread (read cine, U-Net on every slice x frame,
  largest components, volumes, write mask), measured; and a GPU-bound estimate:
  forward FLOPs per subject (``torch.utils.flop_counter``) divided by a nominal H100
  dense bf16 throughput (989 TFLOP/s) at an assumed 30 % utilisation (small 2D convs
  never reach peak), i.e. the rate the network alone would allow, I/O excluded.
* crop — subjects/s on one core (read cine + mask, four views, four NIfTI writes);
  target >= 5 subjects/s per core.

* localiser — the training-free localiser (``segmentation.method: localise``) on
  ``--n-localiser`` synthetic subjects against the generator's truth: the share whose
  heart box (as the crop rule draws it, over its six slices) holds every ground-truth
  myocardium voxel of those slices in every frame, the share with ED and ES both
  within +-2 frames (cyclic) of the truth, and subjects/s per core (CPU time).
  Targets: >= 0.95 and >= 0.90.

The segmenter is untrained (timings do not depend on the weights); the masks the crop
step uses are the synthetic ground truth. Writes bench/results/cmr.json.

    .venv/bin/python bench/cmr.py [--n 8] [--n-localiser 40] [--localiser-only] [--config config/config.yaml]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the test helpers render subjects the way ingest writes them

from conftest_cmr_volumes import render_subjects, write_subjects  # noqa: E402

from ecgcmr.cmr.crop import crop_subject, heart_box, lv_centre_slice, slice_window  # noqa: E402
from ecgcmr.cmr.localise import localise_cine  # noqa: E402
from ecgcmr.cmr.phases import LV_BLOOD_POOL, LV_MYOCARDIUM, select_phases, volume_curve  # noqa: E402
from ecgcmr.cmr.phases import CurveRules  # noqa: E402
from ecgcmr.cmr.segment import segment_subject  # noqa: E402
from ecgcmr.cmr.segmenter import build_unet  # noqa: E402
from ecgcmr.config import load_config  # noqa: E402
from ecgcmr.errors import InputError  # noqa: E402

H100_BF16_DENSE_FLOPS = 989e12
ASSUMED_UTILISATION = 0.30


def forward_flops(model: torch.nn.Module, n_images: int, nx: int, ny: int, divisor: int) -> float:
    px, py = -(-nx // divisor) * divisor, -(-ny // divisor) * divisor
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(n_images, 1, px, py))
    return float(counter.get_total_flops())


def _cyclic(a: int, b: int, n: int) -> int:
    return min((a - b) % n, (b - a) % n)


def bench_localiser(config: dict, n: int, seed: int = 21) -> dict:
    """The localiser against the synthetic truth (see the module docstring)."""
    import math

    torch.set_num_threads(1)
    seg, crop = config["segmentation"], config["crop"]
    box_ok, phase_ok, failed, cpu, ed_err, es_err, vols = 0, 0, {}, 0.0, [], [], []
    for row, image, truth, affine in render_subjects(n, seed=seed):
        c0 = time.process_time()
        try:
            labels = localise_cine(image, affine, seg.get("localise"))
            ed, es = select_phases(volume_curve(labels, LV_BLOOD_POOL, affine))
            z0 = slice_window(lv_centre_slice(labels[..., ed]), image.shape[2], crop["n_slices"])
            pix = np.linalg.norm(affine[:3, :2], axis=0)
            x0, x1, y0, y1 = heart_box(labels[:, :, z0:z0 + crop["n_slices"]], crop["heart_labels"],
                                       tuple(int(math.ceil(crop["margin_mm"] / p)) for p in pix))
        except InputError as e:  # counts as a miss on both measures
            cpu += time.process_time() - c0
            failed[str(row.eid)] = e.reason
            continue
        cpu += time.process_time() - c0
        outside = (truth[:, :, z0:z0 + crop["n_slices"]] == LV_MYOCARDIUM).any(axis=(2, 3))
        outside[x0:x1, y0:y1] = False
        box_ok += not outside.any()
        lv = volume_curve(labels, LV_BLOOD_POOL, affine)
        vols.append((lv.max(), lv.min(), float(row.LVDV), float(row.LVESV)))
        nt = image.shape[3]
        ed_err.append(_cyclic(ed, int(row.ed_frame), nt)), es_err.append(_cyclic(es, int(row.es_frame), nt))
        phase_ok += ed_err[-1] <= 2 and es_err[-1] <= 2
    return {"n_subjects": n, "seed": seed, "box_contains_myocardium_fraction": box_ok / n,
            "ed_es_within_2_frames_fraction": phase_ok / n, "subjects_per_s_per_core": n / cpu,
            "ed_frame_error_mean": float(np.mean(ed_err)) if ed_err else None,
            "es_frame_error_mean": float(np.mean(es_err)) if es_err else None,
            # its LV volumes (thresholded blood pools) against the truth: boxes/phases, not phenotypes
            "lvedv_bias_ml": float(np.mean([v[0] - v[2] for v in vols])) if vols else None,
            "lvedv_r": float(np.corrcoef([v[0] for v in vols], [v[2] for v in vols])[0, 1]) if len(vols) > 1 else None,
            "lvesv_bias_ml": float(np.mean([v[1] - v[3] for v in vols])) if vols else None,
            "excluded": failed, "targets": {"box_contains_myocardium_fraction": 0.95,
                                            "ed_es_within_2_frames_fraction": 0.90}}


def bench(config: dict, n: int) -> dict:
    torch.set_num_threads(1)
    seg, crop = config["segmentation"], config["crop"]
    arch = {**seg["model"], "intensity_percentiles": seg["intensity_percentiles"]}
    model = build_unet(**arch).eval()
    rules = CurveRules.from_config({**seg["qc"], "min_lv_ml": 0, "min_stroke_ml": 0, "ef_range": [0, 100]})
    params = {"batch_size": seg["batch_size"], "largest_component": seg["largest_component"]}
    subjects = render_subjects(n, seed=11)
    nx, ny, nz, nt = subjects[0][1].shape
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        index, masks = write_subjects(subjects, tmp)
        t0, c0 = time.perf_counter(), time.process_time()
        for row, *_ in subjects:
            try:
                segment_subject(model, arch, str(row.eid), str(tmp / "nifti" / f"{row.eid}.nii.gz"),
                                tmp / "seg", rules, params, "cpu")
            except InputError:
                pass  # an untrained net may find no heart: the work was done all the same
        seg_wall, seg_cpu = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        for row, *_ in subjects:
            crop_subject(str(row.eid), str(tmp / "nifti" / f"{row.eid}.nii.gz"),
                         str(masks / f"{row.eid}_labels.nii.gz"), 0, int(row.es_frame), tmp / "crops", crop)
        crop_wall, crop_cpu = time.perf_counter() - t0, time.process_time() - c0
    flops = forward_flops(model, nz * nt, nx, ny, int(np.prod(seg["model"]["strides"])))
    gpu_rate = H100_BF16_DENSE_FLOPS * ASSUMED_UTILISATION / flops
    # UK Biobank size with the recommended UKB net (config/ukb.yaml): 208x208, 10 x 50
    ukb_model = build_unet(channels=[16, 32, 64, 128, 256], strides=[2, 2, 2, 2]).eval()
    ukb_flops = forward_flops(ukb_model, 10 * 50, 208, 208, 16)
    return {
        "what": "CMR volume stage per core at the demo size",
        "cine_shape": [nx, ny, nz, nt], "n_subjects": n, "model": seg["model"],
        "segment": {"subjects_per_s_per_core": n / seg_cpu, "wall_subjects_per_s": n / seg_wall,
                    "cpu_s_per_subject": seg_cpu / n},
        "segment_gpu_estimate": {
            "forward_gflops_per_subject": flops / 1e9,
            "assumption": f"H100 dense bf16 {H100_BF16_DENSE_FLOPS / 1e12:.0f} TFLOP/s at "
                          f"{ASSUMED_UTILISATION:.0%} utilisation; network only, no I/O",
            "subjects_per_s": gpu_rate,
            "ukb_208x208x10x50_unet16-256_gflops_per_subject": ukb_flops / 1e9,
            "ukb_subjects_per_s": H100_BF16_DENSE_FLOPS * ASSUMED_UTILISATION / ukb_flops},
        "crop": {"subjects_per_s_per_core": n / crop_cpu, "wall_subjects_per_s": n / crop_wall,
                 "target_subjects_per_s_per_core": 5.0,
                 "meets_target": n / crop_cpu >= 5.0, "shape": crop["shape"]},
        "torch": torch.__version__, "python": platform.python_version(), "machine": platform.machine(),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--n-localiser", type=int, default=40)
    ap.add_argument("--localiser-only", action="store_true",
                    help="re-measure only the localiser, keeping the other sections of --out")
    ap.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "cmr.json"))
    args = ap.parse_args()
    config = load_config(args.config)   # validated: schema defaults filled, as the rules see it
    if args.localiser_only and Path(args.out).is_file():
        result = {**json.loads(Path(args.out).read_text()), "localiser": bench_localiser(config, args.n_localiser)}
    else:
        result = {**bench(config, args.n), "localiser": bench_localiser(config, args.n_localiser)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
