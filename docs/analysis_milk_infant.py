"""Own-mother vs unrelated-mother milk as a source of infant stool (Blekhman 193-dyad table).

Run from the repository root: ``.venv/bin/python docs/analysis_milk_infant.py``. For every
infant stool sample (``MO1`` = month 1, ``MO6`` = month 6) whose mother has a month-1 milk
sample (``MILK``), the stool is tracked against (a) its own mother's milk and (b) the milk of
another, randomly assigned mother (negative control; a fixed derangement, seed 0). Species
rows only; relative abundances at an effective depth of 10,000 reads per sample.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

DATA = (Path(__file__).resolve().parents[1].parent / "shared" / "data" / "blekhman_milk_infant"
        / "milk_infant_rel_abundance_contam_rm_keepOnly.txt")


def main() -> int:
    if not DATA.exists():
        print(f"data not found at {DATA}")
        return 0
    from lactobiome.io.tables import read_metaphlan
    from lactobiome.tracking import track

    table = read_metaphlan(DATA)
    table = table.loc[:, table.sum(axis=0) > 0]
    milk = {c[: -len("MILK")]: c for c in table.columns if c.endswith("MILK")}
    rng = np.random.default_rng(0)
    pairs = sorted(milk)
    while True:  # derangement: nobody gets their own mother's milk
        perm = rng.permutation(len(pairs))
        if (perm != np.arange(len(pairs))).all():
            break
    other = {pairs[i]: milk[pairs[perm[i]]] for i in range(len(pairs))}
    results = []
    for month in ("MO1", "MO6"):
        stools = [c for c in table.columns if c.endswith(month) and c[: -len(month)] in milk]
        for label, src in (("own", milk), ("unrelated", other)):
            cols, rows = {}, []
            for k, s in enumerate(stools):
                d = s[: -len(month)]
                cols[f"{s}"] = table[s]
                cols[f"{s}_src"] = table[src[d]]
                rows += [(s, month, "Sink", str(k)), (f"{s}_src", "milk", "Source", str(k))]
            counts = pd.DataFrame(cols)
            meta = pd.DataFrame(rows, columns=["SampleID", "Env", "SourceSink", "id"])
            out = track(counts, meta.set_index("SampleID"), relative=True, bootstrap=50, seed=1)
            share = out[out["source"] == "milk"]
            results.append(
                {
                    "month": month,
                    "milk": label,
                    "infants": len(share),
                    "mean_share": share["proportion"].mean(),
                    "median_share": share["proportion"].median(),
                    "share_over_1pct": (share["proportion"] > 0.01).mean(),
                    "share_over_10pct": (share["proportion"] > 0.10).mean(),
                    "ci_low_over_0": (share["ci_low"] > 0.001).mean(),
                }
            )
    frame = pd.DataFrame(results)
    with pd.option_context("display.width", 120, "display.precision", 3):
        print(frame.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
