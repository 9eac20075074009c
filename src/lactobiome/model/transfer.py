"""Moving cells between sites with provenance, and adding cells from outside.

A cell that moves from site A to site B leaves A (all of A's origins lose in proportion)
and enters B tagged with origin A. Cells from outside the dyad (birth inoculum,
environment, probiotic doses) only enter, tagged with their external origin. These two
functions are the only places where provenance tags are created, so every route conserves
what it moves.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from lactobiome.model.random import (
    RandomStreams,
    counter_hashes,
    poisson_hashed,
    poisson_hashed_table,
    poisson_search_tables,
    stream_day,
    stream_key,
    thin_hashed,
)
from lactobiome.model.sites import ORIGIN_INDEX, SITE_INDEX
from lactobiome.model.state import DyadState


@njit(cache=True, parallel=True)
def _move_kernel(abundance, donors, receivers, origins, probability, offsets, dyad_strides, taxon_strides,
                 seed, dyad_ids, day, processes, moved, live_lists, live_counts):
    n_taxa = abundance.shape[2]
    n_origins = abundance.shape[3]
    record = moved.shape[0] > 0
    normal_hash, uniform_hash = counter_hashes(n_taxa)
    for i in prange(abundance.shape[0]):
        totals = np.empty(n_taxa, dtype=np.float32)
        # routes are applied in their given order within each dyad, so one call over many
        # routes gives exactly what one call per route would
        for r in range(donors.shape[0]):
            row = offsets[r] + i * dyad_strides[r]
            taxon_stride = taxon_strides[r]
            # a dyad whose probabilities are all <= 0 on this route (no fissure, no feeds at
            # the breast) moves nothing: skip its donor sums (every taxon below would skip too;
            # a NaN probability is not skipped, as below)
            drawn = False
            for t in range(n_taxa):
                if not probability[row + t * taxon_stride] <= 0.0:
                    drawn = True
                    break
            if not drawn:
                if record:
                    moved[r, i, :] = 0.0
                continue
            donor = abundance[i, donors[r]]
            receiver = abundance[i, receivers[r]]
            origin = origins[r]
            key = stream_key(np.uint64(seed), np.uint64(dyad_ids[i]), np.uint64(day), np.uint64(processes[r]))
            # the donor's cells per taxon, summed over the origins it can hold (the others are
            # +0.0 and change no sum); origin outermost: each taxon's sum keeps its order, and
            # the loop over taxa runs without a branch per taxon
            totals[:] = 0.0
            for j in range(live_counts[donors[r]]):
                o = live_lists[donors[r], j]
                for t in range(n_taxa):
                    totals[t] += donor[t, o]
            for t in range(n_taxa):
                if record:
                    moved[r, i, t] = 0.0
                p = probability[row + t * taxon_stride]
                if p <= 0.0 or totals[t] <= 0.0:
                    continue
                total = np.float64(totals[t])
                m = thin_hashed(key, normal_hash[t], uniform_hash[t], total, p)
                if record:
                    moved[r, i, t] = m
                if m > 0.0:
                    # scaling stays a contiguous loop over all origins: 0 * keep is 0, and faster
                    keep = np.float32(1.0 - m / total)
                    for o in range(n_origins):
                        donor[t, o] *= keep
                    receiver[t, origin] += np.float32(m)


def _compact(values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``values`` as float64 of shape (dyad or 1, taxon or 1), checked to broadcast to ``shape``.

    Kernels read it with a stride of 0 along an axis of length 1: broadcasting to
    (dyad, taxon) first cost more than half as much as moving the cells.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values.reshape((1,) * (2 - values.ndim) + values.shape)
    np.broadcast_shapes(values.shape, shape)  # raises on a shape that does not fit
    return values


def _strides(values: np.ndarray) -> tuple[int, int]:
    """Element strides (dyad, taxon) of a compact array from :func:`_compact`."""
    return (values.shape[1] if values.shape[0] > 1 else 0), (1 if values.shape[1] > 1 else 0)


@njit(cache=True, parallel=True)
def _immigrate_kernel(abundance, site, origin, expected, dyad_stride, taxon_stride, seed, dyad_ids, day,
                      process, arrived):
    normal_hash, uniform_hash = counter_hashes(abundance.shape[2])
    # means shared by every dyad (dyad stride 0): P(0) = exp(-mean) and the exact search's
    # cumulative probabilities once per taxon, not per dyad (the same counts, bit for bit)
    shared = np.exp(-expected) if dyad_stride == 0 else np.empty(0)
    tables = poisson_search_tables(expected, shared) if dyad_stride == 0 else np.empty((0, 0))
    for i in prange(abundance.shape[0]):
        key = stream_key(np.uint64(seed), np.uint64(dyad_ids[i]), np.uint64(day), np.uint64(process))
        for t in range(abundance.shape[2]):
            at = i * dyad_stride + t * taxon_stride
            if dyad_stride == 0:
                x = poisson_hashed_table(key, normal_hash[t], uniform_hash[t], expected[at], tables, at)
            else:
                x = poisson_hashed(key, normal_hash[t], uniform_hash[t], expected[at])
            arrived[i, t] = x
            abundance[i, site, t, origin] += np.float32(x)


HOLD_ROUTES = True
"""Whether :meth:`Moves.apply` holds routes back until the cells are read (one pass over the
chunk for several processes, the same result); ``benchmarks/reference`` turns it off to run
as the model did before."""


class _HeldRoutes:
    """Routes queued over one or more processes of one day, applied in one kernel call."""

    def __init__(self, state: DyadState, rng: RandomStreams) -> None:
        self.day = state.day
        self.rng = rng
        self.origins = state.origins
        self.n_taxa = state.n_taxa
        self.routes: list[tuple[int, int, int, np.ndarray, int]] = []
        # the state's buffer for the batch's probabilities, reused day after day: a fresh
        # array of a few MB per call (9 of ~18 routes carry a (dyad, taxon) table) cost a
        # page-faulting allocation besides the copy
        self.buffers: dict[str, np.ndarray] = state.__dict__.setdefault("_route_buffers", {})

    def fits(self, state: DyadState, rng: RandomStreams) -> bool:
        """Whether routes of ``state`` today with ``rng`` may join this batch."""
        return (self.day == state.day and self.origins is state.origins and self.rng.seed == rng.seed
                and self.rng.dyad_ids is rng.dyad_ids)

    def __call__(self, abundance: np.ndarray, moved: np.ndarray | None = None) -> None:
        if moved is None:
            moved = np.zeros((0, 0, 0))
        if not self.routes:
            return
        n = len(self.routes)
        table = np.empty((6, n), dtype=np.int64)  # donor, receiver, origin, offset, dyad and taxon strides
        processes = np.empty(n, dtype=np.int64)
        offset = 0
        for r, (donor, receiver, origin, probability, process) in enumerate(self.routes):
            table[:3, r] = donor, receiver, origin
            table[3, r] = offset
            table[4:, r] = _strides(probability)
            processes[r] = process
            offset += probability.size
        flat = self.buffers.get("probability")
        if flat is None or flat.size < offset:
            flat = self.buffers["probability"] = np.empty(max(offset, 2 * (0 if flat is None else flat.size)))
        for r, (_, _, _, probability, _) in enumerate(self.routes):
            flat[table[3, r]:table[3, r] + probability.size] = probability.ravel()
        _move_kernel(
            abundance,
            table[0],
            table[1],
            table[2],
            flat,
            table[3],
            table[4],
            table[5],
            self.rng.seed,
            self.rng.dyad_ids,
            stream_day(self.day),
            processes,
            moved,
            *self.origins,
        )


class Moves:
    """Routes collected during a process and applied together in one pass over the batch.

    Each route moves a random share of the donor's cells to the receiver (see :func:`move`);
    routes act in the order they were added, exactly as successive :func:`move` calls would.
    """

    def __init__(self, state: DyadState, rng: RandomStreams) -> None:
        self.state = state
        self.rng = rng
        self._routes: list[tuple[int, int, int, np.ndarray, int]] = []

    def add(self, donor: str, receiver: str, fraction: np.ndarray, process: int) -> None:
        """Queue a route; ``fraction`` is broadcastable to (dyad, taxon)."""
        shape = (self.state.n_dyads, self.state.n_taxa)
        probability = np.clip(_compact(fraction, shape), 0.0, 1.0)
        self._routes.append(
            (SITE_INDEX[donor], SITE_INDEX[receiver], ORIGIN_INDEX[donor], probability, process)
        )

    def apply(self, record: bool = False) -> np.ndarray | None:
        """Apply the queued routes.

        Parameters
        ----------
        record
            Return the cells moved by each route, shape (route, dyad, taxon), float64. Without
            it the routes are held back (:meth:`lactobiome.model.state.DyadState.defer`) and
            join the routes of the next processes, until something reads the cells: one pass
            over the chunk for several processes, with the same result.
        """
        state = self.state
        if not record and HOLD_ROUTES:
            if self._routes:
                held = state.defer(None)
                if not isinstance(held, _HeldRoutes) or not held.fits(state, self.rng):
                    if held is not None:
                        held(state.abundance)
                    held = _HeldRoutes(state, self.rng)
                held.routes.extend(self._routes)
                state.defer(held)
            self._routes.clear()
            return None
        batch = _HeldRoutes(state, self.rng)
        batch.routes.extend(self._routes)
        moved = np.zeros((len(self._routes), state.n_dyads, state.n_taxa) if record else (0, 0, 0))
        batch(state.abundance, moved)  # reading the cells first applies any routes held back
        self._routes.clear()
        return moved if record else None


def move(
    state: DyadState,
    donor: str,
    receiver: str,
    fraction: np.ndarray,
    rng: RandomStreams,
    process: int,
) -> np.ndarray:
    """Move a random share of the donor's cells to the receiver.

    Parameters
    ----------
    state
        Updated in place.
    donor, receiver
        Site names.
    fraction
        Probability that a donor cell moves today, broadcastable to (dyad, taxon).
    rng, process
        Random streams and this route's process id; the number moved is binomial.

    Returns
    -------
    numpy.ndarray
        Cells moved, shape (dyad, taxon), float64.
    """
    moves = Moves(state, rng)
    moves.add(donor, receiver, fraction, process)
    moved = moves.apply(record=True)
    assert moved is not None  # record=True always returns the moved cells
    return moved[0]


def immigrate(
    state: DyadState,
    receiver: str,
    origin: str,
    expected_cells: np.ndarray,
    rng: RandomStreams,
    process: int,
) -> np.ndarray:
    """Add cells from outside the dyad to a site (Poisson numbers).

    Parameters
    ----------
    expected_cells
        Expected number of arriving cells, broadcastable to (dyad, taxon).

    Returns
    -------
    numpy.ndarray
        Cells added, shape (dyad, taxon).
    """
    shape = (state.n_dyads, state.n_taxa)
    expected = _compact(expected_cells, shape)
    arrived = np.empty(shape)
    _immigrate_kernel(state.abundance, SITE_INDEX[receiver], ORIGIN_INDEX[origin], expected.ravel(),
                      *_strides(expected), rng.seed, rng.dyad_ids, stream_day(state.day), process, arrived)
    return arrived
