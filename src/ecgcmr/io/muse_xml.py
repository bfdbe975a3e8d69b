"""GE MUSE resting-ECG XML (root ``<RestingECG>``): reader.

Hospital ECG archives are mostly MUSE exports, so ECG-only inference (and an external
cohort's ingest) must read them; UK Biobank itself ships CardioSoft (``cardiosoft.py``).
The layout follows the one public export (ml4h's ``muse_ecg_deidentified_1.xml``, see
shared/data/SOURCES.md), read the way BRAVEHEART's ``load_musexml.m`` reads it:

- ``<Waveform>`` blocks: a ``Median`` beat and the ``Rhythm`` strip (used here). The
  rate is ``SampleBase · 10^SampleExponent`` Hz.
- one ``<LeadData>`` per stored lead: ``LeadID``, ``LeadAmplitudeUnitsPerBit`` in
  ``LeadAmplitudeUnits`` (MICROVOLTS), ``FirstSampleBaseline``, ``LeadSampleSize``
  (2 bytes) and ``WaveFormData``: base64 of little-endian int16 samples.
- MAC carts store the 8 independent leads (I, II, V1-V6). III, aVR, aVL and aVF are
  Einthoven/Goldberger combinations of I and II, so they are derived when absent.

Parsed with defusedxml (MUSE files declare an external ``restecg.dtd``: it is never
fetched, and entity declarations are refused). The first ``n_samples`` at
``sample_rate`` are kept, as for WFDB records.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from xml.etree.ElementTree import ParseError

import defusedxml
import defusedxml.ElementTree as DET
import numpy as np

from ..errors import InputError
from .cardiosoft import eid_from_path
from .ecg_common import check_flat_leads, element_number, element_text, resample_to
from .record import STANDARD_LEADS, EcgRecord

ROOT = "RestingECG"
UNITS_TO_MV = {"MICROVOLTS": 1e-3, "MILLIVOLTS": 1.0}
# MUSE element -> EcgRecord measurement key (ecgcmr.io.record.MEASUREMENTS)
MEASUREMENT_TAGS = {
    "VentricularRate": "ventricular_rate", "PRInterval": "pq_interval", "QRSDuration": "qrs_duration",
    "QTInterval": "qt_interval", "QTCorrected": "qtc_interval", "PAxis": "p_axis",
    "RAxis": "r_axis", "TAxis": "t_axis", "QRSCount": "qrs_num",
}
# Derived limb leads from I and II (Einthoven: III = II - I; Goldberger's augmented leads).
DERIVED = {
    "III": lambda i, ii: ii - i,
    "aVR": lambda i, ii: -(i + ii) / 2,
    "aVL": lambda i, ii: i - ii / 2,
    "aVF": lambda i, ii: ii - i / 2,
}
_LEAD_BY_UPPER = {name.upper(): name for name in STANDARD_LEADS}


def read_muse_xml(path: str | Path, eid: str | None = None, *, sample_rate: int = 500,
                  n_samples: int | None = 5000, flat_lead_uv: float | None = 10.0) -> EcgRecord:
    """Read the rhythm strip of a MUSE XML as a 12-lead ``EcgRecord`` in mV.

    Reasons of the ``InputError`` raised: ``unreadable_file``, ``not_xml``,
    ``truncated_xml``, ``unsafe_xml``, ``not_muse``, ``missing_rhythm``,
    ``bad_sample_rate``, ``missing_lead``, ``duplicate_lead``, ``bad_units``,
    ``bad_waveform``, ``wrong_sample_count``, ``too_short``, ``flat_lead``.
    """
    path = Path(path)
    eid = eid_from_path(path) if eid is None else str(eid)
    rhythm, measurements = _parse(path)
    fs = element_number(rhythm, "SampleBase") * 10 ** element_number(rhythm, "SampleExponent", default=0.0)
    if not np.isfinite(fs) or fs < 100 or fs > 20000:
        raise InputError(path, "bad_sample_rate", f"Rhythm SampleBase={element_text(rhythm, 'SampleBase')!r}")
    leads = _stored_leads(path, rhythm)
    lengths = {name: len(x) for name, x in leads.items()}
    if len(set(lengths.values())) != 1:
        raise InputError(path, "wrong_sample_count", f"samples per lead {lengths}")
    for name, make in DERIVED.items():
        leads.setdefault(name, make(leads["I"], leads["II"]))
    signal = resample_to(np.stack([leads[name] for name in STANDARD_LEADS]), fs, sample_rate, path)
    if n_samples is not None:
        if signal.shape[1] < n_samples:
            raise InputError(path, "too_short", f"{signal.shape[1] / sample_rate:.2f} s, "
                             f"need {n_samples / sample_rate:.2f} s")
        signal = signal[:, :n_samples]
    check_flat_leads(signal, flat_lead_uv, path)
    return EcgRecord(eid=eid, signal=signal.astype(np.float32), fs=float(sample_rate),
                     leads=list(STANDARD_LEADS), measurements=_measurements(measurements),
                     source=str(path))


def _parse(path: Path):
    """(Rhythm ``<Waveform>``, ``<RestingECGMeasurements>`` or None)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(path, "unreadable_file", str(e)) from None
    if not data[:256].strip():
        raise InputError(path, "not_xml", "empty file")
    try:
        root = DET.fromstring(data)
    except defusedxml.DefusedXmlException as e:
        raise InputError(path, "unsafe_xml", f"{type(e).__name__}: entity/DTD use is refused") from None
    except ParseError as e:
        # any error on the last line: a cut inside a base64 line is reported at that
        # token's start, which cardiosoft._at_end's column test would call not_xml
        reason = "truncated_xml" if e.position[0] >= data.count(b"\n") else "not_xml"
        raise InputError(path, reason, str(e)) from None
    if root.tag != ROOT:
        raise InputError(path, "not_muse", f"root element <{root.tag}>, expected <{ROOT}>")
    for waveform in root.iter("Waveform"):
        if element_text(waveform, "WaveformType").lower() == "rhythm":
            return waveform, root.find("RestingECGMeasurements")
    raise InputError(path, "missing_rhythm", "no <Waveform> of type Rhythm (the 10 s strip)")


def _stored_leads(path: Path, rhythm) -> dict[str, np.ndarray]:
    """The Rhythm block's leads in mV, by standard name; I and II and V1-V6 required."""
    leads: dict[str, np.ndarray] = {}
    for el in rhythm.iter("LeadData"):
        name = _LEAD_BY_UPPER.get(element_text(el, "LeadID").upper())
        if name is None:
            continue
        if name in leads:
            raise InputError(path, "duplicate_lead", f"lead {name} appears twice in the Rhythm strip")
        leads[name] = _lead_mv(path, name, el)
    needed = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]
    missing = [name for name in needed if name not in leads]
    if missing:
        raise InputError(path, "missing_lead", f"Rhythm strip lacks lead(s) {', '.join(missing)}")
    return leads


def _lead_mv(path: Path, name: str, el) -> np.ndarray:
    units = element_text(el, "LeadAmplitudeUnits").upper()
    gain = element_number(el, "LeadAmplitudeUnitsPerBit")
    if units not in UNITS_TO_MV or not np.isfinite(gain) or gain <= 0:
        raise InputError(path, "bad_units", f"lead {name}: {gain:g} {units or '(no unit)'} per bit")
    if element_number(el, "LeadSampleSize", default=2.0) != 2:
        raise InputError(path, "bad_waveform", f"lead {name}: LeadSampleSize "
                         f"{element_text(el, 'LeadSampleSize')!r}, expected 2 bytes")
    try:
        raw = base64.b64decode("".join(element_text(el, "WaveFormData").split()), validate=True)
    except (binascii.Error, ValueError) as e:
        raise InputError(path, "bad_waveform", f"lead {name}: WaveFormData is not base64 ({e})") from None
    if not raw or len(raw) % 2:
        raise InputError(path, "bad_waveform", f"lead {name}: {len(raw)} bytes of int16 samples")
    counts = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    declared = element_number(el, "LeadSampleCountTotal")
    if np.isfinite(declared) and int(declared) != counts.size:
        raise InputError(path, "wrong_sample_count",
                         f"lead {name}: {counts.size} samples, LeadSampleCountTotal {declared:g}")
    baseline = element_number(el, "FirstSampleBaseline", default=0.0)
    return (counts + baseline) * gain * UNITS_TO_MV[units]


def _measurements(el) -> dict[str, float]:
    out = {key: element_number(el, tag) for tag, key in MEASUREMENT_TAGS.items()}
    # MUSE gives the rate, not the RR interval CardioSoft also stores: RR = 60 000 / rate
    rate = out["ventricular_rate"]
    out["rr_interval"] = 60000.0 / rate if np.isfinite(rate) and rate > 0 else float("nan")
    return out
