"""Building blocks: activations, normalizations, dropouts, reparametrizations,
initializers and blocks, each a small ``torch.nn.Module`` (or function) with its
formula and paper in the docstring, and each kind in a name registry."""

from fnnlab.nn.activations import ACTIVATIONS, SELU, Maxout
from fnnlab.nn.dropout import DROPOUTS, AlphaDropout, GaussianDropout

__all__ = [
    "ACTIVATIONS",
    "DROPOUTS",
    "SELU",
    "AlphaDropout",
    "GaussianDropout",
    "Maxout",
]
