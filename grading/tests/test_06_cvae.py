"""Grading tests of exercises/06_cvae.ipynb (run by `edu-gen grade`).

Each test makes hidden inputs from its own seed, computes the right answer here, in the grading
process, with the book's library (`edu_gen.likelihood`) or plain torch, and compares it with what
the student's function returns. Messages never contain an input or an expected value.
"""

import math

import pytest
import torch

from edu_gen import likelihood
from edu_gen.grading.checks import Rules, assert_close, hidden

# What the text forbids: the whole book library edu_gen (its modules and functions by name) and
# torch.distributions; PyTorch's own functions are allowed. Checked in every graded test of each function (checks.Rules).
LIBRARY = {"edu_gen", "likelihood", "cvae", "vae", "distributions", "kl_normal_std", "bernoulli_nll", "categorical_nll",
           "Normal", "Bernoulli", "Categorical", "unlabelled_terms", "negative_elbo", "classification_loss"}
RULES = Rules({name: LIBRARY for name in ("labelled_loss", "unlabelled_bound", "decode_with_label", "analogy")})


def randn(g: torch.Generator, *shape) -> torch.Tensor:
    return torch.randn(*shape, generator=g, dtype=torch.float64)


# --------------------------------------------------------------------------- 1. labelled loss


@pytest.mark.points(2)
def test_labelled_loss_on_hidden_inputs(student):
    """`labelled_loss` is the Bernoulli NLL plus the KL to N(0, I) plus log C, per example"""
    g = hidden(6101)
    x = (torch.rand(5, 1, 28, 28, generator=g) < 0.3).double()
    logits, mu, log_var = 3 * randn(g, 5, 1, 28, 28), randn(g, 5, 4), randn(g, 5, 4)
    expected = likelihood.bernoulli_nll(x, logits) + likelihood.kl_normal_std(mu, log_var) + math.log(7)
    assert_close(RULES.call(student, "labelled_loss", x, logits, mu, log_var, 7), expected,
                 what="labelled_loss(x, logits, mu, log_var, C)", rtol=1e-7, atol=1e-7)


@pytest.mark.points(1)
def test_labelled_loss_with_huge_logits(student):
    """`labelled_loss` stays finite and exact for logits of size 10^4"""
    g = hidden(6102)
    x = (torch.rand(3, 1, 28, 28, generator=g) < 0.5).double()
    logits = 1e4 * randn(g, 3, 1, 28, 28)
    zeros = torch.zeros(3, 2, dtype=torch.float64)
    assert_close(RULES.call(student, "labelled_loss", x, logits, zeros, zeros, 10), likelihood.bernoulli_nll(x, logits) + math.log(10),
                 what="labelled_loss with huge logits", rtol=1e-9, atol=1e-6)


# --------------------------------------------------------------------------- 2. unlabelled bound


@pytest.mark.points(2)
def test_unlabelled_bound_on_hidden_inputs(student):
    """`unlabelled_bound` is sum_y q(y|x) L(x, y) - H(q(y|x)) with q = softmax(logits)"""
    g = hidden(6201)
    L, a = 100 + 10 * randn(g, 6, 5), 2 * randn(g, 6, 5)
    expected = []
    for row_L, row_a in zip(L.tolist(), a.tolist()):          # written out, one example at a time
        top = max(row_a)
        norm = sum(math.exp(v - top) for v in row_a)
        q = [math.exp(v - top) / norm for v in row_a]
        expected.append(sum(qi * li for qi, li in zip(q, row_L)) + sum(qi * math.log(qi) for qi in q))
    assert_close(RULES.call(student, "unlabelled_bound", L, a), torch.tensor(expected, dtype=torch.float64),
                 what="unlabelled_bound(labelled_losses, class_logits)", rtol=1e-9, atol=1e-9)


@pytest.mark.points(1)
def test_unlabelled_bound_with_a_certain_classifier(student):
    """`unlabelled_bound` stays finite when q(y|x) puts all its mass on one label"""
    g = hidden(6202)
    L = 50 + randn(g, 4, 10)
    a = torch.zeros(4, 10, dtype=torch.float64)
    pick = torch.randint(0, 10, (4,), generator=g)
    a[torch.arange(4), pick] = 2000.0
    assert_close(RULES.call(student, "unlabelled_bound", L, a), L[torch.arange(4), pick],
                 what="unlabelled_bound with a certain classifier", rtol=1e-12, atol=1e-9)


# --------------------------------------------------------------------------- 3. one-hot decoder


@pytest.mark.points(2)
def test_decode_with_label_on_hidden_weights(student):
    """`decode_with_label` computes sigm([z, one_hot(y)] W^T + b) as (B, 1, 28, 28)"""
    g = hidden(6301)
    d, C, B = 3, 6, 7
    z, y = randn(g, B, d), torch.randint(0, C, (B,), generator=g)
    weight, bias = 0.5 * randn(g, 784, d + C), randn(g, 784)
    logits = z @ weight[:, :d].T + weight[:, d + y].T + bias              # the one-hot picks a column
    expected = torch.sigmoid(logits).reshape(B, 1, 28, 28)
    assert_close(RULES.call(student, "decode_with_label", z, y, weight, bias), expected,
                 what="decode_with_label(z, y, weight, bias)", rtol=1e-7, atol=1e-9)


# --------------------------------------------------------------------------- 4. analogy


@pytest.mark.points(2)
def test_analogy_on_hidden_weights(student):
    """`analogy` encodes with each image's own label and decodes its code with every target label"""
    g = hidden(6401)
    d, C, B = 2, 5, 3
    x = torch.rand(B, 1, 28, 28, generator=g, dtype=torch.float64)
    y = torch.randperm(C, generator=g)[:B]                   # distinct labels: each image must be encoded with its own
    targets = torch.randint(0, C, (4,), generator=g)
    enc_weight, enc_bias = 0.05 * randn(g, d, 784 + C), randn(g, d)
    dec_weight, dec_bias = 0.5 * randn(g, 784, d + C), randn(g, 784)
    mu = x.flatten(1) @ enc_weight[:, :784].T + enc_weight[:, 784 + y].T + enc_bias        # (B, d)
    expected = torch.stack([torch.stack([torch.sigmoid(mu[b] @ dec_weight[:, :d].T + dec_weight[:, d + t] + dec_bias)
                                         for t in targets.tolist()]) for b in range(B)]).reshape(B, 4, 1, 28, 28)
    assert_close(RULES.call(student, "analogy", x, y, targets, enc_weight, enc_bias, dec_weight, dec_bias), expected,
                 what="analogy(x, y, targets, ...)", rtol=1e-7, atol=1e-9)
