"""Where the low-grade inflammation of healthy early milk comes from, by term and by origin.

Simulates a small default cohort and, on each recorded day of the first weeks, splits the
inflammatory stimulus of healthy women (no mastitis-spectrum state) into its three terms
(stasis above its threshold, milk pathobiont load, stromal pathobiont load; the formula of
``model/processes/mammary_immunity.py``) and the stromal and milk pathobiont loads by origin
(the provenance of the result). Used for issue 13 (round 2, early milk).

Usage::

    PYTHONPATH=src python benchmarks/early_milk_origins.py --dyads 200 --days 40 \
        [--set milk_back_flow_colostral_share=0]
"""

from __future__ import annotations

import argparse

import numpy as np

import lactobiome as lb
from lactobiome.model.parameters import load_parameters
from lactobiome.model.taxa import load_taxa
from lactobiome.validation.measures import _common as c


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dyads", type=int, default=200)
    parser.add_argument("--days", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], help="NAME=VALUE parameter override")
    args = parser.parse_args()
    overrides = {k: float(v) for k, v in (item.split("=", 1) for item in args.set)}
    ds = lb.simulate(dyads=args.dyads, days=args.days, seed=args.seed, parameters=overrides or None)
    table = load_parameters().with_values(overrides, "overrides") if overrides else load_parameters()

    def p(name: str, unit: str) -> float:
        return table.value(name, unit)

    catalogue = load_taxa()
    rows = [catalogue.index(str(t)) for t in ds["taxon"].values]
    pp = np.asarray(catalogue["pathogenic_potential"], dtype=float)[rows]
    origins = [str(o) for o in ds["origin"].values]
    days = [int(d) for d in ds["day"].values]
    healthy = c.healthy(ds)
    for day in (int(d) for d in ds["sample_day"].values):
        i = days.index(day)
        h = healthy[:, i]
        milk = ds["abundance"].sel(site="milk", sample_day=day).values  # dyad, taxon, origin
        stroma = ds["abundance"].sel(site="breast_stroma", sample_day=day).values
        cells = milk.sum(axis=2)
        total = cells.sum(axis=1)
        per_ml = ds["milk_bacteria_per_ml"].values[:, i]
        weighted_share = np.divide((cells * pp).sum(axis=1), total, out=np.zeros_like(total), where=total > 0)
        terms = {
            "stasis": p("stasis_inflammation_gain", "1")
            * np.maximum(ds["stasis"].values[:, i] - p("stasis_inflammation_threshold", "1"), 0.0),
            "milk": weighted_share * per_ml / p("milk_pathobiont_inflammation_ref", "cells/mL"),
            "stroma": (stroma.sum(axis=2) * pp).sum(axis=1) / p("stroma_pathobiont_inflammation_ref", "cells"),
        }
        stimulus = sum(terms.values())
        shares = " ".join(f"{k} {v[h].mean() / stimulus[h].mean():.2f}" for k, v in terms.items())
        inflammation = ds["inflammation"].values[:, i]
        print(f"day {day}: healthy {h.mean():.2f}, median milk load {np.log10(np.median(per_ml[h])):.2f} log10/mL, "
              f"median inflammation {np.median(inflammation[h]):.3f}, share above 0.3 "
              f"{(inflammation[h] > 0.3).mean():.2f}; stimulus shares: {shares}")
        for name, site in (("stroma", stroma), ("milk", milk)):
            by_origin = (site * pp[None, :, None])[h].sum(axis=(0, 1))
            text = " ".join(f"{o} {v / by_origin.sum():.2f}" for o, v in zip(origins, by_origin, strict=True)
                            if v > 0.01 * by_origin.sum())
            print(f"    {name} pathobiont load by origin: {text}")


if __name__ == "__main__":
    main()
