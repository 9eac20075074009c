"""The taxa catalogue: traits of each taxon, read from ``data/taxa.csv``.

Every trait value has a source or is marked ``assumption`` in ``data/taxa_sources.csv``
(one row per taxon and trait; ``*`` as taxon gives the default for a trait, and a trait
ending in ``_*`` covers all columns with that prefix). The loader refuses a catalogue with
an unsourced value.
"""

from __future__ import annotations

import csv
import difflib
import io
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path

import numpy as np

from lactobiome.errors import InputError
from lactobiome.model.sites import MATERNAL_SITES, SITES

ANTIBIOTIC_CLASSES: tuple[str, ...] = (
    "penicillin",
    "flucloxacillin",
    "cephalosporin",
    "macrolide",
    "lincosamide",
)
OXYGEN_CLASSES: tuple[str, ...] = ("aerobe", "facultative", "microaerophile", "anaerobe")
KINDS: tuple[str, ...] = ("commensal", "pathobiont", "probiotic", "contaminant")

_TEXT = ("taxon", "name", "genus", "family", "phylum", "kind", "oxygen")
_BOOL = ("culturable", "contaminant")
_UNIT_INTERVAL = (
    ("hmo_utilisation", "solids_dependence", "acid_production", "acid_sensitivity", "lactoferrin_sensitivity",
     "immunogenicity", "pathogenic_potential", "ductal_biofilm",
     "entero_mammary")
    + tuple(f"k_{s}" for s in SITES)
    + tuple(f"prevalence_{s}" for s in MATERNAL_SITES)
    + ("birth_vaginal", "birth_caesarean", "environment")
    + tuple(f"kill_{c}" for c in ANTIBIOTIC_CLASSES)
)
_POSITIVE = ("growth_rate_per_day", "copies_16s")
COLUMNS: tuple[str, ...] = (
    _TEXT[:6]
    + ("growth_rate_per_day", "oxygen", "hmo_utilisation", "solids_dependence", "acid_production",
       "acid_sensitivity", "lactoferrin_sensitivity", "immunogenicity",
       "pathogenic_potential", "ductal_biofilm", "entero_mammary", "culturable", "contaminant", "copies_16s")
    + tuple(f"k_{s}" for s in SITES)
    + tuple(f"prevalence_{s}" for s in MATERNAL_SITES)
    + ("birth_vaginal", "birth_caesarean", "environment")
    + tuple(f"kill_{c}" for c in ANTIBIOTIC_CLASSES)
)


@dataclass(frozen=True)
class TaxaCatalogue:
    """Traits of the modelled taxa as arrays in catalogue order (axis ``taxon``)."""

    names: tuple[str, ...]
    table: dict[str, np.ndarray]
    sources: dict[tuple[str, str], str]
    origin: str = "taxa.csv"
    """The catalogue file the taxa were read from (for messages)."""

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, trait: str) -> np.ndarray:
        return self.table[trait]

    def index(self, taxon: str) -> int:
        """Position of ``taxon`` in the catalogue.

        Raises
        ------
        InputError
            If ``taxon`` is not in the catalogue: the message names the catalogue file and
            the closest taxon ids.
        """
        try:
            return self.names.index(taxon)
        except ValueError:
            close = difflib.get_close_matches(str(taxon), self.names, n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(close)}?" if close else "see its 'taxon' column"
            raise InputError(
                f"unknown taxon {taxon!r}: not in the taxa catalogue {self.origin} "
                f"({len(self.names)} taxa); {hint}"
            ) from None

    @cached_property
    def niche_share(self) -> np.ndarray:
        """Share of each site's carrying capacity a taxon can occupy, shape (site, taxon)."""
        return np.stack([self.table[f"k_{s}"] for s in SITES]).astype(np.float64)

    @cached_property
    def kill(self) -> np.ndarray:
        """Fraction killed per day of full exposure, shape (antibiotic class, taxon)."""
        return np.stack([self.table[f"kill_{c}"] for c in ANTIBIOTIC_CLASSES])

    @cached_property
    def living(self) -> np.ndarray:
        """Boolean mask of taxa that live in the dyad (not kit contaminants)."""
        return ~self.table["contaminant"]


def _read(path: str | Path | None, filename: str) -> tuple[str, str]:
    """The text of a catalogue file and the name to give it in messages."""
    if path is None:
        return resources.files("lactobiome.data").joinpath(filename).read_text("utf-8"), filename
    try:
        return Path(path).read_text("utf-8"), str(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None


def load_taxa(path: str | Path | None = None, sources_path: str | Path | None = None) -> TaxaCatalogue:
    """Load, validate and source-check the taxa catalogue.

    Parameters
    ----------
    path, sources_path
        ``taxa.csv`` and ``taxa_sources.csv``; the shipped files when omitted.
    """
    text, origin = _read(path, "taxa.csv")
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(reader.fieldnames or ())
    if header != COLUMNS:
        missing = [c for c in COLUMNS if c not in header]
        extra = [c for c in header if c not in COLUMNS]
        raise InputError(f"{origin}: header differs from the schema (missing {missing}, unexpected {extra})")
    rows = [(reader.line_num, row) for row in reader]  # line numbers count blank lines
    if not rows:
        raise InputError(f"{origin}: no taxa")
    columns: dict[str, list] = {c: [] for c in COLUMNS}
    for lineno, row in rows:
        where = f"{origin}: row {lineno} ({row.get('taxon')})"
        for c in _TEXT:
            if not row[c]:
                raise InputError(f"{where}: {c} is empty")
            columns[c].append(row[c])
        for c in _BOOL:
            if row[c] not in ("true", "false"):
                raise InputError(f"{where}: {c} must be true or false, got {row[c]!r}")
            columns[c].append(row[c] == "true")
        for c in _UNIT_INTERVAL + _POSITIVE:
            try:
                v = float(row[c])
            except (TypeError, ValueError):
                raise InputError(f"{where}: {c} must be a number, got {row[c]!r}") from None
            if c in _UNIT_INTERVAL and not 0.0 <= v <= 1.0:
                raise InputError(f"{where}: {c} must lie in [0, 1], got {v}")
            if c in _POSITIVE and not v > 0.0:
                raise InputError(f"{where}: {c} must be positive, got {v}")
            columns[c].append(v)
        if row["oxygen"] not in OXYGEN_CLASSES:
            raise InputError(f"{where}: oxygen must be one of {OXYGEN_CLASSES}, got {row['oxygen']!r}")
        if row["kind"] not in KINDS:
            raise InputError(f"{where}: kind must be one of {KINDS}, got {row['kind']!r}")
    names = tuple(columns["taxon"])
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"{origin}: duplicate taxon ids {dup}")
    table: dict[str, np.ndarray] = {}
    for c in COLUMNS:
        if c in _BOOL:
            table[c] = np.array(columns[c], dtype=bool)
        elif c in _TEXT:
            table[c] = np.array(columns[c], dtype=object)
        else:
            table[c] = np.array(columns[c], dtype=np.float64)
    sources = _load_sources(sources_path, names)
    shipped = str(resources.files("lactobiome.data").joinpath("taxa.csv"))
    return TaxaCatalogue(
        names=names, table=table, sources=sources, origin=shipped if path is None else origin
    )


def _load_sources(path: str | Path | None, names: tuple[str, ...]) -> dict[tuple[str, str], str]:
    text, origin = _read(path, "taxa_sources.csv")
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ())[:3] != ("taxon", "trait", "source"):
        raise InputError(f"{origin}: header must start with taxon,trait,source")
    specific: dict[tuple[str, str], str] = {}
    for row in reader:
        lineno = reader.line_num
        taxon, trait, source = row["taxon"], row["trait"], (row["source"] or "").strip()
        if taxon != "*" and taxon not in names:
            raise InputError(f"{origin}: row {lineno}: unknown taxon {taxon!r}")
        traits = [c for c in COLUMNS if c.startswith(trait[:-1])] if trait.endswith("*") else [trait]
        if not traits or any(t not in COLUMNS for t in traits):
            raise InputError(f"{origin}: row {lineno}: unknown trait {trait!r}")
        if not source:
            raise InputError(f"{origin}: row {lineno}: empty source; cite one or write 'assumption'")
        for t in traits:
            # a taxon-specific row wins over a '*' default, whatever the order of rows
            if taxon == "*":
                specific.setdefault(("*", t), source)
            else:
                specific[(taxon, t)] = source
    resolved: dict[tuple[str, str], str] = {}
    for name in names:
        for trait in COLUMNS[6:]:
            source = specific.get((name, trait)) or specific.get(("*", trait))
            if source is None:
                raise InputError(f"{origin}: no source for trait {trait!r} of taxon {name!r}")
            resolved[(name, trait)] = source
    return resolved
