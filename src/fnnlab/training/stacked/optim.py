r"""torch.optim's update rules, vectorized over a leading member dimension.

torch's optimizers take one learning rate per parameter group, so K members with K
learning rates would need K groups and K times the Python work per step. Here each
stacked parameter θ has shape (K, ...) and the learning rate ε and weight decay λ
are (K,) tensors broadcast over the member's slice. The rules are torch's
single-tensor implementations (``torch/optim/*.py``), written once more with
tensor-valued ε and λ; ``tests/training/test_stacked.py`` checks every one against
torch.optim member by member:

=========  =================================================================
rule       update (g: gradient, after g ← g + λ θ unless decoupled)
=========  =================================================================
SGD        v ← μ v + (1 - τ) g (v₁ = g);  θ ← θ - ε (g + μ v if nesterov else v)
Adagrad    r ← r + g²;  θ ← θ - ε / (1 + (t - 1) η) · g / (√r + δ)
Adadelta   r ← ρ r + (1 - ρ) g²;  Δ = √(u + δ) / √(r + δ) · g;  u ← ρ u + (1 - ρ) Δ²;
           θ ← θ - ε Δ
RMSprop    r ← α r + (1 - α) g² (centered: minus the squared mean gradient);
           θ ← θ - ε g / (√r + δ)  (with momentum: b ← μ b + g / (√r + δ), θ ← θ - ε b)
Adam       s ← lerp(s, g, 1 - β₁), r ← β₂ r + (1 - β₂) g²;
           θ ← θ - ε / (1 - β₁ᵗ) · s / (√r / √(1 - β₂ᵗ) + δ);  AdamW first θ ← (1 - ε λ) θ
=========  =================================================================

The hyperparameters other than ε and λ (momentum, betas, eps, ...) are shared by the
members and read from the ``defaults`` of a real torch optimizer built with the same
name and options, so the defaults are exactly ``fnnlab.training.OPTIMIZERS``'.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["StackedOptimizer"]

_RULES = {torch.optim.SGD: "sgd", torch.optim.Adagrad: "adagrad",
          torch.optim.Adadelta: "adadelta", torch.optim.RMSprop: "rmsprop",
          torch.optim.AdamW: "adamw", torch.optim.Adam: "adam"}
_UNSUPPORTED = ("amsgrad", "maximize", "capturable", "differentiable", "fused")


def rule_of(optimizer: torch.optim.Optimizer) -> str | None:
    """The vectorized rule matching a torch optimizer, or None if there is none."""
    rule = _RULES.get(type(optimizer))
    d = optimizer.defaults
    if rule is None or any(d.get(key) for key in _UNSUPPORTED):
        return None
    if rule == "adagrad" and d.get("initial_accumulator_value", 0.0) != 0.0:
        return None
    if rule == "adam" and d.get("decoupled_weight_decay"):
        return "adamw"
    return rule


def _per_member(values: Tensor, like: Tensor) -> Tensor:
    return values.view(-1, *([1] * (like.dim() - 1)))


class StackedOptimizer:
    """Apply one of torch.optim's update rules to stacked parameters.

    Parameters
    ----------
    rule : {"sgd", "adagrad", "adadelta", "rmsprop", "adam", "adamw"}
    params : list of Tensor
        Stacked parameters, each (K, ...).
    defaults : dict
        The torch optimizer's ``defaults`` (momentum, betas, eps, ...).
    weight_decay : Tensor
        λ per member, shape (K,).
    """

    def __init__(self, rule: str, params: list[Tensor], defaults: dict[str, Any],
                 weight_decay: Tensor) -> None:
        self.rule = rule
        self.params = params
        self.d = defaults
        self.decay = [_per_member(weight_decay, p) for p in params]
        self.any_decay = bool((weight_decay != 0).any())
        self.t = 0
        self.state: list[dict[str, Tensor]] = [{} for _ in params]

    @property
    def plain_sgd(self) -> bool:
        """SGD without momentum or weight decay: θ ← θ − ε g, one parameter at a time.

        Only then may a parameter's step be taken elsewhere (the fused dense layers'
        backward pass, :mod:`~fnnlab.training.stacked.fused`) and skipped here.
        """
        return self.rule == "sgd" and not self.d["momentum"] and not self.any_decay

    @torch.no_grad()
    def step(self, grads: list[Tensor | None], lr: Tensor) -> None:
        """One update with learning rates ``lr`` (float64 or float32, shape (K,)).

        A None gradient skips its parameter; only allowed for :attr:`plain_sgd`, where
        it means the step was taken already (or a zero gradient, which changes nothing).
        """
        if any(g is None for g in grads) and not self.plain_sgd:
            raise ValueError(f"StackedOptimizer({self.rule!r}) needs a gradient for every "
                             f"parameter; None is only allowed for plain SGD.")
        self.t += 1
        d, t = self.d, self.t
        lr64 = lr.double()
        if self.rule in ("adam", "adamw"):
            step_size = (lr64 / (1 - d["betas"][0] ** t)).float()
        elif self.rule == "adagrad":
            step_size = (lr64 / (1 + (t - 1) * d["lr_decay"])).float()
        else:
            step_size = lr64.float()
        for p, g, decay, state in zip(self.params, grads, self.decay, self.state, strict=True):
            if g is None:
                continue
            size = _per_member(step_size, p)
            if self.any_decay:
                if self.rule == "adamw":
                    p.mul_(1 - _per_member(lr64.float(), p) * decay)
                else:
                    g = torch.addcmul(g, p, decay)
            getattr(self, "_" + self.rule.removesuffix("w"))(p, g, size, state)

    def _sgd(self, p: Tensor, g: Tensor, size: Tensor, state: dict[str, Tensor]) -> None:
        momentum = self.d["momentum"]
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.detach().clone()
            else:
                buf.mul_(momentum).add_(g, alpha=1 - self.d["dampening"])
            g = g.add(buf, alpha=momentum) if self.d["nesterov"] else buf
        p.addcmul_(g, size, value=-1)

    def _adagrad(self, p: Tensor, g: Tensor, size: Tensor, state: dict[str, Tensor]) -> None:
        total = state.setdefault("sum", torch.zeros_like(p))
        total.addcmul_(g, g, value=1)
        p.sub_(g / total.sqrt().add_(self.d["eps"]) * size)

    def _adadelta(self, p: Tensor, g: Tensor, size: Tensor, state: dict[str, Tensor]) -> None:
        rho, eps = self.d["rho"], self.d["eps"]
        square_avg = state.setdefault("square_avg", torch.zeros_like(p))
        acc_delta = state.setdefault("acc_delta", torch.zeros_like(p))
        square_avg.mul_(rho).addcmul_(g, g, value=1 - rho)
        std = square_avg.add(eps).sqrt_()
        delta = acc_delta.add(eps).sqrt_().div_(std).mul_(g)
        acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)
        p.addcmul_(delta, size, value=-1)

    def _rmsprop(self, p: Tensor, g: Tensor, size: Tensor, state: dict[str, Tensor]) -> None:
        alpha, eps, momentum = self.d["alpha"], self.d["eps"], self.d["momentum"]
        square_avg = state.setdefault("square_avg", torch.zeros_like(p))
        square_avg.mul_(alpha).addcmul_(g, g, value=1 - alpha)
        if self.d["centered"]:
            grad_avg = state.setdefault("grad_avg", torch.zeros_like(p))
            grad_avg.lerp_(g, 1 - alpha)
            avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_().add_(eps)
        else:
            avg = square_avg.sqrt().add_(eps)
        if momentum > 0:
            buf = state.setdefault("momentum_buffer", torch.zeros_like(p))
            buf.mul_(momentum).addcdiv_(g, avg)
            p.addcmul_(buf, size, value=-1)
        else:
            p.sub_(g / avg * size)

    def _adam(self, p: Tensor, g: Tensor, size: Tensor, state: dict[str, Tensor]) -> None:
        beta1, beta2 = self.d["betas"]
        exp_avg = state.setdefault("exp_avg", torch.zeros_like(p))
        exp_avg_sq = state.setdefault("exp_avg_sq", torch.zeros_like(p))
        exp_avg.lerp_(g, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        denom = (exp_avg_sq.sqrt() / ((1 - beta2 ** self.t) ** 0.5)).add_(self.d["eps"])
        p.sub_(exp_avg / denom * size)
