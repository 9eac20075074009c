"""The model's Numba kernels as they were before the speed work of issue 18, frozen.

``benchmarks/simulate.py`` runs the same cohort with these and with the package's kernels in
the same run, so the speed-up is a ratio measured on the same machine at the same moment.
:func:`install` swaps them in (the package's kernels take the live-origin lists as two extra
trailing arguments, which the adapters drop) and applies each process's routes in their own
pass, as the engine did then (``lactobiome.model.transfer.HOLD_ROUTES``). They draw from the package's counter-based
streams (``lactobiome.model.random``), so both give bit-identical results.
Kept as they were on purpose: do not edit them to follow the package.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from lactobiome.model.random import (
    counter_hashes,
    normal_hashed,
    poisson_hashed,
    stream_key,
    thin_hashed,
)

_NEGLIGIBLE_CELLS = np.float32(1e-20)


@njit(cache=True, parallel=True)
def _move_kernel(abundance, donors, receivers, origins, probability, offsets, dyad_strides, taxon_strides,
                 seed, dyad_ids, day, processes, moved):
    n_taxa = abundance.shape[2]
    n_origins = abundance.shape[3]
    record = moved.shape[0] > 0
    normal_hash, uniform_hash = counter_hashes(n_taxa)
    for i in prange(abundance.shape[0]):
        # routes are applied in their given order within each dyad, so one call over many
        # routes gives exactly what one call per route would
        for r in range(donors.shape[0]):
            donor = donors[r]
            receiver = receivers[r]
            row = offsets[r] + i * dyad_strides[r]
            key = stream_key(np.uint64(seed), np.uint64(dyad_ids[i]), np.uint64(day), np.uint64(processes[r]))
            for t in range(n_taxa):
                p = probability[row + t * taxon_strides[r]]
                if p <= 0.0:
                    if record:
                        moved[r, i, t] = 0.0
                    continue
                total32 = np.float32(0.0)
                for o in range(n_origins):
                    total32 += abundance[i, donor, t, o]
                total = np.float64(total32)
                m = thin_hashed(key, normal_hash[t], uniform_hash[t], total, p)
                if record:
                    moved[r, i, t] = m
                if m > 0.0:
                    keep = np.float32(1.0 - m / total)
                    for o in range(n_origins):
                        abundance[i, donor, t, o] *= keep
                    abundance[i, receiver, t, origins[r]] += np.float32(m)


@njit(cache=True, parallel=True)
def _immigrate_kernel(abundance, site, origin, expected, dyad_stride, taxon_stride, seed, dyad_ids, day,
                      process, arrived):
    normal_hash, uniform_hash = counter_hashes(abundance.shape[2])
    for i in prange(abundance.shape[0]):
        key = stream_key(np.uint64(seed), np.uint64(dyad_ids[i]), np.uint64(day), np.uint64(process))
        for t in range(abundance.shape[2]):
            x = poisson_hashed(key, normal_hash[t], uniform_hash[t], expected[i * dyad_stride + t * taxon_stride])
            arrived[i, t] = x
            abundance[i, site, t, origin] += np.float32(x)


@njit(cache=True, parallel=True)
def _growth_kernel(abundance, capacity, niche, base_rate, modifier, alpha, loss, noise_sd, threshold,
                   seed, dyad_ids, day, noise_stream, demographic_stream):
    n_sites = abundance.shape[1]
    n_taxa = abundance.shape[2]
    n_origins = abundance.shape[3]
    # λ and the transient survival of an unmodified day, once per call rather than per element:
    # most sites have no host modifier, and rate * 1.0 is exactly rate
    base_lam = np.exp(np.maximum(base_rate, 0.0))
    survival = np.exp(-loss)
    noise_shift = 0.5 * noise_sd * noise_sd
    normal_hash, uniform_hash = counter_hashes(n_sites * n_taxa)
    for i in prange(abundance.shape[0]):
        noise_key = stream_key(np.uint64(seed), np.uint64(dyad_ids[i]), np.uint64(day), np.uint64(noise_stream))
        demo_key = stream_key(np.uint64(seed), np.uint64(dyad_ids[i]), np.uint64(day),
                              np.uint64(demographic_stream))
        totals = np.empty(n_taxa)
        for s in range(n_sites):
            # origin outermost: the same sums in the same order, overlapping across taxa
            site_total = 0.0
            for t in range(n_taxa):
                x = 0.0
                for o in range(n_origins):
                    x += abundance[i, s, t, o]
                totals[t] = x
                site_total += x
            k_site = capacity[i, s]
            for t in range(n_taxa):
                n = totals[t]
                if n <= 0.0:
                    continue
                if niche[s, t] > 0.0:
                    m = modifier[i, s, t]
                    lam = base_lam[s, t] if m == 1.0 else np.exp(max(base_rate[s, t] * m, 0.0))
                    crowding = n / (niche[s, t] * k_site) + alpha * (site_total - n) / k_site
                    expected = n * lam / (1.0 + (lam - 1.0) * crowding)
                else:
                    expected = n * survival[s]
                j = s * n_taxa + t
                if noise_sd > 0.0:
                    expected *= np.exp(noise_sd * normal_hashed(noise_key, normal_hash[j]) - noise_shift)
                if expected < threshold:
                    expected = poisson_hashed(demo_key, normal_hash[j], uniform_hash[j], expected)
                factor = np.float32(expected / n)
                for o in range(n_origins):
                    v = abundance[i, s, t, o] * factor
                    # flush vanishing origin shares: float32 subnormals slow arithmetic ~100x
                    abundance[i, s, t, o] = v if v > _NEGLIGIBLE_CELLS else np.float32(0.0)


@njit(cache=True, parallel=True)
def _cells_in_site(abundance, site):
    out = np.empty((abundance.shape[0], abundance.shape[2]))
    for i in prange(abundance.shape[0]):
        for t in range(abundance.shape[2]):
            total = 0.0
            for o in range(abundance.shape[3]):
                total += abundance[i, site, t, o]
            out[i, t] = total
    return out


@njit(cache=True, parallel=True)
def _scale_site(abundance, site, factor):
    for i in prange(abundance.shape[0]):
        for t in range(abundance.shape[2]):
            f = factor[i, t]
            for o in range(abundance.shape[3]):
                abundance[i, site, t, o] *= f


def _dropping_origins(kernel: Any) -> Any:
    def adapter(*args: Any) -> Any:
        return kernel(*args[:-2])
    adapter.__wrapped__ = kernel  # type: ignore[attr-defined]
    return adapter


def _each_factor(kernel: Any) -> Any:
    # today's scale_site passes its factors stacked (factor, dyad, taxon): one frozen pass each
    def adapter(abundance: Any, site: Any, factors: Any, *origins: Any) -> None:
        for factor in factors:
            kernel(abundance, site, factor)
    adapter.__wrapped__ = kernel  # type: ignore[attr-defined]
    return adapter


def install() -> None:
    """Make the package run on the frozen kernels (in this process)."""
    from lactobiome.model import state, transfer
    from lactobiome.model.processes import growth

    transfer.HOLD_ROUTES = False  # each process's routes in their own pass, as before issue 18
    transfer._move_kernel = _dropping_origins(_move_kernel)
    transfer._immigrate_kernel = _immigrate_kernel
    growth._growth_kernel = _dropping_origins(_growth_kernel)
    state._cells_in_site = _dropping_origins(_cells_in_site)
    state._scale_site = _each_factor(_scale_site)
