"""Done-when figures of the host system (issue 4) on the default cohort.

Usage::

    python benchmarks/host_targets.py [--dyads 2000] [--days 182] [--seed 1] [--risk-factors]
                                      [--set NAME=VALUE ...]

Prints each figure beside its target range. ``--risk-factors`` also reruns the cohort with
each risk factor switched on for every dyad (common random numbers: same seed, the other
attributes unchanged) and prints the share of dyads with an inflammatory or bacterial
mastitis episode. Research and teaching model; not medical advice.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from lactobiome.model.engine import run_chunk
from lactobiome.model.spectrum import BACTERIAL, INFLAMED, STATE_CODE, episodes
from lactobiome.scenarios import load_scenario
from lactobiome.simulation import prepare

_F06 = {"colostrum (d1-5)": (1, 5, 9, 22), "transitional (d6-14)": (6, 14, 8, 19),
        "mature <1 mo (d15-30)": (15, 30, 6, 15), ">6 mo (d180-182)": (180, 182, 4, 6)}


def run(dyads: int, days: int, seed: int, population: dict | None = None, parameters: dict | None = None,
        chunk: int = 1000):
    """Panel arrays and attributes of the default scenario, simulated chunk by chunk."""
    overrides = {"cohort": {"dyads": dyads, "days": days, "seed": seed}}
    if population:
        overrides["population"] = population
    if parameters:
        overrides["parameters"] = parameters
    scenario = load_scenario("default", overrides)
    params, taxa = prepare(scenario)
    results = [run_chunk(scenario, params, taxa, np.arange(s, min(s + chunk, dyads)))
               for s in range(0, dyads, chunk)]
    panel = {k: np.concatenate([r.panel[k] for r in results]) for k in results[0].panel}
    attributes = {k: np.concatenate([r.attributes[k] for r in results]) for k in results[0].attributes}
    return panel, attributes


def ever_inflamed(panel: dict) -> np.ndarray:
    """Dyads with at least one mastitis episode (a day in an inflamed state)."""
    return INFLAMED[panel["mastitis_state"].astype(int)].any(axis=1)


def report(panel: dict, attributes: dict) -> None:
    """Print the done-when figures."""
    states = panel["mastitis_state"].astype(int)
    days = states.shape[1]
    breastfed = attributes["breast_milk_share"] > 0.0
    never = breastfed & (states == 0).all(axis=1)
    p = {k: v[breastfed] for k, v in panel.items()}

    def line(label: str, value: float, target: str) -> None:
        print(f"{label:62s} {value:12.4g}   target {target}")

    line("median leucocyte_fraction, days 1-3", np.median(p["leucocyte_fraction"][:, :3]), "0.13-0.70")
    late = panel["leucocyte_fraction"][never, 30:]
    line("median leucocyte_fraction after day 30, never-mastitis", np.median(late), "<= 0.02")
    line("  90th percentile of the same", np.percentile(late, 90), "(spread)")
    ep = episodes(states, panel["treatment"])
    bacterial = BACTERIAL[ep["peak_state"]]
    peaks = []
    for d, onset, length in zip(ep["dyad_index"][bacterial], ep["onset_day"][bacterial],
                                ep["duration_days"][bacterial], strict=True):
        window = slice(onset - 1, onset - 1 + length)
        peaks.append(panel["leucocyte_fraction"][d, window].max())
    peaks = np.array(peaks)
    line("mastitis episodes", len(ep["onset_day"]), "")
    line("  of which bacterial (peak bacterial, phlegmon or abscess)", len(peaks), "")
    if len(peaks):
        line("share of them with peak leucocyte_fraction >= 0.8", np.mean(peaks >= 0.8), "> 0.5")
    stem = p["stem_cell_fraction"]
    line("stem_cell_fraction max", stem.max(), "<= 0.15")
    line("stem_cell_fraction min at day 180", stem[:, min(180, days) - 1].min(), "> 0")
    healthy = panel["mastitis_state"][never][:, 30:] == 0
    epi = panel["epithelial_fraction"][never][:, 30:][healthy]
    line("median epithelial_fraction, healthy mature milk", np.median(epi), "0.9-0.99")
    scc = panel["somatic_cells_per_ml"][never][:, 30:][healthy]
    line("99th percentile SCC, healthy mature milk", np.percentile(scc, 99), "< 2.5e5")
    bact = panel["milk_bacteria_per_ml"][never][:, 30:][healthy]
    line("median milk_bacteria_per_ml, healthy mature", np.median(bact), "1e3-10^5.5")
    line("  5th percentile", np.percentile(bact, 5), "")
    line("  95th percentile", np.percentile(bact, 95), "")
    in_bact = states == STATE_CODE["bacterial_mastitis"]
    if in_bact.any():
        line("median milk_bacteria_per_ml in bacterial mastitis", np.median(panel["milk_bacteria_per_ml"][in_bact]),
             ">= 1e4")
        line("median na_k_ratio in bacterial mastitis", np.median(panel["na_k_ratio"][in_bact]), "> healthy")
    nak = p["na_k_ratio"]
    line("median na_k_ratio day 1", np.median(nak[:, 0]), "> 1")
    line("median na_k_ratio day 7", np.median(nak[:, 6]), "0.3-1.0")
    line("median na_k_ratio healthy mature", np.median(panel["na_k_ratio"][never][:, 30:][healthy]), "")
    siga = p["siga_g_per_l"]
    ratio = siga[:, :3].mean(axis=1) / siga[:, 27:31].mean(axis=1)
    line("median sIgA days 1-3 / month 1 (days 28-31)", np.median(ratio), ">= 3")
    for label, (first, last, low, high) in _F06.items():
        if last <= days:
            line(f"median hmo_g_per_l {label}", np.median(p["hmo_g_per_l"][:, first - 1:last]), f"{low}-{high}")
    line("share with >= 1 mastitis episode", ever_inflamed(panel).mean(), "0.08-0.30")
    line("  among breastfed dyads", ever_inflamed(panel)[breastfed].mean(), "")
    line("  with fever on some day", panel["fever"].astype(bool).any(axis=1).mean(), "")
    for name in ("phlegmon", "abscess", "subacute_mastitis", "ductal_narrowing"):
        line(f"  share ever in {name}", (states == STATE_CODE[name]).any(axis=1).mean(), "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dyads", type=int, default=2000)
    parser.add_argument("--days", type=int, default=182)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--risk-factors", action="store_true")
    parser.add_argument("--set", nargs="*", default=[], help="parameter overrides NAME=VALUE")
    args = parser.parse_args()
    parameters = {k: float(v) for k, v in (s.split("=") for s in args.set)}
    start = time.perf_counter()
    panel, attributes = run(args.dyads, args.days, args.seed, parameters=parameters)
    print(f"default cohort: {args.dyads} dyads x {args.days} days, seed {args.seed} "
          f"({time.perf_counter() - start:.0f} s)")
    report(panel, attributes)
    if args.risk_factors:
        base = ever_inflamed(panel).mean()
        print(f"\nrisk factor switched on for every dyad (CRN); baseline share {base:.3f}")
        # previous mastitis exists only in multiparous mothers; first-time mothers have none,
        # so the first-time comparison holds previous mastitis at zero in both arms
        arms = {
            "oversupply": ({"oversupply": 1.0}, None),
            "tight_bra": ({"tight_bra": 1.0}, None),
            "nipple_damage": ({"nipple_damage_first_time": 1.0, "nipple_damage_multiparous": 1.0}, None),
            "previous_mastitis (all multiparous)": ({"previous_mastitis_multiparous": 1.0}, None),
            "intrapartum_antibiotics": ({"intrapartum_antibiotics_vaginal": 1.0,
                                         "intrapartum_antibiotics_caesarean": 1.0}, None),
        }
        for label, (population, _) in arms.items():
            arm, _ = run(args.dyads, args.days, args.seed, population, parameters)
            print(f"  {label:40s} {ever_inflamed(arm).mean():.3f}")
        ref, _ = run(args.dyads, args.days, args.seed, {"first_time_mother": 0.0,
                                                          "previous_mastitis_multiparous": 0.0}, parameters)
        arm, _ = run(args.dyads, args.days, args.seed, {"first_time_mother": 1.0,
                                                          "previous_mastitis_multiparous": 0.0}, parameters)
        print(f"  {'first_time_mother (vs none; no prev. mastitis)':40s} {ever_inflamed(arm).mean():.3f}"
              f" vs {ever_inflamed(ref).mean():.3f}")


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # as the lactobiome program sets it
    main()
