"""Readers for the count tables and metadata that source-tracking users already have.

Supported layouts
-----------------
* **FEAST** count table: tab-separated, taxa in rows, samples in columns, first column the
  taxon ids (the header may omit the first column's name, as R's ``write.table`` does).
* **FEAST** metadata: ``SampleID``, ``Env``, ``SourceSink`` and optionally ``id``.
* **SourceTracker2** BIOM tables: HDF5 (BIOM 2.x) and JSON (BIOM 1.0), dense or sparse.
* **SourceTracker2 / QIIME classic** tables: a ``# Constructed from biom file`` comment line,
  then ``#OTU ID`` and one column per sample (an optional ``taxonomy`` column is dropped).
* **SourceTracker2** mapping files: ``#SampleID``, ``SourceSink`` (or ``source-or-sink``),
  ``Env`` (or ``sample-type``).
* **MetaPhlAn** relative abundances (percent, all ranks): only species rows (``s__`` with no
  ``t__``) are kept and each sample is returned as proportions summing to 1.

Every reader raises :class:`lactobiome.errors.InputError` with a one-line message naming the
file and the row, sample or field at fault. Files whose lines end in a bare carriage return
(classic Mac OS) are rejected with a message that says how to convert them: such files are
rare today and a reader that guessed would silently accept a one-line table. Windows CRLF
endings are accepted.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

from lactobiome.errors import InputError

if TYPE_CHECKING:  # numpy/pandas are imported lazily so `import lactobiome.io` stays cheap
    import numpy as np
    import pandas as pd

__all__ = [
    "detect_format",
    "read_biom",
    "read_classic_table",
    "read_counts",
    "read_feast_counts",
    "read_metadata",
    "read_metaphlan",
]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _read_text(path: str | Path) -> str:
    """Read a text file, rejecting bare-CR line endings with a one-line explanation."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a table file") from None
    if not raw.strip():
        raise InputError(f"{path}: file is empty")
    if b"\r" in raw.replace(b"\r\n", b""):
        raise InputError(
            f"{path}: lines end in a bare carriage return (old Mac OS line endings); "
            f"convert with: tr '\\r' '\\n' < {path.name} > {path.stem}_unix{path.suffix}"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"{path}: line {line}: not UTF-8 text") from None
    return text.replace("\r\n", "\n")


def detect_format(path: str | Path) -> str:
    """Guess the layout of a count table from its first bytes.

    Parameters
    ----------
    path
        The table file.

    Returns
    -------
    str
        One of ``"biom-hdf5"``, ``"biom-json"``, ``"classic"``, ``"metaphlan"``, ``"feast"``.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    if head.startswith(_HDF5_MAGIC):
        return "biom-hdf5"
    stripped = head.lstrip()
    if stripped.startswith(b"{"):
        return "biom-json"
    first = stripped.split(b"\n", 1)[0].strip()
    if first.startswith(b"# Constructed") or first.startswith(b"#OTU ID"):
        return "classic"
    if first.startswith(b"#mpa") or first.startswith(b"clade_name") or b"k__" in head[:2048]:
        return "metaphlan"
    return "feast"


def _parse_tsv_rows(text: str, path: Path, skip_comments: bool = False) -> list[list[str]]:
    rows = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        if skip_comments and line.startswith("#") and not line.startswith("#OTU ID"):
            continue
        rows.append(line.split("\t"))
    if not rows:
        raise InputError(f"{path}: no rows")
    return rows


def _frame_from_rows(
    header: list[str], body: list[list[str]], path: Path, first_line: int, integer: bool
) -> pd.DataFrame:
    """Build a taxa x samples float frame, checking every cell."""
    import numpy as np
    import pandas as pd

    samples = [h.strip() for h in header]
    if not samples:
        raise InputError(f"{path}: header has no sample columns")
    for i, s in enumerate(samples):
        if not s:
            raise InputError(f"{path}: header column {i + 2} has an empty sample id")
    _check_duplicates(samples, path, "sample id")
    n = len(samples)
    fast = _fast_values(body, n)
    if fast is not None:  # well-formed table: C parser, then cell checks below
        taxa_fast, values_fast = fast
        _check_duplicates(taxa_fast, path, "taxon id")
        frame = pd.DataFrame(values_fast, index=pd.Index(taxa_fast, name="taxon"), columns=samples)
        check_counts(frame, str(path), integer=integer, first_line=first_line)
        return frame
    taxa: list[str] = []
    values = np.empty((len(body), n), dtype=np.float64)
    for r, fields in enumerate(body):
        line_no = first_line + r
        taxon = fields[0].strip()
        cells = fields[1:]
        # tolerate one trailing empty cell (a trailing tab)
        if len(cells) == n + 1 and not cells[-1].strip():
            cells = cells[:-1]
        if len(cells) != n:
            raise InputError(
                f"{path}: line {line_no} (taxon {taxon!r}): {len(cells)} values, "
                f"expected {n} (one per sample in the header)"
            )
        if not taxon:
            raise InputError(f"{path}: line {line_no}: empty taxon id")
        taxa.append(taxon)
        try:
            values[r] = [float(c) if c.strip() else np.nan for c in cells]
        except ValueError:
            bad = next(c for c in cells if not _is_float(c))
            col = samples[cells.index(bad)]
            raise InputError(
                f"{path}: line {line_no} (taxon {taxon!r}), sample {col!r}: "
                f"{bad.strip()!r} is not a number"
            ) from None
    _check_duplicates(taxa, path, "taxon id")
    frame = pd.DataFrame(values, index=pd.Index(taxa, name="taxon"), columns=samples)
    check_counts(frame, str(path), integer=integer, first_line=first_line)
    return frame


def _fast_values(body: list[list[str]], n: int) -> tuple[list[str], np.ndarray] | None:
    """Parse numeric cells with pandas' C reader; None if anything looks irregular."""
    import numpy as np
    import pandas as pd

    text = "\n".join("\t".join(fields) for fields in body)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep="\t",
            header=None,
            index_col=False,
            dtype={0: str},
            na_filter=True,
            engine="c",
        )
    except (ValueError, pd.errors.ParserError):
        return None
    if frame.shape[1] == n + 2 and frame.iloc[:, -1].isna().all():
        frame = frame.iloc[:, :-1]
    if frame.shape != (len(body), n + 1):
        return None
    values = frame.iloc[:, 1:]
    if not all(np.issubdtype(dt, np.number) for dt in values.dtypes):
        return None
    taxa = [str(t).strip() for t in frame.iloc[:, 0]]
    if any(not t or t == "nan" for t in taxa):
        return None
    return taxa, values.to_numpy(dtype=np.float64)


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _check_duplicates(names: list[str], path: Path | str, what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError(f"{path}: duplicate {what} {name!r}")
        seen.add(name)


def check_counts(
    frame: pd.DataFrame, name: str, integer: bool = True, first_line: int | None = None
) -> None:
    """Raise :class:`InputError` for negative, NaN, infinite or (optionally) fractional cells.

    Parameters
    ----------
    frame
        Taxa x samples table.
    name
        File name (or label) used in messages.
    integer
        Require whole numbers (read counts).
    first_line
        Line number of the first data row in the file, to report lines instead of taxa.
    """
    import numpy as np

    values = frame.to_numpy(dtype=np.float64)

    def where(r: int, c: int) -> str:
        taxon = frame.index[r]
        line = f"line {first_line + r} " if first_line is not None else ""
        return f"{name}: {line}(taxon {taxon!r}), sample {frame.columns[c]!r}"

    bad = ~np.isfinite(values)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise InputError(f"{where(r, c)}: missing or non-finite value, expected a count")
    bad = values < 0
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise InputError(f"{where(r, c)}: negative value {values[r, c]:g}, expected a count >= 0")
    if integer:
        bad = values != np.round(values)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise InputError(
                f"{where(r, c)}: {values[r, c]:g} is not a whole number; read counts are "
                "required (for relative abundances use --relative / read_metaphlan)"
            )


def read_feast_counts(path: str | Path, integer: bool = True) -> pd.DataFrame:
    """Read a FEAST count table (taxa in rows, samples in columns).

    Parameters
    ----------
    path
        Tab-separated file. The header lists the sample ids, with or without a leading name
        for the taxon column.
    integer
        Require whole-number counts.

    Returns
    -------
    pandas.DataFrame
        Float counts, index = taxon ids, columns = sample ids.
    """
    path = Path(path)
    rows = _parse_tsv_rows(_read_text(path), path)
    header, body = rows[0], rows[1:]
    if not body:
        raise InputError(f"{path}: header only, no taxon rows")
    width = len(body[0])
    if header and not header[-1].strip() and len(header) > 1:
        header = header[:-1]  # trailing tab after the last sample id
    if len(header) == width - 1:
        samples = header  # R write.table layout: no name for the row-name column
    elif len(header) == width:
        samples = header[1:]
    else:
        raise InputError(
            f"{path}: line 2: {width} fields but the header has {len(header)}; expected the "
            "header to list every sample (with or without a taxon column name)"
        )
    return _frame_from_rows(samples, body, path, first_line=2, integer=integer)


def read_classic_table(path: str | Path, integer: bool = True) -> pd.DataFrame:
    """Read a classic (QIIME 1 / SourceTracker2) tab table with a ``#OTU ID`` header.

    Parameters
    ----------
    path
        The table file.
    integer
        Require whole-number counts (``12.0`` counts as whole).

    Returns
    -------
    pandas.DataFrame
        Taxa x samples float counts.
    """
    path = Path(path)
    text = _read_text(path)
    lines = text.split("\n")
    start = None
    for i, line in enumerate(lines):
        if line.startswith("#OTU ID"):
            start = i
            break
    if start is None:
        raise InputError(f"{path}: no '#OTU ID' header line; expected a classic BIOM tab table")
    header = lines[start].split("\t")[1:]
    drop_last = bool(header) and header[-1].strip().lower() in ("taxonomy", "metadata")
    if drop_last:
        header = header[:-1]
    body = []
    for line in lines[start + 1 :]:
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if drop_last and len(fields) == len(header) + 2:
            fields = fields[:-1]
        body.append(fields)
    if not body:
        raise InputError(f"{path}: no taxon rows after the '#OTU ID' header")
    return _frame_from_rows(header, body, path, first_line=start + 2, integer=integer)


def read_biom(path: str | Path, integer: bool = True) -> pd.DataFrame:
    """Read a BIOM table, HDF5 (format 2.x) or JSON (format 1.0).

    Parameters
    ----------
    path
        The ``.biom`` file.
    integer
        Require whole-number counts.

    Returns
    -------
    pandas.DataFrame
        Taxa (observations) x samples float counts.
    """
    import numpy as np
    import pandas as pd

    path = Path(path)
    fmt = detect_format(path)
    if fmt == "biom-hdf5":
        import h5py

        try:
            with h5py.File(path, "r") as f:
                obs = [_decode(x) for x in f["observation/ids"][:]]
                samples = [_decode(x) for x in f["sample/ids"][:]]
                data = f["observation/matrix/data"][:]
                indices = f["observation/matrix/indices"][:]
                indptr = f["observation/matrix/indptr"][:]
        except KeyError as exc:
            raise InputError(f"{path}: BIOM HDF5 file lacks {exc.args[0]}") from None
        except OSError as exc:
            raise InputError(f"{path}: unreadable HDF5 file ({exc})") from None
        dense = np.zeros((len(obs), len(samples)), dtype=np.float64)
        if len(indptr) != len(obs) + 1:
            raise InputError(f"{path}: observation/matrix/indptr has the wrong length")
        rows = np.repeat(np.arange(len(obs)), np.diff(indptr))
        dense[rows, indices] = data
    elif fmt == "biom-json":
        try:
            doc = json.loads(_read_text(path))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})") from None
        for key in ("rows", "columns", "data", "shape"):
            if key not in doc:
                raise InputError(f"{path}: JSON BIOM lacks the {key!r} field")
        obs = [str(r["id"]) for r in doc["rows"]]
        samples = [str(c["id"]) for c in doc["columns"]]
        shape = tuple(doc["shape"])
        if shape != (len(obs), len(samples)):
            raise InputError(f"{path}: 'shape' {list(shape)} does not match rows x columns")
        if doc.get("matrix_type", "sparse") == "dense":
            dense = np.asarray(doc["data"], dtype=np.float64)
            if dense.shape != shape:
                raise InputError(f"{path}: dense 'data' is not {shape[0]} x {shape[1]}")
        else:
            dense = np.zeros(shape, dtype=np.float64)
            for k, entry in enumerate(doc["data"]):
                try:
                    r, c, v = entry
                    dense[int(r), int(c)] += float(v)
                except (ValueError, TypeError, IndexError):
                    raise InputError(
                        f"{path}: data entry {k}: expected [row, column, value] in range"
                    ) from None
    else:
        raise InputError(f"{path}: not a BIOM file (neither HDF5 nor JSON)")
    _check_duplicates(obs, path, "observation id")
    _check_duplicates(samples, path, "sample id")
    frame = pd.DataFrame(dense, index=pd.Index(obs, name="taxon"), columns=samples)
    check_counts(frame, str(path), integer=integer)
    return frame


def _decode(x: bytes | str) -> str:
    return x.decode("utf-8") if isinstance(x, bytes) else str(x)


def read_metaphlan(path: str | Path, rank: str = "s") -> pd.DataFrame:
    """Read a MetaPhlAn merged relative-abundance table and keep one rank.

    Parameters
    ----------
    path
        Tab-separated table with a ``clade_name`` column (or a ``#mpa`` header block), percent
        abundances, clades at all ranks separated by ``|``.
    rank
        Rank letter to keep (``"s"`` species by default); rows of lower ranks (e.g. ``t__``
        strains) are dropped.

    Returns
    -------
    pandas.DataFrame
        Taxa x samples proportions; each sample with any abundance at this rank sums to 1.
        Samples with nothing assigned at this rank are kept as all-zero columns (the tracker
        reports them as empty sinks or sources).
    """
    import numpy as np

    path = Path(path)
    text = _read_text(path)
    lines = [ln for ln in text.split("\n") if ln.strip()]
    start = 0
    while (
        start < len(lines)
        and lines[start].startswith("#")
        and not lines[start].startswith("#clade_name")
    ):
        start += 1
    if start >= len(lines):
        raise InputError(f"{path}: no header line with sample names")
    header = lines[start].split("\t")
    if header[0].lstrip("#") not in ("clade_name", "ID", "taxon"):
        raise InputError(
            f"{path}: line {start + 1}: first column is {header[0]!r}, expected 'clade_name'"
        )
    samples = header[1:]
    if samples and samples[-1].strip().upper() == "NCBI_TAX_ID":
        raise InputError(f"{path}: unsupported NCBI_tax_id column; export without it")
    tag = f"{rank}__"
    body = []
    first_line = None
    for i, line in enumerate(lines[start + 1 :], start=start + 2):
        fields = line.split("\t")
        last = fields[0].split("|")[-1]
        if last.startswith(tag):
            if first_line is None:
                first_line = i
            body.append(fields)
    if not body:
        raise InputError(f"{path}: no rows at rank {tag!r} (expected MetaPhlAn clade names)")
    frame = _frame_from_rows(samples, body, path, first_line=first_line or 2, integer=False)
    frame.index = [name.split("|")[-1] for name in frame.index]
    frame.index.name = "taxon"
    totals = frame.sum(axis=0).to_numpy()
    over = totals > 100.0 * (1 + 1e-6) + 1e-6
    if over.any():
        s = frame.columns[int(np.argmax(over))]
        raise InputError(f"{path}: sample {s!r}: species abundances sum to over 100 percent")
    with np.errstate(invalid="ignore", divide="ignore"):
        props = frame / np.where(totals > 0, totals, 1.0)
    return props


def read_counts(path: str | Path, fmt: str = "auto") -> pd.DataFrame:
    """Read a count table of any supported layout.

    Parameters
    ----------
    path
        The table.
    fmt
        ``"auto"`` (detect), ``"feast"``, ``"biom"``, ``"classic"`` or ``"metaphlan"``.

    Returns
    -------
    pandas.DataFrame
        Taxa x samples; counts, or proportions for MetaPhlAn tables (see
        :func:`read_metaphlan`).
    """
    kind = detect_format(path) if fmt == "auto" else fmt
    if kind in ("biom", "biom-hdf5", "biom-json"):
        return read_biom(path)
    if kind == "classic":
        return read_classic_table(path)
    if kind == "metaphlan":
        return read_metaphlan(path)
    if kind == "feast":
        return read_feast_counts(path)
    raise InputError(f"{path}: unknown table format {fmt!r}")


_COLUMN_ALIASES = {
    "sampleid": "SampleID",
    "#sampleid": "SampleID",
    "sample_id": "SampleID",
    "sample-id": "SampleID",
    "#sample-id": "SampleID",
    "env": "Env",
    "sample-type": "Env",
    "sourcesink": "SourceSink",
    "source-or-sink": "SourceSink",
    "id": "id",
}
_ROLE = {"sink": "Sink", "snk": "Sink", "source": "Source", "src": "Source"}


def read_metadata(path: str | Path) -> pd.DataFrame:
    """Read FEAST metadata or a SourceTracker2 mapping file.

    Parameters
    ----------
    path
        Tab-separated file with columns ``SampleID`` (or ``#SampleID``), ``Env``,
        ``SourceSink`` and optionally ``id``. SourceTracker2's alternative names
        (``sample-type``, ``source-or-sink`` with ``src``/``snk``) are accepted. If the
        header has one field fewer than the rows, the first column is taken as the sample ids
        (R ``write.table`` layout).

    Returns
    -------
    pandas.DataFrame
        Indexed by sample id, with columns ``Env`` (str), ``SourceSink`` (``"Sink"`` or
        ``"Source"``) and ``id`` (str, ``""`` where absent).
    """
    import pandas as pd

    path = Path(path)
    rows = _parse_tsv_rows(_read_text(path), path)
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    if not body:
        raise InputError(f"{path}: header only, no samples")
    if len(header) == len(body[0]) - 1:
        header = ["SampleID", *header]
    names = [_COLUMN_ALIASES.get(h.lower(), h) for h in header]
    for required in ("SampleID", "Env", "SourceSink"):
        if required not in names:
            raise InputError(
                f"{path}: no {required!r} column in the header (found: {', '.join(header)})"
            )
    col = {n: names.index(n) for n in ("SampleID", "Env", "SourceSink")}
    id_col = names.index("id") if "id" in names else None
    records = []
    seen: set[str] = set()
    for i, fields in enumerate(body, start=2):
        fields = [f.strip() for f in fields]
        fields += [""] * (len(names) - len(fields))
        sample = fields[col["SampleID"]]
        if not sample:
            raise InputError(f"{path}: line {i}: empty SampleID")
        if sample in seen:
            raise InputError(f"{path}: line {i}: duplicate SampleID {sample!r}")
        seen.add(sample)
        role = _ROLE.get(fields[col["SourceSink"]].lower())
        if role is None:
            raise InputError(
                f"{path}: line {i} (sample {sample!r}): SourceSink is "
                f"{fields[col['SourceSink']]!r}, expected 'Source' or 'Sink'"
            )
        env = fields[col["Env"]]
        if not env:
            raise InputError(f"{path}: line {i} (sample {sample!r}): empty Env")
        ident = fields[id_col] if id_col is not None else ""
        if ident.upper() == "NA":
            ident = ""
        records.append((sample, env, role, ident))
    frame = pd.DataFrame(records, columns=["SampleID", "Env", "SourceSink", "id"])
    frame = frame.set_index("SampleID")
    frame.attrs["source_file"] = str(path)
    return frame
