"""Likelihoods: each loss is its distribution's NLL up to constants, and its optimum is
the statistic the notes derive (Gaussian -> mean, Laplace -> median, ...)."""

import math

import pytest
import torch
from torch import distributions as D

from fnnlab.likelihoods import LIKELIHOODS, Bernoulli, Categorical, Likelihood, Poisson, resolve


def _data(n=64):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(n, 1, generator=g, dtype=torch.float64)
    return g, z


def test_names():
    assert LIKELIHOODS.names() == ["bernoulli", "categorical", "gaussian", "laplace", "poisson"]


def test_gaussian_loss_is_nll_up_to_constants():
    g, z = _data()
    y = torch.randn(64, generator=g, dtype=torch.float64)
    nll = -D.Normal(z[:, 0], 1.0).log_prob(y).mean()
    # -log N(y | z, 1) = (y - z)² / 2 + log √(2π)
    loss = LIKELIHOODS.create("gaussian").loss(z, y)
    torch.testing.assert_close(loss / 2 + 0.5 * math.log(2 * math.pi), nll)


def test_laplace_loss_is_nll_up_to_constants():
    g, z = _data()
    y = torch.randn(64, generator=g, dtype=torch.float64)
    nll = -D.Laplace(z[:, 0], 1.0).log_prob(y).mean()
    torch.testing.assert_close(LIKELIHOODS.create("laplace").loss(z, y) + math.log(2), nll)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_bernoulli_loss_is_nll_on_logits(smoothing):
    g, z = _data()
    y = torch.randint(0, 2, (64,), generator=g)
    target = y.double() * (1 - smoothing) + smoothing / 2
    # Cross-entropy of the smoothed target: -t log σ(z) - (1 - t) log(1 - σ(z)).
    p = torch.sigmoid(z[:, 0])
    expected = -(target * p.log() + (1 - target) * (1 - p).log()).mean()
    torch.testing.assert_close(Bernoulli(label_smoothing=smoothing).loss(z, y), expected)


@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_categorical_loss_is_nll_of_tempered_softmax(temperature):
    g = torch.Generator().manual_seed(1)
    z = torch.randn(64, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 5, (64,), generator=g)
    nll = -D.Categorical(logits=z / temperature).log_prob(y).mean()
    torch.testing.assert_close(Categorical(temperature=temperature).loss(z, y), nll)
    torch.testing.assert_close(Categorical(temperature=temperature).predict_proba(z),
                               torch.softmax(z / temperature, 1))


def test_categorical_label_smoothing_mixes_uniform_target():
    g = torch.Generator().manual_seed(2)
    z = torch.randn(32, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (32,), generator=g)
    eps = 0.1
    target = (1 - eps) * torch.nn.functional.one_hot(y, 4) + eps / 4
    expected = -(target * torch.log_softmax(z, 1)).sum(1).mean()
    torch.testing.assert_close(Categorical(label_smoothing=eps).loss(z, y), expected)


def test_poisson_loss_is_nll_up_to_log_factorial():
    g, z = _data()
    y = torch.poisson(torch.full((64,), 3.0, dtype=torch.float64), generator=g)
    rate = torch.nn.functional.softplus(z[:, 0])
    nll = -D.Poisson(rate).log_prob(y).mean()
    loss = Poisson().loss(z, y)
    torch.testing.assert_close(loss + torch.lgamma(y + 1).mean(), nll, atol=1e-6, rtol=1e-6)


def _fit_constant(name, y):
    """Minimize the loss over one constant output z shared by every sample (L-BFGS)."""
    lik = LIKELIHOODS.create(name)
    z = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([z], lr=1.0, max_iter=100, tolerance_grad=1e-12,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = lik.loss(z.expand(len(y), 1), y)
        loss.backward()
        return loss

    opt.step(closure)
    return lik, z.detach()


def test_gaussian_optimum_is_the_mean_laplace_optimum_the_median():
    # A skewed sample (exponential): mean 1 and median log 2 differ by 0.3.
    g = torch.Generator().manual_seed(3)
    y = -torch.log(torch.rand(2001, generator=g, dtype=torch.float64))
    _, z_gauss = _fit_constant("gaussian", y)
    assert abs(z_gauss.item() - y.mean().item()) < 1e-6
    # The absolute error is piecewise linear, so fit the constant on a fine grid.
    laplace = LIKELIHOODS.create("laplace")
    grid = torch.linspace(0, 2, 2001, dtype=torch.float64)
    losses = torch.stack([laplace.loss(c.expand(len(y), 1), y) for c in grid])
    z_laplace = grid[losses.argmin()]
    assert abs(z_laplace.item() - y.median().item()) <= 1e-3
    assert abs(y.mean().item() - y.median().item()) > 0.2


def test_bernoulli_and_poisson_optima_are_the_mean():
    g = torch.Generator().manual_seed(4)
    y01 = (torch.rand(1000, generator=g, dtype=torch.float64) < 0.3).double()
    lik, z = _fit_constant("bernoulli", y01)
    assert abs(lik.predict_proba(z[None])[0, 1].item() - y01.mean().item()) < 1e-4
    counts = torch.poisson(torch.full((1000,), 4.0, dtype=torch.float64), generator=g)
    lik, z = _fit_constant("poisson", counts)
    assert abs(lik.predict(z).item() - counts.mean().item()) < 1e-4


@pytest.mark.parametrize("name", LIKELIHOODS.names())
def test_loss_gradcheck(name):
    g = torch.Generator().manual_seed(5)
    if name == "categorical":
        z = torch.randn(6, 3, generator=g, dtype=torch.float64, requires_grad=True)
        y = torch.randint(0, 3, (6,), generator=g)
    else:
        z = torch.randn(6, 1, generator=g, dtype=torch.float64, requires_grad=True)
        y = torch.randint(0, 2, (6,), generator=g).double() + 0.25 * (name != "bernoulli")
    lik = LIKELIHOODS.create(name)
    assert torch.autograd.gradcheck(lambda z: lik.loss(z, y), (z,))


def test_combine_averages_predictions():
    g = torch.Generator().manual_seed(6)
    outs = [torch.randn(5, 3, generator=g, dtype=torch.float64) for _ in range(4)]
    cat = Categorical(temperature=2.0)
    torch.testing.assert_close(cat.predict_proba(cat.combine(outs)),
                               torch.stack([cat.predict_proba(o) for o in outs]).mean(0))
    bern, pois = Bernoulli(), Poisson()
    ones = [o[:, :1] for o in outs]
    torch.testing.assert_close(bern.predict_proba(bern.combine(ones)),
                               torch.stack([bern.predict_proba(o) for o in ones]).mean(0))
    torch.testing.assert_close(pois.predict(pois.combine(ones)),
                               torch.stack([pois.predict(o) for o in ones]).mean(0))
    torch.testing.assert_close(LIKELIHOODS.create("gaussian").combine(outs),
                               torch.stack(outs).mean(0))


def test_n_outputs():
    assert LIKELIHOODS.create("categorical").n_outputs(3) == 3
    assert LIKELIHOODS.create("bernoulli").n_outputs(2) == 1
    assert LIKELIHOODS.create("gaussian").n_outputs(2) == 2
    with pytest.raises(ValueError, match="Use 'categorical'"):
        Bernoulli().n_outputs(3)


def test_resolve_infers_from_target_dtype():
    assert isinstance(resolve(None, torch.zeros(3, dtype=torch.long)), Categorical)
    assert resolve(None, torch.zeros(3)).name == "gaussian"
    lik = Categorical()
    assert resolve(lik, torch.zeros(3)) is lik
    with pytest.raises(ValueError, match="cannot be applied to the likelihood instance"):
        resolve(lik, torch.zeros(3), label_smoothing=0.1)
    with pytest.raises(ValueError, match="does not accept options"):
        resolve("gaussian", torch.zeros(3), label_smoothing=0.1)


def test_bad_values_and_names():
    with pytest.raises(ValueError, match="temperature must be > 0"):
        Categorical(temperature=0.0)
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        Categorical(label_smoothing=1.0)
    with pytest.raises(ValueError, match="Known likelihoods"):
        LIKELIHOODS.create("gausian")
    with pytest.raises(TypeError, match="no class probabilities"):
        LIKELIHOODS.create("gaussian").predict_proba(torch.zeros(2, 1))
    with pytest.raises(ValueError, match="out_features"):
        LIKELIHOODS.create("gaussian").loss(torch.zeros(4, 2), torch.zeros(4))


def test_base_class_is_abstract():
    with pytest.raises(NotImplementedError):
        Likelihood().loss(torch.zeros(1), torch.zeros(1))


def _tasks_with_missing(n=12, t=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, t, generator=g, dtype=torch.float64)
    y = (torch.rand(n, t, generator=g) < 0.5).double()
    y[torch.rand(n, t, generator=g) < 0.4] = math.nan
    return z, y


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_bernoulli_masked_loss_is_the_mean_over_observed_labels_by_hand(smoothing):
    z, y = _tasks_with_missing()
    # By hand: -[y log σ(z) + (1 - y) log(1 - σ(z))] over the observed (i, t) only.
    total, count = 0.0, 0
    for i in range(z.shape[0]):
        for t in range(z.shape[1]):
            if math.isnan(y[i, t]):
                continue
            target = float(y[i, t]) * (1 - smoothing) + 0.5 * smoothing
            p = 1.0 / (1.0 + math.exp(-float(z[i, t])))
            total -= target * math.log(p) + (1 - target) * math.log(1 - p)
            count += 1
    got = Bernoulli(label_smoothing=smoothing).loss(z, y)
    assert math.isclose(float(got), total / count, rel_tol=1e-12)


def test_bernoulli_masked_loss_gives_missing_labels_no_gradient():
    z, y = _tasks_with_missing()
    z.requires_grad_(True)
    Bernoulli().loss(z, y).backward()
    missing = torch.isnan(y)
    assert bool((z.grad[missing] == 0).all()) and bool((z.grad[~missing] != 0).all())
    assert torch.autograd.gradcheck(lambda out: Bernoulli().loss(out, y), (z,))
    # A batch without any observed label has loss 0, not NaN.
    assert float(Bernoulli().loss(z.detach(), torch.full_like(y, math.nan))) == 0.0


def test_bernoulli_member_losses_of_tasks_equal_each_members_loss():
    outs, targets = zip(*(_tasks_with_missing(seed=s) for s in range(4)), strict=True)
    eps = torch.tensor([0.0, 0.1, 0.0, 0.3])
    got = Bernoulli().member_losses(torch.stack(outs), torch.stack(targets), eps)
    want = torch.stack([Bernoulli(label_smoothing=float(e)).loss(o, t)
                        for e, o, t in zip(eps, outs, targets, strict=True)])
    torch.testing.assert_close(got, want, rtol=1e-12, atol=0)


def test_bernoulli_predicts_one_probability_per_task():
    z, _ = _tasks_with_missing()
    lik = Bernoulli()
    torch.testing.assert_close(lik.predict_proba(z), torch.sigmoid(z))
    assert torch.equal(lik.predict(z), (z > 0).long())
    assert lik.predict_proba(z[:, :1]).shape == (12, 2)  # one output: [P(0), P(1)]
    assert resolve(None, torch.zeros(4, 3, dtype=torch.long)).name == "bernoulli"
