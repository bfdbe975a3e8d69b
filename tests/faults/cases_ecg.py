"""Raw ECG records (CardioSoft/MUSE XML, WFDB) that are damaged, crafted or mis-scaled,
and input folders mixing formats: each record ends as a cache row or an exclusion row
with its reason, never silently."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from ecgcmr import exclusions
from ecgcmr.cli import main as ecgcmr_main
from ecgcmr.ecg.ingest import ingest_records, read_any

from . import data
from .registry import Silent, case, excluded

AREA = "ECG records"
PTBXL = Path(__file__).resolve().parents[1]
WFDB_12 = ["HR06000", "HR06001"]


def _ptbxl_dir() -> Path:
    from conftest_ecg import PTBXL_DIR

    return PTBXL_DIR


def _ingest(tmp, items) -> tuple[list[str], object]:
    out = Path(tmp) / "shard.parquet"
    ingest_records(items, read_any, out, Path(tmp) / "x.csv", data.ecg_params())
    return pq.read_table(out, columns=["eid"])["eid"].to_pylist(), exclusions.read(Path(tmp) / "x.csv")


def _xml_case(name, fault, reason, edit):
    def run(tmp):
        src = data.xml_files()[0]
        p = Path(tmp) / src.name
        text = src.read_bytes().decode("latin-1")
        p.write_bytes(edit(text).encode("latin-1") if isinstance(edit(text), str) else edit(text))
        eid = data.eid_of(p)
        cached, ex = _ingest(tmp, [(eid, p)])
        if reason is None:   # must be read (and cached)
            if cached != [eid]:
                raise Silent(f"record not cached: {ex.values.tolist()}")
            return
        excluded(ex, eid, reason, str(p))
        if cached:
            raise Silent("the damaged record was cached too")
    case(name, AREA, fault, f"excluded: {reason}" if reason else "read with its 12 standard leads")(run)


def _lead(text, name, fn):
    strip = text.index("<StripData>")
    m = re.compile(rf'(<WaveformData lead="{name}">)([^<]*)(</WaveformData>)').search(text, strip)
    return text[:m.start(2)] + fn(m.group(2)) + text[m.end(2):]


def _add_lead(text, name, copy_of="V6"):
    strip = text.index("<StripData>")
    m = re.compile(rf'<WaveformData lead="{copy_of}">[^<]*</WaveformData>').search(text, strip)
    block = m.group(0).replace(f'lead="{copy_of}"', f'lead="{name}"')
    return text[:m.end()] + "\n" + block + text[m.end():]


def _drop_lead(text, name):
    strip = text.index("<StripData>")
    m = re.compile(rf'\s*<WaveformData lead="{name}">[^<]*</WaveformData>').search(text, strip)
    return text[:m.start()] + text[m.end():]


def _scale(factor):
    return lambda t: _lead_all(t, lambda s: ",".join(str(int(int(v) * factor)) for v in s.split(",") if v.strip()))


def _lead_all(text, fn):
    for lead in ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"):
        text = _lead(text, lead, fn)
    return text


BOMB = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]>\n<CardiologyXML>&lol3;</CardiologyXML>\n')
XXE = ('<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n'
       '<CardiologyXML>&e;</CardiologyXML>\n')

_xml_case("xml_13_leads", "a 13th, non-standard lead (V4R) in StripData", None, lambda t: _add_lead(t, "V4R"))
_xml_case("xml_lead_twice", "a standard lead (V2) present twice", "duplicate_lead", lambda t: _add_lead(t, "V2"))
_xml_case("xml_11_leads", "lead V3 missing", "missing_lead", lambda t: _drop_lead(t, "V3"))
_xml_case("xml_truncated", "the file cut in half", "truncated_xml", lambda t: t[: len(t) // 2])
_xml_case("xml_empty", "a zero-byte XML", "not_xml", lambda t: b"")
_xml_case("xml_garbage", "random text with an .xml name", "not_xml", lambda t: "this is, not, xml\n" * 20)
_xml_case("xml_entity_bomb", "billion-laughs entity expansion", "unsafe_xml", lambda t: BOMB)
_xml_case("xml_external_entity", "an external entity reading /etc/passwd", "unsafe_xml", lambda t: XXE)
_xml_case("xml_nan_sample", "a 'nan' sample value", "nan_samples", lambda t: _lead(t, "aVF", lambda s: "nan," + s.split(",", 1)[1]))
_xml_case("xml_non_numeric_sample", "an 'abc' sample value", "non_numeric_samples",
          lambda t: _lead(t, "I", lambda s: s.replace(",", ",abc,", 1).replace(",", "", 1)))
_xml_case("xml_sample_missing", "one lead one sample short", "wrong_sample_count",
          lambda t: _lead(t, "V2", lambda s: s.rsplit(",", 1)[0]))
_xml_case("xml_flat_lead", "a flat lead (constant)", "flat_lead", lambda t: _lead(t, "V4", lambda s: ",".join(["17"] * 5000)))
_xml_case("xml_no_strip", "no StripData block", "missing_strip_data",
          lambda t: re.sub(r"<StripData>.*</StripData>", "", t, flags=re.S))
_xml_case("xml_wrong_root", "a root element of another vendor", "not_cardiosoft",
          lambda t: t.replace("CardiologyXML>", "SomethingElse>"))
_xml_case("xml_gain_5x", "every sample 5x too large (wrong gain): peaks of ~8 mV", "implausible_amplitude", _scale(5))


@case("xml_one_bad_of_many", AREA, "one truncated XML among six", "five cached, one excluded: truncated_xml")
def _one_of_many(tmp):
    files = []
    for src in data.xml_files():
        files.append(Path(shutil.copy(src, tmp)))
    files[2].write_bytes(files[2].read_bytes()[:3000])
    cached, ex = _ingest(tmp, [(data.eid_of(p), p) for p in files])
    if len(cached) != 5:
        raise Silent(f"{len(cached)} records cached")
    excluded(ex, data.eid_of(files[2]), "truncated_xml")


# ------------------------------------------------------------------ WFDB
def _wfdb_copy(tmp, name="HR06000") -> Path:
    src = _ptbxl_dir()
    for p in src.glob(f"{name}.*"):
        shutil.copy(p, tmp)
    return Path(tmp) / f"{name}.hea"


def _wfdb_case(name, fault, reason, edit, record="HR06000"):
    def run(tmp):
        hea = _wfdb_copy(tmp, record)
        edit(hea)
        cached, ex = _ingest(tmp, [(hea.stem, hea.with_suffix(""))])
        excluded(ex, hea.stem, reason)
        if cached:
            raise Silent("the bad record was cached too")
    case(name, AREA, fault, f"excluded: {reason}")(run)


def _gain(hea: Path, factor: float) -> None:
    text = hea.read_text()
    hea.write_text(re.sub(r" (\d+(?:\.\d+)?)(\(0\))?/mv", lambda m: f" {float(m[1]) / factor:g}{m[2] or ''}/mv", text))


_wfdb_case("wfdb_gain_5x", "header gain 5x too small (physical values 5x, peaks ~8 mV)", "implausible_amplitude",
           lambda h: _gain(h, 5), record="HR06001")
_wfdb_case("wfdb_signal_file_missing", "a header whose .mat signal file is gone", "unreadable_file",
           lambda h: h.with_suffix(".mat").unlink())
_wfdb_case("wfdb_header_garbage", "a header of random text", "bad_header", lambda h: h.write_text("%%% nonsense\n\x00\x01"))
_wfdb_case("wfdb_header_truncated", "a header listing 12 signals but holding 6 lines", "not_12_lead",
           lambda h: h.write_text("\n".join(h.read_text().splitlines()[:7]) + "\n"))
_wfdb_case("wfdb_lead_renamed", "lead V5 renamed to 'X'", "not_12_lead",
           lambda h: h.write_text(re.sub(r" V5$", " X", h.read_text(), flags=re.M)))
_wfdb_case("wfdb_too_short", "a header claiming 1000 samples (2 s)", "too_short",
           lambda h: h.write_text(h.read_text().replace("12 500 5000", "12 500 1000", 1)))
_wfdb_case("wfdb_bad_units", "units 'degC' instead of mV", "bad_units",
           lambda h: h.write_text(h.read_text().replace("/mv", "/degC")))
_wfdb_case("wfdb_signal_truncated", "the signal file cut to 1 kB", "unreadable_file",
           lambda h: h.with_suffix(".mat").write_bytes(h.with_suffix(".mat").read_bytes()[:1024]))


def _folder(tmp) -> Path:
    folder = Path(tmp) / "in"
    folder.mkdir()
    for src in data.xml_files()[:2]:
        shutil.copy(src, folder)
    for name in WFDB_12:
        _wfdb_copy(folder, name)
    return folder


def _cli(tmp, folder, *extra) -> tuple[list[str], object, int]:
    out = Path(tmp) / "cli.parquet"
    rc = ecgcmr_main(["ingest-ecg", "--input", str(folder), "--out", str(out), "--config", str(data.CONFIG), *extra])
    if rc != 0:
        raise RuntimeError(f"ingest-ecg returned {rc}")
    return pq.read_table(out, columns=["eid"])["eid"].to_pylist(), exclusions.read(Path(tmp) / "cli.exclusions.csv"), rc


@case("folder_xml_and_wfdb", AREA, "ingest-ecg --input on a folder of 2 XML and 2 WFDB records",
      "all four records cached (WFDB no longer silently ignored)")
def _mixed(tmp):
    cached, ex, _ = _cli(tmp, _folder(tmp))
    want = sorted([data.eid_of(p) for p in data.xml_files()[:2]] + WFDB_12)
    if sorted(cached) != want:
        raise Silent(f"cached {sorted(cached)}, expected {want}; excluded {ex.values.tolist()}")


@case("folder_format_xml_lists_wfdb", AREA, "--format xml on a mixed folder",
      "the WFDB records listed as excluded: format_not_selected")
def _format(tmp):
    cached, ex, _ = _cli(tmp, _folder(tmp), "--format", "xml")
    for name in WFDB_12:
        excluded(ex, name, "format_not_selected")


@case("folder_stray_files", AREA, "a folder also holding notes.txt, a .dat without header and a .csv",
      "each listed as excluded (unrecognised_file / wfdb_without_header), records still cached")
def _stray(tmp):
    folder = _folder(tmp)
    (folder / "notes.txt").write_text("hi")
    (folder / "orphan.dat").write_bytes(b"\x00" * 100)
    (folder / "table.csv").write_text("a,b\n")
    cached, ex, _ = _cli(tmp, folder)
    excluded(ex, "notes", "unrecognised_file", "notes.txt")
    excluded(ex, "table", "unrecognised_file")
    excluded(ex, "orphan", "wfdb_without_header")
    if len(cached) != 4:
        raise Silent(f"{len(cached)} records cached")


@case("folder_wfdb_gain_5x", AREA, "a mis-scaled WFDB record in a mixed folder",
      "excluded: implausible_amplitude, the others cached")
def _folder_gain(tmp):
    folder = _folder(tmp)
    _gain(folder / "HR06001.hea", 5)
    cached, ex, _ = _cli(tmp, folder)
    excluded(ex, "HR06001", "implausible_amplitude", "mV")
    if "HR06001" in cached or len(cached) != 3:
        raise Silent(f"cached {cached}")
