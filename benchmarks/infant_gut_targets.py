"""Infant-gut figures against the issue's done-when criteria (targets E01–E06, E10).

Runs, with common random numbers (same seed; one switch changed):

* exclusively breastfed vaginally born vs formula-fed vaginally born infants (E10 ratio at
  day 6, Bifidobacterium and Shannon diversity days 30–90);
* vaginal vs caesarean (E06 direction): genus means at days 6, 30, 90 and 180, the
  caesarean/vaginal ratio and whether each difference persists in the literature's direction;
* the default cohort's provenance shares at day 30 (E01, E02; dose dependence E03);
* solids: exclusively breastfed infants over 365 days with solids vs the same dyads with no
  solids (Bray–Curtis and Jensen–Shannon distance from infant gut to maternal gut; adult taxa);
* every built-in scenario of this issue, with its headline figures.

Usage: ``python benchmarks/infant_gut_targets.py [--dyads N]``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import xarray as xr

from lactobiome.scenarios import load_scenario
from lactobiome.simulation import simulate_in_memory
from lactobiome.summary import origin_shares

EBF = {"name": "ebf", "weight": 1.0, "breast_milk_share": [1.0, 1.0], "direct_breastfeeding_share": [0.85, 1.0]}
FORMULA = {"name": "formula", "weight": 1.0, "breast_milk_share": [0.0, 0.0], "direct_breastfeeding_share": [0.0, 0.0]}
DAYS = [1, 3, 6, 7, 14, 30, 60, 90]


def _gut(ds: xr.Dataset, day: int) -> xr.DataArray:
    return ds["abundance"].sel(site="infant_gut", sample_day=day).sum("origin")


def _relative(ds: xr.Dataset, day: int, by: str) -> xr.DataArray:
    cells = _gut(ds, day)
    return (cells / cells.sum("taxon")).groupby(by).sum()


def bif_entero_ratio(ds: xr.Dataset, day: int = 6) -> float:
    """Median over dyads of Bifidobacteriaceae : Enterobacteriaceae cells on ``day``."""
    fam = _relative(ds, day, "family")
    b = fam.sel(family="Bifidobacteriaceae").values
    e = fam.sel(family="Enterobacteriaceae").values
    return float(np.median((b + 1e-12) / (e + 1e-12)))


def bifido_30_90(ds: xr.Dataset) -> float:
    """Median over dyads of the mean Bifidobacterium share on recorded days 30–90."""
    days = [d for d in ds["sample_day"].values if 30 <= d <= 90]
    shares = np.mean([_relative(ds, d, "genus").sel(genus="Bifidobacterium").values for d in days], axis=0)
    return float(np.median(shares))


def shannon(ds: xr.Dataset, day: int) -> float:
    """Median Shannon diversity (natural log, species level) of the infant gut on ``day``."""
    p = _gut(ds, day).values
    p = p / p.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.nansum(np.where(p > 0, p * np.log(p), 0.0), axis=1)
    return float(np.median(h))


def bray_curtis_to_mother(ds: xr.Dataset, day: int) -> float:
    """Median Bray–Curtis dissimilarity of infant-gut and maternal-gut composition on ``day``."""
    a = ds["abundance"].sel(sample_day=day).sum("origin")
    inf = a.sel(site="infant_gut").values
    mat = a.sel(site="maternal_gut").values
    inf = inf / inf.sum(axis=1, keepdims=True)
    mat = mat / mat.sum(axis=1, keepdims=True)
    return float(np.median(np.abs(inf - mat).sum(axis=1) / 2.0))


def _composition(ds: xr.Dataset, day: int, site: str) -> np.ndarray:
    cells = ds["abundance"].sel(sample_day=day, site=site).sum("origin").values.astype(np.float64)
    return cells / cells.sum(axis=1, keepdims=True)


def jensen_shannon_to_mother(ds: xr.Dataset, day: int) -> float:
    """Median Jensen–Shannon distance (base 2, 0–1) of infant-gut and maternal-gut composition."""
    p, q = _composition(ds, day, "infant_gut"), _composition(ds, day, "maternal_gut")
    m = (p + q) / 2.0

    def kl(a: np.ndarray) -> np.ndarray:
        ratio = np.divide(a, m, out=np.ones_like(a), where=a > 0.0)
        return (a * np.log2(ratio)).sum(axis=1)

    return float(np.median(np.sqrt(np.clip((kl(p) + kl(q)) / 2.0, 0.0, None))))


# literature direction, caesarean relative to vaginal (Backhed 2015; Shao 2019; Reyman 2019)
CAESAREAN_DIRECTION = {"Bacteroides": -1, "Phocaeicola": -1, "Bifidobacterium": -1, "Enterococcus": +1,
                       "Klebsiella": +1, "Enterobacter": +1, "Clostridium": +1, "Staphylococcus": +1,
                       "Escherichia": -1}
ADULT_GENERA = ("Faecalibacterium", "Blautia", "Ruminococcus", "Prevotella", "Akkermansia")


def run(name: str, overrides: dict) -> xr.Dataset:
    t0 = time.perf_counter()
    ds = simulate_in_memory(load_scenario(name, overrides))
    print(f"  ({name}: {ds.sizes['dyad']} dyads x {ds.sizes['day']} days in {time.perf_counter() - t0:.1f} s)")
    return ds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dyads", type=int, default=300)
    args = parser.parse_args()
    n = args.dyads
    vaginal = {"caesarean": 0.0}

    print("== E10: exclusively breastfed vs formula-fed, vaginally born (same seed)")
    ebf = run("default", {"cohort": {"dyads": n, "days": 90}, "sampling": {"days": DAYS},
                          "population": {**vaginal, "feeding_groups": [EBF]}})
    ff = run("default", {"cohort": {"dyads": n, "days": 90}, "sampling": {"days": DAYS},
                         "population": {**vaginal, "feeding_groups": [FORMULA]}})
    r_bf, r_ff = bif_entero_ratio(ebf), bif_entero_ratio(ff)
    print(f"  day-6 Bifidobacteriaceae:Enterobacteriaceae  breastfed {r_bf:.3g}  formula {r_ff:.3g}  "
          f"ratio of ratios {r_bf / r_ff:.3g}  (published ~1000:1 vs ~1:10)")
    print(f"  median Bifidobacterium share days 30-90  breastfed {bifido_30_90(ebf):.3f}  "
          f"formula {bifido_30_90(ff):.3f}  (done when breastfed > 0.4 and formula lower)")
    print(f"  median Shannon day 30  breastfed {shannon(ebf, 30):.3f}  formula {shannon(ff, 30):.3f}  "
          f"(formula higher); day 90 {shannon(ebf, 90):.3f} vs {shannon(ff, 90):.3f}")
    milk_ff = float(ff["abundance"].sel(site="infant_gut", origin="milk").sum().values)
    print(f"  milk-origin cells in formula-only infant guts: {milk_ff:g} (must be 0)")
    ox = ebf["infant_gut_oxygen"]
    print("  median infant-gut oxygen by day:",
          {d: round(float(ox.sel(day=d).median()), 3) for d in (1, 2, 3, 4, 5, 7, 14)})

    print("== E06: caesarean vs vaginal (default feeding, same seed and dyads), genus means")
    cs_days = [6, 30, 90, 180]
    base = {"cohort": {"dyads": n, "days": 180}, "sampling": {"days": cs_days}}
    vag = run("default", {**base, "population": {"caesarean": 0.0}})
    cs = run("default", {**base, "population": {"caesarean": 1.0}})
    gv = {d: _relative(vag, d, "genus").mean("dyad") for d in cs_days}
    gc = {d: _relative(cs, d, "genus").mean("dyad") for d in cs_days}
    print("  genus            " + "  ".join(f"day {d:>3}: vag / caes (ratio)  " for d in cs_days) + "  literature")
    for genus, sign in CAESAREAN_DIRECTION.items():
        cells = []
        agree = []
        for d in cs_days:
            a, b = float(gv[d].sel(genus=genus)), float(gc[d].sel(genus=genus))
            cells.append(f"{a:.4f} / {b:.4f} ({b / a if a > 0 else float('nan'):5.2f})")
            agree.append(np.sign(b - a) == sign)
        tag = "less" if sign < 0 else "more"
        persists = [d for d, ok in zip(cs_days, agree, strict=True) if ok]
        print(f"  {genus:16s} " + "  ".join(cells) + f"  {tag} in caesarean; model agrees on days {persists}")
    bact = {d: (float(gc[d].sel(genus="Bacteroides") + gc[d].sel(genus="Phocaeicola")),
                float(gv[d].sel(genus="Bacteroides") + gv[d].sel(genus="Phocaeicola"))) for d in cs_days}
    print("  Bacteroides+Phocaeicola caesarean/vaginal:", {d: round(c / v, 3) for d, (c, v) in bact.items()})
    absent = {d: round(float((_relative(cs, d, "genus").sel(genus="Bacteroides").values < 1e-3).mean()), 2)
              for d in cs_days}
    print("  share of caesarean infants with Bacteroides < 0.1%:", absent)
    print("  median Bray-Curtis to own mother's gut, vaginal vs caesarean:",
          {d: (round(bray_curtis_to_mother(vag, d), 3), round(bray_curtis_to_mother(cs, d), 3)) for d in cs_days})

    print("== E01-E03: default cohort, origin shares of infant-gut cells at day 30")
    default = run("default", {"cohort": {"dyads": n, "days": 30}, "sampling": {"days": [30]}})
    shares = origin_shares(default, "infant_gut", 30).to_pandas()
    bm = default["breast_milk_share"].values
    high = bm >= 0.75
    print(f"  breast_milk_share >= 0.75 (n={high.sum()}): milk {shares['milk'][high].mean():.3f} (0.15-0.40)  "
          f"areolar_skin {shares['areolar_skin'][high].mean():.3f} (0.05-0.20)")
    for low, hi in ((0.0, 0.01), (0.01, 0.5), (0.5, 0.75), (0.75, 1.01)):
        sel = (bm >= low) & (bm < hi)
        if sel.any():
            print(f"  breast_milk_share [{low}, {hi}): milk share {shares['milk'][sel].mean():.3f} (n={sel.sum()})")

    print("== Solids: exclusively breastfed, 365 days, with solids vs the same dyads without (same seed)")
    sol_days = [90, 150, 180, 210, 240, 270, 300, 365]
    sol = {"cohort": {"dyads": max(n // 3, 50), "days": 365}, "sampling": {"days": sol_days}}
    year = run("default", {**sol, "population": {"feeding_groups": [EBF]}})
    never = run("default", {**sol, "population": {"feeding_groups": [{**EBF, "solids_start_day": [1000, 1000]}]}})
    print("  median solids start day:", float(np.median(year["solids_start_day"].values)))
    for label, metric in (("Bray-Curtis", bray_curtis_to_mother), ("Jensen-Shannon", jensen_shannon_to_mother)):
        print(f"  median {label} infant gut -> maternal gut, solids / no solids:",
              {d: (round(metric(year, d), 3), round(metric(never, d), 3)) for d in sol_days})
    for genus in (*ADULT_GENERA, "Bifidobacterium", "Bacteroides"):
        print(f"  {genus:16s} mean share, solids / no solids:",
              {d: (round(float(_relative(year, d, "genus").sel(genus=genus).mean()), 3),
                   round(float(_relative(never, d, "genus").sel(genus=genus).mean()), 3)) for d in (180, 270, 365)})

    print("== Built-in scenarios")
    for name in ("default", "caesarean", "formula", "mixed_feeding", "infant_probiotic_infantis", "preterm"):
        sc = load_scenario(name)
        days = sorted({d for d in [6, 14, 30, 60, 90, 180, 270] if d <= sc.cohort.days} | {sc.cohort.days})
        extra = {"cohort": {"dyads": n}, "sampling": {"days": sorted(set(sc.sampling.days) | set(days))}}
        ds = run(name, extra)
        rec = [d for d in (6, 30, 60) if d in ds["sample_day"].values]
        bif = {d: round(float(_relative(ds, d, "genus").sel(genus="Bifidobacterium").median()), 3) for d in rec}
        s30 = origin_shares(ds, "infant_gut", 30).to_pandas()
        hi = ds["breast_milk_share"].values >= 0.75
        line = (f"  {name}: B:E day 6 {bif_entero_ratio(ds):.3g}; median Bifidobacterium {bif}; "
                f"Shannon d30 {shannon(ds, 30):.2f}; O2 day 5 {float(ds['infant_gut_oxygen'].sel(day=5).median()):.3f}")
        if hi.any():
            line += f"; milk share d30 (bm>=.75) {s30['milk'][hi].mean():.3f}, areolar {s30['areolar_skin'][hi].mean():.3f}"
        print(line)
        if name == "infant_probiotic_infantis":
            strain = "bifidobacterium_longum_infantis_evc001"
            g = ds["abundance"].sel(site="infant_gut").sum("origin")
            share = (g.sel(taxon=strain) / g.sum("taxon")).median("dyad")
            print("    EVC001 median share of infant gut by day:",
                  {int(d): round(float(share.sel(sample_day=d)), 3) for d in ds["sample_day"].values})
        if name == "mixed_feeding":
            bmt = ds["breast_milk_share_today"].median("dyad")
            print("    median breast-milk share today:", {d: round(float(bmt.sel(day=d)), 2) for d in (1, 60, 120, 180, 270)})
            print("    BC to maternal gut:", {d: round(bray_curtis_to_mother(ds, d), 3) for d in (90, 180, 270)})
            adult = {d: round(float(sum(_relative(ds, d, "genus").sel(genus=g) for g in ADULT_GENERA).mean()), 3)
                     for d in (90, 180, 270)}
            print("    adult-type genera (Faecalibacterium, Blautia, Ruminococcus, Prevotella, Akkermansia):", adult)


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # as the lactobiome program sets it
    main()
