"""The prediction targets of the paper (Table 1), with units, in Table 1's order."""

from __future__ import annotations

# name -> (description, unit)
PHENOTYPES: dict[str, tuple[str, str]] = {
    "LVDV": ("LV end-diastolic volume", "mL"),
    "LVSV": ("LV stroke volume", "mL"),
    "LVMM": ("LV myocardial mass", "g"),
    "RVDV": ("RV end-diastolic volume", "mL"),
    "RVSV": ("RV stroke volume", "mL"),
    "LVMT": ("LV mean myocardial wall thickness", "mm"),
    "LVGCS": ("LV global circumferential strain", "%"),
    "LVGLS": ("LV global longitudinal strain", "%"),
    "LVGRS": ("LV global radial strain", "%"),
    "LVEF": ("LV ejection fraction", "%"),
    "LVCO": ("LV cardiac output", "L/min"),
    "RVEF": ("RV ejection fraction", "%"),
}

def phenotype_columns(phenotype_fields) -> list[str]:
    """The phenotype columns a config's ``phenotype_fields`` name, in the order the tables
    hold them: Table 1's 12 first, then any other (e.g. LVESV 24101 and RVESV 24107, the
    ES volumes of CMR pretraining) in the config's order."""
    return [*PHENOTYPES, *(n for n in phenotype_fields if n not in PHENOTYPES)]


# Table 1's two phenotype blocks: a table of a subset of targets keeps each in its block.
VOLUMETRIC: tuple[str, ...] = ("LVDV", "LVSV", "LVMM", "RVDV", "RVSV", "LVMT")
FUNCTIONAL: tuple[str, ...] = ("LVGCS", "LVGLS", "LVGRS", "LVEF", "LVCO", "RVEF")

OUTCOMES: dict[str, str] = {
    "CAD": "coronary artery disease",
    "AF": "atrial fibrillation",
    "SCD": "sudden cardiac death",
    "HF": "heart failure",
    "MI": "myocardial infarction",
    "CMP": "cardiomyopathy",
}

# The binary targets: probed as classifications and scored by AUROC (in % in the tables).
CLASSIFICATION: frozenset[str] = frozenset(OUTCOMES) | {"sex"}

# Table 2's ECG-derived targets (columns of the ECG index; age and sex are columns of
# the targets table).
ECG_DERIVED = {"qrs_num": ("number of QRS complexes in 10 s", ""),
               "qrs_duration": ("QRS duration", "ms")}
