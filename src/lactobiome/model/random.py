"""Counter-based random streams.

Every random number is a pure function of ``(seed, dyad id, day, process, element)``: the
stream is keyed by hashing the first four with SplitMix64 and the element index is the
counter. So a dyad gives bit-identical results whatever the batch size, chunking, worker
count or order, and two arms of a trial that share a seed share random numbers (common
random numbers). The kernels are compiled with Numba and run in parallel over dyads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# SplitMix64 constants (Steele, Lea & Flood 2014, OOPSLA), standard published values.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TWO_POW_53 = 9007199254740992.0
_SQRT3 = 1.7320508075688772

PRENATAL_DAY_KEY_BASE = 2**32
"""Stream-key day of the last prenatal day (day of life 0); prenatal day ``d <= 0`` is keyed
``PRENATAL_DAY_KEY_BASE - d``. Days are unsigned in the key, postnatal days are 1..730 and the
population's once-per-dyad draws use key day 0, so prenatal days (at most 280 of them) get a
range of their own far above both: no prenatal stream can coincide with a postnatal one."""


def stream_day(day: int) -> int:
    """The unsigned day of the stream key for a day of life (prenatal days ``<= 0`` mapped away).

    Postnatal days (``>= 1``) are keyed by themselves, so runs without pregnancy days draw
    exactly what they drew before prenatal days existed.
    """
    day = int(day)
    return day if day >= 1 else PRENATAL_DAY_KEY_BASE - day


# Poisson means above this are drawn from the normal approximation; below, exactly.
_POISSON_EXACT_LIMIT = 30.0
_POISSON_SEARCH_STEPS = 200
"""Most steps of the sequential search (:func:`_poisson_search_from`); a table holds one more entry."""
# Above this mean the Poisson noise (relative sd < 0.3%) is far below the model's
# environmental noise on growth (~10%/day), so the rounded mean is returned: demographic
# noise matters for small populations (establishment), and skipping the draw for large
# flows roughly halves the cost of the route kernels.
_POISSON_DETERMINISTIC_LIMIT = 1e5


@njit(cache=True, inline="always")
def _mix(x: np.uint64) -> np.uint64:
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


@njit(cache=True, inline="always")
def stream_key(seed: np.uint64, dyad: np.uint64, day: np.uint64, process: np.uint64) -> np.uint64:
    k = _mix(seed + _GOLDEN)
    k = _mix(k ^ (dyad + _GOLDEN))
    k = _mix(k ^ (day * _M1 + _GOLDEN))
    return _mix(k ^ (process * _M2 + _GOLDEN))


# Salts of the element counter in the uniform and normal streams (any fixed odd constants).
_UNIFORM_SALT = np.uint64(1)
_NORMAL_SALT = np.uint64(0x632BE59BD9B4E019)


@njit(cache=True, inline="always")
def _counter_hash(counter: np.uint64, salt: np.uint64) -> np.uint64:
    return _mix(counter * _GOLDEN + salt)


@njit(cache=True)
def counter_hashes(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashed element counters ``0..n-1`` of the normal and the Poisson-search uniform streams.

    A draw mixes its stream key with the hashed counter. The hash of a counter is the same for
    every dyad, day and process, so kernels that draw for the same elements over many dyads
    hash them once: half the hashing of a draw (see :func:`poisson_hashed`).
    """
    normal = np.empty(n, dtype=np.uint64)
    uniform = np.empty(n, dtype=np.uint64)
    for j in range(n):
        normal[j] = _counter_hash(np.uint64(j), _NORMAL_SALT)
        uniform[j] = _counter_hash(np.uint64(j) * np.uint64(2) + np.uint64(1), _UNIFORM_SALT)
    return normal, uniform


@njit(cache=True, inline="always")
def _uniform_hashed(key: np.uint64, hashed: np.uint64) -> float:
    bits = _mix(key ^ hashed)
    return ((bits >> np.uint64(11)) + 0.5) / _TWO_POW_53


@njit(cache=True, inline="always")
def _uniform(key: np.uint64, counter: np.uint64) -> float:
    """Uniform on the open interval (0, 1)."""
    return _uniform_hashed(key, _counter_hash(counter, _UNIFORM_SALT))


@njit(cache=True, inline="always")
def normal_hashed(key: np.uint64, hashed: np.uint64) -> float:
    """:func:`normal_one` with the element counter's hash from :func:`counter_hashes`."""
    bits = _mix(key ^ hashed)
    mask = np.uint64(0xFFFF)
    total = (
        float(bits & mask)
        + float((bits >> np.uint64(16)) & mask)
        + float((bits >> np.uint64(32)) & mask)
        + float(bits >> np.uint64(48))
    )
    # four uniforms on (0, 1): (k + 0.5) / 65536 each; sum has mean 2 and variance 1/3
    return ((total + 2.0) / 65536.0 - 2.0) * _SQRT3


@njit(cache=True, inline="always")
def normal_one(key: np.uint64, counter: np.uint64) -> float:
    """Approximately standard normal: the standardised sum of four uniforms (Irwin-Hall).

    One hash gives four 16-bit uniforms, so a draw costs one mix and no transcendental
    function. Mean 0 and variance 1 are exact; tails stop at +/-3.46 sd, which is harmless
    for the demographic and environmental noise it serves and about 5x cheaper than
    Box-Muller in the route and growth kernels.
    """
    return normal_hashed(key, _counter_hash(counter, _NORMAL_SALT))


@njit(cache=True, inline="always")
def _poisson_normal(lam: float, z: float) -> float:
    return max(np.floor(lam + np.sqrt(lam) * z + 0.5), 0.0)


@njit(cache=True, inline="always")
def _poisson_search(lam: float, u: float) -> float:
    return _poisson_search_from(lam, u, np.exp(-lam))


@njit(cache=True, inline="always")
def _poisson_search_from(lam: float, u: float, p0: float) -> float:
    # inversion by sequential search from P(0) = exp(-lam): exact, one uniform, ~lam + 1 steps
    p = p0
    cdf = p
    k = 0
    while u > cdf and k < _POISSON_SEARCH_STEPS:
        k += 1
        p *= lam / k
        cdf += p
    return float(k)


@njit(cache=True)
def poisson_search_tables(lam: np.ndarray, p0: np.ndarray) -> np.ndarray:
    """The cumulative probabilities the sequential search forms, once per mean, shape (mean, 201).

    Row ``j`` holds, for ``lam[j]`` with ``p0[j] = exp(-lam[j])``, exactly the values ``cdf``
    takes in :func:`_poisson_search_from` (the same recurrence in the same order), for means
    drawn by the exact search (``0 < lam < 30``); other rows are left at 0. The smallest ``k``
    with ``u <= table[j, k]`` (or 200) is then exactly the search's count for the uniform ``u``
    (:func:`poisson_hashed_table`): for kernels that draw the same mean for many dyads, the
    ``exp`` and the multiply-add chain are paid once per mean, and each draw is a scan of
    comparisons.
    """
    table = np.zeros((lam.shape[0], _POISSON_SEARCH_STEPS + 1))
    for j in range(lam.shape[0]):
        mean = lam[j]
        if not (0.0 < mean < _POISSON_EXACT_LIMIT):
            continue
        p = p0[j]
        cdf = p
        table[j, 0] = cdf
        for k in range(1, _POISSON_SEARCH_STEPS + 1):
            p *= mean / k
            following = cdf + p
            if following == cdf and k > mean:
                # past the mode the terms only shrink: no later one moves the sum either
                table[j, k:] = cdf
                break
            cdf = following
            table[j, k] = cdf
    return table


@njit(cache=True, inline="always")
def poisson_hashed_table(key: np.uint64, normal_hash: np.uint64, uniform_hash: np.uint64, lam: float,
                         table: np.ndarray, row: int) -> float:
    """:func:`poisson_hashed_from` with the search's cumulative probabilities of ``lam`` given
    (row ``row`` of :func:`poisson_search_tables`; indexed in place, as a row view per draw
    cost more than the search): the same count for every uniform, bit for bit."""
    if lam <= 0.0:
        return 0.0
    if lam >= _POISSON_DETERMINISTIC_LIMIT:
        return np.floor(lam + 0.5)
    if lam >= _POISSON_EXACT_LIMIT:
        return _poisson_normal(lam, normal_hashed(key, normal_hash))
    u = _uniform_hashed(key, uniform_hash)
    k = 0
    while u > table[row, k] and k < _POISSON_SEARCH_STEPS:
        k += 1
    return float(k)


@njit(cache=True, inline="always")
def poisson_one(key: np.uint64, counter: np.uint64, lam: float) -> float:
    if lam <= 0.0:
        return 0.0
    if lam >= _POISSON_DETERMINISTIC_LIMIT:
        return np.floor(lam + 0.5)
    if lam >= _POISSON_EXACT_LIMIT:
        return _poisson_normal(lam, normal_one(key, counter))
    return _poisson_search(lam, _uniform(key, counter * np.uint64(2) + np.uint64(1)))


@njit(cache=True, inline="always")
def poisson_hashed(key: np.uint64, normal_hash: np.uint64, uniform_hash: np.uint64, lam: float) -> float:
    """:func:`poisson_one` with the element counter's hashes from :func:`counter_hashes`."""
    if lam <= 0.0:
        return 0.0
    if lam >= _POISSON_DETERMINISTIC_LIMIT:
        return np.floor(lam + 0.5)
    if lam >= _POISSON_EXACT_LIMIT:
        return _poisson_normal(lam, normal_hashed(key, normal_hash))
    return _poisson_search(lam, _uniform_hashed(key, uniform_hash))


@njit(cache=True, inline="always")
def poisson_hashed_from(key: np.uint64, normal_hash: np.uint64, uniform_hash: np.uint64, lam: float,
                        p0: float) -> float:
    """:func:`poisson_hashed` given ``p0 = exp(-lam)``, for kernels that draw the same mean for many dyads."""
    if lam <= 0.0:
        return 0.0
    if lam >= _POISSON_DETERMINISTIC_LIMIT:
        return np.floor(lam + 0.5)
    if lam >= _POISSON_EXACT_LIMIT:
        return _poisson_normal(lam, normal_hashed(key, normal_hash))
    return _poisson_search_from(lam, _uniform_hashed(key, uniform_hash), p0)


@njit(cache=True, inline="always")
def thin_one(key: np.uint64, counter: np.uint64, count: float, probability: float) -> float:
    """Binomial(count, p) by its Poisson limit on the smaller tail, clipped to [0, count]."""
    if count <= 0.0 or probability <= 0.0:
        return 0.0
    if probability >= 1.0:
        return count
    if probability <= 0.5:
        return min(poisson_one(key, counter, count * probability), count)
    return count - min(poisson_one(key, counter, count * (1.0 - probability)), count)


@njit(cache=True, inline="always")
def thin_hashed(key: np.uint64, normal_hash: np.uint64, uniform_hash: np.uint64, count: float,
                probability: float) -> float:
    """:func:`thin_one` with the element counter's hashes from :func:`counter_hashes`."""
    if count <= 0.0 or probability <= 0.0:
        return 0.0
    if probability >= 1.0:
        return count
    if probability <= 0.5:
        return min(poisson_hashed(key, normal_hash, uniform_hash, count * probability), count)
    return count - min(poisson_hashed(key, normal_hash, uniform_hash, count * (1.0 - probability)), count)


@njit(cache=True, parallel=True)
def _draw_kernel(seed, dyad_ids, day, process, n_per_dyad, normal):
    """``n_per_dyad`` uniform (``normal`` false) or standard normal deviates per dyad."""
    out = np.empty((dyad_ids.shape[0], n_per_dyad))
    for i in prange(dyad_ids.shape[0]):
        key = stream_key(np.uint64(seed), np.uint64(dyad_ids[i]), np.uint64(day), np.uint64(process))
        for j in range(n_per_dyad):
            out[i, j] = normal_one(key, np.uint64(j)) if normal else _uniform(key, np.uint64(j))
    return out


@njit(cache=True, parallel=True)
def _poisson_kernel(seed, dyad_ids, day, process, lam):
    out = np.empty_like(lam)
    for i in prange(lam.shape[0]):
        key = stream_key(np.uint64(seed), np.uint64(dyad_ids[i]), np.uint64(day), np.uint64(process))
        for j in range(lam.shape[1]):
            out[i, j] = poisson_one(key, np.uint64(j), lam[i, j])
    return out


@njit(cache=True, parallel=True)
def _thin_kernel(seed, dyad_ids, day, process, count, probability):
    out = np.empty_like(count)
    for i in prange(count.shape[0]):
        key = stream_key(np.uint64(seed), np.uint64(dyad_ids[i]), np.uint64(day), np.uint64(process))
        for j in range(count.shape[1]):
            out[i, j] = thin_one(key, np.uint64(j), count[i, j], probability[i, j])
    return out


class RandomStreams:
    """Random numbers for a batch of dyads, keyed by (seed, dyad id, day, process).

    Parameters
    ----------
    seed
        The scenario seed (a non-negative integer).
    dyad_ids
        Global ids of the dyads in this batch; the stream of a dyad depends only on its id.
    """

    def __init__(self, seed: int, dyad_ids: np.ndarray) -> None:
        self.seed = int(seed)
        self.dyad_ids = np.ascontiguousarray(dyad_ids, dtype=np.int64)

    @staticmethod
    def _day(day: int) -> int:
        if day < 0:
            raise ValueError(f"stream day {day} is negative; key a prenatal day with stream_day(day)")
        return int(day)

    def _flat(self, array: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(array, dtype=np.float64).reshape(len(self.dyad_ids), -1)

    def uniform(self, day: int, process: int, shape: tuple[int, ...] = ()) -> np.ndarray:
        """Uniforms on (0, 1) of shape ``(n_dyads, *shape)``."""
        n = int(np.prod(shape)) if shape else 1
        out = _draw_kernel(self.seed, self.dyad_ids, self._day(day), process, n, False)
        return out.reshape((len(self.dyad_ids), *shape))

    def normal(self, day: int, process: int, shape: tuple[int, ...] = ()) -> np.ndarray:
        """Standard normal deviates of shape ``(n_dyads, *shape)``."""
        n = int(np.prod(shape)) if shape else 1
        out = _draw_kernel(self.seed, self.dyad_ids, self._day(day), process, n, True)
        return out.reshape((len(self.dyad_ids), *shape))

    def poisson(self, day: int, process: int, mean: np.ndarray) -> np.ndarray:
        """Poisson counts with the given means (first axis = dyads), as float64."""
        return _poisson_kernel(self.seed, self.dyad_ids, self._day(day), process, self._flat(mean)).reshape(
            mean.shape
        )

    def thin(self, day: int, process: int, count: np.ndarray, probability: np.ndarray) -> np.ndarray:
        """How many of ``count`` cells are picked when each is picked with ``probability``."""
        count_flat = self._flat(count)
        probability_flat = self._flat(np.broadcast_to(probability, count.shape))
        return _thin_kernel(
            self.seed, self.dyad_ids, self._day(day), process, count_flat, probability_flat
        ).reshape(count.shape)
