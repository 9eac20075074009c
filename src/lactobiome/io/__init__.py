"""Reading users' tables and writing lactobiome's files (results, observations, reports)."""

TABLE_FLOAT_FORMAT = "%.6g"
"""Printf format of the real numbers in every table lactobiome writes (tracking results,
observations, validation and trial tables): six significant digits, more than any measured
quantity here carries (read counts, qPCR copies and culture counts are known to 2-3 digits;
proportions to 1e-6 at 10^6 reads) and without the 17 digits of a float's full repr, which
are noise from the arithmetic, not information. Whole numbers stay whole (``490``, not
``490.0``); very large or small ones take an exponent (``2.09101e+10``)."""
