"""PhysioNet WFDB records (PTB, PTB-XL, ...) as 12-lead ``EcgRecord``s.

Lets the pipeline run on public ECGs: the 12 standard leads are picked by name
whatever their case (PTB writes ``i``, ``avr``, ``v1`` next to Frank leads), physical
units are converted to mV, the rate is resampled to the cache's and the first
``n_samples`` are kept.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import InputError
from .ecg_common import check_flat_leads, resample_to
from .record import STANDARD_LEADS, EcgRecord

_LEAD_BY_LOWER = {name.lower(): name for name in STANDARD_LEADS}
_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "v": 1e3}
_SUFFIXES = {".hea", ".dat", ".mat", ".xyz"}


def record_base(path: str | Path) -> str:
    """``.../HR06000.hea`` or ``.../HR06000`` -> ``.../HR06000`` (what wfdb expects)."""
    p = Path(path)
    return str(p.with_suffix("")) if p.suffix.lower() in _SUFFIXES else str(p)


def read_wfdb_record(path: str | Path, eid: str | None = None, *, sample_rate: int = 500,
                     n_samples: int | None = 5000, flat_lead_uv: float | None = 10.0) -> EcgRecord:
    """Read the first ``n_samples`` (at ``sample_rate``) of a WFDB record's 12 standard leads.

    Reasons: ``unreadable_file``, ``bad_header``, ``not_12_lead``, ``too_short``,
    ``bad_units``, ``nan_samples``, ``bad_sample_rate``, ``flat_lead``.
    """
    import wfdb   # here, not at the top: it pulls in pandas and matplotlib (~1 CPU-s) that XML ingest never needs

    base = record_base(path)
    eid = Path(base).name if eid is None else str(eid)
    try:
        header = wfdb.rdheader(base)
    except FileNotFoundError as e:
        raise InputError(base, "unreadable_file", str(e)) from None
    except Exception as e:   # wfdb raises bare ValueError/IndexError on malformed headers
        raise InputError(base, "bad_header", f"{type(e).__name__}: {e}") from None

    names = [str(n).strip().lower() for n in (header.sig_name or [])]
    channels = [names.index(lead.lower()) if lead.lower() in names else -1 for lead in STANDARD_LEADS]
    missing = [lead for lead, c in zip(STANDARD_LEADS, channels) if c < 0]
    if missing:
        raise InputError(base, "not_12_lead",
                         f"signals {header.sig_name} lack standard lead(s) {', '.join(missing)}")
    fs = float(header.fs)
    need = header.sig_len if n_samples is None else math.ceil(n_samples * fs / sample_rate)
    if header.sig_len < need:
        raise InputError(base, "too_short", f"{header.sig_len / fs:.2f} s, need {need / fs:.2f} s")
    try:
        rec = wfdb.rdrecord(base, sampto=need, channels=channels, physical=True)
    except Exception as e:
        raise InputError(base, "unreadable_file", f"{type(e).__name__}: {e}") from None

    units = [str(u).strip().lower() for u in rec.units]
    unknown = sorted({u for u in units if u not in _TO_MV})
    if unknown:
        raise InputError(base, "bad_units", f"units {unknown} are not a voltage")
    signal = rec.p_signal.T * np.array([_TO_MV[u] for u in units])[:, None]
    if not np.isfinite(signal).all():
        raise InputError(base, "nan_samples", f"{int((~np.isfinite(signal)).sum())} missing samples")
    signal = resample_to(signal, fs, sample_rate, base)
    if n_samples is not None:
        signal = signal[:, :n_samples]
    check_flat_leads(signal, flat_lead_uv, base)
    return EcgRecord(eid=eid, signal=signal.astype(np.float32), fs=float(sample_rate),
                     leads=list(STANDARD_LEADS), measurements={}, source=base)
