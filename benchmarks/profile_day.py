"""Where a simulated day goes: CPU time per process and per Numba kernel.

Runs the default scenario for a chunk of dyads with every process step and every model kernel
wrapped in a CPU-time counter (``time.process_time``, so the share is of CPU, not of a wall
clock that other work on a shared machine stretches), after a warm-up run that compiles or
loads the kernels. Kernel time is part of the time of the process that called it.

    .venv/bin/python benchmarks/profile_day.py [--dyads 1000] [--days 180]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

_PROCESS_CPU: dict[str, float] = defaultdict(float)
_KERNEL_CPU: dict[str, float] = defaultdict(float)
_KERNEL_CALLS: dict[str, int] = defaultdict(int)


def _timed_step(name: str, step: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(state: Any, ctx: Any) -> Any:
        start = time.process_time()
        try:
            return step(state, ctx)
        finally:
            _PROCESS_CPU[name] += time.process_time() - start
    return wrapper


def _timed_kernel(name: str, kernel: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any) -> Any:
        start = time.process_time()
        try:
            return kernel(*args)
        finally:
            _KERNEL_CPU[name] += time.process_time() - start
            _KERNEL_CALLS[name] += 1
    return wrapper


def _wrap_kernels() -> None:
    """Replace each model kernel by a timed wrapper in the modules that call it."""
    import sys

    from numba.core.registry import CPUDispatcher

    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith("lactobiome.model") or module is None:
            continue
        for attr, value in list(vars(module).items()):
            # the reference kernels' adapters carry the kernel they call
            kernel = value if isinstance(value, CPUDispatcher) else getattr(value, "__wrapped__", value)
            if isinstance(kernel, CPUDispatcher) and not kernel.targetoptions.get("inline") == "always":
                if kernel.py_func.__module__ == module_name or attr.startswith("_"):
                    setattr(module, attr, _timed_kernel(f"{module_name.rsplit('.', 1)[-1]}.{attr}", value))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dyads", type=int, default=1000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--reference", action="store_true",
                        help="run on the frozen kernels of benchmarks/reference/kernels.py")
    args = parser.parse_args()
    if args.reference:
        import sys
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from reference.kernels import install

        install()

    import numpy as np

    from lactobiome.model import engine
    from lactobiome.scenarios import load_scenario
    from lactobiome.simulation import prepare

    scenario = load_scenario(args.scenario, {"cohort": {"dyads": args.dyads, "days": args.days}})
    parameters, taxa = prepare(scenario)
    engine.run_chunk(scenario, parameters, taxa, np.arange(2))  # compile / load the kernels
    _wrap_kernels()
    processes = tuple(dataclasses.replace(p, step=_timed_step(p.name, p.step)) for p in engine.DEFAULT_PROCESSES)
    start = time.process_time()
    engine.run_chunk(scenario, parameters, taxa, np.arange(args.dyads), processes=processes)
    total = time.process_time() - start
    dyad_days = args.dyads * args.days
    print(f"{args.scenario}{' (reference kernels)' if args.reference else ''}: {args.dyads} dyads x {args.days} days, {total:.2f} CPU s, "
          f"{total / dyad_days * 1e6:.2f} CPU-us per dyad-day, load {os.getloadavg()[0]:.1f}")
    print("\n| process | CPU s | share of the day | CPU-us / dyad-day |\n|---|---:|---:|---:|")
    rest = total - sum(_PROCESS_CPU.values())
    for name, cpu in sorted([*_PROCESS_CPU.items(), ("(engine: panel, recording, views)", rest)],
                            key=lambda item: -item[1]):
        print(f"| {name} | {cpu:.2f} | {cpu / total:.1%} | {cpu / dyad_days * 1e6:.2f} |")
    print("\n| kernel | calls | CPU s | share of the day |\n|---|---:|---:|---:|")
    for name, cpu in sorted(_KERNEL_CPU.items(), key=lambda item: -item[1]):
        print(f"| {name} | {_KERNEL_CALLS[name]} | {cpu:.2f} | {cpu / total:.1%} |")
    kernels = sum(_KERNEL_CPU.values())
    print(f"| all kernels | {sum(_KERNEL_CALLS.values())} | {kernels:.2f} | {kernels / total:.1%} |")


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # as the lactobiome program sets it
    main()
