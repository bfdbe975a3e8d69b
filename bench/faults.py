"""Run the fault campaign (tests/faults) and print its table -> bench/results/faults.json.

    .venv/bin/python bench/faults.py            # every case
    .venv/bin/python bench/faults.py -k zip     # cases whose name holds 'zip'

Each case feeds one fault to the real code path and is classified handled / crashed /
silent loss (tests/faults/registry.py). The JSON holds ``cases``, ``handled``,
``crashed``, ``silent_losses`` and the per-case table.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "faults.json"
sys.path.insert(0, str(ROOT / "tests"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-k", default="", help="only cases whose name contains this")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    logging.disable(logging.WARNING)   # the cases' exclusion warnings are expected; the table says it all
    from faults.registry import load_all, run_case

    cases = [c for name, c in sorted(load_all().items()) if args.k in name]
    t0 = time.perf_counter()
    results = [run_case(c) for c in cases]
    counts = Counter(r.status for r in results)
    table = [{"case": r.case.name, "area": r.case.area, "fault": r.case.fault, "expected": r.case.expect,
              "status": r.status, "seconds": round(r.seconds, 2),
              **({"detail": r.detail.splitlines()[0][:300]} if r.status != "handled" else {})} for r in results]
    summary = {"cases": len(results), "handled": counts["handled"], "crashed": counts["crashed"],
               "silent_losses": counts["silent_loss"], "seconds": round(time.perf_counter() - t0, 1),
               "by_area": {a: dict(Counter(r.status for r in results if r.case.area == a))
                           for a in sorted({r.case.area for r in results})},
               "table": table}
    width = max(len(r.case.name) for r in results)
    print(f"{'case':{width}}  {'status':11}  fault")
    for r in results:
        print(f"{r.case.name:{width}}  {r.status:11}  {r.case.fault}")
    print(f"\n{summary['cases']} cases tried: {summary['handled']} handled, {summary['crashed']} crashed, "
          f"{summary['silent_losses']} silently lost ({summary['seconds']} s)")
    for area, c in summary["by_area"].items():
        print(f"  {area}: {sum(c.values())} cases, {c}")
    if not args.k:
        args.out.write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if counts["handled"] == len(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
