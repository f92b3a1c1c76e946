r"""Output units and their losses, each derived from a likelihood.

A network does not predict ``y`` directly: its raw outputs ``z = f(x; θ)`` are the
parameters of a model distribution ``q(y | x; θ)``, and maximum likelihood gives the
cost ``J(θ) = E_{(x, y) ~ p̂} [-log q(y | x; θ)]``. The choice of ``q`` fixes both the
output unit (how ``z`` becomes a parameter) and the loss:

===========  =========================  =======================  ======================
name         q(y | x)                   output unit              loss (per sample)
===========  =========================  =======================  ======================
gaussian     N(y | z, σ²)               linear                   (y - z)²  (MSE)
laplace      Laplace(y | z, γ)          linear                   ``|y - z|`` (MAE)
bernoulli    Bernoulli(y | σ(z))        sigmoid                  BCE on the logit z
categorical  Categorical(softmax(z/T))  softmax, temperature T   cross-entropy
poisson      Poisson(y | ζ(z))          softplus ζ (a rate > 0)  ζ(z) - y log ζ(z)
===========  =========================  =======================  ======================

Each entry of :data:`LIKELIHOODS` is a class whose instances provide ``loss(outputs,
target)`` (a scalar, the mean over the batch), ``predict(outputs)`` (the statistic the
loss is minimized by: mean, median or class), ``predict_proba(outputs)``
(classification only), ``n_outputs(n)`` (how many raw outputs the network needs for
``n`` targets or classes) and ``combine(outputs)`` (average the predictions of an
ensemble and return them as raw outputs again).

References
----------
Goodfellow, Bengio, Courville, "Deep Learning", MIT Press 2016, sections 6.2.1-6.2.2
(the notes in ``reference/002``: likelihood-derived costs and output units).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from fnnlab.registry import Registry

__all__ = [
    "LIKELIHOODS",
    "Bernoulli",
    "Categorical",
    "Gaussian",
    "Laplace",
    "Likelihood",
    "Poisson",
    "resolve",
]

LIKELIHOODS: Registry[type[Likelihood]] = Registry("likelihood")


def _member_mean(loss: Tensor) -> Tensor:
    return loss.flatten(1).mean(1)


def _member_eps(smoothing: Tensor, like: Tensor) -> Tensor:
    """Per-member ε, (K,), shaped to broadcast over ``like`` (K, ...)."""
    return smoothing.to(dtype=like.dtype, device=like.device).view(-1, *([1] * (like.dim() - 1)))


def _masked_mean(losses: Tensor, target: Tensor) -> Tensor:
    """Mean of ``losses`` (..., N, T) over the labels observed in ``target``, per member.

    Note [masked multi-task loss]: a missing label is NaN in the target and its loss
    entry is already 0; dividing by the number of observed labels (at least 1, so a
    batch without any gives 0 and no NaN) makes the loss the mean over the labels that
    were measured, whatever share of them is missing. Returns one value per leading
    index, (K,) for stacked (K, N, T) losses and (1,) for (N, T).
    """
    observed = (~torch.isnan(target)).flatten(-2).sum(-1).clamp_min(1)
    return losses.flatten(-2).sum(-1).reshape(-1) / observed.reshape(-1).to(losses.dtype)


def _match(outputs: Tensor, target: Tensor) -> Tensor:
    """Return ``outputs`` shaped like a 1-D ``target`` when the net has one output."""
    if target.dim() == 1 and outputs.dim() == 2 and outputs.shape[1] == 1:
        return outputs[:, 0]
    if outputs.shape != target.shape:
        raise ValueError(
            f"Model outputs have shape {tuple(outputs.shape)} but targets have shape "
            f"{tuple(target.shape)}. Build the model with out_features equal to the number "
            f"of target columns."
        )
    return outputs


class Likelihood:
    """Base class: a model distribution q(y | x) whose parameters the network outputs.

    Subclasses set ``task`` ("classification" or "regression") and implement the
    methods below. ``loss`` is the negative log-likelihood per sample (up to
    constants that do not depend on the network), averaged over the batch.
    """

    task: str = "regression"
    name: str = ""

    def loss(self, outputs: Tensor, target: Tensor) -> Tensor:
        """Mean negative log-likelihood (up to constants) of ``target`` under ``outputs``."""
        raise NotImplementedError

    def member_losses(self, outputs: Tensor, target: Tensor,
                      label_smoothing: Tensor | None = None) -> Tensor | None:
        """:meth:`loss` for K networks at once: stacked ``outputs`` (K, N, ...) -> (K,).

        Entry k equals ``loss(outputs[k], target[k])``; ``label_smoothing`` (a (K,)
        tensor) replaces this likelihood's own ε per member, for likelihoods that have
        one. :func:`fnnlab.fit_many` calls it once per step. The base class returns
        None: there is no vectorized form, and ``fit_many`` says so in a warning and
        calls :meth:`loss` member by member (correct, but slower).
        """
        return None

    def predict(self, outputs: Tensor) -> Tensor:
        """The prediction the loss is minimized by (mean, median, rate or class index)."""
        raise NotImplementedError

    def predict_proba(self, outputs: Tensor) -> Tensor:
        """Class probabilities, shape (N, n_classes); classification likelihoods only."""
        raise TypeError(
            f"The {self.name} likelihood models a regression target and has no class "
            f"probabilities. Use predict() instead."
        )

    def n_outputs(self, n: int) -> int:
        """Number of raw network outputs needed for ``n`` target columns (or classes)."""
        return n

    def prepare_target(self, target: Tensor) -> Tensor:
        """Convert ``target`` to the dtype the loss expects (float for regression)."""
        return target.float()

    def combine(self, outputs: Sequence[Tensor]) -> Tensor:
        """Average the predictions of ensemble members, returned as raw outputs.

        For a regression likelihood with a linear unit this is the mean of the
        outputs (bagging: the squared error of the mean of k uncorrelated members
        falls like 1/k).
        """
        return torch.stack(list(outputs)).mean(0)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


@LIKELIHOODS.register("gaussian", "normal", "mse")
class Gaussian(Likelihood):
    r"""Gaussian likelihood with a linear output unit: squared error.

    q(y | x) = N(y | z, σ²), so -log q = (y - z)² / (2σ²) + log(σ√(2π)). For a fixed σ
    the last term is a constant and the factor 1/(2σ²) only rescales the gradient, so
    minimizing the NLL is minimizing the mean squared error, which is what ``loss``
    returns. Setting ∂/∂z E[(y - z)²] = 0 gives z* = E[y | x]: the unit predicts the
    conditional mean.

    References
    ----------
    Goodfellow, Bengio, Courville, "Deep Learning", 2016, section 6.2.1.1.
    """

    task = "regression"
    name = "gaussian"

    def loss(self, outputs: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(_match(outputs, target), target)

    def member_losses(self, outputs: Tensor, target: Tensor,
                      label_smoothing: Tensor | None = None) -> Tensor | None:
        if outputs.shape != target.shape:
            return None
        return _member_mean((outputs - target) ** 2)

    def predict(self, outputs: Tensor) -> Tensor:
        return outputs


@LIKELIHOODS.register("laplace", "mae")
class Laplace(Likelihood):
    r"""Laplace likelihood with a linear output unit: absolute error.

    ``q(y | x) = Laplace(y | z, γ) = exp(-|y - z| / γ) / (2γ)``, so
    ``-log q = |y - z| / γ + log 2γ``. Minimizing it is minimizing the mean absolute
    error. The stationarity condition ∫ sign(y - z) p(y | x) dy = 0 means
    P(y ≤ z | x) = P(y ≥ z | x): the unit predicts the conditional median, which makes
    the fit robust to outliers.

    References
    ----------
    Goodfellow, Bengio, Courville, "Deep Learning", 2016, section 6.2.1.1 (notes 002).
    """

    task = "regression"
    name = "laplace"

    def loss(self, outputs: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(_match(outputs, target), target)

    def member_losses(self, outputs: Tensor, target: Tensor,
                      label_smoothing: Tensor | None = None) -> Tensor | None:
        if outputs.shape != target.shape:
            return None
        return _member_mean((outputs - target).abs())

    def predict(self, outputs: Tensor) -> Tensor:
        return outputs

    def combine(self, outputs: Sequence[Tensor]) -> Tensor:
        """Members predict medians; their median is the robust aggregate."""
        return torch.stack(list(outputs)).median(0).values


@LIKELIHOODS.register("bernoulli", "binary", "sigmoid")
class Bernoulli(Likelihood):
    r"""Bernoulli likelihood with a sigmoid output unit: binary cross-entropy on logits.

    q(y = 1 | x) = σ(z) with σ(z) = 1 / (1 + e^{-z}), so -log q(y | x) =
    -y log σ(z) - (1 - y) log(1 - σ(z)) = softplus(z) - y z. Computing it from the logit
    z (``binary_cross_entropy_with_logits``) never takes the log of a rounded-off
    probability, so the gradient σ(z) - y never vanishes on a confidently wrong
    example. The optimum is σ(z*) = P(y = 1 | x).

    Several tasks (Note [masked multi-task loss]): a target of shape (N, T) is T binary
    tasks, one sigmoid output each, and NaN marks a label that was not observed. The
    loss is the mean over the observed labels only,
    Σ_{i,t} m_it ℓ(z_it, y_it) / Σ_{i,t} m_it with m_it = 1 where y_it is observed,
    so a missing label adds neither loss nor gradient (the SNN paper's Tox21 network:
    12 sigmoid outputs, Klambauer et al. 2017). ``predict`` and ``predict_proba`` then
    return (N, T) classes and probabilities P(y_t = 1 | x), as scikit-learn's
    multi-label classifiers do.

    Parameters
    ----------
    label_smoothing : float, default=0.0
        ε in [0, 1): the target becomes y (1 - ε) + ε / 2 (Szegedy et al., 2016).

    References
    ----------
    Goodfellow, Bengio, Courville, "Deep Learning", 2016, section 6.2.2.2.
    Klambauer, Unterthiner, Mayr, Hochreiter, "Self-Normalizing Neural Networks",
    NeurIPS 2017 (the Tox21 experiment).
    """

    task = "classification"
    name = "bernoulli"
    multi_task = True

    def __init__(self, label_smoothing: float = 0.0) -> None:
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"Bernoulli.label_smoothing must be in [0, 1), got {label_smoothing}.")
        self.label_smoothing = float(label_smoothing)

    def n_outputs(self, n: int) -> int:
        if n > 2:
            raise ValueError(
                f"The bernoulli likelihood models two classes, got {n}. Use 'categorical'."
            )
        return 1

    def prepare_target(self, target: Tensor) -> Tensor:
        return target.float()

    def loss(self, outputs: Tensor, target: Tensor) -> Tensor:
        target = target.to(outputs.dtype)
        if target.dim() == 2:
            return _masked_mean(self._bce(outputs, target, self.label_smoothing), target)[0]
        if self.label_smoothing:
            target = target * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        return F.binary_cross_entropy_with_logits(_match(outputs, target), target)

    def member_losses(self, outputs: Tensor, target: Tensor,
                      label_smoothing: Tensor | None = None) -> Tensor | None:
        t = target.to(outputs.dtype)
        eps = (_member_eps(label_smoothing, t) if label_smoothing is not None
               else self.label_smoothing)
        if t.dim() == 3:  # (K, N, T): several tasks, missing labels masked
            return _masked_mean(self._bce(outputs, t, eps), t)
        if label_smoothing is not None or self.label_smoothing:
            t = t * (1.0 - eps) + 0.5 * eps
        return _member_mean(F.binary_cross_entropy_with_logits(outputs, t, reduction="none"))

    @staticmethod
    def _bce(outputs: Tensor, target: Tensor, eps: float | Tensor) -> Tensor:
        """Per-label BCE of a target with NaN for missing labels (those entries are 0)."""
        if outputs.shape != target.shape:
            raise ValueError(
                f"Model outputs have shape {tuple(outputs.shape)} but the {target.shape[-1]} "
                f"target columns need {tuple(target.shape)}: one output per task. Build "
                f"the model with out_features={target.shape[-1]}."
            )
        observed = ~torch.isnan(target)
        t = torch.where(observed, target, torch.zeros((), dtype=target.dtype,
                                                     device=target.device))
        if not isinstance(eps, float) or eps:
            t = t * (1.0 - eps) + 0.5 * eps
        return F.binary_cross_entropy_with_logits(outputs, t, reduction="none") * observed

    def _p1(self, outputs: Tensor) -> Tensor:
        if outputs.dim() == 2 and outputs.shape[1] > 1:
            return torch.sigmoid(outputs)  # (N, T): one probability per task
        return torch.sigmoid(outputs.reshape(outputs.shape[0], -1)[:, 0])

    def predict(self, outputs: Tensor) -> Tensor:
        """Class 0 or 1, shape (N,); (N, T) for T tasks."""
        return (self._p1(outputs) > 0.5).long()

    def predict_proba(self, outputs: Tensor) -> Tensor:
        """[P(y = 0), P(y = 1)], shape (N, 2); for T tasks P(y_t = 1), shape (N, T)."""
        p1 = self._p1(outputs)
        if p1.dim() == 2:
            return p1
        return torch.stack([1.0 - p1, p1], dim=1)

    def combine(self, outputs: Sequence[Tensor]) -> Tensor:
        """Average the members' probabilities and return the logit of the mean."""
        p = torch.stack([torch.sigmoid(o) for o in outputs]).mean(0)
        return torch.logit(p, eps=1e-7)

    def extra_repr(self) -> str:
        return f"label_smoothing={self.label_smoothing}" if self.label_smoothing else ""


@LIKELIHOODS.register("categorical", "softmax", "cross_entropy", "multinoulli")
class Categorical(Likelihood):
    r"""Categorical likelihood with a softmax output unit: cross-entropy.

    q(y = k | x) = softmax(z / T)_k = exp(z_k / T) / Σ_j exp(z_j / T), so
    -log q(y | x) = -z_y / T + log Σ_j exp(z_j / T) (``F.cross_entropy``, computed with
    log-sum-exp so it never overflows). The softmax is the maximum-entropy distribution
    with given expected outputs (notes 002, "derivation of softmax"); with two classes
    and z_1 = 0 it is the sigmoid. The temperature T > 0 flattens (T > 1) or sharpens
    (T < 1) the distribution; T = 1 is the plain softmax.

    Parameters
    ----------
    temperature : float, default=1.0
        T > 0.
    label_smoothing : float, default=0.0
        ε in [0, 1): the one-hot target becomes (1 - ε) one_hot(y) + ε / K
        (Szegedy et al., "Rethinking the Inception Architecture", 2016).

    References
    ----------
    Goodfellow, Bengio, Courville, "Deep Learning", 2016, section 6.2.2.3.
    """

    task = "classification"
    name = "categorical"

    def __init__(self, temperature: float = 1.0, label_smoothing: float = 0.0) -> None:
        if not temperature > 0:
            raise ValueError(f"Categorical.temperature must be > 0, got {temperature}.")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(
                f"Categorical.label_smoothing must be in [0, 1), got {label_smoothing}."
            )
        self.temperature = float(temperature)
        self.label_smoothing = float(label_smoothing)

    def n_outputs(self, n: int) -> int:
        if n < 2:
            raise ValueError(f"The categorical likelihood needs at least 2 classes, got {n}.")
        return n

    def prepare_target(self, target: Tensor) -> Tensor:
        return target.long()

    def _logits(self, outputs: Tensor) -> Tensor:
        return outputs if self.temperature == 1.0 else outputs / self.temperature

    def loss(self, outputs: Tensor, target: Tensor) -> Tensor:
        if outputs.dim() != 2:
            raise ValueError(
                f"The categorical likelihood expects outputs of shape (N, n_classes), got "
                f"{tuple(outputs.shape)}."
            )
        return F.cross_entropy(
            self._logits(outputs), target, label_smoothing=self.label_smoothing
        )

    def member_losses(self, outputs: Tensor, target: Tensor,
                      label_smoothing: Tensor | None = None) -> Tensor | None:
        # Classes on dim 1 of a (K, C, N) view: the softmax then runs along an outer
        # dimension, vectorized over the N rows, where along the last dimension it loops
        # row by row (a third of the time with 10 classes; the values are identical).
        by_class = self._logits(outputs).transpose(1, 2)
        if label_smoothing is None and not self.label_smoothing:
            return F.cross_entropy(by_class, target, reduction="none").mean(1)
        eps = (label_smoothing.to(dtype=outputs.dtype, device=outputs.device)
               if label_smoothing is not None else self.label_smoothing)
        logp = torch.log_softmax(by_class, dim=1)
        nll = -logp.gather(1, target.unsqueeze(1)).squeeze(1).mean(1)
        smooth = -logp.sum(1).mean(1) / outputs.shape[2]
        return (1.0 - eps) * nll + eps * smooth

    def predict(self, outputs: Tensor) -> Tensor:
        return outputs.argmax(dim=1)

    def predict_proba(self, outputs: Tensor) -> Tensor:
        return torch.softmax(self._logits(outputs), dim=1)

    def combine(self, outputs: Sequence[Tensor]) -> Tensor:
        """Average the members' probabilities; return T log(mean p), whose softmax(·/T) is it."""
        p = torch.stack([self.predict_proba(o) for o in outputs]).mean(0)
        return self.temperature * torch.log(p.clamp_min(torch.finfo(p.dtype).tiny))

    def extra_repr(self) -> str:
        parts = []
        if self.temperature != 1.0:
            parts.append(f"temperature={self.temperature}")
        if self.label_smoothing:
            parts.append(f"label_smoothing={self.label_smoothing}")
        return ", ".join(parts)


@LIKELIHOODS.register("poisson")
class Poisson(Likelihood):
    r"""Poisson likelihood with a softplus output unit: a positive rate for counts.

    q(y | x) = λ^y e^{-λ} / y! with rate λ = ζ(z) = log(1 + e^z) > 0 (softplus, the
    smooth rectifier ζ(x) = ∫_{-∞}^x σ(t) dt of notes 002). Then
    -log q = λ - y log λ + log y!, and the last term does not depend on the network, so
    ``loss`` is the mean of λ - y log λ. Its minimum is λ* = E[y | x]. Softplus instead
    of exp keeps the rate's growth linear, so a large logit does not overflow.

    References
    ----------
    McCullagh, Nelder, "Generalized Linear Models", 2nd ed., 1989, chapter 6.
    """

    task = "regression"
    name = "poisson"

    def rate(self, outputs: Tensor) -> Tensor:
        """λ = softplus(z)."""
        return F.softplus(outputs)

    def loss(self, outputs: Tensor, target: Tensor) -> Tensor:
        rate = self.rate(_match(outputs, target))
        return F.poisson_nll_loss(rate, target, log_input=False, full=False, eps=1e-8)

    def member_losses(self, outputs: Tensor, target: Tensor,
                      label_smoothing: Tensor | None = None) -> Tensor | None:
        if outputs.shape != target.shape:
            return None
        rate = self.rate(outputs)
        return _member_mean(rate - target * torch.log(rate + 1e-8))

    def predict(self, outputs: Tensor) -> Tensor:
        return self.rate(outputs)

    def combine(self, outputs: Sequence[Tensor]) -> Tensor:
        """Average the members' rates; return softplus⁻¹ of the mean rate."""
        rate = torch.stack([self.rate(o) for o in outputs]).mean(0)
        # softplus^{-1}(r) = log(e^r - 1) = r + log(1 - e^{-r}), stable for large r.
        return rate + torch.log(-torch.expm1(-rate.clamp_min(1e-12)))


def resolve(likelihood: str | Likelihood | type[Likelihood] | None, target: Tensor,
            **options: float) -> Likelihood:
    """Return a :class:`Likelihood` instance for ``likelihood`` (a name, class or instance).

    ``None`` infers it from the target: integer targets -> categorical (bernoulli for
    an (N, T) matrix of 0/1 labels, T tasks), floating targets -> gaussian.
    ``options`` (e.g. ``label_smoothing``) go to the constructor and are rejected for
    an instance, which was already configured.
    """
    if isinstance(likelihood, Likelihood):
        if options:
            raise ValueError(
                f"Options {sorted(options)} cannot be applied to the likelihood instance "
                f"{likelihood!r}. Pass them to its constructor instead."
            )
        return likelihood
    if likelihood is None:
        if target.dtype.is_floating_point:
            likelihood = "gaussian"
        elif target.dtype in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8,
                              torch.bool):
            likelihood = "categorical" if target.dim() < 2 else "bernoulli"
        else:
            raise TypeError(f"Cannot infer a likelihood for targets of dtype {target.dtype}.")
    if isinstance(likelihood, str) or isinstance(likelihood, type):
        try:
            return LIKELIHOODS.create(likelihood, **options)
        except TypeError as error:
            raise ValueError(
                f"The {likelihood!r} likelihood does not accept options {sorted(options)}: "
                f"{error}"
            ) from None
    raise TypeError(
        f"likelihood must be a name, a Likelihood class or instance, or None; got "
        f"{type(likelihood).__name__}."
    )

