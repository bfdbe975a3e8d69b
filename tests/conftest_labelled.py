"""Writers of synthetic labelled cines in the public sets' own layouts and label
conventions (ACDC, M&Ms, M&Ms-2) and in this project's, for the labelled-source
tests. Imported explicitly."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

# project labels 0 bg, 1 LV, 2 myo, 3 RV -> ACDC's 0 bg, 1 RV, 2 myo, 3 LV
TO_ACDC = np.array([0, 3, 2, 1], np.uint8)


def _save(array, affine, path: Path, dtype) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(array).astype(dtype), affine), path)


def write_acdc(subjects, root: Path) -> Path:
    """``patientNNN/patientNNN_frameMM[_gt].nii.gz`` for ED and ES (1-based) + Info.cfg."""
    for k, (row, image, labels, affine) in enumerate(subjects, start=1):
        name = f"patient{k:03d}"
        folder = root / "training" / name
        ed, es = int(row.ed_frame), int(row.es_frame)
        for t in (ed, es):
            _save(image[..., t], affine, folder / f"{name}_frame{t + 1:02d}.nii.gz", np.float32)
            _save(TO_ACDC[labels[..., t]], affine, folder / f"{name}_frame{t + 1:02d}_gt.nii.gz", np.uint8)
        _save(image, affine, folder / f"{name}_4d.nii.gz", np.float32)
        (folder / "Info.cfg").write_text(f"ED: {ed + 1}\nES: {es + 1}\nGroup: NOR\nHeight: 170.0\n"
                                         f"NbFrame: {image.shape[3]}\nWeight: 70.0\n")
    return root


def write_mnms(subjects, root: Path) -> Path:
    """``Training/Labeled/{code}/{code}_sa.nii.gz`` (4D) + ``_sa_gt`` with only ED and
    ES labelled, and the dataset CSV with 0-based ED/ES."""
    rows = []
    for k, (row, image, labels, affine) in enumerate(subjects):
        code = f"A{k:01d}B{k:01d}C{k:01d}"
        ed, es = int(row.ed_frame), int(row.es_frame)
        gt = np.zeros_like(labels)
        gt[..., ed], gt[..., es] = labels[..., ed], labels[..., es]
        folder = root / "Training" / "Labeled" / code
        _save(image, affine, folder / f"{code}_sa.nii.gz", np.float32)
        _save(gt, affine, folder / f"{code}_sa_gt.nii.gz", np.uint8)
        rows.append({"External code": code, "VendorName": "Siemens", "Vendor": "A", "Centre": 1, "ED": ed, "ES": es})
    pd.DataFrame(rows).to_csv(root / "211230_M&Ms_Dataset_information_diagnosis_opendataset.csv", index=False)
    return root


def write_mnms2(subjects, root: Path) -> Path:
    """``dataset/{id}/{id}_SA_ED[_gt].nii.gz`` and ``_SA_ES``."""
    for k, (row, image, labels, affine) in enumerate(subjects, start=1):
        folder = root / "dataset" / f"{k:03d}"
        for phase, t in (("ED", int(row.ed_frame)), ("ES", int(row.es_frame))):
            _save(image[..., t], affine, folder / f"{k:03d}_SA_{phase}.nii.gz", np.float32)
            _save(labels[..., t], affine, folder / f"{k:03d}_SA_{phase}_gt.nii.gz", np.uint8)
    return root
