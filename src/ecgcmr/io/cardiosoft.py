"""GE CardioSoft resting-ECG XML (UK Biobank field 20205): reader and writer.

The layout follows the one public UK Biobank export (ml4h's ``ukbb_scrubbed.xml``,
see shared/data/SOURCES.md): root ``<CardiologyXML>``, the 10 s rhythm in
``<StripData>`` as wrapped decimal CSV in ADC counts, the device's measurements in
``<RestingECGMeasurements>`` (empty element = missing value).

Parsing is done with defusedxml (entity expansion and external references are refused)
and covers the document up to ``</StripData>``: the ~700 kB ``<FullDisclosure>`` block
that follows is never used, so it is neither read from disk nor parsed (reading it
was a tenth of the ingest time). Truncation (an interrupted download) is still caught
by checking that the file's last bytes hold the closing root tag.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from xml.etree.ElementTree import ParseError

import defusedxml
import defusedxml.ElementTree as DET
import numpy as np

from ..errors import InputError
from ..ids import parse_bulk_name
from .cardiosoft_write import CardioSoftExtras, write_cardiosoft_xml  # noqa: F401  (the writer lives next door)
from .ecg_common import check_flat_leads, element_number, element_text, resample_to
from .record import STANDARD_LEADS, EcgRecord
from .xml_skeleton import parse_skeleton

ROOT = "CardiologyXML"
_ROOT_END = b"</" + ROOT.encode() + b">"
_STRIP_END = b"</StripData>"

# CardioSoft element -> EcgRecord measurement key (ecgcmr.io.record.MEASUREMENTS)
MEASUREMENT_TAGS = {
    "VentricularRate": "ventricular_rate", "PQInterval": "pq_interval", "PDuration": "p_duration",
    "QRSDuration": "qrs_duration", "QTInterval": "qt_interval", "QTCInterval": "qtc_interval",
    "RRInterval": "rr_interval", "PAxis": "p_axis", "RAxis": "r_axis", "TAxis": "t_axis",
    "QRSNum": "qrs_num",
}
_LEAD_BY_LOWER = {name.lower(): name for name in STANDARD_LEADS}


def eid_from_path(path: str | Path) -> str:
    info = parse_bulk_name(path)
    return info["eid"] if info else Path(path).stem


def read_cardiosoft_xml(path: str | Path, eid: str | None = None, *, sample_rate: int = 500,
                        n_samples: int | None = 5000, flat_lead_uv: float | None = 10.0) -> EcgRecord:
    """Read the 10 s 12-lead strip of a CardioSoft XML as an ``EcgRecord`` in mV.

    Other sampling rates are resampled to ``sample_rate`` (polyphase). Every problem
    raises ``InputError`` with one reason code: ``unreadable_file``, ``not_xml``,
    ``truncated_xml``, ``unsafe_xml``, ``not_cardiosoft``, ``missing_strip_data``,
    ``missing_lead``, ``duplicate_lead``, ``wrong_sample_count``, ``bad_sample_rate``,
    ``bad_resolution``, ``non_numeric_samples``, ``nan_samples``, ``flat_lead``.
    """
    path = Path(path)
    eid = eid_from_path(path) if eid is None else str(eid)
    try:
        head, tail = _read_head_and_tail(path)
        measurements_el, strip, raw_texts = _parse_blocks(path, head, tail)
    except OSError as e:
        raise InputError(path, "unreadable_file", str(e)) from None

    fs = element_number(strip, "SampleRate")
    if not np.isfinite(fs) or fs < 100 or fs > 20000:
        raise InputError(path, "bad_sample_rate", f"StripData SampleRate={element_text(strip, 'SampleRate')!r}")
    resolution_uv = element_number(strip, "Resolution")
    if not np.isfinite(resolution_uv) or resolution_uv <= 0:
        raise InputError(path, "bad_resolution", f"Resolution={element_text(strip, 'Resolution')!r} uV/LSB")

    texts = _lead_texts(path, strip, raw_texts)
    try:
        counts, per_lead = parse_counts([texts[name] for name in STANDARD_LEADS])
    except ValueError as e:
        reason = "nan_samples" if "nan" in str(e) else "non_numeric_samples"
        raise InputError(path, reason, str(e)) from None
    declared = element_number(strip, "ChannelSampleCountTotal")
    lengths = set(per_lead)
    if len(lengths) != 1 or (np.isfinite(declared) and int(declared) not in lengths):
        raise InputError(path, "wrong_sample_count",
                         f"samples per lead {dict(zip(STANDARD_LEADS, per_lead))}, declared {declared:g}")
    signal = counts.reshape(12, -1) * (resolution_uv / 1000.0)
    if not np.isfinite(signal).all():
        raise InputError(path, "nan_samples", "non-finite sample values")

    signal = resample_to(signal, fs, sample_rate, path)
    if n_samples is not None and signal.shape[1] != n_samples:
        raise InputError(path, "wrong_sample_count",
                         f"{signal.shape[1]} samples at {sample_rate} Hz, expected {n_samples}")
    check_flat_leads(signal, flat_lead_uv, path)
    return EcgRecord(eid=eid, signal=signal.astype(np.float32), fs=float(sample_rate),
                     leads=list(STANDARD_LEADS), measurements=_measurements(measurements_el),
                     source=str(path))


_CHUNK = 1 << 18   # StripData ends ~230 kB into a 750 kB export
_TAIL = 256


def _read_head_and_tail(path: Path) -> tuple[bytes, bytes]:
    """The file up to and including ``</StripData>`` (all of it if there is none) and
    its last bytes: ``_TAIL`` of them, or fewer when the rest after the head is short."""
    with open(path, "rb") as f:
        head = bytearray()
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                return bytes(head), bytes(head[-_TAIL:])
            start = max(0, len(head) - len(_STRIP_END))
            head += chunk
            end = head.find(_STRIP_END, start)
            if end >= 0:
                break
        head = bytes(head[: end + len(_STRIP_END)])
        f.seek(0, 2)
        f.seek(max(len(head), f.tell() - _TAIL))
        return head, f.read()


def _parse_blocks(path: Path, head: bytes, tail: bytes):
    """Return (RestingECGMeasurements or None, StripData, {WaveformData: text bytes} or
    None) elements.

    ``head`` ends at ``</StripData>`` (or is the whole file): it is parsed closed with
    the root's end tag, its waveform texts cut out first (``parse_skeleton``). Any failure
    of these shortcuts falls back to parsing the whole file with defusedxml, whose error
    is the one reported.
    """
    if not head[:256].strip():   # (slices: stripping a whole 1 MB export would copy it)
        raise InputError(path, "not_xml", "empty file")
    root, data, raw_texts = None, head, None
    if head.endswith(_STRIP_END):
        fast = parse_skeleton(head, b"WaveformData", _ROOT_END)
        if fast is not None and fast[0].tag == ROOT:
            root, raw_texts = fast
    try:
        if root is None and head.endswith(_STRIP_END):
            try:
                root = DET.fromstring(head + _ROOT_END)
            except ParseError:
                root = None
        if root is None or root.tag != ROOT:
            data = path.read_bytes() if head.endswith(_STRIP_END) else head
            root = DET.fromstring(data)
    except defusedxml.DefusedXmlException as e:
        raise InputError(path, "unsafe_xml", f"{type(e).__name__}: entity/DTD use is refused") from None
    except ParseError as e:
        reason = "truncated_xml" if _at_end(e, data) else "not_xml"
        raise InputError(path, reason, str(e)) from None
    if root.tag != ROOT:   # e.g. GE MUSE's <RestingECG>
        raise InputError(path, "not_cardiosoft", f"root element <{root.tag}>, expected <{ROOT}>")
    strip = root.find("StripData")
    if strip is None:
        raise InputError(path, "missing_strip_data", "no <StripData> block (the 10 s rhythm)")
    if not tail.rstrip().endswith(_ROOT_END):
        raise InputError(path, "truncated_xml", f"file ends before </{ROOT}> ({path.stat().st_size} bytes)")
    return root.find("RestingECGMeasurements"), strip, raw_texts


def _at_end(err: ParseError, data: bytes) -> bool:
    """expat reports 'no element found' / 'unclosed token' at the end of a cut file."""
    line, col = err.position
    lines = data.splitlines()
    return line >= len(lines) and col >= len(lines[-1]) - 1 if lines else True


def _lead_texts(path: Path, strip, raw_texts: dict | None = None) -> dict[str, str | bytes]:
    texts: dict[str, str | bytes] = {}
    for wf in strip.iter("WaveformData"):
        name = _LEAD_BY_LOWER.get((wf.get("lead") or "").strip().lower())
        if name is None:
            continue
        if name in texts:
            raise InputError(path, "duplicate_lead", f"lead {name} appears twice in StripData")
        texts[name] = raw_texts[wf] if raw_texts is not None else (wf.text or "")
    missing = [name for name in STANDARD_LEADS if name not in texts or not texts[name].strip()]
    if missing:
        raise InputError(path, "missing_lead", f"StripData lacks lead(s) {', '.join(missing)}")
    return texts


def _measurements(el) -> dict[str, float]:
    """Empty or unparsable elements are missing values (NaN), as in UK Biobank."""
    return {key: element_number(el, tag) for tag, key in MEASUREMENT_TAGS.items()}


_WHITESPACE = b" \t\r\n"


def clean_counts_text(text: str | bytes) -> bytes:
    """A lead's CSV text as ``parse_counts`` parses it: ASCII bytes, no whitespace, no
    trailing comma."""
    raw = text if isinstance(text, bytes) else text.encode("latin-1", "replace")
    return raw.translate(None, _WHITESPACE).rstrip(b",")


def parse_counts(texts: list[str | bytes]) -> tuple[np.ndarray, list[int]]:
    """Decimal CSV texts, str or ASCII bytes (whitespace anywhere) -> (all values float64, values per text).

    Fast path: ``np.fromstring(sep=',')`` into int32 per text (~0.05 ms a lead;
    float64 parsing or ``float()`` per token costs ~3 ms a record, a third of the ingest
    budget). It refuses a bad token (numpy >= 2.3 raises, older numpy warns: made an
    error here); on any doubt every token goes through ``float()`` so the error names
    the bad one. Raises ValueError (its message says 'nan' for non-finite values).
    """
    # Whitespace goes first: numpy reads a blank token (', ,') as 0, as it does a lone
    # sign. A lone sign is caught by counting: every '-' must have given a negative
    # value (a "-0" also fails this and simply takes the exact path); CardioSoft never
    # writes '+'. Single-byte counts run at memory speed, where searching for the
    # two-byte "-," cost a third of this function. A trailing comma (as
    # FullDisclosureData lines have) is tolerated, not a sample.
    # (np.fromstring on all leads joined at once, a vectorised byte scan and pyarrow's CSV
    # reader were measured too: 1.25, 5.5 and 7.4 ms a record against 1.28 per lead,
    # bench/ingest.py "csv_candidates")
    cleaned = [clean_counts_text(t) for t in texts]
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        for text in cleaned:
            values = None
            if b"+" not in text:
                try:
                    values = np.fromstring(text, dtype=np.int32, sep=",")
                except (ValueError, DeprecationWarning):
                    values = None
                if values is not None and text.count(b"-") != int(np.count_nonzero(values < 0)):
                    values = None
            out.append(values if values is not None and values.size else _parse_float_csv(text))
    return np.concatenate(out).astype(np.float64), [v.size for v in out]


def _parse_float_csv(s: bytes) -> np.ndarray:
    out = np.empty(s.count(b",") + 1)
    for i, tok in enumerate(s.split(b",")):
        try:
            out[i] = float(tok)
        except ValueError:
            raise ValueError(f"sample {i} is {tok[:20]!r}, not a number") from None
    if not np.isfinite(out).all():
        raise ValueError(f"{int((~np.isfinite(out)).sum())} samples are nan/inf")
    return out

