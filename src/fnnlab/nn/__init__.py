"""Building blocks: activations, normalizations, dropouts, reparametrizations,
initializers and blocks, each a small ``torch.nn.Module`` (or function) with its
formula and paper in the docstring, and each kind in a name registry."""

from fnnlab.nn.activations import ACTIVATIONS, SELU, Maxout
from fnnlab.nn.blocks import BLOCKS, Dense, Highway, Residual, highway_gate_bias
from fnnlab.nn.dropout import DROPOUTS, AlphaDropout, GaussianDropout
from fnnlab.nn.grid_lstm import GridLSTM, GridLSTMBlock, GridLSTMNetwork, GridLSTMStack
from fnnlab.nn.init import (
    INITIALIZERS,
    SELUInitWarning,
    check_selu_init,
    initialize_,
    lecun_normal_,
    lsuv_,
)
from fnnlab.nn.normalization import NORMS, BatchRenorm, MeanOnlyBatchNorm
from fnnlab.nn.reparam import REPARAMS, WeightNormLinear, data_dependent_init_

__all__ = [
    "ACTIVATIONS",
    "BLOCKS",
    "Dense",
    "Highway",
    "Residual",
    "DROPOUTS",
    "SELU",
    "AlphaDropout",
    "GaussianDropout",
    "GridLSTM",
    "GridLSTMBlock",
    "GridLSTMNetwork",
    "GridLSTMStack",
    "Maxout",
    "INITIALIZERS",
    "NORMS",
    "REPARAMS",
    "BatchRenorm",
    "MeanOnlyBatchNorm",
    "SELUInitWarning",
    "WeightNormLinear",
    "check_selu_init",
    "data_dependent_init_",
    "highway_gate_bias",
    "initialize_",
    "lecun_normal_",
    "lsuv_",
]
