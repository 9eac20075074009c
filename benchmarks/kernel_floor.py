"""The least CPU a simulated day can cost with this model's arithmetic, and the rate that allows.

Issue 18 asks for 150,000 dyad-days/s on two cores: at most 2 / 150,000 s = 13.3 CPU-µs per
output dyad-day, everything included (the earlier lactation of the multiparous mothers, which
the rate does not count, the processes, the recording). This script measures how much of that
budget the model's kernels spend on their own when nothing else costs anything:

* **in cache**: the default scenario runs in small chunks (32 dyads by default, ~0.5 MB of
  state, which stays in the L2 cache), so the kernels do not wait for memory, as in a day fused
  per dyad; their CPU (``time.process_time`` around each call, one Numba thread) is what their
  arithmetic costs, whatever the rest of the day is rewritten into;
* **without draws**: before each call of the route, immigration and growth kernels, a variant
  of that kernel with every random draw replaced by its rounded mean (the route thinning, the
  immigration and demographic Poisson draws) and no environmental noise on growth runs on a
  copy of the same state (its output is thrown away, so the model's trajectory is the real
  one, and every taxon present is present for both). Its CPU is what a model without
  demographic and environmental noise, with the same sites, taxa, origins and routes, would
  still compute: a bound for any cheaper sampler, not a model.

The printed ceilings are 2 cores / (CPU per output dyad-day): the rate two perfectly used
cores would reach if every other line of the day cost nothing.

    NUMBA_NUM_THREADS=1 .venv/bin/python benchmarks/kernel_floor.py [--chunk 32] [--chunks 8] [--days 180]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

TARGET_DYAD_DAYS_PER_S = 150_000
CORES = 2


_VARIANT_CPU: dict[str, float] = {}
_SHADOWED_CPU: dict[str, float] = {}
_SHADOWED_CALLS: dict[str, int] = {}


def _variant(kernel: Any, replacements: dict[str, Any]) -> Any:
    """``kernel`` compiled again (uncached) with some of the functions it calls replaced."""
    from numba import njit

    function = kernel.py_func
    missing = sorted(set(replacements) - set(function.__code__.co_names))
    if missing:  # a renamed helper would otherwise leave the variant drawing as before
        raise RuntimeError(f"{function.__name__} calls no {', '.join(missing)}: update benchmarks/kernel_floor.py")
    names = dict(function.__globals__)
    names.update(replacements)
    return njit(parallel=True)(types.FunctionType(function.__code__, names, function.__name__,
                                                  function.__defaults__, function.__closure__))


def _draw_free_kernels() -> dict[str, tuple[Any, Callable[[tuple], tuple]]]:
    """The route, immigration and growth kernels with rounded means for draws, and how each
    call's arguments become the variant's (mutable arrays copied, growth noise off)."""
    import numpy as np
    from numba import njit

    from lactobiome.model import transfer
    from lactobiome.model.processes import growth

    @njit(inline="always")
    def rounded_thinning(key, normal_hash, uniform_hash, count, probability):
        if count <= 0.0 or probability <= 0.0:
            return 0.0
        if probability >= 1.0:
            return count
        return min(np.floor(count * probability + 0.5), count)

    @njit(inline="always")
    def rounded_poisson(key, normal_hash, uniform_hash, lam):
        return np.floor(lam + 0.5) if lam > 0.0 else 0.0

    @njit(inline="always")
    def rounded_poisson_table(key, normal_hash, uniform_hash, lam, table, row):
        return np.floor(lam + 0.5) if lam > 0.0 else 0.0

    def copied(kernel: Any, *mutable: str, noise_off: str | None = None) -> Callable[[tuple], tuple]:
        # by parameter name, so that a reordered kernel signature cannot copy the wrong argument
        code = kernel.py_func.__code__
        parameters = code.co_varnames[:code.co_argcount]
        positions = [parameters.index(name) for name in mutable]
        noise = parameters.index(noise_off) if noise_off is not None else None

        def arguments(args: tuple) -> tuple:
            out = list(args)
            for k in positions:
                out[k] = np.array(args[k])
            if noise is not None:
                out[noise] = 0.0
            return tuple(out)
        return arguments

    move, immigrate, grow = transfer._move_kernel, transfer._immigrate_kernel, growth._growth_kernel
    return {
        "transfer._move_kernel": (_variant(move, {"thin_hashed": rounded_thinning}),
                                  copied(move, "abundance", "moved")),
        "transfer._immigrate_kernel": (_variant(immigrate, {
            "poisson_hashed": rounded_poisson, "poisson_hashed_table": rounded_poisson_table}),
            copied(immigrate, "abundance", "arrived")),
        "growth._growth_kernel": (_variant(grow, {"poisson_hashed": rounded_poisson}),
                                  copied(grow, "abundance", noise_off="noise_sd")),
    }


def _shadow(name: str, kernel: Any, variant: Any, arguments: Callable[[tuple], tuple]) -> Callable[..., Any]:
    """Run ``variant`` on a copy of each call's state, then the kernel itself, each timed on its own."""
    def wrapper(*args: Any) -> Any:
        copy = arguments(args)
        start = time.process_time()
        variant(*copy)
        middle = time.process_time()
        try:
            return kernel(*args)
        finally:
            _VARIANT_CPU[name] = _VARIANT_CPU.get(name, 0.0) + middle - start
            _SHADOWED_CPU[name] = _SHADOWED_CPU.get(name, 0.0) + time.process_time() - middle
            _SHADOWED_CALLS[name] = _SHADOWED_CALLS.get(name, 0) + 1
    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunk", type=int, default=32, help="dyads per chunk (small: the state stays in cache)")
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--days", type=int, default=180)
    args = parser.parse_args()

    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from lactobiome.model import engine, transfer
    from lactobiome.model.processes import growth
    from lactobiome.scenarios import load_scenario
    from lactobiome.simulation import prepare
    from profile_day import _KERNEL_CALLS, _KERNEL_CPU, _wrap_kernels

    scenario = load_scenario("default", {"cohort": {"dyads": args.chunk * args.chunks, "days": args.days}})
    parameters, taxa = prepare(scenario)
    variants = _draw_free_kernels()
    modules = {"transfer": transfer, "growth": growth}
    for name, (variant, arguments) in variants.items():
        module, attr = name.split(".")
        setattr(modules[module], attr, _shadow(name, getattr(modules[module], attr), variant, arguments))
    engine.run_chunk(scenario, parameters, taxa, np.arange(2))  # compile / load the kernels and variants
    for counter in (_VARIANT_CPU, _SHADOWED_CPU, _SHADOWED_CALLS):
        counter.clear()
    _wrap_kernels()  # times the other kernels (the shadowed ones time themselves)
    start = time.process_time()
    for c in range(args.chunks):
        engine.run_chunk(scenario, parameters, taxa, np.arange(c * args.chunk, (c + 1) * args.chunk))
    total = time.process_time() - start
    dyad_days = args.chunk * args.chunks * args.days
    real = {name: cpu / dyad_days * 1e6 for name, cpu in (_KERNEL_CPU | _SHADOWED_CPU).items()}
    calls = _KERNEL_CALLS | _SHADOWED_CALLS
    bound = real | {name: cpu / dyad_days * 1e6 for name, cpu in _VARIANT_CPU.items()}
    shadows = total - sum(_SHADOWED_CPU.values()) - sum(_KERNEL_CPU.values())  # the rest of the day, with the copies
    print(f"default: {args.chunks} chunks of {args.chunk} dyads x {args.days} days, one Numba thread "
          f"({os.environ.get('NUMBA_NUM_THREADS', 'all')}), load {os.getloadavg()[0]:.1f}; kernels "
          f"{sum(real.values()):.2f} CPU-us per output dyad-day, the rest of the day (and the variants' copies) "
          f"{(shadows - sum(_VARIANT_CPU.values())) / dyad_days * 1e6:.2f}")
    print("\n| kernel | calls | CPU-us / output dyad-day, as shipped | without draws (bound) |\n|---|---:|---:|---:|")
    for name in sorted(real, key=lambda n: -real[n]):
        print(f"| {name} | {calls[name]} | {real[name]:.2f} | {bound[name]:.2f} |")
    budget = CORES / TARGET_DYAD_DAYS_PER_S * 1e6
    print(f"\nbudget of {TARGET_DYAD_DAYS_PER_S:,} dyad-days/s on {CORES} cores: {budget:.2f} CPU-us per output dyad-day")
    pair = ("transfer._move_kernel", "growth._growth_kernel")
    for label, values in (("as shipped", real), ("without draws", bound)):
        two = sum(values.get(n, 0.0) for n in pair)
        every = sum(values.values())
        print(f"{label}: routes + growth {two:.2f} (ceiling {CORES / two * 1e6:,.0f} dyad-days/s), "
              f"all kernels {every:.2f} (ceiling {CORES / every * 1e6:,.0f} dyad-days/s)")


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # as the lactobiome program sets it
    main()
