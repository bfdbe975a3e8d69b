"""The reference ECG ingest that bench/ingest.py measures ecgcmr against: the authors'
approach re-stated from their repository (qurAI-amsterdam/dual-phase-contrastive-learning,
data_processing/ecg_data_to_torch.py and pre_process_ecg_utils.py): each CardioSoft XML
parsed whole by ElementTree, each lead found by an ElementTree path and made a list of
Python floats, then filtered lead by lead with scipy, each filter function designing
its filter per call (``butter`` in the high-pass, ``iirnotch`` in the notch) as theirs do.

    python bench/ecg_reference.py RAW_DIR OUT.npy [--notch-hz 50]

Only numpy, scipy and the standard library (their script also imports torch and pandas;
left out here, which is kinder to the reference's startup). Output: (N, 12, T) float16
in mV, the same signals as ecgcmr's cache (equal within the tolerance of
tests/test_ecg_fast_paths.py; theirs stays in ADC counts, one multiply apart).
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from scipy.signal import butter, filtfilt, iirnotch, savgol_filter, sosfiltfilt

LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def highpass(lead: np.ndarray, cutoff_hz: float = 0.5, fs: float = 500.0, order: int = 4) -> np.ndarray:
    return sosfiltfilt(butter(order, cutoff_hz / (0.5 * fs), btype="highpass", output="sos"), lead)


def notch(lead: np.ndarray, fs: float = 500.0, freq: float = 50.0, quality: float = 40.0) -> np.ndarray:
    b, a = iirnotch(freq, quality, fs)
    return filtfilt(b, a, lead)


def read_record(path: str | Path) -> np.ndarray:
    """(12, T) float64 mV of one CardioSoft XML: the whole document parsed by ElementTree."""
    root = ET.parse(path).getroot()
    resolution_uv = float(root.find("StripData/Resolution").text)
    leads = []
    for name in LEADS:
        text = root.find(f"StripData/WaveformData[@lead='{name}']").text.strip()
        leads.append([float(v) for v in text.split(",")])
    return np.array(leads) * (resolution_uv / 1000.0)


def filter_record(signal: np.ndarray, notch_hz: float = 50.0) -> np.ndarray:
    return np.array([savgol_filter(notch(highpass(lead), freq=notch_hz), window_length=15, polyorder=3)
                     for lead in signal])


def ingest(files: list[Path], notch_hz: float = 50.0) -> np.ndarray:
    return np.stack([filter_record(read_record(f), notch_hz) for f in files]).astype(np.float16)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("raw_dir")
    p.add_argument("out")
    p.add_argument("--notch-hz", type=float, default=50.0)
    args = p.parse_args(argv)
    files = sorted(Path(args.raw_dir).glob("*.xml"))
    np.save(args.out, ingest(files, args.notch_hz))
    return 0


if __name__ == "__main__":
    sys.exit(main())
