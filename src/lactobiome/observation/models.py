"""Observation models: pure functions from simulated cells to what a study measures.

Each function takes arrays and a :class:`numpy.random.Generator` and returns arrays; none
reads or writes files. The caller chooses the generator so that a sample's observation
depends only on ``(seed, dyad, day, sample type)`` (see :func:`sample_rng`).
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = [
    "sample_rng",
    "add_contamination",
    "contaminant_profile",
    "dirichlet_multinomial",
    "amplicon_counts",
    "shotgun_relative",
    "percent",
    "culture_cfu_per_ml",
    "qpcr_copies",
    "lognormal_noise",
]


def sample_rng(seed: int, *key: int | str) -> np.random.Generator:
    """A generator keyed by ``(seed, *key)``, e.g. ``(seed, dyad, day, "milk")``.

    Parameters
    ----------
    seed
        Observation seed (any integer; a negative one is taken modulo 2**64).
    key
        Integers or strings naming the sample; strings are hashed (SHA-256) so the stream
        does not depend on Python's per-process string hashing.

    Returns
    -------
    numpy.random.Generator
        Independent of which other samples are drawn and in which order.
    """
    # a negative seed names the stream of its two's complement (NumPy refuses negative entropy),
    # as the sample keys below and the tracker's seeds do
    words = [int(seed) & 0xFFFFFFFFFFFFFFFF]
    for part in key:
        if isinstance(part, str):
            words.append(int.from_bytes(hashlib.sha256(part.encode()).digest()[:8], "little"))
        else:
            words.append(int(part) & 0xFFFFFFFFFFFFFFFF)
    return np.random.default_rng(np.random.SeedSequence(words))


def contaminant_profile(
    rng: np.random.Generator, contaminant: np.ndarray, concentration: float
) -> np.ndarray:
    """Share of each taxon in one extraction's kit/reagent background.

    Parameters
    ----------
    rng
        Random generator.
    contaminant
        Boolean mask over taxa of the kit contaminants.
    concentration
        Dirichlet concentration around an even mix of the contaminant taxa (large: every
        extraction has the same background).

    Returns
    -------
    numpy.ndarray
        Shares over all taxa, zero outside the mask, summing to 1.
    """
    mask = np.asarray(contaminant, dtype=bool)
    out = np.zeros(mask.shape[0])
    k = int(mask.sum())
    if k == 0:
        return out
    out[mask] = rng.dirichlet(np.full(k, concentration / k))
    return out


def add_contamination(cells: np.ndarray, profile: np.ndarray, contaminant_cells: float) -> np.ndarray:
    """Mix a sample's cells with a fixed amount of contaminant DNA (in cell equivalents).

    Parameters
    ----------
    cells
        Cells of each taxon in the extracted sample, shape ``(..., taxon)``.
    profile
        Contaminant shares over taxa (sums to 1), broadcastable to ``cells``.
    contaminant_cells
        Cell equivalents of contaminant DNA per extraction. Because this is fixed, the
        contaminant share ``c / (c + biomass)`` grows as the sample's biomass falls.

    Returns
    -------
    numpy.ndarray
        Cell equivalents of each taxon after extraction.
    """
    return np.asarray(cells, dtype=np.float64) + contaminant_cells * np.asarray(profile)


def dirichlet_multinomial(
    rng: np.random.Generator, proportions: np.ndarray, depth: int, overdispersion: float
) -> np.ndarray:
    """Read counts of one sample: Dirichlet-multinomial with intra-class correlation.

    Parameters
    ----------
    rng
        Random generator.
    proportions
        Expected read shares (non-negative, any scale; normalised here).
    depth
        Reads in the sample; the counts sum to it exactly.
    overdispersion
        Intra-class correlation ``rho`` in [0, 1): 0 is a multinomial; the variance of a
        count is ``n p (1 - p) (1 + (n - 1) rho)``.

    Returns
    -------
    numpy.ndarray
        Integer counts (int64) summing to ``depth``.
    """
    p = np.clip(np.asarray(proportions, dtype=np.float64), 0.0, None)
    total = p.sum()
    if depth <= 0 or total <= 0.0:
        return np.zeros(p.shape[0], dtype=np.int64)
    p = p / total
    if overdispersion > 0.0:
        alpha = p * (1.0 - overdispersion) / overdispersion
        nz = alpha > 0.0
        draw = np.zeros_like(p)
        # gamma draws give a Dirichlet that tolerates tiny concentrations
        g = rng.gamma(alpha[nz])
        if g.sum() > 0.0:
            draw[nz] = g / g.sum()
            p = draw
    return rng.multinomial(int(depth), p).astype(np.int64)


def amplicon_counts(
    rng: np.random.Generator,
    cells: np.ndarray,
    copies_16s: np.ndarray,
    depth: int,
    overdispersion: float,
) -> np.ndarray:
    """16S amplicon reads: cells weighted by 16S copy number, then Dirichlet-multinomial.

    Parameters
    ----------
    rng
        Random generator.
    cells
        Cell equivalents of each taxon in the extract (contaminants included).
    copies_16s
        16S rRNA gene copies per genome of each taxon (rrnDB).
    depth
        Reads per sample.
    overdispersion
        See :func:`dirichlet_multinomial`.

    Returns
    -------
    numpy.ndarray
        Integer reads per taxon summing to ``depth``.
    """
    return dirichlet_multinomial(rng, np.asarray(cells) * np.asarray(copies_16s), depth, overdispersion)


def shotgun_relative(
    rng: np.random.Generator, cells: np.ndarray, depth: int, overdispersion: float
) -> np.ndarray:
    """Shotgun relative abundances (MetaPhlAn-like, in percent): no copy-number bias.

    Parameters
    ----------
    rng
        Random generator.
    cells
        Cell equivalents of each taxon in the extract.
    depth
        Marker reads used for profiling (sets the sampling noise).
    overdispersion
        See :func:`dirichlet_multinomial`.

    Returns
    -------
    numpy.ndarray
        Percentages summing to 100 (zeros when nothing was read).
    """
    return percent(dirichlet_multinomial(rng, cells, depth, overdispersion))


def percent(reads: np.ndarray) -> np.ndarray:
    """Reads as percentages of their sum (all zeros when there are none).

    Parameters
    ----------
    reads
        Reads per taxon.

    Returns
    -------
    numpy.ndarray
        Float percentages summing to 100, or zeros.
    """
    reads = np.asarray(reads, dtype=np.float64)
    total = reads.sum()
    return reads * (100.0 / total) if total > 0 else np.zeros_like(reads)


def culture_cfu_per_ml(
    rng: np.random.Generator,
    cells_per_ml: np.ndarray,
    culturable: np.ndarray,
    recovery: float,
    plated_ml: float,
) -> np.ndarray:
    """Colony counts per mL of each culturable taxon, with a detection limit.

    Parameters
    ----------
    rng
        Random generator.
    cells_per_ml
        Live cells per mL of each taxon.
    culturable
        Boolean mask of taxa that grow on standard media.
    recovery
        Share of live culturable cells that form a colony.
    plated_ml
        Volume plated; one colony in it is the detection limit ``1 / plated_ml`` CFU/mL.

    Returns
    -------
    numpy.ndarray
        CFU/mL (0 below the detection limit; always 0 for unculturable taxa).
    """
    mean = np.asarray(cells_per_ml, dtype=np.float64) * recovery * plated_ml
    colonies = rng.poisson(np.where(np.asarray(culturable, dtype=bool), mean, 0.0))
    return colonies / plated_ml


def qpcr_copies(
    rng: np.random.Generator, cells: np.ndarray, copies_16s: np.ndarray, sd_log10: float
) -> float:
    """Total 16S gene copies measured by qPCR (log-normal measurement noise).

    Parameters
    ----------
    rng
        Random generator.
    cells
        Cell equivalents per taxon in the extract (contaminant DNA amplifies too).
    copies_16s
        16S copies per genome of each taxon.
    sd_log10
        Standard deviation of the measurement on the log10 scale.

    Returns
    -------
    float
        Measured copies.
    """
    true = float(np.dot(cells, copies_16s))
    return true * 10.0 ** (sd_log10 * rng.standard_normal())


def lognormal_noise(rng: np.random.Generator, values: np.ndarray, cv: float) -> np.ndarray:
    """Multiply by log-normal noise with mean 1 and coefficient of variation ``cv``.

    Parameters
    ----------
    rng
        Random generator.
    values
        True values (non-negative).
    cv
        Coefficient of variation of the measurement.

    Returns
    -------
    numpy.ndarray
        Measured values.
    """
    values = np.asarray(values, dtype=np.float64)
    sigma = np.sqrt(np.log1p(cv * cv))
    return values * np.exp(sigma * rng.standard_normal(values.shape) - 0.5 * sigma * sigma)
