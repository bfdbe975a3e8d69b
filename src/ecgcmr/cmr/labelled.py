"""Labelled short-axis sets the segmenter learns from, read in their own layouts.

``segmentation.labelled`` is a list of sources (or, as before, one ``nifti`` source
written as a mapping), each ``{format, path, label_map, ...}``:

* ``nifti`` — this project's form: ``{path}/{id}.nii.gz`` images (x, y, z[, t]) and
  ``{masks_dir}/{id}{mask_suffix}.nii.gz`` label maps on the same grid; ``path``
  null means the cohort's ingested cines (masks default to the synthetic truth).
* ``acdc`` — ACDC (Bernard et al. 2018): ``{path}/patientNNN/patientNNN_frameMM.nii.gz``
  + ``..._frameMM_gt.nii.gz`` for the ED and ES frames named in ``Info.cfg``
  (``ED: 1``, ``ES: 12``, 1-based); labels 1 RV, 2 myocardium, 3 LV.
* ``mnms`` — M&Ms (Campello et al. 2021): ``{code}/{code}_sa.nii.gz`` (4D) +
  ``{code}_sa_gt.nii.gz`` (only ED and ES labelled), ED/ES 0-based from the dataset
  CSV (columns ``External code``, ``ED``, ``ES``; ``info_csv``, default the one CSV
  under ``path``); and M&Ms-2's ``{id}_SA_ED.nii.gz`` / ``_SA_ES.nii.gz`` with their
  ``_gt`` files. Labels 1 LV, 2 myocardium, 3 RV (this project's).

``label_map`` lists, for source label 0, 1, 2, ..., the project label (0 background,
1 LV blood pool, 2 LV myocardium, 3 RV blood pool): ACDC's default is ``[0, 3, 2, 1]``.
Every subject is a :class:`LabelledSubject` whose ``load`` gives the image and the
mask in project labels as (x, y, z, t) with only labelled frames, so training never
sees an unlabelled frame as background.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from ..errors import InputError

FORMATS = ("nifti", "acdc", "mnms")
DEFAULT_LABEL_MAP = {"nifti": [0, 1, 2, 3], "acdc": [0, 3, 2, 1], "mnms": [0, 1, 2, 3]}


@dataclass(frozen=True)
class LabelledSubject:
    """One labelled subject: ``frames`` are (image file, mask file, frame index or
    None for a 3D file) pairs; all are stacked along t by :meth:`load`."""

    eid: str
    frames: tuple[tuple[str, str, int | None], ...]
    label_map: tuple[int, ...] = (0, 1, 2, 3)
    source: str = "nifti"
    files: tuple[str, ...] = field(default=())

    def load(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(image float32 (x, y, z, t), mask uint8 (x, y, z, t) in project labels, affine)."""
        images, masks, affine, cache = [], [], None, {}
        for img_path, mask_path, t in self.frames:
            for p in (img_path, mask_path):
                if p not in cache:
                    try:
                        cache[p] = nib.load(p)
                    except Exception as e:  # nibabel raises many types for damaged files
                        raise InputError(p, "unreadable_nifti", f"{type(e).__name__}: {e}") from e
            img, msk = cache[img_path], cache[mask_path]
            data = np.asarray(img.dataobj, np.float32)
            mask = np.asarray(msk.dataobj)
            if t is not None:  # one frame of a 4D file
                data = data[..., t] if data.ndim == 4 else data
                mask = mask[..., t] if mask.ndim == 4 else mask
            data = data.reshape(data.shape + (1,) * (4 - data.ndim))
            mask = mask.reshape(mask.shape + (1,) * (4 - mask.ndim))
            if data.shape != mask.shape:
                raise InputError(mask_path, "mask_grid_mismatch", f"mask {mask.shape} vs image {data.shape}")
            images.append(data), masks.append(self.map_labels(mask, mask_path))
            affine = np.asarray(img.affine, float) if affine is None else affine
        return np.concatenate(images, axis=3), np.concatenate(masks, axis=3), affine

    def map_labels(self, mask: np.ndarray, path: str) -> np.ndarray:
        lut = np.asarray(self.label_map, np.uint8)
        values = np.unique(mask)
        if values.min() < 0 or values.max() >= len(lut) or not np.allclose(values, np.round(values)):
            raise InputError(path, "unknown_label", f"labels {values.tolist()} outside label_map {list(lut)}")
        return lut[mask.astype(np.int64)]


def _nii(folder: Path, stem: str) -> Path:
    for ext in (".nii.gz", ".nii"):
        if (folder / f"{stem}{ext}").is_file():
            return folder / f"{stem}{ext}"
    return folder / f"{stem}.nii.gz"


def read_nifti(path: str, masks_dir: str, mask_suffix: str = "_labels", label_map=None) -> list[LabelledSubject]:
    """Every ``{id}.nii.gz`` under ``path`` with a ``{masks_dir}/{id}{suffix}.nii.gz``."""
    out = []
    for img in sorted(Path(path).glob("*.nii.gz")):
        eid = img.name[: -len(".nii.gz")]
        mask = Path(masks_dir, f"{eid}{mask_suffix}.nii.gz")
        if not eid.endswith(mask_suffix) and mask.is_file():
            out.append(LabelledSubject(eid, ((str(img), str(mask), None),), tuple(label_map or DEFAULT_LABEL_MAP["nifti"])))
    return out


def read_info_cfg(path: Path) -> dict[str, str]:
    """ACDC ``Info.cfg``: ``key: value`` lines."""
    out = {}
    for line in Path(path).read_text().splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def read_acdc(path: str, label_map=None) -> list[LabelledSubject]:
    """ACDC patients under ``path`` (searched recursively: training/ and testing/)."""
    out = []
    for info in sorted(Path(path).rglob("Info.cfg")):
        folder = info.parent
        cfg = read_info_cfg(info)
        try:
            ed, es = int(cfg["ED"]), int(cfg["ES"])
        except (KeyError, ValueError) as e:
            raise InputError(info, "bad_info_cfg", f"no integer ED:/ES: lines ({e})") from e
        frames = []
        for f in (ed, es):
            img = _nii(folder, f"{folder.name}_frame{f:02d}")
            gt = _nii(folder, f"{folder.name}_frame{f:02d}_gt")
            if not (img.is_file() and gt.is_file()):
                raise InputError(img, "missing_frame", f"Info.cfg names frame {f}; {img.name} or its _gt absent")
            frames.append((str(img), str(gt), None))
        out.append(LabelledSubject(f"acdc_{folder.name}", tuple(frames),
                                   tuple(label_map or DEFAULT_LABEL_MAP["acdc"]), "acdc"))
    return out


def _mnms_phases(info_csv: Path) -> dict[str, tuple[int, int]]:
    df = pd.read_csv(info_csv)
    cols = {c.strip().lower(): c for c in df.columns}
    code = cols.get("external code") or cols.get("subject code") or cols.get("code")
    if code is None or "ed" not in cols or "es" not in cols:
        raise InputError(info_csv, "bad_info_csv", f"needs 'External code', 'ED', 'ES' columns, has {list(df.columns)}")
    return {str(r[code]).strip(): (int(r[cols["ed"]]), int(r[cols["es"]])) for _, r in df.iterrows()}


def read_mnms(path: str, label_map=None, info_csv: str | None = None) -> list[LabelledSubject]:
    """M&Ms 4D subjects (ED/ES from the CSV) and M&Ms-2 ED/ES files under ``path``."""
    root, lm = Path(path), tuple(label_map or DEFAULT_LABEL_MAP["mnms"])
    out = []
    gts4d = sorted(root.rglob("*_sa_gt.nii.gz"))
    if gts4d:
        csvs = [Path(info_csv)] if info_csv else sorted(root.rglob("*.csv"))
        if len(csvs) != 1:
            raise InputError(root, "bad_info_csv", f"M&Ms needs one dataset CSV with ED/ES, found {len(csvs)}; "
                                                   "set info_csv")
        phases = _mnms_phases(csvs[0])
        for gt in gts4d:
            code = gt.name[: -len("_sa_gt.nii.gz")]
            img = gt.with_name(f"{code}_sa.nii.gz")
            if code not in phases:
                raise InputError(gt, "missing_phases", f"{code} absent from {csvs[0].name}")
            if not img.is_file():
                raise InputError(img, "missing_image", f"{gt.name} has no image")
            ed, es = phases[code]
            out.append(LabelledSubject(f"mnms_{code}", ((str(img), str(gt), ed), (str(img), str(gt), es)), lm, "mnms"))
    for gt in sorted(root.rglob("*_SA_ED_gt.nii.gz")):  # M&Ms-2
        code = gt.name[: -len("_SA_ED_gt.nii.gz")]
        pairs = [(gt.with_name(f"{code}_SA_{p}.nii.gz"), gt.with_name(f"{code}_SA_{p}_gt.nii.gz")) for p in ("ED", "ES")]
        if all(i.is_file() and m.is_file() for i, m in pairs):
            out.append(LabelledSubject(f"mnms2_{code}", tuple((str(i), str(m), None) for i, m in pairs), lm, "mnms"))
    return out


def normalise_sources(labelled, cohort_truth_dir: str | None, synthetic: bool) -> list[dict]:
    """``segmentation.labelled`` (None, one mapping or a list) as a list of sources with
    every key filled; a legacy mapping is one ``nifti`` source."""
    if not labelled:
        return []
    items = [labelled] if isinstance(labelled, dict) else list(labelled)
    out = []
    for s in items:
        s = dict(s)
        fmt = s.get("format", "nifti")
        if fmt not in FORMATS:
            raise ValueError(f"segmentation.labelled: format {fmt!r} not one of {FORMATS}")
        path = s.get("path", s.get("images_dir"))
        masks = s.get("masks_dir")
        if fmt == "nifti" and not masks and synthetic and cohort_truth_dir:
            masks = str(Path(cohort_truth_dir, "masks"))
        if fmt == "nifti" and not masks:
            continue  # no masks anywhere: nothing labelled (real data without contours)
        if fmt != "nifti" and not path:
            raise ValueError(f"segmentation.labelled: a {fmt} source needs a path")
        out.append({"format": fmt, "path": path, "masks_dir": masks,
                    "mask_suffix": s.get("mask_suffix", "_labels"),
                    "label_map": list(s.get("label_map") or DEFAULT_LABEL_MAP[fmt]),
                    "info_csv": s.get("info_csv"), "val_fraction": float(s.get("val_fraction", 0.15))})
    return out


def segmentation_method(seg: dict, synthetic: bool, cohort_truth_dir: str | None = "truth") -> str:
    """``unet`` or ``localise`` from ``segmentation.method`` (``auto``: ``unet`` when
    weights or a labelled set are given, else the localiser)."""
    method = seg.get("method") or "auto"
    if method != "auto":
        return method
    has_labels = bool(normalise_sources(seg.get("labelled"), cohort_truth_dir, synthetic))
    return "unet" if seg.get("weights") or has_labels else "localise"


def read_sources(sources: list[dict], cohort_images: dict[str, str] | None = None) -> list[LabelledSubject]:
    """Every subject of every source; a ``nifti`` source without ``path`` labels the
    cohort's ingested cines (``cohort_images``: eid → cine)."""
    out = []
    for s in sources:
        if s["format"] == "acdc":
            out += read_acdc(s["path"], s["label_map"])
        elif s["format"] == "mnms":
            out += read_mnms(s["path"], s["label_map"], s["info_csv"])
        elif s["path"]:
            out += read_nifti(s["path"], s["masks_dir"], s["mask_suffix"], s["label_map"])
        else:
            for eid, img in sorted((cohort_images or {}).items()):
                mask = Path(s["masks_dir"], f"{eid}{s['mask_suffix']}.nii.gz")
                if mask.is_file():
                    out.append(LabelledSubject(str(eid), ((str(img), str(mask), None),), tuple(s["label_map"])))
    seen = {}
    for subj in out:
        if subj.eid in seen:
            raise ValueError(f"labelled subject id {subj.eid} appears in two sources")
        seen[subj.eid] = subj
    return out


