"""Outcome labels from long-form ICD-10 diagnoses, optionally in a window around the
imaging visit.

The paper does not say whether its outcomes are prevalent or incident; UK Biobank
analyses use both, so the window is config (``outcome_window``):

- ``any``: 1 if the subject has a matching code at any date (or none given), else 0;
- ``prevalent``: 1 if a matching code is dated on or before the visit, else 0;
- ``incident``: 1 if the first matching code falls after the visit (within
  ``horizon_years`` when set), 0 if there is none in that window, and missing for a
  subject diagnosed on or before the visit: a prevalent case is not at risk of a first
  event, so it is left out of that outcome's probe rather than counted as negative.

With a window, a matching code without a date cannot be placed: where no dated code
decides, the label is missing (NA), never guessed. Labels are pandas ``Int8``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .phenotypes import OUTCOMES

MODES = ("any", "prevalent", "incident")


@dataclass(frozen=True)
class OutcomeWindow:
    mode: str = "any"
    visit_date_field: int = 53          # UKB "Date of attending assessment centre"
    horizon_years: float | None = None  # incident only; None = any time after the visit

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"outcome_window.mode is {self.mode!r}; expected one of {', '.join(MODES)}")
        if self.horizon_years is not None and (self.mode != "incident" or self.horizon_years <= 0):
            raise ValueError("outcome_window.horizon_years needs mode 'incident' and a positive value")

    @classmethod
    def from_config(cls, section: dict | None) -> "OutcomeWindow":
        return cls(**(section or {}))

    @property
    def windowed(self) -> bool:
        return self.mode != "any"


def outcome_labels(diagnoses: pd.DataFrame, eids: pd.Series, outcomes: dict[str, list[str]],
                   window: OutcomeWindow = OutcomeWindow(),
                   visit_dates: pd.Series | None = None) -> pd.DataFrame:
    """``eid`` + one ``Int8`` column per outcome for ``eids``.

    ``diagnoses``: ``eid, icd10[, date]`` (codes without dots, dates as datetimes);
    ``visit_dates``: datetimes by eid, needed when the window is not ``any`` (a subject
    without one gets missing labels).
    """
    labels = pd.DataFrame({"eid": eids.astype(str).to_numpy()})
    if window.windowed:
        if "date" not in diagnoses.columns or visit_dates is None:
            raise ValueError(f"outcome_window.mode={window.mode} needs diagnosis dates and visit dates")
        visit = visit_dates.reindex(labels["eid"]).to_numpy("datetime64[ns]")
        pos = pd.Series(np.arange(len(labels)), index=labels["eid"].to_numpy())   # eid -> row
    for name in OUTCOMES:
        prefixes = tuple(p.upper().replace(".", "") for p in outcomes[name])
        hits = diagnoses.loc[diagnoses["icd10"].str.startswith(prefixes)]
        if not window.windowed:
            values = labels["eid"].isin(set(hits["eid"])).to_numpy(np.float64)
        else:
            values = _windowed(hits, pos, visit, window)
        labels[name] = pd.array(np.where(np.isnan(values), None, values), dtype="Int8")
    return labels


def _windowed(hits: pd.DataFrame, pos: pd.Series, visit: np.ndarray, window: OutcomeWindow) -> np.ndarray:
    """float labels (NaN = missing) of one outcome for the subjects of ``pos`` (eid ->
    row; ``visit`` aligned with the rows)."""
    hits = hits[hits["eid"].isin(pos.index)]
    row = pos.loc[hits["eid"]].to_numpy()
    date = hits["date"].to_numpy("datetime64[ns]")
    at = visit[row]
    dated = ~np.isnat(date) & ~np.isnat(at)
    before = dated & (date <= at)
    after = dated & (date > at)
    if window.horizon_years is not None:
        horizon = np.timedelta64(int(round(window.horizon_years * 365.25 * 86400)), "s")
        after &= date <= at + horizon
    undated = ~dated & ~np.isnat(at)

    def any_of(mask):
        out = np.zeros(len(pos), bool)
        out[row[mask]] = True
        return out

    has_before, has_after, has_undated = any_of(before), any_of(after), any_of(undated)
    values = np.zeros(len(pos))
    if window.mode == "prevalent":
        values[has_undated] = np.nan
        values[has_before] = 1.0
    else:  # incident
        values[has_after] = 1.0
        values[has_undated] = np.nan   # it may precede the visit
        values[has_before] = np.nan
    values[np.isnat(visit)] = np.nan
    return values
