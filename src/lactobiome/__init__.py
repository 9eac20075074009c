"""lactobiome: the maternal–infant milk microbiome and mammary immune system of a dyad.

A research and teaching tool. It never gives medical advice.
"""

from lactobiome.errors import LactobiomeError

__version__ = "0.1.0"

__all__ = ["LactobiomeError", "__version__"]
