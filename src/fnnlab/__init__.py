"""fnnlab: make deep feedforward networks train, and show why they do or don't.

The public API is the short list in ``__all__``; everything else is reached
through its subpackage (``fnnlab.nn``, ``fnnlab.data``, ``fnnlab.diagnostics``,
``fnnlab.bench``, ``fnnlab.theory``, ``fnnlab.plots``).
"""

from fnnlab.registry import Registry
from fnnlab.training import FitResult, fit, load, save

__version__ = "0.1.0"

__all__ = ["FitResult", "Registry", "__version__", "fit", "load", "save"]
