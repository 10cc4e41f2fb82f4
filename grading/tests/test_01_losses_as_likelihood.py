"""Grading tests of exercises/01_losses_as_likelihood.ipynb (run by `edu-gen grade`).

Each test makes hidden inputs from its own seed (this file is never handed out, and the grader
hides it from submissions), computes the right answer here, in the grading process, with the
book's library or with autograd, and compares it with what the student's function returns.
The first line of each docstring is what the student's feedback calls the check; messages
never contain an input or an expected value.
"""

import pytest
import torch

from edu_gen import likelihood
from edu_gen.grading.checks import Rules, assert_close, hidden

# Library losses a function must not call: it is to be written from the formula.
LIBRARY = {"likelihood", "distributions"}
GAUSSIAN_LOSSES = LIBRARY | {"mse_loss", "MSELoss", "gaussian_nll_loss", "GaussianNLLLoss", "Normal", "MultivariateNormal"}
BERNOULLI_LOSSES = LIBRARY | {"binary_cross_entropy", "binary_cross_entropy_with_logits", "BCELoss", "BCEWithLogitsLoss", "Bernoulli"}
CATEGORICAL_LOSSES = LIBRARY | {"cross_entropy", "nll_loss", "CrossEntropyLoss", "NLLLoss", "Categorical"}
# The text forbids all of them in every function ("write each loss from its formula"); RULES checks that in
# every graded test of a function, not only in one (issue 15).
LOSSES = GAUSSIAN_LOSSES | BERNOULLI_LOSSES | CATEGORICAL_LOSSES
RULES = Rules({name: LOSSES for name in ("gaussian_nll", "bernoulli_nll", "categorical_nll", "delta_mse",
                                         "delta_cross_entropy", "gaussian_nll_learned_variance")})


# --------------------------------------------------------------------------- 1. Gaussian


@pytest.mark.points(2)
def test_gaussian_nll_on_hidden_inputs(student):
    """`gaussian_nll` equals ½‖x − μ‖² + (D/2) log 2π on hidden inputs, written from the formula"""
    g = hidden(1101)
    x = 3 * torch.randn(7, 5, generator=g, dtype=torch.float64)
    mean = torch.randn(7, 5, generator=g, dtype=torch.float64)
    assert_close(RULES.call(student, "gaussian_nll", x, mean), likelihood.gaussian_nll(x, mean), what="gaussian_nll(x, mean)")


@pytest.mark.points(1)
def test_gaussian_nll_sums_over_every_dimension_of_an_image_batch(student):
    """`gaussian_nll` returns one value per image for a batch of shape (B, 1, 28, 28)"""
    g = hidden(1102)
    x, mean = torch.rand(3, 1, 28, 28, generator=g), torch.rand(3, 1, 28, 28, generator=g)
    assert_close(RULES.call(student, "gaussian_nll", x, mean), likelihood.gaussian_nll(x, mean), what="gaussian_nll(images, mean)",
                 rtol=1e-5, atol=1e-4)


# --------------------------------------------------------------------------- 2. Bernoulli


@pytest.mark.points(2)
def test_bernoulli_nll_on_hidden_inputs(student):
    """`bernoulli_nll` equals the binary cross-entropy on hidden inputs, written from the formula"""
    g = hidden(1201)
    x = torch.rand(6, 10, generator=g, dtype=torch.float64)
    logits = 3 * torch.randn(6, 10, generator=g, dtype=torch.float64)
    assert_close(RULES.call(student, "bernoulli_nll", x, logits), likelihood.bernoulli_nll(x, logits), what="bernoulli_nll(x, logits)")


@pytest.mark.points(1)
def test_bernoulli_nll_stays_finite_and_right_for_large_logits(student):
    """`bernoulli_nll` is finite and right for confident predictions (|logits| up to 300, float32)"""
    g = hidden(1202)
    x = torch.bernoulli(torch.full((4, 8), 0.5), generator=g)
    logits = (150 + 150 * torch.rand(4, 8, generator=g)) * torch.where(torch.rand(4, 8, generator=g) < 0.5, -1.0, 1.0)
    assert_close(RULES.call(student, "bernoulli_nll", x, logits), likelihood.bernoulli_nll(x, logits), what="bernoulli_nll(x, large logits)",
                 rtol=1e-5, atol=1e-3)


# --------------------------------------------------------------------------- 3. categorical


@pytest.mark.points(2)
def test_categorical_nll_on_hidden_inputs(student):
    """`categorical_nll` equals −log softmax(l)_y on hidden inputs, written from the formula"""
    g = hidden(1301)
    logits = 2 * torch.randn(8, 6, generator=g, dtype=torch.float64)
    y = torch.randint(6, (8,), generator=g)
    assert_close(RULES.call(student, "categorical_nll", y, logits), likelihood.categorical_nll(y, logits), what="categorical_nll(y, logits)")


@pytest.mark.points(1)
def test_categorical_nll_does_not_overflow_for_large_logits(student):
    """`categorical_nll` is finite and right when every logit is near 1000"""
    g = hidden(1302)
    logits = 1000 + 5 * torch.randn(5, 7, generator=g, dtype=torch.float64)
    y = torch.randint(7, (5,), generator=g)
    assert_close(RULES.call(student, "categorical_nll", y, logits), likelihood.categorical_nll(y, logits),
                 what="categorical_nll(y, logits near 1000)", rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------- 4. output errors


def _autograd_delta(cost: str, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∂𝓛/∂(pre-activation) by autograd: the oracle, independent of the formulas the student writes."""
    z = z.clone().requires_grad_()
    a = torch.sigmoid(z)
    c = 0.5 * (a - y) ** 2 if cost == "mse" else -(y * torch.log(a) + (1 - y) * torch.log(1 - a))
    grad, = torch.autograd.grad(c.sum(), z)
    return grad


@pytest.mark.points(1)
def test_delta_mse_matches_autograd(student):
    """`delta_mse` equals the derivative of ½(a − y)² with respect to the pre-activation of a sigmoid neuron, on hidden inputs"""
    g = hidden(1401)
    z, y = 3 * torch.randn(20, generator=g, dtype=torch.float64), torch.rand(20, generator=g, dtype=torch.float64)
    assert_close(RULES.call(student, "delta_mse", torch.sigmoid(z), y), _autograd_delta("mse", z, y), what="delta_mse(a, y)")


@pytest.mark.points(1)
def test_delta_cross_entropy_matches_autograd(student):
    """`delta_cross_entropy` equals the derivative of the cross-entropy with respect to the pre-activation of a sigmoid neuron, on hidden inputs"""
    g = hidden(1402)
    z, y = 3 * torch.randn(4, 5, generator=g, dtype=torch.float64), torch.rand(4, 5, generator=g, dtype=torch.float64)
    assert_close(RULES.call(student, "delta_cross_entropy", torch.sigmoid(z), y), _autograd_delta("ce", z, y),
                 what="delta_cross_entropy(a, y)")


# --------------------------------------------------------------------------- 5. learned variance


@pytest.mark.points(2)
def test_gaussian_nll_learned_variance_on_hidden_inputs(student):
    """`gaussian_nll_learned_variance` equals the Gaussian NLL with log σ² on hidden inputs, written from the formula"""
    g = hidden(1501)
    y, mean = torch.randn(5, 4, generator=g, dtype=torch.float64), torch.randn(5, 4, generator=g, dtype=torch.float64)
    log_var = 2 * torch.randn(5, 4, generator=g, dtype=torch.float64)
    assert_close(RULES.call(student, "gaussian_nll_learned_variance", y, mean, log_var), likelihood.gaussian_nll(y, mean, log_var),
                 what="gaussian_nll_learned_variance(y, mean, log_var)")
    # the exercise forbids every PyTorch loss function here too (it once allowed mse_loss, against its text)


@pytest.mark.points(1)
def test_gaussian_nll_learned_variance_sums_over_every_dimension(student):
    """`gaussian_nll_learned_variance` returns one value per image for a batch of shape (B, 1, 28, 28)"""
    g = hidden(1502)
    y, mean = torch.rand(2, 1, 28, 28, generator=g), torch.rand(2, 1, 28, 28, generator=g)
    log_var = torch.randn(2, 1, 28, 28, generator=g) - 1
    assert_close(RULES.call(student, "gaussian_nll_learned_variance", y, mean, log_var), likelihood.gaussian_nll(y, mean, log_var),
                 what="gaussian_nll_learned_variance(images, mean, log_var)", rtol=1e-5, atol=1e-3)
