"""Model files from a run folder are untrusted: every loader refuses a crafted pickle
(torch.load with weights_only=True) before it can run code; src/ has no other load."""

from __future__ import annotations

import os
import re
from pathlib import Path

from .registry import Silent, case

AREA = "safe loading"
SRC = Path(__file__).resolve().parents[2] / "src"


class _Payload:
    """Unpickling this calls os.system: a harmless marker file shows whether it ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _crafted(tmp, name: str, wrap=lambda p: p) -> tuple[Path, Path]:
    import torch

    marker = Path(tmp) / "PWNED"
    path = Path(tmp) / name
    torch.save(wrap(_Payload(marker)), path)
    return path, marker


def loader_case(name, fault, load, wrap=lambda p: p):
    def run(tmp):
        import pickle

        from ecgcmr.errors import InputError

        path, marker = _crafted(tmp, "model.pt", wrap)
        try:
            load(path)
        except (pickle.UnpicklingError, RuntimeError, ValueError, OSError, InputError) as e:
            if marker.exists():
                raise Silent("refused, but only after the payload ran") from e
            return
        finally:
            if marker.exists():
                raise Silent("the crafted pickle executed code")
        raise Silent("loaded without error")
    case(name, AREA, fault, "refused (weights_only=True); the payload never runs")(run)


def _probe(p):
    from ecgcmr.evaluate.probe import load_probe

    return load_probe(p)


def _segmenter(p):
    from ecgcmr.cmr.segmenter import load_segmenter

    return load_segmenter(p)


def _ecg_encoder(p):
    from ecgcmr.models import load_ecg_encoder

    return load_ecg_encoder(p)


def _cmr_encoder(p):
    from ecgcmr.models import load_cmr_encoder

    return load_cmr_encoder(p)


def _heads(p):
    from ecgcmr.models.heads import load_heads

    return load_heads(p)


loader_case("crafted_probe", "a crafted seed0.pt in a run folder, read by load_probe (ecgcmr predict --run)", _probe)
loader_case("crafted_probe_in_dict", "a probe dict whose x_mean is a crafted object", _probe,
            wrap=lambda p: {"config": {}, "state_dict": {}, "x_mean": p})
loader_case("crafted_segmenter_model", "a crafted segmentation model.pt (segmentation.weights)", _segmenter)
loader_case("crafted_ecg_encoder", "a crafted ECG encoder.pt", _ecg_encoder)
loader_case("crafted_cmr_encoder", "a crafted CMR encoder.pt", _cmr_encoder)
loader_case("crafted_alignment_heads", "a crafted heads.pt", _heads)


@case("crafted_trainer_checkpoint", AREA, "a crafted trainer checkpoint.pt (any trainer's, the segmenter's too) picked up on resume",
      "refused (weights_only=True); the payload never runs")
def _trainer(tmp):
    import pickle

    from ecgcmr.train import loop

    path, marker = _crafted(tmp, loop.CHECKPOINT, wrap=lambda p: {"key": p})
    try:
        loop._resume(Path(tmp), {}, None, None, None, {}, 0)
    except (pickle.UnpicklingError, RuntimeError):
        pass
    else:
        raise Silent("loaded")
    if marker.exists():
        raise Silent("the crafted pickle executed code")


@case("torch_load_grep", AREA, "any torch.load in src/ without weights_only=True",
      "none: every load in src/ passes weights_only=True")
def _grep(tmp):
    bad = []
    for p in SRC.rglob("*.py"):
        text = p.read_text()
        for m in re.finditer(r"torch\.load\(", text):
            call = text[m.start(): text.find(")", m.start()) + 1]
            depth, end = 0, m.end() - 1
            for end in range(m.end() - 1, len(text)):   # the whole call, nested parentheses included
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                if depth == 0:
                    break
            call = text[m.start(): end + 1]
            if "weights_only=True" not in call:
                bad.append(f"{p.relative_to(SRC)}:{text.count(chr(10), 0, m.start()) + 1}: {call}")
    if bad:
        raise Silent("unsafe loads: " + "; ".join(bad))
