"""Writer of GE CardioSoft resting-ECG XML in the layout of the UK Biobank export.

Reproduces the public scrubbed UKB file block by block (same order, the same empty
elements, ISO-8859-1 declaration, CRLF line ends with tab indentation, waveform CSV
wrapped 300 values a line, FullDisclosure as 1-s blocks of 500 samples cycling through
the 12 leads, and its quirk of LF-only line ends inside VectorLoops), so the reader is
tested against what UK Biobank actually ships. Output bytes depend only on the inputs
(no clock, no locale), so a seeded cohort is byte-identical run to run.

Text is assembled directly rather than through ElementTree: ElementTree can neither
write the export's whitespace layout nor format ~230k integers fast enough for the
synthetic cohort (see ``_counts_csv``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from .record import STANDARD_LEADS, EcgRecord

# Inverse Dower matrix (Edenbrandt & Pahlm 1988): leads I, II, V1..V6 -> Frank X, Y, Z.
# CardioSoft draws its VectorLoops from it ("Creation: Inverse Dower").
_INVERSE_DOWER = np.array([
    # I      II     V1     V2     V3     V4     V5     V6
    [0.156, -0.010, -0.172, -0.074, 0.122, 0.231, 0.239, 0.194],   # X
    [-0.227, 0.887, 0.057, -0.019, -0.106, -0.022, 0.041, 0.048],  # Y
    [0.022, 0.102, -0.229, -0.310, -0.246, -0.063, 0.055, 0.108],  # Z
])
_INDEPENDENT = [0, 1, 6, 7, 8, 9, 10, 11]

# (element, units) of RestingECGMeasurements before the MeasurementTable, in file order
_MEASUREMENT_LAYOUT = [
    ("VentricularRate", "BPM", "ventricular_rate"), ("PQInterval", "ms", "pq_interval"),
    ("PDuration", "ms", "p_duration"), ("QRSDuration", "ms", "qrs_duration"),
    ("QTInterval", "ms", "qt_interval"), ("QTCInterval", "ms", "qtc_interval"),
    ("RRInterval", "ms", "rr_interval"), ("PPInterval", "ms", "PPInterval"),
    ("SokolovLVHIndex", "mV", "SokolovLVHIndex"), ("PAxis", "degrees", "p_axis"),
    ("RAxis", "degrees", "r_axis"), ("TAxis", "degrees", "t_axis"),
    ("QTDispersion", "ms", "QTDispersion"), ("QTDispersionBazett", "ms", "QTDispersionBazett"),
    ("QRSNum", None, "qrs_num"),
]
# MeasurementTable rows of the 12SL analysis, in file order, with units
TABLE_ROWS = [
    ("QDuration", "ms"), ("RDuration", "ms"), ("SDuration", "ms"), ("RpDuration", "ms"),
    ("PAmplitude", "uV"), ("QAmplitude", "uV"), ("RAmplitude", "uV"), ("SAmplitude", "uV"),
    ("R1Amplitude", "uV"), ("S1Amplitude", "uV"), ("JAmplitude", "uV"), ("JXAmplitude", "uV"),
    ("TAmplitude", "uV"), ("JXSlope", "uV/s"), ("R1Duration", "ms"), ("P1Amplitude", "uV"),
    ("JXEAmplitude", "uV"), ("T1Amplitude", "uV"),
]
FIDUCIALS = ["POnset", "POffset", "QOnset", "QOffset", "TOffset"]

_CLINICAL_AND_VISIT = """\t<ClinicalInfo>
\t\t<ReasonForStudy></ReasonForStudy>
\t\t<Technician>
\t\t\t<FamilyName></FamilyName>
\t\t\t<GivenName></GivenName>
\t\t\t<PersonID></PersonID>
\t\t</Technician>
\t\t<ObservationComment></ObservationComment>
\t\t<DeviceInfo>
\t\t\t<Desc>CardioSoft</Desc>
\t\t\t<SoftwareVer>V6.73</SoftwareVer>
\t\t\t<AnalysisVer>12SL V21</AnalysisVer>
\t\t</DeviceInfo>
\t</ClinicalInfo>
\t<PatientVisit>
\t\t<PatientClass>O</PatientClass>
\t\t<AssignedPatientLocation>
\t\t\t<Facility></Facility>
\t\t\t<LocationNumber>0</LocationNumber>
\t\t\t<LocationName>* 0 *</LocationName>
\t\t</AssignedPatientLocation>
\t\t<PatientRoom></PatientRoom>
\t\t<AdmissionType>ROUT</AdmissionType>
""" + "".join(f"""\t\t<{who}>
\t\t\t<FamilyName></FamilyName>
\t\t\t<GivenName></GivenName>
\t\t\t<PersonID></PersonID>
\t\t</{who}>
""" for who in ("OrderingProvider", "AttendingDoctor", "ReferringDoctor")) + """\t\t<ServicingFacility>
\t\t\t<Name></Name>
\t\t\t<Address>
\t\t\t\t<Street1></Street1>
\t\t\t\t<City></City>
\t\t\t</Address>
\t\t</ServicingFacility>
\t\t<SysBP units="mmHg"></SysBP>
\t\t<DiaBP units="mmHg"></DiaBP>
\t\t<MedicalHistory>
\t\t\t<MedicalHistoryText></MedicalHistoryText>
\t\t</MedicalHistory>
\t\t<OrderNumber></OrderNumber>
\t\t<Medications>
\t\t\t<Drug></Drug>
\t\t\t<Dosage></Dosage>
\t\t</Medications>
\t\t<ExtraQuestions>
\t\t\t<Label Type="Text"></Label>
\t\t\t<Content></Content>
\t\t\t<Label Type="Text"></Label>
\t\t\t<Content></Content>
\t\t</ExtraQuestions>
\t</PatientVisit>
"""

_FILTERS = """\t<FilterSetting>
\t\t<CubicSpline>No</CubicSpline>
\t\t<Filter50Hz>Yes</Filter50Hz>
\t\t<Filter60Hz>No</Filter60Hz>
\t\t<LowPass units="Hz">100</LowPass>
\t\t<HighPass units="Hz">0.01</HighPass>
\t</FilterSetting>
\t<Device-Type>2</Device-Type>
"""


@dataclass
class CardioSoftExtras:
    """Everything of a CardioSoft export beyond the strip and the device measurements.

    ``median`` (12, 600) and ``full_disclosure`` (12, m) are in mV at the strip's rate;
    ``fiducials_ms`` are POnset..TOffset within the median beat; ``lead_table`` holds
    MeasurementTable rows (12 values, NaN = blank); ``beat_times_ms`` the strip's
    detected beats; ``extra_measurements`` e.g. PPInterval; ``patient`` pid, age, sex
    (1 = male), height_cm, weight_kg; ``acquired`` (year, month, day, hour, minute, second).
    """

    median: np.ndarray | None = None
    full_disclosure: np.ndarray | None = None
    fiducials_ms: dict[str, float] = field(default_factory=dict)
    lead_table: dict[str, list[float]] = field(default_factory=dict)
    beat_times_ms: list[float] = field(default_factory=list)
    full_disclosure_beats_s: list[float] = field(default_factory=list)
    extra_measurements: dict[str, float] = field(default_factory=dict)
    patient: dict = field(default_factory=dict)
    interpretation: list[str] = field(default_factory=list)
    acquired: tuple[int, int, int, int, int, int] = (2001, 1, 1, 1, 1, 1)


def write_cardiosoft_xml(path: str | Path, record: EcgRecord, extras: CardioSoftExtras | None = None,
                         resolution_uv: float = 5.0) -> None:
    """Write ``record`` (signal in mV, standard lead order) as a CardioSoft XML export.

    Samples are quantised to ``resolution_uv`` µV per LSB; measurements that are NaN
    are written as empty elements, as the device does.
    """
    x = extras or CardioSoftExtras()
    fs = int(round(record.fs))
    counts = _to_counts(record.signal, resolution_uv)
    parts = ['<?xml version="1.0" encoding="ISO-8859-1" ?>\n<CardiologyXML>\n',
             "\t<ObservationType>RestECG</ObservationType>\n", _datetime(x.acquired),
             "\t<UID>\n\t\t<DICOMStudyUID>", escape(str(record.eid)), "</DICOMStudyUID>\n\t</UID>\n",
             _CLINICAL_AND_VISIT, _patient(record.eid, x.patient), _FILTERS,
             _interpretation(x.interpretation),
             _measurements(record.measurements, x, fs, resolution_uv),
             _vector_loops(x.median, resolution_uv, x.fiducials_ms, fs),
             _strip(counts, fs, resolution_uv, x.beat_times_ms),
             _full_disclosure(x.full_disclosure, fs, resolution_uv, x.full_disclosure_beats_s),
             '\t<Export>\n\t</Export>\n\t<CSWeb>\n\t\t<a href="localhost/nowhere"></a>\n\t</CSWeb>\n',
             "</CardiologyXML>\n"]
    text = "".join(parts).replace("\n", "\r\n").replace("\x00", "\n")  # \x00 marks a bare LF
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(text.encode("iso-8859-1", "xmlcharrefreplace"))


def _to_counts(signal_mv: np.ndarray, resolution_uv: float) -> np.ndarray:
    return np.rint(np.asarray(signal_mv, dtype=np.float64) * (1000.0 / resolution_uv)).astype(np.int64)


_LUT_HALF = 32768
_LUT: np.ndarray | None = None


def _tokens(counts: np.ndarray) -> np.ndarray:
    """Decimal strings of integer counts (object array, same shape). A lookup table of
    every int16 count is ~6x faster than ``map(str, ...)``: formatting the ~230k counts
    of a full export was most of the synthetic cohort's writing time."""
    global _LUT
    if _LUT is None:
        _LUT = np.array([str(i) for i in range(-_LUT_HALF, _LUT_HALF)], dtype=object)
    if counts.size and (counts.min() < -_LUT_HALF or counts.max() >= _LUT_HALF):
        return np.array([str(v) for v in counts.ravel().tolist()], dtype=object).reshape(counts.shape)
    return _LUT[counts + _LUT_HALF]


def _counts_csv(counts: np.ndarray) -> list[str]:
    return [",".join(row) for row in _tokens(np.atleast_2d(counts)).tolist()]


def _wrapped(counts_1d: np.ndarray, per_line: int, indent: str, newline: str = "\n") -> str:
    """CSV wrapped ``per_line`` values a line; every line but the last ends with ','."""
    tok = _tokens(counts_1d).tolist()
    return ("," + newline + indent).join(",".join(tok[i:i + per_line]) for i in range(0, len(tok), per_line))


def _fmt(v) -> str:
    """Device values: integers without a decimal point, blanks for missing."""
    if v is None:
        return ""
    v = float(v)
    if not np.isfinite(v):
        return ""
    return str(int(round(v))) if abs(v - round(v)) < 1e-9 or abs(v) >= 10 else f"{v:.2f}"


def _datetime(acq) -> str:
    y, mo, d, h, mi, s = acq
    return (f"\t<ObservationDateTime>\n\t\t<Hour>{h}</Hour>\n\t\t<Minute>{mi}</Minute>\n"
            f"\t\t<Second>{s}</Second>\n\t\t<Day>{d}</Day>\n\t\t<Month>{mo}</Month>\n"
            f"\t\t<Year>{y}</Year>\n\t</ObservationDateTime>\n")


def _patient(eid, p: dict) -> str:
    sex = p.get("sex")
    gender = "" if sex is None else ("MALE" if int(sex) == 1 else "FEMALE")
    return (f"\t<PatientInfo>\n\t\t<PID>{escape(str(p.get('pid', eid)))}</PID>\n\t\t<Name>\n"
            f"\t\t\t<FamilyName>{escape(str(p.get('pid', eid)))}</FamilyName>\n\t\t\t<GivenName></GivenName>\n"
            f"\t\t</Name>\n\t\t<Age units=\"YEARS\">{_fmt(p.get('age'))}</Age>\n\t\t<BirthDateTime>\n"
            f"\t\t\t<Day>1</Day>\n\t\t\t<Month>1</Month>\n\t\t\t<Year>{p.get('birth_year', 1900)}</Year>\n"
            f"\t\t</BirthDateTime>\n\t\t<Gender>{gender}</Gender>\n\t\t<Race>UNKNOWN</Race>\n"
            f"\t\t<Height units=\"CENTIMETERS\">{_fmt(p.get('height_cm'))}</Height>\n"
            f"\t\t<Weight units=\"KILOGRAMS\">{_float1(p.get('weight_kg'))}</Weight>\n"
            f"\t\t<PaceMaker>no</PaceMaker>\n\t</PatientInfo>\n")


def _float1(v) -> str:
    return "" if v is None or not np.isfinite(float(v)) else f"{float(v):.1f}"


def _interpretation(lines: list[str]) -> str:
    out = ["\t<Interpretation>\n"]
    for block, item in (("Diagnosis", "DiagnosisText"), ("Conclusion", "ConclusionText")):
        out.append(f"\t\t<{block}>\n")
        out += [f"\t\t\t<{item}>{escape(line)}</{item}>\n" for line in lines]
        out.append(f"\t\t</{block}>\n")
    out.append("\t</Interpretation>\n")
    return "".join(out)


def _measurements(meas: dict, x: CardioSoftExtras, fs: int, res: float) -> str:
    values = {**x.extra_measurements, **meas}
    out = ["\t<RestingECGMeasurements>\n\t\t<DiagnosisVersion>12SL V21</DiagnosisVersion>\n"]
    for tag, units, key in _MEASUREMENT_LAYOUT:
        attr = f' units="{units}"' if units else ""
        v = values.get(key, np.nan)
        text = f"{float(v):.2f}" if tag == "SokolovLVHIndex" and np.isfinite(float(v)) else _fmt(v)
        out.append(f"\t\t<{tag}{attr}>{text}</{tag}>\n")
    out.append('\t\t<MeasurementTable Creation="12SL">\n'
               f"\t\t\t<LeadOrder>{', '.join(STANDARD_LEADS)}</LeadOrder>\n")
    for tag, units in TABLE_ROWS:
        row = x.lead_table.get(tag, [np.nan] * 12)
        out.append(f'\t\t\t<{tag} units="{units}">{", ".join(_fmt(v) for v in row)}</{tag}>\n')
    out.append("\t\t</MeasurementTable>\n")
    out += [f'\t\t<{f} units="ms">{_fmt(x.fiducials_ms.get(f))}</{f}>\n' for f in FIDUCIALS]
    if x.median is not None:
        med = _to_counts(x.median, res)
        last = min(med.shape[1], int(round(x.fiducials_ms.get("TOffset", 0) * fs / 1000)) + 190) \
            if x.fiducials_ms.get("TOffset") is not None else med.shape[1]
        out.append(f"\t\t<MedianSamples>\n\t\t\t<NumberOfLeads>12</NumberOfLeads>\n"
                   f'\t\t\t<SampleRate units="Hz">{fs}</SampleRate>\n'
                   f"\t\t\t<ChannelSampleCountTotal>{med.shape[1]}</ChannelSampleCountTotal>\n"
                   f'\t\t\t<Resolution units="uVperLsb">{_fmt(res)}</Resolution>\n'
                   f'\t\t\t<FirstValid units="Sample">0</FirstValid>\n'
                   f'\t\t\t<LastValid units="Sample">{last}</LastValid>\n')
        for name, row in zip(STANDARD_LEADS, med):
            out.append(f"\t\t\t<WaveformData lead={quoteattr(name)}>\t\t\t"
                       f"{_wrapped(row, 300, chr(9) * 3)}</WaveformData>\n")
        out.append("\t\t</MedianSamples>\n")
    out.append("\t</RestingECGMeasurements>\n")
    return "".join(out)


def _vector_loops(median, res: float, fid: dict, fs: int) -> str:
    out = ['\t<VectorLoops Creation="Inverse Dower">\n'
           f'\t\t<Resolution units="uVperLsb">{_fmt(res)}</Resolution>\n']
    if median is None:
        return "".join(out) + "\t</VectorLoops>\n"
    xyz = _to_counts(_INVERSE_DOWER @ np.asarray(median, dtype=np.float64)[_INDEPENDENT], res)
    out.append(f"\t\t<ChannelSampleCountTotal>{xyz.shape[1]}</ChannelSampleCountTotal>\n")
    for f in FIDUCIALS:
        v = fid.get(f)
        out.append(f'\t\t<{f} units="sample">{"" if v is None else int(round(v * fs / 1000))}</{f}>\n')
    planes = [("Frontal", "X", xyz[0]), ("Frontal", "-Y", -xyz[1]), ("Horizontal", "X", xyz[0]),
              ("Horizontal", "Z", xyz[2]), ("Sagittal", "-Z", -xyz[2]), ("Sagittal", "-Y", -xyz[1])]
    for plane, lead, row in planes:   # LF-only line ends here, as in the UKB export
        out.append(f'\t\t<{plane} Lead="{lead}">\t\t{_wrapped(row, 300, chr(9) * 2, chr(0))}</{plane}>\n')
    out.append("\t</VectorLoops>\n")
    return "".join(out)


def _strip(counts: np.ndarray, fs: int, res: float, beats_ms: list[float]) -> str:
    out = [f"\t<StripData>\n\t\t<NumberOfLeads>{counts.shape[0]}</NumberOfLeads>\n"
           f'\t\t<SampleRate units="Hz">{fs}</SampleRate>\n'
           f"\t\t<ChannelSampleCountTotal>{counts.shape[1]}</ChannelSampleCountTotal>\n"
           f'\t\t<Resolution units="uVperLsb">{_fmt(res)}</Resolution>\n']
    for name, row in zip(STANDARD_LEADS, counts):
        out.append(f"\t\t<WaveformData lead={quoteattr(name)}>\t\t{_wrapped(row, 300, chr(9) * 2)}</WaveformData>\n")
    out.append("\t\t<ArrhythmiaResults>\n")
    for t in beats_ms:
        out.append(f'\t\t\t<Time units="ms">{int(round(t))}</Time>\n\t\t\t<BeatClass>dominant</BeatClass>\n')
    out.append("\t\t</ArrhythmiaResults>\n\t</StripData>\n")
    return "".join(out)


def _full_disclosure(fd, fs: int, res: float, beats_s: list[float]) -> str:
    out = [f"\t<FullDisclosure>\n\t\t<NumberOfChannels>12</NumberOfChannels>\n"
           f'\t\t<SampleRate units="Hz">{fs}</SampleRate>\n'
           f'\t\t<Resolution units="uVperLsb">{_fmt(res)}</Resolution>\n'
           f"\t\t<LeadOrder>{','.join(STANDARD_LEADS)}</LeadOrder>\n\t\t<FullDisclosureData>\n"]
    n_total = 0
    if fd is not None:
        counts = _to_counts(fd, res)
        seconds = counts.shape[1] // fs
        # 1-s blocks cycling through the leads: second-major, then lead
        blocks = counts[:, : seconds * fs].reshape(12, seconds, fs).transpose(1, 0, 2).reshape(-1, fs)
        out += [line + ",\n" for line in _counts_csv(blocks)]
        n_total = blocks.size
    out.append(f"\t\t\t<SampleCountTotal>{n_total}</SampleCountTotal>\n\t\t</FullDisclosureData>\n"
               "\t\t<EventList>\n")
    for t in beats_s:
        out.append(f"\t\t\t<Event>L</Event>\n\t\t\t<Time>\n\t\t\t\t<Minute>{int(t // 60)}</Minute>\n"
                   f"\t\t\t\t<Second>{t % 60:.1f}</Second>\n\t\t\t</Time>\n")
    out.append(f"\t\t</EventList>\n\t\t<ArrhythmiaResults>\n\t\t\t<QRS>{len(beats_s)}</QRS>\n"
               "\t\t</ArrhythmiaResults>\n\t</FullDisclosure>\n")
    return "".join(out)
