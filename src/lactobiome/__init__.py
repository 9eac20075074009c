"""lactobiome: the maternal–infant milk microbiome and mammary immune system of a dyad.

A research and teaching tool. It never gives medical advice.
"""

import os

# Numba's OpenMP threads sleep between the kernels' parallel regions instead of spinning
# (read when OpenMP starts, so before any kernel runs; a value you set yourself wins). On a
# busy or shared machine the spinning thread took the core from the thread doing the work:
# 1,000 dyads x 180 days took 35 s instead of 4-5 s at load 7 on 2 cores.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from lactobiome.errors import LactobiomeError  # noqa: E402

__version__ = "0.1.0"

__all__ = ["LactobiomeError", "__version__"]
