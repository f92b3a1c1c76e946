"""Normalization layers for (N, F) activations, and the ``NORMS`` registry.

Every entry is built the same way, ``NORMS.create(name, num_features, **kw)``:

=================  ==================================================================
``batch``          ``torch.nn.BatchNorm1d`` (Ioffe & Szegedy 2015)
``batch_renorm``   :class:`BatchRenorm` (Ioffe 2017)
``layer``          ``torch.nn.LayerNorm`` over the features (Ba, Kiros & Hinton 2016)
``group``          ``torch.nn.GroupNorm`` with a default group count (Wu & He 2018)
``mean_only_batch`` :class:`MeanOnlyBatchNorm` (Salimans & Kingma 2016)
``none``           ``torch.nn.Identity`` (accepts and ignores ``num_features``)
=================  ==================================================================

Torch's classes are registered as they are; only batch renormalization and
mean-only batch normalization are written here, because torch lacks them.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fnnlab.registry import Registry

__all__ = ["NORMS", "BatchRenorm", "MeanOnlyBatchNorm", "group_norm"]

NORMS: Registry = Registry("norm")

NORMS.register("batch", "batchnorm", "batch_norm")(nn.BatchNorm1d)
NORMS.register("layer", "layernorm", "layer_norm")(nn.LayerNorm)
NORMS.register("none", "identity")(nn.Identity)


def _check_features(name: str, num_features: int) -> None:
    if isinstance(num_features, bool) or not isinstance(num_features, int):
        raise TypeError(f"{name}: num_features must be an int, got {num_features!r}.")
    if num_features < 1:
        raise ValueError(f"{name}: num_features must be >= 1, got {num_features}.")


def _check_momentum(name: str, momentum: float) -> None:
    if isinstance(momentum, bool) or not isinstance(momentum, int | float):
        raise TypeError(f"{name}: momentum must be a float in [0, 1], got {momentum!r}.")
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(
            f"{name}: momentum is the running-average update rate and must be in [0, 1], "
            f"got {momentum}."
        )


@NORMS.register("group", "groupnorm", "group_norm")
def group_norm(
    num_features: int,
    num_groups: int | None = None,
    eps: float = 1e-5,
    affine: bool = True,
) -> nn.GroupNorm:
    r"""Build ``torch.nn.GroupNorm`` for (N, F) inputs, choosing the group count.

    y = (x - E_g[x]) / sqrt(Var_g[x] + eps) * gamma + beta, where the statistics are
    taken per sample over each group of F / G consecutive features. G = 1 is layer
    norm; G = F normalizes every feature of a sample by itself (and, on an (N, F)
    input, outputs beta alone, so avoid it).
    Shape: (N, F) -> (N, F); torch's GroupNorm takes (N, C, *), so (N, F) works as is.

    Parameters
    ----------
    num_features : int
        F, the number of features (channels).
    num_groups : int or None, default=None
        G; must divide ``num_features``. None picks the largest divisor of F that is
        at most 32 and at most F / 2, so each group holds at least two features
        (32 is the paper's default; F = 1 gets one group).
    eps : float, default=1e-5
    affine : bool, default=True
        Learn per-feature gamma and beta.

    References
    ----------
    Wu & He, "Group Normalization", ECCV 2018, arXiv:1803.08494.
    """
    _check_features("group_norm", num_features)
    if num_groups is None:
        limit = max(1, min(32, num_features // 2))
        num_groups = max(g for g in range(1, limit + 1) if num_features % g == 0)
    elif num_groups < 1 or num_features % num_groups:
        divisors = [g for g in range(1, num_features + 1) if num_features % g == 0]
        raise ValueError(
            f"group_norm: num_groups must divide num_features={num_features}, got "
            f"{num_groups}. Pick one of {divisors}, or None for a default."
        )
    return nn.GroupNorm(num_groups, num_features, eps=eps, affine=affine)


@NORMS.register("mean_only_batch", "mean_only", "mean_only_batchnorm")
class MeanOnlyBatchNorm(nn.Module):
    r"""Mean-only batch normalization: center by the batch mean, do not rescale.

    Training: y = x - mu_B + beta, mu_B = (1/N) sum_i x_i (per feature).
    Evaluation: y = x - mu + beta, with the running mean
    mu <- (1 - momentum) * mu + momentum * mu_B updated at every training batch.
    Shape: (N, F) -> (N, F).

    Meant to follow a weight-normalized linear layer: weight normalization fixes the
    scale of the pre-activations, so only their mean needs the batch, and the noise
    this adds is milder than full batch norm's (no division by a noisy sigma_B).

    Parameters
    ----------
    num_features : int
        F.
    momentum : float, default=0.1
        Update rate of the running mean (torch's BatchNorm convention).
    affine : bool, default=True
        Learn the bias beta (the layer before it should then have no bias of its own).

    References
    ----------
    Salimans & Kingma, "Weight Normalization: A Simple Reparameterization to
    Accelerate Training of Deep Neural Networks", NeurIPS 2016, arXiv:1602.07868.
    """

    def __init__(self, num_features: int, momentum: float = 0.1, affine: bool = True) -> None:
        super().__init__()
        _check_features("MeanOnlyBatchNorm", num_features)
        _check_momentum("MeanOnlyBatchNorm", momentum)
        self.num_features = num_features
        self.momentum = momentum
        self.affine = affine
        self.bias = nn.Parameter(torch.empty(num_features)) if affine else None
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Set the running mean to 0."""
        self.running_mean.zero_()

    def reset_parameters(self) -> None:
        """Reset the running mean and set beta to 0."""
        self.reset_running_stats()
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        return mean_only_batch_norm(x, 0, self.running_mean, self.bias, self.momentum,
                                    self.training)

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}, affine={self.affine}"


def mean_only_batch_norm(x: Tensor, dim: int, running_mean: Tensor, bias: Tensor | None,
                         momentum: float, training: bool) -> Tensor:
    r"""y = x - mu + beta, mu the batch mean over ``dim`` (training) or the running mean.

    Shared by :class:`MeanOnlyBatchNorm` (``dim=0``, (N, F) inputs) and the stacked
    trainer (``dim=1``, (K, N, F) inputs with per-member running means (K, 1, F)).
    Training also moves ``running_mean`` towards the batch mean by ``momentum``.
    """
    if training:
        mean = x.mean(dim=dim, keepdim=True).view_as(running_mean)
        with torch.no_grad():
            running_mean.lerp_(mean.detach(), momentum)
    else:
        mean = running_mean
    y = x - mean
    return y + bias if bias is not None else y


def batch_renorm_train(x: Tensor, dim: int, running_mean: Tensor, running_var: Tensor,
                       num_batches_tracked: Tensor, r_max: float, d_max: float, *,
                       eps: float, momentum: float) -> Tensor:
    r"""Batch renormalization of ``x`` over its batch dimension ``dim`` in training mode.

    x_hat = (x - mu_B) / sigma_B * r + d,  r = clip(sigma_B / sigma, 1/r_max, r_max),
    d = clip((mu_B - mu) / sigma, -d_max, d_max), with r and d held constant for
    backprop; updates the running statistics (shaped like the batch statistics with
    ``dim`` kept or dropped) in place. Shared by :class:`BatchRenorm` (``dim=0``) and the
    stacked trainer's per-member version (``dim=1``).
    """
    keep = running_mean.dim() == x.dim()
    mean_b = x.mean(dim=dim, keepdim=keep)
    var_b = x.var(dim=dim, unbiased=False, keepdim=keep)
    std_b = torch.sqrt(var_b + eps)
    with torch.no_grad():
        # r and d are constants for backprop (stop_gradient in the paper): the gradient
        # is batch norm's, only the forward value is corrected.
        std = torch.sqrt(running_var + eps)
        r = (std_b / std).clamp(1.0 / r_max, r_max)
        d = ((mean_b - running_mean) / std).clamp(-d_max, d_max)
        n = x.shape[dim]
        running_mean.lerp_(mean_b, momentum)
        running_var.lerp_(var_b * n / (n - 1), momentum)
        num_batches_tracked.add_(1)
    return (x - mean_b) / std_b * r + d


@NORMS.register("batch_renorm", "batchrenorm", "batch_renormalization")
class BatchRenorm(nn.Module):
    r"""Batch renormalization: batch norm corrected towards the running statistics.

    Training, per feature, with batch statistics mu_B, sigma_B = sqrt(Var_B[x] + eps)
    (biased variance) and running statistics mu, sigma = sqrt(running_var + eps):

        r = stop_gradient(clip(sigma_B / sigma, 1 / r_max, r_max))
        d = stop_gradient(clip((mu_B - mu) / sigma, -d_max, d_max))
        y = gamma * ((x - mu_B) / sigma_B * r + d) + beta

    then mu <- mu + momentum * (mu_B - mu) and running_var likewise with the unbiased
    batch variance. Evaluation: y = gamma * (x - mu) / sigma + beta, the same as
    batch norm. Without clipping, r and d make the training output equal the
    evaluation output, so the model no longer depends on who else is in the batch;
    with r_max = 1 and d_max = 0 the layer is exactly ``nn.BatchNorm1d``.
    Shape: (N, F) -> (N, F).

    The running variance (not sigma, as in the paper) is averaged, exactly as
    ``nn.BatchNorm1d`` does, so the buffers mean the same thing in both layers.

    The limits warm up as in the paper's experiments: r_max(t) = 1 and d_max(t) = 0
    for t < ``relax_start`` training batches, then they grow linearly to reach
    ``r_max`` at batch ``r_max_end`` and ``d_max`` at batch ``d_max_end``. An end at
    or before ``relax_start`` switches the full value on at ``relax_start``; set all
    three to 0 for fixed limits. The defaults are the paper's ImageNet schedule
    (5000, 40000, 25000 steps); scale them down for short runs, otherwise the layer
    is plain batch norm for the first 5000 batches.

    Parameters
    ----------
    num_features : int
        F.
    eps : float, default=1e-5
    momentum : float, default=0.01
        Update rate alpha of the running statistics; the paper used 0.01, faster than
        needed for batch norm alone, because training now depends on them.
    affine : bool, default=True
        Learn gamma (init 1) and beta (init 0).
    r_max, d_max : float, default=3.0, 5.0
        Final clipping limits (r_max >= 1, d_max >= 0).
    relax_start, r_max_end, d_max_end : int, default=5000, 40000, 25000
        Warm-up schedule in training batches, counted by ``num_batches_tracked``.

    References
    ----------
    Ioffe, "Batch Renormalization: Towards Reducing Minibatch Dependence in
    Batch-Normalized Models", NeurIPS 2017, arXiv:1702.03275.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.01,
        affine: bool = True,
        r_max: float = 3.0,
        d_max: float = 5.0,
        relax_start: int = 5000,
        r_max_end: int = 40000,
        d_max_end: int = 25000,
    ) -> None:
        super().__init__()
        _check_features("BatchRenorm", num_features)
        _check_momentum("BatchRenorm", momentum)
        if eps <= 0:
            raise ValueError(f"BatchRenorm: eps must be > 0, got {eps}.")
        if r_max < 1:
            raise ValueError(f"BatchRenorm: r_max must be >= 1 (1 = no correction), got {r_max}.")
        if d_max < 0:
            raise ValueError(f"BatchRenorm: d_max must be >= 0 (0 = no correction), got {d_max}.")
        for key, value in (
            ("relax_start", relax_start),
            ("r_max_end", r_max_end),
            ("d_max_end", d_max_end),
        ):
            if value < 0:
                raise ValueError(f"BatchRenorm: {key} must be >= 0 training batches, got {value}.")
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.r_max = float(r_max)
        self.d_max = float(d_max)
        self.relax_start = relax_start
        self.r_max_end = r_max_end
        self.d_max_end = d_max_end
        if affine:
            self.weight = nn.Parameter(torch.empty(num_features))
            self.bias = nn.Parameter(torch.empty(num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, batch counter (and warm-up) back to 0."""
        self.running_mean.zero_()
        self.running_var.fill_(1.0)
        self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Reset the running statistics; gamma = 1, beta = 0."""
        self.reset_running_stats()
        if self.affine:
            nn.init.ones_(self.weight)
            nn.init.zeros_(self.bias)

    def _ramp(self, step: int, end: int) -> float:
        if step < self.relax_start:
            return 0.0
        if end <= self.relax_start:
            return 1.0
        return min(1.0, (step - self.relax_start) / (end - self.relax_start))

    def limits(self, step: int | None = None) -> tuple[float, float]:
        """The clipping limits (r_max, d_max) in force at training batch ``step``.

        ``step`` defaults to the number of batches seen so far, i.e. the limits the
        next training batch will use.
        """
        if step is None:
            step = int(self.num_batches_tracked)
        r_max = 1.0 + (self.r_max - 1.0) * self._ramp(step, self.r_max_end)
        d_max = self.d_max * self._ramp(step, self.d_max_end)
        return r_max, d_max

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchRenorm expects input of shape (N, {self.num_features}), got "
                f"{tuple(x.shape)}."
            )
        if self.training:
            if x.shape[0] < 2:
                raise ValueError(
                    "BatchRenorm needs at least 2 samples per batch in training mode, got "
                    f"{x.shape[0]}. Use a larger batch or call .eval()."
                )
            x_hat = batch_renorm_train(x, 0, self.running_mean, self.running_var,
                                       self.num_batches_tracked, *self.limits(),
                                       eps=self.eps, momentum=self.momentum)
        else:
            x_hat = (x - self.running_mean) / torch.sqrt(self.running_var + self.eps)
        if self.affine:
            return x_hat * self.weight + self.bias
        return x_hat

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, r_max={self.r_max}, d_max={self.d_max}, "
            f"relax_start={self.relax_start}, r_max_end={self.r_max_end}, "
            f"d_max_end={self.d_max_end}"
        )
