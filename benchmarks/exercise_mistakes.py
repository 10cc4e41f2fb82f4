"""The catalogue of classic student mistakes, and of correct variants, for exercises 01-06 (issue 15).

Data only; `benchmarks/exercise_mutants.py` applies each entry to the solution notebook and reports
which checks notice it. An entry changes ONE function the student writes:

- ``replace``: (old, new) pairs applied to the solution's ``def`` (each `old` must occur in it), or
- ``source``: the whole new ``def``.

MISTAKES are what students get wrong (from the lecture slides' slips, from issue 15's trial of
exercises 02 and 05 as students, and from grading); every graded test file must take points off
for each, and the part's own self-check should fail with a message that names the cause.
CORRECT are other right answers (another algorithm, another dtype, the text's hints followed
literally, a library function the text allows): no check may reject them.
"""

# --------------------------------------------------------------------------- 01 losses as likelihood

_E1 = "01_losses_as_likelihood"

MISTAKES = [
    # gaussian_nll
    dict(exercise=_E1, function="gaussian_nll", name="no 1/2 on the squared error",
         replace=[("0.5 * squared_error.sum(dim=1)", "squared_error.sum(dim=1)")]),
    dict(exercise=_E1, function="gaussian_nll", name="mean over dimensions instead of sum",
         replace=[("0.5 * squared_error.sum(dim=1)", "0.5 * squared_error.mean(dim=1)")]),
    dict(exercise=_E1, function="gaussian_nll", name="constant (D/2) log 2pi forgotten",
         replace=[(" + 0.5 * D * math.log(2 * math.pi)", "")]),
    dict(exercise=_E1, function="gaussian_nll", name="D log 2pi without the 1/2",
         replace=[("0.5 * D * math.log", "D * math.log")]),
    dict(exercise=_E1, function="gaussian_nll", name="sums the last dimension only",
         source='''def gaussian_nll(x, mean):
    squared_error = (x - mean) ** 2
    D = x.shape[-1]
    return 0.5 * squared_error.sum(dim=-1) + 0.5 * D * math.log(2 * math.pi)
'''),
    dict(exercise=_E1, function="gaussian_nll", name="averages over the batch (a scalar)",
         replace=[("return 0.5 * squared_error.sum(dim=1) + 0.5 * D * math.log(2 * math.pi)",
                   "return (0.5 * squared_error.sum(dim=1) + 0.5 * D * math.log(2 * math.pi)).mean()")]),
    # bernoulli_nll
    dict(exercise=_E1, function="bernoulli_nll", name="log(sigmoid(l)) instead of logsigmoid",
         replace=[("F.logsigmoid(logits)", "torch.log(torch.sigmoid(logits))"),
                  ("F.logsigmoid(-logits)", "torch.log(1 - torch.sigmoid(logits))")]),
    dict(exercise=_E1, function="bernoulli_nll", name="x and 1 - x swapped",
         replace=[("-(x * log_lambda + (1 - x) * log_one_minus_lambda)", "-((1 - x) * log_lambda + x * log_one_minus_lambda)")]),
    dict(exercise=_E1, function="bernoulli_nll", name="sign dropped (a log-likelihood)",
         replace=[("nll = -(x * log_lambda", "nll = (x * log_lambda")]),
    dict(exercise=_E1, function="bernoulli_nll", name="mean over dimensions instead of sum",
         replace=[("nll.reshape(len(x), -1).sum(dim=1)", "nll.reshape(len(x), -1).mean(dim=1)")]),
    dict(exercise=_E1, function="bernoulli_nll", name="log(1 - lambda) as logsigmoid(l) again",
         replace=[("F.logsigmoid(-logits)", "F.logsigmoid(logits)")]),
    # categorical_nll
    dict(exercise=_E1, function="categorical_nll", name="sign flipped (log-likelihood)",
         replace=[("return torch.logsumexp(logits, dim=1) - logit_of_label", "return logit_of_label - torch.logsumexp(logits, dim=1)")]),
    dict(exercise=_E1, function="categorical_nll", name="log(sum(exp)) overflows",
         replace=[("torch.logsumexp(logits, dim=1)", "torch.log(torch.exp(logits).sum(dim=1))")]),
    dict(exercise=_E1, function="categorical_nll", name="largest logit instead of the label's",
         replace=[("logits.gather(1, y[:, None]).squeeze(1)", "logits.max(dim=1).values")]),
    dict(exercise=_E1, function="categorical_nll", name="log C normaliser instead of logsumexp",
         replace=[("torch.logsumexp(logits, dim=1)", "math.log(logits.shape[1])")]),
    # delta_mse, delta_cross_entropy
    dict(exercise=_E1, function="delta_mse", name="sigm' factor forgotten",
         replace=[("return (a - y) * a * (1 - a)", "return (a - y)")]),
    dict(exercise=_E1, function="delta_mse", name="sign flipped",
         replace=[("return (a - y) * a * (1 - a)", "return (y - a) * a * (1 - a)")]),
    dict(exercise=_E1, function="delta_cross_entropy", name="sign flipped",
         replace=[("return a - y", "return y - a")]),
    dict(exercise=_E1, function="delta_cross_entropy", name="sigm' factor kept",
         replace=[("return a - y", "return (a - y) * a * (1 - a)")]),
    # gaussian_nll_learned_variance
    dict(exercise=_E1, function="gaussian_nll_learned_variance", name="multiplies by the variance",
         replace=[("torch.exp(-log_var)", "torch.exp(log_var)")]),
    dict(exercise=_E1, function="gaussian_nll_learned_variance", name="sigma instead of sigma^2 in the division",
         replace=[("torch.exp(-log_var)", "torch.exp(-0.5 * log_var)")]),
    dict(exercise=_E1, function="gaussian_nll_learned_variance", name="log sigma^2 term forgotten",
         replace=[("0.5 * (log_var + (y - mean)", "0.5 * ((y - mean)")]),
    dict(exercise=_E1, function="gaussian_nll_learned_variance", name="log 2pi forgotten",
         replace=[(" + math.log(2 * math.pi))", ")")]),
]

CORRECT = [
    dict(exercise=_E1, function="bernoulli_nll", name="softplus form: softplus(l) - x l",
         source='''def bernoulli_nll(x, logits):
    return (F.softplus(logits) - x * logits).reshape(len(x), -1).sum(dim=1)
'''),
    dict(exercise=_E1, function="categorical_nll", name="log_softmax and a one-hot mask",
         source='''def categorical_nll(y, logits):
    log_p = torch.log_softmax(logits, dim=1)
    return -(log_p * torch.nn.functional.one_hot(y, logits.shape[1])).sum(dim=1)
'''),
    dict(exercise=_E1, function="gaussian_nll", name="computed in float64, returned in the input's dtype",
         source='''def gaussian_nll(x, mean):
    d = (x.double() - mean.double()).flatten(1)
    return (0.5 * (d * d).sum(1) + 0.5 * d.shape[1] * math.log(2 * math.pi)).to(x.dtype)
'''),
    dict(exercise=_E1, function="delta_mse", name="a - a^2 for sigm'",
         source='''def delta_mse(a, y):
    return (a - y) * (a - a ** 2)
'''),
    dict(exercise=_E1, function="gaussian_nll_learned_variance", name="divides by exp(log_var) (the text advises against; exact here)",
         source='''def gaussian_nll_learned_variance(y, mean, log_var):
    per = 0.5 * (log_var + (y - mean) ** 2 / torch.exp(log_var) + math.log(2 * math.pi))
    return per.flatten(1).sum(1)
'''),
]

# --------------------------------------------------------------------------- 02 manifold learning

_E2 = "02_manifold_learning"

MISTAKES += [
    # pca
    dict(exercise=_E2, function="pca", name="transposed V (columns of Vh as directions)",
         replace=[("vh[:num_components]", "vh.T[:num_components]")]),
    dict(exercise=_E2, function="pca", name="not centred",
         replace=[("torch.linalg.svd(x - mean, full_matrices=False)", "torch.linalg.svd(x, full_matrices=False)")]),
    dict(exercise=_E2, function="pca", name="variance s^2 / N",
         replace=[("/ (len(x) - 1)", "/ len(x)")]),
    dict(exercise=_E2, function="pca", name="singular values not squared",
         replace=[("s[:num_components] ** 2 / (len(x) - 1)", "s[:num_components] / (len(x) - 1)")]),
    dict(exercise=_E2, function="pca", name="the last d directions (smallest variance)",
         replace=[("vh[:num_components], s[:num_components]", "vh[-num_components:], s[-num_components:]")]),
    dict(exercise=_E2, function="pca", name="standard deviations s / sqrt(N - 1) as variances",
         replace=[("s[:num_components] ** 2 / (len(x) - 1)", "s[:num_components] / (len(x) - 1) ** 0.5")]),
    # shortest_paths
    dict(exercise=_E2, function="shortest_paths", name="Floyd-Warshall loop starts at 1",
         replace=[("for via in range(len(d))", "for via in range(1, len(d))")]),
    dict(exercise=_E2, function="shortest_paths", name="Floyd-Warshall loop stops at N - 1",
         replace=[("for via in range(len(d))", "for via in range(len(d) - 1)")]),
    dict(exercise=_E2, function="shortest_paths", name="second leg from the original lengths",
         replace=[("d[via : via + 1, :])", "lengths[via : via + 1, :])")]),
    dict(exercise=_E2, function="shortest_paths", name="only paths of two edges (one min-plus step)",
         source='''def shortest_paths(lengths):
    return (lengths[:, :, None] + lengths[None, :, :]).min(dim=1).values
'''),
    dict(exercise=_E2, function="shortest_paths", name="both legs through row via (d[via] + d[via]^T of the row)",
         replace=[("d[:, via : via + 1] + d[via : via + 1, :]", "d[via : via + 1, :].T + d[via : via + 1, :].T")]),
    # lle_weights_one
    dict(exercise=_E2, function="lle_weights_one", name="Gram matrix the wrong way round (z^T z)",
         replace=[("gram = z @ z.T", "gram = z.T @ z")]),
    dict(exercise=_E2, function="lle_weights_one", name="neighbours not relative to the point",
         replace=[("z = neighbors - point", "z = neighbors")]),
    dict(exercise=_E2, function="lle_weights_one", name="weights not normalised to sum 1",
         replace=[("return w / w.sum()", "return w")]),
    dict(exercise=_E2, function="lle_weights_one", name="ridge r, not r tr(G)",
         replace=[("regularization * torch.trace(gram)", "regularization")]),
    dict(exercise=_E2, function="lle_weights_one", name="regularization argument ignored (1e-3 always)",
         replace=[("regularization * torch.trace(gram)", "1e-3 * torch.trace(gram)")]),
    dict(exercise=_E2, function="lle_weights_one", name="normalised by the norm, not the sum",
         replace=[("return w / w.sum()", "return w / w.norm()")]),
    # parzen_log_density
    dict(exercise=_E2, function="parzen_log_density", name="h instead of h^2 in the exponent",
         replace=[("-squared / (2 * bandwidth**2)", "-squared / (2 * bandwidth)")]),
    dict(exercise=_E2, function="parzen_log_density", name="distance not squared",
         replace=[("torch.cdist(x, centers) ** 2", "torch.cdist(x, centers)")]),
    dict(exercise=_E2, function="parzen_log_density", name="normaliser log(2 pi h), not h^2",
         replace=[("math.log(2 * math.pi * bandwidth**2)", "math.log(2 * math.pi * bandwidth)")]),
    dict(exercise=_E2, function="parzen_log_density", name="log N forgotten (a sum, not a mean)",
         replace=[(" - math.log(n)", "")]),
    dict(exercise=_E2, function="parzen_log_density", name="normaliser for one dimension (D forgotten)",
         replace=[("0.5 * dim * math.log", "0.5 * math.log")]),
    dict(exercise=_E2, function="parzen_log_density", name="log of the mean of exp (underflows)",
         replace=[("torch.logsumexp(-squared / (2 * bandwidth**2), dim=1)",
                   "torch.log(torch.exp(-squared / (2 * bandwidth**2)).sum(dim=1))")]),
    # local_covariance, kernel_covariance
    dict(exercise=_E2, function="local_covariance", name="centred on the neighbours' mean",
         replace=[("z = x[neighbors] - x[center]", "z = x[neighbors] - x[neighbors].mean(dim=0)")]),
    dict(exercise=_E2, function="local_covariance", name="divides by k - 1",
         replace=[("return z.T @ z / len(z)", "return z.T @ z / (len(z) - 1)")]),
    dict(exercise=_E2, function="local_covariance", name="not divided by k",
         replace=[("return z.T @ z / len(z)", "return z.T @ z")]),
    dict(exercise=_E2, function="kernel_covariance", name="eigenvectors taken as rows",
         replace=[("vectors[:, len(values) - dim:]", "vectors[len(values) - dim:, :].T")]),
    dict(exercise=_E2, function="kernel_covariance", name="the d smallest directions",
         replace=[("values[len(values) - dim:], vectors[:, len(values) - dim:]", "values[:dim], vectors[:, :dim]")]),
    dict(exercise=_E2, function="kernel_covariance", name="sigma^2 squared again",
         replace=[("noise_variance * torch.eye", "noise_variance**2 * torch.eye")]),
    dict(exercise=_E2, function="kernel_covariance", name="square roots of the eigenvalues",
         replace=[("torch.diag(top_values)", "torch.diag(top_values.sqrt())")]),
    dict(exercise=_E2, function="kernel_covariance", name="d = 0 keeps every direction ([-0:])",
         replace=[("values[len(values) - dim:], vectors[:, len(values) - dim:]", "values[-dim:], vectors[:, -dim:]")]),
    dict(exercise=_E2, function="kernel_covariance", name="noise term forgotten",
         replace=[("noise_variance * torch.eye(dim, dtype=covariance.dtype) + ", "")]),
]

CORRECT += [
    dict(exercise=_E2, function="pca", name="SVD of the transposed data (directions from U)",
         source='''def pca(x, num_components):
    mean = x.mean(0)
    u, s, _ = torch.linalg.svd((x - mean).T, full_matrices=False)
    return mean, u[:, :num_components].T, s[:num_components] ** 2 / (x.shape[0] - 1)
'''),
    dict(exercise=_E2, function="shortest_paths", name="two Python loops, one row at a time",
         source='''def shortest_paths(lengths):
    d = lengths.clone()
    n = len(d)
    for l in range(n):
        for i in range(n):
            d[i] = torch.minimum(d[i], d[i, l] + d[l])
    return d
'''),
    dict(exercise=_E2, function="shortest_paths", name="updates its own copy in place (out=)",
         source='''def shortest_paths(lengths):
    d = lengths.clone()
    for l in range(len(d)):
        torch.minimum(d, d[:, l : l + 1] + d[l : l + 1, :], out=d)
    return d
'''),
    dict(exercise=_E2, function="lle_weights_one", name="least squares instead of solve",
         source='''def lle_weights_one(point, neighbors, regularization=1e-3):
    z = neighbors - point
    gram = z @ z.T
    gram = gram + regularization * gram.trace() * torch.eye(len(z), dtype=z.dtype)
    w = torch.linalg.lstsq(gram, torch.ones(len(z), 1, dtype=z.dtype)).solution[:, 0]
    return w / w.sum()
'''),
    dict(exercise=_E2, function="parzen_log_density", name="squared distances by ||x||^2 - 2 x.c + ||c||^2",
         source='''def parzen_log_density(x, centers, bandwidth):
    squared = (x**2).sum(1)[:, None] - 2 * x @ centers.T + (centers**2).sum(1)[None, :]
    n, dim = centers.shape
    return (torch.logsumexp(-squared / (2 * bandwidth**2), dim=1) - math.log(n)
            - 0.5 * dim * math.log(2 * math.pi * bandwidth**2))
'''),
    dict(exercise=_E2, function="kernel_covariance", name="sum of outer products over sorted eigenpairs",
         source='''def kernel_covariance(covariance, dim, noise_variance):
    values, vectors = torch.linalg.eigh(covariance)
    order = torch.argsort(values, descending=True)[:dim]
    result = noise_variance * torch.eye(len(covariance), dtype=covariance.dtype)
    for j in order.tolist():
        result = result + values[j] * torch.outer(vectors[:, j], vectors[:, j])
    return result
'''),
    dict(exercise=_E2, function="local_covariance", name="einsum of the differences",
         source='''def local_covariance(x, center, neighbors):
    z = x[neighbors] - x[center]
    return torch.einsum("ki,kj->ij", z, z) / z.shape[0]
'''),
]

# --------------------------------------------------------------------------- 03 autoencoders

_E3 = "03_autoencoders"

MISTAKES += [
    dict(exercise=_E3, function="mask_noise", name="masks where u > level",
         replace=[("torch.where(u < level, torch.zeros_like(x), x)", "torch.where(u > level, torch.zeros_like(x), x)")]),
    dict(exercise=_E3, function="mask_noise", name="rescales kept entries by 1/(1 - p) (dropout)",
         replace=[("torch.where(u < level, torch.zeros_like(x), x)", "torch.where(u < level, torch.zeros_like(x), x / (1 - level))")]),
    dict(exercise=_E3, function="gaussian_noise", name="level used as a variance",
         replace=[("return x + level * eps", "return x + level**0.5 * eps")]),
    dict(exercise=_E3, function="gaussian_noise", name="level squared",
         replace=[("return x + level * eps", "return x + level**2 * eps")]),
    dict(exercise=_E3, function="salt_and_pepper", name="coin the wrong way (0 if coin < 1/2)",
         replace=[("salt = (coin < 0.5)", "salt = (coin >= 0.5)")]),
    dict(exercise=_E3, function="salt_and_pepper", name="corrupts where u > level",
         replace=[("torch.where(u < level, salt, x)", "torch.where(u > level, salt, x)")]),
    dict(exercise=_E3, function="salt_and_pepper", name="coin ignored (always salt)",
         replace=[("salt = (coin < 0.5).to(x.dtype)", "salt = torch.ones_like(x)")]),
    dict(exercise=_E3, function="tied_forward", name="sigmoid on the output (probabilities, not logits)",
         replace=[("return h @ weight + output_bias", "return torch.sigmoid(h @ weight + output_bias)")]),
    dict(exercise=_E3, function="tied_forward", name="no sigmoid on the code",
         replace=[("h = torch.sigmoid(x @ weight.T + bias)", "h = x @ weight.T + bias")]),
    dict(exercise=_E3, function="tied_forward", name="output bias forgotten",
         replace=[("return h @ weight + output_bias", "return h @ weight")]),
    dict(exercise=_E3, function="dae_loss", name="noisy input as the target",
         source='''def dae_loss(x, level, u, weight, bias, output_bias):
    total = 0.0
    for u_s in u:
        noisy = mask_noise(x, level, u_s)
        logits = tied_forward(noisy, weight, bias, output_bias)
        total = total + torch.nn.functional.binary_cross_entropy_with_logits(logits, noisy, reduction="none").sum(dim=1).mean()
    return total / len(u)
'''),
    dict(exercise=_E3, function="dae_loss", name="sums over the S samples",
         replace=[("return total / len(u)", "return total")]),
    dict(exercise=_E3, function="dae_loss", name="mean over pixels instead of sum",
         replace=[('reduction="none").sum(dim=1)', 'reduction="none").mean(dim=1)')]),
    dict(exercise=_E3, function="dae_loss", name="input not corrupted",
         replace=[("tied_forward(mask_noise(x, level, u_s), weight", "tied_forward(x, weight")]),
    dict(exercise=_E3, function="dae_loss", name="sums over the batch",
         replace=[("total = total + bce.mean()", "total = total + bce.sum()")]),
    dict(exercise=_E3, function="contractive_penalty", name="h(1 - h) not squared",
         replace=[("(h * (1 - h)).pow(2) @", "(h * (1 - h)) @")]),
    dict(exercise=_E3, function="contractive_penalty", name="W not squared",
         replace=[("weight.pow(2).sum(dim=1)", "weight.sum(dim=1)")]),
    dict(exercise=_E3, function="contractive_penalty", name="h instead of h(1 - h)",
         replace=[("(h * (1 - h)).pow(2) @", "h.pow(2) @")]),
    dict(exercise=_E3, function="contractive_penalty", name="squared norm of W over all rows (no per-unit weighting)",
         replace=[("(h * (1 - h)).pow(2) @ weight.pow(2).sum(dim=1)", "(h * (1 - h)).pow(2).sum(dim=1) * weight.pow(2).sum() / len(weight)")]),
    dict(exercise=_E3, function="principal_angles", name="not orthonormalised (no QR)",
         replace=[("qa, _ = torch.linalg.qr(a)", "qa = a"), ("qb, _ = torch.linalg.qr(b)", "qb = b")]),
    dict(exercise=_E3, function="principal_angles", name="cosines returned, not angles",
         replace=[("return torch.arccos(cosines)", "return cosines")]),
    dict(exercise=_E3, function="principal_angles", name="degrees, not radians",
         replace=[("return torch.arccos(cosines)", "return torch.rad2deg(torch.arccos(cosines))")]),
    dict(exercise=_E3, function="principal_angles", name="largest angle first",
         replace=[("return torch.arccos(cosines)", "return torch.arccos(cosines).flip(0)")]),
    dict(exercise=_E3, function="principal_angles", name="cosines not clamped (nan for equal subspaces)",
         replace=[(".clamp(max=1.0)", "")]),
]

CORRECT += [
    dict(exercise=_E3, function="mask_noise", name="multiply by a 0/1 mask",
         source='''def mask_noise(x, level, u):
    return x * (u >= level).to(x.dtype)
'''),
    dict(exercise=_E3, function="dae_loss", name="all samples at once, BCE from logsigmoid",
         source='''def dae_loss(x, level, u, weight, bias, output_bias):
    S, B, D = u.shape
    clean = x.repeat(S, 1)
    logits = tied_forward(mask_noise(clean, level, u.reshape(S * B, D)), weight, bias, output_bias)
    nll = -(clean * torch.nn.functional.logsigmoid(logits) + (1 - clean) * torch.nn.functional.logsigmoid(-logits))
    return nll.sum(dim=1).mean()
'''),
    dict(exercise=_E3, function="contractive_penalty", name="explicit Jacobian J = diag(h(1-h)) W per example",
         source='''def contractive_penalty(x, weight, bias):
    h = torch.sigmoid(x @ weight.T + bias)
    jac = (h * (1 - h))[:, :, None] * weight[None]
    return jac.pow(2).sum(dim=(1, 2))
'''),
    dict(exercise=_E3, function="principal_angles", name="arccos of sorted singular values, float32 input kept",
         source='''def principal_angles(a, b):
    qa = torch.linalg.qr(a).Q
    qb = torch.linalg.qr(b).Q
    s = torch.linalg.svd(qa.T @ qb).S
    return torch.arccos(torch.clamp(s, -1.0, 1.0)).sort().values
'''),
]

# --------------------------------------------------------------------------- 04 ELBO

_E4 = "04_elbo"

MISTAKES += [
    dict(exercise=_E4, function="kl_to_standard_normal", name="sigma instead of sigma^2",
         replace=[("log_var.exp()", "(0.5 * log_var).exp()")]),
    dict(exercise=_E4, function="kl_to_standard_normal", name="the -1 forgotten",
         replace=[(" - log_var - 1)", " - log_var)")]),
    dict(exercise=_E4, function="kl_to_standard_normal", name="the 1/2 forgotten",
         replace=[("return 0.5 * (mu**2", "return (mu**2")]),
    dict(exercise=_E4, function="kl_to_standard_normal", name="+ log sigma^2 instead of -",
         replace=[(" - log_var - 1)", " + log_var - 1)")]),
    dict(exercise=_E4, function="kl_to_standard_normal", name="mean over dimensions instead of sum",
         replace=[(".sum(dim=1)", ".mean(dim=1)")]),
    dict(exercise=_E4, function="kl_to_standard_normal", name="mu not squared",
         replace=[("(mu**2 + ", "(mu.abs() + ")]),
    dict(exercise=_E4, function="reparameterized_sample", name="sigma^2 instead of sigma",
         replace=[("torch.exp(0.5 * log_var)", "torch.exp(log_var)")]),
    dict(exercise=_E4, function="reparameterized_sample", name="log_var used as sigma",
         replace=[("torch.exp(0.5 * log_var)", "log_var")]),
    dict(exercise=_E4, function="reparameterized_sample", name="detached (no gradient to mu, log_var)",
         replace=[("return mu + torch.exp(0.5 * log_var) * eps", "return (mu + torch.exp(0.5 * log_var) * eps).detach()")]),
    dict(exercise=_E4, function="reparameterized_sample", name="mu - sigma eps",
         replace=[("return mu + torch.exp", "return mu - torch.exp")]),
    dict(exercise=_E4, function="monte_carlo_elbo", name="KL added instead of subtracted",
         replace=[("return log_px / len(eps) - kl_to_standard_normal", "return log_px / len(eps) + kl_to_standard_normal")]),
    dict(exercise=_E4, function="monte_carlo_elbo", name="sums over the S samples",
         replace=[("return log_px / len(eps) - ", "return log_px - ")]),
    dict(exercise=_E4, function="monte_carlo_elbo", name="decodes the mean, not the samples",
         replace=[("decode(reparameterized_sample(mu, log_var, eps_s), dec_weight", "decode(mu, dec_weight")]),
    dict(exercise=_E4, function="monte_carlo_elbo", name="only the first sample",
         replace=[("for eps_s in eps:", "for eps_s in eps[:1]:")]),
    dict(exercise=_E4, function="monte_carlo_elbo", name="log(sigmoid) (underflows for large logits)",
         replace=[("(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits))",
                   "(x * torch.log(torch.sigmoid(logits)) + (1 - x) * torch.log(1 - torch.sigmoid(logits)))")]),
    dict(exercise=_E4, function="monte_carlo_elbo", name="x and 1 - x swapped in log p(x|z)",
         replace=[("(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits))",
                   "((1 - x) * F.logsigmoid(logits) + x * F.logsigmoid(-logits))")]),
    dict(exercise=_E4, function="linear_gaussian_log_evidence", name="s instead of s^2 on the diagonal",
         replace=[("noise_std**2 * torch.eye", "noise_std * torch.eye")]),
    dict(exercise=_E4, function="linear_gaussian_log_evidence", name="log det without the factor 2",
         replace=[("log_det = 2 * torch.log", "log_det = torch.log")]),
    dict(exercise=_E4, function="linear_gaussian_log_evidence", name="bias forgotten",
         replace=[("(x - bias).T", "x.T")]),
    dict(exercise=_E4, function="linear_gaussian_log_evidence", name="C = W^T W style (W W^T transposed: identity)",
         replace=[("weight @ weight.T + noise_std**2", "(weight**2).sum() / len(weight) + noise_std**2")]),
    dict(exercise=_E4, function="linear_gaussian_log_evidence", name="solve with the upper triangle",
         replace=[("(x - bias).T, upper=False)", "(x - bias).T, upper=True)")]),
    dict(exercise=_E4, function="linear_gaussian_log_evidence", name="2 pi constant for one dimension",
         replace=[("D * math.log(2 * math.pi)", "math.log(2 * math.pi)")]),
]

CORRECT += [
    dict(exercise=_E4, function="kl_to_standard_normal", name="sigma^2 from exp(log_var) named, summed terms",
         source='''def kl_to_standard_normal(mu, log_var):
    var = torch.exp(log_var)
    return 0.5 * (mu.pow(2).sum(1) + var.sum(1) - log_var.sum(1) - mu.shape[1])
'''),
    dict(exercise=_E4, function="reparameterized_sample", name="sqrt(exp(log_var))",
         source='''def reparameterized_sample(mu, log_var, eps):
    return mu + torch.sqrt(torch.exp(log_var)) * eps
'''),
    dict(exercise=_E4, function="monte_carlo_elbo", name="all samples at once by broadcasting",
         source='''def monte_carlo_elbo(x, enc_weight, enc_bias, dec_weight, dec_bias, eps):
    mu, log_var = encode(x, enc_weight, enc_bias)
    z = reparameterized_sample(mu, log_var, eps)                       # (S, B, d)
    logits = z @ dec_weight.T + dec_bias                               # (S, B, D)
    log_px = (x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum(-1).mean(0)
    return log_px - kl_to_standard_normal(mu, log_var)
'''),
    dict(exercise=_E4, function="linear_gaussian_log_evidence", name="torch.logdet and torch.linalg.solve",
         source='''def linear_gaussian_log_evidence(x, weight, bias, noise_std):
    D = x.shape[1]
    cov = weight @ weight.T + noise_std**2 * torch.eye(D, dtype=x.dtype)
    r = x - bias
    quad = (r * torch.linalg.solve(cov, r.T).T).sum(1)
    return -0.5 * (D * math.log(2 * math.pi) + torch.logdet(cov) + quad)
'''),
]

# --------------------------------------------------------------------------- 05 VAE

_E5 = "05_vae"

MISTAKES += [
    dict(exercise=_E5, function="encoder_forward", name="extra ReLU on the output layer",
         replace=[("out = h @ w2.T + b2", "out = torch.relu(h @ w2.T + b2)")]),
    dict(exercise=_E5, function="encoder_forward", name="no ReLU on the hidden layer",
         replace=[("h = torch.relu(x.flatten(1) @ w1.T + b1)", "h = x.flatten(1) @ w1.T + b1")]),
    dict(exercise=_E5, function="encoder_forward", name="halves swapped (log_var first)",
         replace=[("return out[:, :d], out[:, d:]", "return out[:, d:], out[:, :d]")]),
    dict(exercise=_E5, function="encoder_forward", name="sigmoid instead of ReLU",
         replace=[("h = torch.relu(", "h = torch.sigmoid(")]),
    dict(exercise=_E5, function="encoder_forward", name="interleaved split (even outputs are mu)",
         replace=[("return out[:, :d], out[:, d:]", "return out[:, 0::2], out[:, 1::2]")]),
    dict(exercise=_E5, function="encoder_forward", name="output bias forgotten",
         replace=[("out = h @ w2.T + b2", "out = h @ w2.T")]),
    dict(exercise=_E5, function="negative_elbo", name="sigma instead of sigma^2 in the KL",
         replace=[("log_var.exp()", "(0.5 * log_var).exp()")]),
    dict(exercise=_E5, function="negative_elbo", name="KL subtracted",
         replace=[("return recon + kl", "return recon - kl")]),
    dict(exercise=_E5, function="negative_elbo", name="log(sigmoid) (inf for large logits)",
         replace=[("-(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits))",
                   "-(x * torch.log(torch.sigmoid(logits)) + (1 - x) * torch.log(1 - torch.sigmoid(logits)))")]),
    dict(exercise=_E5, function="negative_elbo", name="mean over pixels instead of sum",
         replace=[(".flatten(1).sum(1)", ".flatten(1).mean(1)")]),
    dict(exercise=_E5, function="negative_elbo", name="KL without the 1/2",
         replace=[("kl = 0.5 * (", "kl = (")]),
    dict(exercise=_E5, function="negative_elbo", name="KL without the -1",
         replace=[(" - log_var - 1)", " - log_var)")]),
    dict(exercise=_E5, function="iwae_bound", name="log K not subtracted",
         replace=[(" - math.log(log_w.shape[0])", "")]),
    dict(exercise=_E5, function="iwae_bound", name="mean of the log-weights (the ELBO, not ELBO_K)",
         replace=[("return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])", "return log_w.mean(dim=0)")]),
    dict(exercise=_E5, function="iwae_bound", name="+ log q instead of -",
         replace=[("log_w = log_px_given_z + log_pz - log_qz", "log_w = log_px_given_z + log_pz + log_qz")]),
    dict(exercise=_E5, function="iwae_bound", name="log(mean(exp)) (underflows)",
         replace=[("return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])", "return torch.log(torch.exp(log_w).mean(dim=0))")]),
    dict(exercise=_E5, function="iwae_bound", name="log-sum-exp over the batch (dim 1)",
         replace=[("return torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])",
                   "return torch.logsumexp(log_w, dim=1) - math.log(log_w.shape[1])")]),
    dict(exercise=_E5, function="iwae_bound", name="log p(z) left out",
         replace=[("log_w = log_px_given_z + log_pz - log_qz", "log_w = log_px_given_z - log_qz")]),
    dict(exercise=_E5, function="decode_latent_grid", name="row 0 at the bottom (z2 grows downwards)",
         replace=[("torch.meshgrid(v, v.flip(0), indexing=\"xy\")", "torch.meshgrid(v, v, indexing=\"xy\")")]),
    dict(exercise=_E5, function="decode_latent_grid", name="z1 and z2 swapped (column by column)",
         replace=[("torch.meshgrid(v, v.flip(0), indexing=\"xy\")", "torch.meshgrid(v, v.flip(0), indexing=\"ij\")")]),
    dict(exercise=_E5, function="decode_latent_grid", name="logits returned, not probabilities",
         replace=[("return torch.sigmoid(z @ weight.T + bias)", "return (z @ weight.T + bias)")]),
    dict(exercise=_E5, function="decode_latent_grid", name="float32 grid whatever the weights (linspace default)",
         replace=[("v = torch.linspace(-limit, limit, side, dtype=weight.dtype)", "v = torch.linspace(-limit, limit, side)")]),
    dict(exercise=_E5, function="decode_latent_grid", name="grid from 0 to limit",
         replace=[("torch.linspace(-limit, limit, side", "torch.linspace(0, limit, side")]),
    dict(exercise=_E5, function="decode_latent_grid", name="samples instead of means (bernoulli)",
         replace=[("return torch.sigmoid(z @ weight.T + bias).reshape", "return torch.bernoulli(torch.sigmoid(z @ weight.T + bias)).reshape")]),
]

CORRECT += [
    dict(exercise=_E5, function="negative_elbo", name="F.binary_cross_entropy_with_logits (the text allows it)",
         source='''def negative_elbo(x, logits, mu, log_var):
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    return recon + 0.5 * (mu**2 + log_var.exp() - log_var - 1).sum(1)
'''),
    dict(exercise=_E5, function="iwae_bound", name="log-sum-exp by hand (subtract the max)",
         source='''def iwae_bound(log_px_given_z, log_pz, log_qz):
    log_w = log_px_given_z + log_pz - log_qz
    top = log_w.max(dim=0).values
    return top + torch.log(torch.exp(log_w - top).mean(dim=0))
'''),
    dict(exercise=_E5, function="decode_latent_grid", name="two Python loops, codes appended row by row",
         source='''def decode_latent_grid(weight, bias, side, limit):
    v = torch.linspace(-limit, limit, side, dtype=weight.dtype)
    codes = []
    for r in range(side):
        for c in range(side):
            codes.append(torch.stack([v[c], v[side - 1 - r]]))
    z = torch.stack(codes)
    return torch.sigmoid(z @ weight.T + bias).reshape(-1, 1, 28, 28)
'''),
    dict(exercise=_E5, function="encoder_forward", name="chunk(2, dim=1) and F.relu",
         source='''def encoder_forward(x, w1, b1, w2, b2):
    h = F.relu(F.linear(x.reshape(len(x), -1), w1, b1))
    mu, log_var = F.linear(h, w2, b2).chunk(2, dim=1)
    return mu, log_var
'''),
]


# --------------------------------------------------------------------------- literal solutions
# Each exercise's functions written the way the text and its hints say, line by line (issue 15,
# part 1: "a solution written the way the text suggests gets full marks"). The notebook made from
# the solution with ALL of an exercise's functions replaced by these must pass every cell and
# every graded test (`tests/test_literal_solutions.py`). Functions whose solution already is the
# hint's literal reading are not repeated.

LITERAL = {
    _E1: {
        "gaussian_nll": '''def gaussian_nll(x, mean):
    return 0.5 * ((x - mean) ** 2).reshape(len(x), -1).sum(dim=1) + 0.5 * x[0].numel() * math.log(2 * math.pi)
''',
        "gaussian_nll_learned_variance": '''def gaussian_nll_learned_variance(y, mean, log_var):
    terms = log_var + (y - mean) ** 2 * torch.exp(-log_var) + math.log(2 * math.pi)
    return 0.5 * terms.reshape(len(y), -1).sum(dim=1)
''',
    },
    _E2: {
        "shortest_paths": '''def shortest_paths(lengths):
    d = lengths
    for l in range(len(d)):
        d = torch.minimum(d, d[:, l:l+1] + d[l:l+1, :])
    return d
''',
        "parzen_log_density": '''def parzen_log_density(x, centers, bandwidth):
    squared = torch.cdist(x, centers) ** 2
    N, D = centers.shape
    return torch.logsumexp(-squared / (2 * bandwidth**2), dim=1) - math.log(N) - D / 2 * math.log(2 * math.pi * bandwidth**2)
''',
        "kernel_covariance": '''def kernel_covariance(covariance, dim, noise_variance):
    values, vectors = torch.linalg.eigh(covariance)
    D = len(values)
    values, vectors = values[D - dim:], vectors[:, D - dim:]
    return noise_variance * torch.eye(D, dtype=covariance.dtype) + vectors @ torch.diag(values) @ vectors.T
''',
    },
    _E3: {
        "salt_and_pepper": '''def salt_and_pepper(x, level, u, coin):
    return torch.where(u < level, torch.where(coin < 0.5, torch.ones_like(x), torch.zeros_like(x)), x)
''',
        "dae_loss": '''def dae_loss(x, level, u, weight, bias, output_bias):
    S, B, D = u.shape
    noisy = mask_noise(x.repeat(S, 1), level, u.reshape(S * B, D))
    logits = tied_forward(noisy, weight, bias, output_bias)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, x.repeat(S, 1), reduction="none")
    return bce.sum(dim=1).mean()
''',
    },
    _E4: {
        "monte_carlo_elbo": '''def monte_carlo_elbo(x, enc_weight, enc_bias, dec_weight, dec_bias, eps):
    mu, log_var = encode(x, enc_weight, enc_bias)
    total = 0
    for e in eps:
        z = reparameterized_sample(mu, log_var, e)
        logits = decode(z, dec_weight, dec_bias)
        total = total + (x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum(dim=1)
    return total / len(eps) - kl_to_standard_normal(mu, log_var)
''',
    },
    _E5: {
        "encoder_forward": '''def encoder_forward(x, w1, b1, w2, b2):
    h = torch.relu(x.flatten(1) @ w1.T + b1)
    out = h @ w2.T + b2
    d = w2.shape[0] // 2
    return out[:, :d], out[:, d:]
''',
        "decode_latent_grid": '''def decode_latent_grid(weight, bias, side, limit):
    v = torch.linspace(-limit, limit, side, dtype=weight.dtype)
    z1, z2 = torch.meshgrid(v, v.flip(0), indexing="xy")
    z = torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)
    logits = z @ weight.T + bias
    return torch.sigmoid(logits).reshape(-1, 1, 28, 28)
''',
    },
}


# --------------------------------------------------------------------------- what the texts forbid
# Right values from a forbidden shortcut (the library, a ready-made loss, another algorithm than the one
# the text asks for). No self-check can see these (they check values); the graded tests must take the
# points of EVERY test of the function (`every_test`: the prefix of those tests' names), not of one.

MISTAKES += [
    dict(exercise=_E1, function="categorical_nll", name="rule: F.cross_entropy", every_test="test_categorical_nll",
         source='''def categorical_nll(y, logits):
    return F.cross_entropy(logits, y, reduction="none")
'''),
    dict(exercise=_E2, function="pca", name="rule: eigendecomposition of the covariance (not the SVD)", every_test="test_pca",
         source='''def pca(x, num_components):
    mean = x.mean(0)
    values, vectors = torch.linalg.eigh(torch.cov((x - mean).T))
    top = torch.argsort(values, descending=True)[:num_components]
    return mean, vectors[:, top].T, values[top]
'''),
    dict(exercise=_E2, function="parzen_log_density", name="rule: calls the library", every_test="test_parzen_log_density",
         source='''def parzen_log_density(x, centers, bandwidth):
    return parzen.parzen_log_density(x, centers, bandwidth)
'''),
    dict(exercise=_E4, function="kl_to_standard_normal", name="rule: calls the library", every_test="test_kl_to_standard_normal",
         source='''def kl_to_standard_normal(mu, log_var):
    return likelihood.kl_normal_std(mu, log_var)
'''),
    dict(exercise=_E5, function="negative_elbo", name="rule: calls the library", every_test="test_negative_elbo",
         source='''def negative_elbo(x, logits, mu, log_var):
    return likelihood.bernoulli_nll(x, logits) + likelihood.kl_normal_std(mu, log_var)
'''),
    dict(exercise=_E5, function="iwae_bound", name="rule: the library's log_mean_exp", every_test="test_iwae_bound",
         source='''def iwae_bound(log_px_given_z, log_pz, log_qz):
    return likelihood.log_mean_exp(log_px_given_z + log_pz - log_qz, dim=0)
'''),
]

# --------------------------------------------------------------------------- another dtype
# A student may compute in float32 (the default dtype of torch.tensor and torch.linspace) where the grader
# passes float64: the grader compares in the precision the student chose (checks.assert_close).

CORRECT += [
    dict(exercise=_E1, function="gaussian_nll", name="computed and returned in float32",
         source='''def gaussian_nll(x, mean):
    d = (x.float() - mean.float()).reshape(len(x), -1)
    return 0.5 * (d ** 2).sum(dim=1) + 0.5 * d.shape[1] * math.log(2 * math.pi)
'''),
    dict(exercise=_E5, function="encoder_forward", name="computed and returned in float32",
         source='''def encoder_forward(x, w1, b1, w2, b2):
    h = torch.relu(x.float().flatten(1) @ w1.float().T + b1.float())
    out = h @ w2.float().T + b2.float()
    d = out.shape[1] // 2
    return out[:, :d], out[:, d:]
'''),
]

# --------------------------------------------------------------------------- 06 CVAE (H16)

_E6 = "06_cvae"

MISTAKES += [
    dict(exercise=_E6, function="labelled_loss", name="the slide's bound: KL left out",
         replace=[("return recon + kl + math.log(num_classes)", "return recon + math.log(num_classes)")]),
    dict(exercise=_E6, function="labelled_loss", name="log p(y) added to the loss (- log C)",
         replace=[("return recon + kl + math.log(num_classes)", "return recon + kl - math.log(num_classes)")]),
    dict(exercise=_E6, function="labelled_loss", name="log p(y) forgotten",
         replace=[("return recon + kl + math.log(num_classes)", "return recon + kl")]),
    dict(exercise=_E6, function="labelled_loss", name="sigma instead of sigma^2 in the KL",
         replace=[("log_var.exp()", "(0.5 * log_var).exp()")]),
    dict(exercise=_E6, function="labelled_loss", name="mean over pixels instead of sum",
         replace=[(".flatten(1).sum(1)", ".flatten(1).mean(1)")]),
    dict(exercise=_E6, function="labelled_loss", name="x and 1 - x swapped",
         replace=[("-(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits))",
                   "-((1 - x) * F.logsigmoid(logits) + x * F.logsigmoid(-logits))")]),
    dict(exercise=_E6, function="labelled_loss", name="log(sigmoid) (inf for large logits)",
         replace=[("-(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits))",
                   "-(x * torch.log(torch.sigmoid(logits)) + (1 - x) * torch.log(1 - torch.sigmoid(logits)))")]),
    dict(exercise=_E6, function="unlabelled_bound", name="entropy added (sign flipped)",
         replace=[("+ (q * log_q).sum(1)", "- (q * log_q).sum(1)")]),
    dict(exercise=_E6, function="unlabelled_bound", name="entropy left out",
         replace=[("return (q * labelled_losses).sum(1) + (q * log_q).sum(1)", "return (q * labelled_losses).sum(1)")]),
    dict(exercise=_E6, function="unlabelled_bound", name="log of softmax (NaN for a certain classifier)",
         replace=[("log_q = torch.log_softmax(class_logits, dim=1)", "log_q = torch.log(torch.softmax(class_logits, dim=1))")]),
    dict(exercise=_E6, function="unlabelled_bound", name="softmax over the batch (dim 0)",
         replace=[("log_q = torch.log_softmax(class_logits, dim=1)", "log_q = torch.log_softmax(class_logits, dim=0)")]),
    dict(exercise=_E6, function="unlabelled_bound", name="plain mean over labels instead of the q-weighted sum",
         replace=[("return (q * labelled_losses).sum(1)", "return labelled_losses.mean(1)")]),
    dict(exercise=_E6, function="unlabelled_bound", name="the most probable label's loss instead of the sum",
         replace=[("return (q * labelled_losses).sum(1)",
                   "return labelled_losses.gather(1, class_logits.argmax(1, keepdim=True)).squeeze(1)")]),
    dict(exercise=_E6, function="decode_with_label", name="one-hot label before z",
         replace=[("torch.cat([z, e_y], dim=1)", "torch.cat([e_y, z], dim=1)")]),
    dict(exercise=_E6, function="decode_with_label", name="logits returned, not probabilities",
         replace=[("return torch.sigmoid(torch.cat([z, e_y], dim=1) @ weight.T + bias)",
                   "return (torch.cat([z, e_y], dim=1) @ weight.T + bias)")]),
    dict(exercise=_E6, function="decode_with_label", name="C taken as weight.shape[1]",
         replace=[("C = weight.shape[1] - z.shape[1]", "C = weight.shape[1]")]),
    dict(exercise=_E6, function="decode_with_label", name="bias forgotten",
         replace=[("@ weight.T + bias)", "@ weight.T)")]),
    dict(exercise=_E6, function="decode_with_label", name="the label as one number, not one-hot",
         replace=[("e_y = F.one_hot(y, C).to(z.dtype)", "e_y = y[:, None].to(z.dtype)")]),
    dict(exercise=_E6, function="decode_with_label", name="binary samples instead of means",
         replace=[("return torch.sigmoid(torch.cat([z, e_y], dim=1) @ weight.T + bias)",
                   "return torch.bernoulli(torch.sigmoid(torch.cat([z, e_y], dim=1) @ weight.T + bias))")]),
    dict(exercise=_E6, function="analogy", name="repeat and repeat_interleave swapped",
         replace=[("z.repeat_interleave(T, 0), targets.repeat(B)", "z.repeat(T, 1), targets.repeat_interleave(B)")]),
    dict(exercise=_E6, function="analogy", name="encoded without the label",
         replace=[("z = torch.cat([x.flatten(1), e_y], dim=1) @ enc_weight.T + enc_bias",
                   "z = x.flatten(1) @ enc_weight[:, :784].T + enc_bias")]),
    dict(exercise=_E6, function="analogy", name="encoder bias forgotten",
         replace=[("@ enc_weight.T + enc_bias", "@ enc_weight.T")]),
    dict(exercise=_E6, function="analogy", name="rows and columns swapped in the reshape",
         replace=[("return out.reshape(B, T, 1, 28, 28)", "return out.reshape(T, B, 1, 28, 28).transpose(0, 1)")]),
    dict(exercise=_E6, function="analogy", name="encoded with the first target label",
         replace=[("e_y = F.one_hot(y, C).to(x.dtype)", "e_y = F.one_hot(targets[:1].expand(len(x)), C).to(x.dtype)")]),
    dict(exercise=_E6, function="labelled_loss", name="rule: calls the library", every_test="test_labelled_loss",
         source='''def labelled_loss(x, logits, mu, log_var, num_classes):
    from edu_gen import likelihood
    return likelihood.bernoulli_nll(x, logits) + likelihood.kl_normal_std(mu, log_var) + math.log(num_classes)
'''),
    dict(exercise=_E6, function="unlabelled_bound", name="rule: torch.distributions' entropy", every_test="test_unlabelled_bound",
         source='''def unlabelled_bound(labelled_losses, class_logits):
    q = torch.distributions.Categorical(logits=class_logits)
    return (q.probs * labelled_losses).sum(1) - q.entropy()
'''),
]

CORRECT += [
    dict(exercise=_E6, function="labelled_loss", name="F.binary_cross_entropy_with_logits (the text does not forbid it)",
         source='''def labelled_loss(x, logits, mu, log_var, num_classes):
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    return recon + 0.5 * (mu**2 + log_var.exp() - log_var - 1).sum(1) + math.log(num_classes)
'''),
    dict(exercise=_E6, function="unlabelled_bound", name="softmax and torch.special.entr for the entropy",
         source='''def unlabelled_bound(labelled_losses, class_logits):
    q = torch.softmax(class_logits, dim=1)
    return (q * labelled_losses).sum(1) - torch.special.entr(q).sum(1)
'''),
    dict(exercise=_E6, function="decode_with_label", name="the one-hot picks a column of W (no concatenation)",
         source='''def decode_with_label(z, y, weight, bias):
    d = z.shape[1]
    return torch.sigmoid(z @ weight[:, :d].T + weight[:, d + y].T + bias).reshape(len(z), 1, 28, 28)
'''),
    dict(exercise=_E6, function="analogy", name="two loops over images and targets",
         source='''def analogy(x, y, targets, enc_weight, enc_bias, dec_weight, dec_bias):
    C = enc_weight.shape[1] - 784
    rows = []
    for b in range(len(x)):
        e = F.one_hot(y[b:b + 1], C).to(x.dtype)
        z = torch.cat([x[b:b + 1].flatten(1), e], dim=1) @ enc_weight.T + enc_bias
        rows.append(torch.cat([decode_with_label(z, t.reshape(1), dec_weight, dec_bias) for t in targets]))
    return torch.stack(rows)
'''),
]

LITERAL[_E6] = {
    "labelled_loss": '''def labelled_loss(x, logits, mu, log_var, num_classes):
    recon = -(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum(dim=(1, 2, 3))
    sigma2 = torch.exp(log_var)
    kl = 0.5 * (mu**2 + sigma2 - log_var - 1).sum(dim=1)
    return recon + kl - math.log(1 / num_classes)
''',
    "unlabelled_bound": '''def unlabelled_bound(labelled_losses, class_logits):
    log_q = torch.log_softmax(class_logits, dim=1)
    q = log_q.exp()
    H = -(q * log_q).sum(dim=1)
    return (q * labelled_losses).sum(dim=1) - H
''',
    "decode_with_label": '''def decode_with_label(z, y, weight, bias):
    C = weight.shape[1] - z.shape[1]
    e_y = F.one_hot(y, C).to(z.dtype)
    logits = torch.cat([z, e_y], dim=1) @ weight.T + bias
    return torch.sigmoid(logits).reshape(len(z), 1, 28, 28)
''',
}

# --------------------------------------------------------------------------- 09 GAN (H19)

_E9 = "09_gan"

MISTAKES += [
    dict(exercise=_E9, function="discriminator_loss", name="log(sigmoid) instead of logsigmoid (inf for large logits)",
         replace=[("return -F.logsigmoid(real_logits).mean() - F.logsigmoid(-fake_logits).mean()",
                   "return -torch.log(torch.sigmoid(real_logits)).mean() - torch.log(1 - torch.sigmoid(fake_logits)).mean()")]),
    dict(exercise=_E9, function="discriminator_loss", name="log D(G(z)) in place of log(1 - D(G(z)))",
         replace=[("F.logsigmoid(-fake_logits)", "F.logsigmoid(fake_logits)")]),
    dict(exercise=_E9, function="discriminator_loss", name="one mean over both batches",
         replace=[("return -F.logsigmoid(real_logits).mean() - F.logsigmoid(-fake_logits).mean()",
                   "return -torch.cat([F.logsigmoid(real_logits), F.logsigmoid(-fake_logits)]).mean()")]),
    dict(exercise=_E9, function="discriminator_loss", name="sign dropped (returns V, not -V)",
         replace=[("return -F.logsigmoid(real_logits).mean() - F.logsigmoid(-fake_logits).mean()",
                   "return F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean()")]),
    dict(exercise=_E9, function="discriminator_loss", name="sums instead of means",
         replace=[("return -F.logsigmoid(real_logits).mean() - F.logsigmoid(-fake_logits).mean()",
                   "return -F.logsigmoid(real_logits).sum() - F.logsigmoid(-fake_logits).sum()")]),
    dict(exercise=_E9, function="discriminator_loss", name="real and fake swapped",
         replace=[("return -F.logsigmoid(real_logits).mean() - F.logsigmoid(-fake_logits).mean()",
                   "return -F.logsigmoid(fake_logits).mean() - F.logsigmoid(-real_logits).mean()")]),
    dict(exercise=_E9, function="discriminator_loss", name="rule: PyTorch's BCE with logits", every_test="test_discriminator_loss",
         source='''def discriminator_loss(real_logits, fake_logits):
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
'''),
    dict(exercise=_E9, function="saturating_generator_loss", name="a minus sign in front",
         replace=[("return F.logsigmoid(-fake_logits).mean()", "return -F.logsigmoid(-fake_logits).mean()")]),
    dict(exercise=_E9, function="saturating_generator_loss", name="log(1 - sigmoid) (-inf when D is fooled)",
         replace=[("return F.logsigmoid(-fake_logits).mean()", "return torch.log(1 - torch.sigmoid(fake_logits)).mean()")]),
    dict(exercise=_E9, function="saturating_generator_loss", name="the non-saturating loss instead",
         replace=[("return F.logsigmoid(-fake_logits).mean()", "return -F.logsigmoid(fake_logits).mean()")]),
    dict(exercise=_E9, function="saturating_generator_loss", name="log D instead of log(1 - D)",
         replace=[("return F.logsigmoid(-fake_logits).mean()", "return F.logsigmoid(fake_logits).mean()")]),
    dict(exercise=_E9, function="saturating_generator_loss", name="sum instead of mean",
         replace=[("return F.logsigmoid(-fake_logits).mean()", "return F.logsigmoid(-fake_logits).sum()")]),
    dict(exercise=_E9, function="saturating_generator_loss", name="rule: PyTorch's BCE with logits", every_test="test_saturating",
         source='''def saturating_generator_loss(fake_logits):
    return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
'''),
    dict(exercise=_E9, function="non_saturating_generator_loss", name="log(sigmoid) (inf when D rejects for sure)",
         replace=[("return -F.logsigmoid(fake_logits).mean()", "return -torch.log(torch.sigmoid(fake_logits)).mean()")]),
    dict(exercise=_E9, function="non_saturating_generator_loss", name="sign dropped",
         replace=[("return -F.logsigmoid(fake_logits).mean()", "return F.logsigmoid(fake_logits).mean()")]),
    dict(exercise=_E9, function="non_saturating_generator_loss", name="the saturating loss instead",
         replace=[("return -F.logsigmoid(fake_logits).mean()", "return F.logsigmoid(-fake_logits).mean()")]),
    dict(exercise=_E9, function="non_saturating_generator_loss", name="-log(1 - D) instead of -log D",
         replace=[("return -F.logsigmoid(fake_logits).mean()", "return -F.logsigmoid(-fake_logits).mean()")]),
    dict(exercise=_E9, function="non_saturating_generator_loss", name="sum instead of mean",
         replace=[("return -F.logsigmoid(fake_logits).mean()", "return -F.logsigmoid(fake_logits).sum()")]),
    dict(exercise=_E9, function="non_saturating_generator_loss", name="rule: PyTorch's BCE with logits", every_test="test_non_saturating",
         source='''def non_saturating_generator_loss(fake_logits):
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
'''),
    dict(exercise=_E9, function="optimal_discriminator", name="p_data and p_g swapped",
         replace=[("log_normal(x, mean_data, std_data) - log_normal(x, mean_g, std_g)",
                   "log_normal(x, mean_g, std_g) - log_normal(x, mean_data, std_data)")]),
    dict(exercise=_E9, function="optimal_discriminator", name="the ratio of densities (0/0 in the tails)",
         replace=[("return torch.sigmoid(log_normal(x, mean_data, std_data) - log_normal(x, mean_g, std_g))",
                   "p, q = log_normal(x, mean_data, std_data).exp(), log_normal(x, mean_g, std_g).exp()\n    return p / (p + q)")]),
    dict(exercise=_E9, function="optimal_discriminator", name="log sigma forgotten",
         replace=[(" - math.log(std) - 0.5", " - 0.5")]),
    dict(exercise=_E9, function="optimal_discriminator", name="divides by the standard deviation once, not squared",
         replace=[("-0.5 * ((v - mean) / std) ** 2", "-0.5 * (v - mean) ** 2 / std")]),
    dict(exercise=_E9, function="optimal_discriminator", name="p_data / p_g (not normalised)",
         replace=[("return torch.sigmoid(log_normal(x, mean_data, std_data) - log_normal(x, mean_g, std_g))",
                   "return torch.exp(log_normal(x, mean_data, std_data) - log_normal(x, mean_g, std_g))")]),
    dict(exercise=_E9, function="optimal_discriminator", name="sigmoid of the density difference",
         replace=[("return torch.sigmoid(log_normal(x, mean_data, std_data) - log_normal(x, mean_g, std_g))",
                   "return torch.sigmoid(log_normal(x, mean_data, std_data).exp() - log_normal(x, mean_g, std_g).exp())")]),
    dict(exercise=_E9, function="count_covered_modes", name="2 standard deviations instead of 3",
         replace=[("distance <= 3 * std", "distance <= 2 * std")]),
    dict(exercise=_E9, function="count_covered_modes", name="strictly more than min_count",
         replace=[("(counts >= min_count)", "(counts > min_count)")]),
    dict(exercise=_E9, function="count_covered_modes", name="every sample counted, high quality or not",
         replace=[("nearest[distance <= 3 * std]", "nearest")]),
    dict(exercise=_E9, function="count_covered_modes", name="angles over pi instead of 2 pi",
         replace=[("angles = 2 * math.pi * torch.arange", "angles = math.pi * torch.arange")]),
    dict(exercise=_E9, function="count_covered_modes", name="returns a tensor, not an int",
         replace=[("return int((counts >= min_count).sum())", "return (counts >= min_count).sum()")]),
    dict(exercise=_E9, function="count_covered_modes", name="min_count ignored (any sample covers)",
         replace=[("(counts >= min_count)", "(counts > 0)")]),
]

CORRECT += [
    dict(exercise=_E9, function="discriminator_loss", name="softplus form",
         source='''def discriminator_loss(real_logits, fake_logits):
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
'''),
    dict(exercise=_E9, function="count_covered_modes", name="a loop over the modes",
         source='''def count_covered_modes(samples, num_modes=8, radius=2.0, std=0.05, min_count=10):
    covered = 0
    centres = [(radius * math.cos(2 * math.pi * k / num_modes), radius * math.sin(2 * math.pi * k / num_modes)) for k in range(num_modes)]
    c = torch.tensor(centres, dtype=samples.dtype)
    d = ((samples[:, None, :] - c[None]) ** 2).sum(-1).sqrt()
    nearest = d.argmin(1)
    for k in range(num_modes):
        mine = (nearest == k) & (d[:, k] <= 3 * std)
        covered += int(mine.sum() >= min_count)
    return covered
'''),
]

LITERAL[_E9] = {
    "discriminator_loss": '''def discriminator_loss(real_logits, fake_logits):
    return -(F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())
''',
    "optimal_discriminator": '''def optimal_discriminator(x, mean_data, std_data, mean_g, std_g):
    log_p_data = -0.5 * ((x - mean_data) / std_data) ** 2 - math.log(std_data) - 0.5 * math.log(2 * math.pi)
    log_p_g = -0.5 * ((x - mean_g) / std_g) ** 2 - math.log(std_g) - 0.5 * math.log(2 * math.pi)
    return torch.sigmoid(log_p_data - log_p_g)
''',
}

# --------------------------------------------------------------------------- 07 AAE (h22)

_E7 = "07_aae"

_AAE_STEP3 = '''    loss_g = generator_loss(flat @ W_enc.T @ w_disc + b_disc)
    (grad,) = torch.autograd.grad(loss_g, (W_enc,))
    with torch.no_grad():
        W_enc = W_enc - lr * grad
'''

MISTAKES += [
    # mixture_codes
    dict(exercise=_E7, function="mixture_codes", name="angle 2 pi k / 9 (ten components over nine steps)",
         replace=[("angle = 2 * math.pi * labels.to(eps.dtype) / 10", "angle = 2 * math.pi * labels.to(eps.dtype) / 9")]),
    dict(exercise=_E7, function="mixture_codes", name="degrees, not radians (360 k / 10)",
         replace=[("angle = 2 * math.pi * labels.to(eps.dtype) / 10", "angle = 360 * labels.to(eps.dtype) / 10")]),
    dict(exercise=_E7, function="mixture_codes", name="cos and sin swapped (component 0 at (0, R))",
         replace=[("radial = torch.stack([angle.cos(), angle.sin()], dim=1)", "radial = torch.stack([angle.sin(), angle.cos()], dim=1)")]),
    dict(exercise=_E7, function="mixture_codes", name="radial and tangential spreads swapped",
         replace=[("(radius + radial_std * eps[:, :1]) * radial + tangential_std * eps[:, 1:] * across",
                   "(radius + tangential_std * eps[:, :1]) * radial + radial_std * eps[:, 1:] * across")]),
    dict(exercise=_E7, function="mixture_codes", name="tangential direction reversed, (sin a, -cos a)",
         replace=[("across = torch.stack([-angle.sin(), angle.cos()], dim=1)", "across = torch.stack([angle.sin(), -angle.cos()], dim=1)")]),
    dict(exercise=_E7, function="mixture_codes", name="both noises along the radius",
         replace=[("tangential_std * eps[:, 1:] * across", "tangential_std * eps[:, 1:] * radial")]),
    dict(exercise=_E7, function="mixture_codes", name="the noise scales the radius (R s_r eps)",
         replace=[("(radius + radial_std * eps[:, :1])", "radius * (1 + radial_std * eps[:, :1])")]),
    # sample_mixture
    dict(exercise=_E7, function="sample_mixture", name="labels 0..8 (randint(9))",
         replace=[("torch.randint(10, (n,), generator=g)", "torch.randint(9, (n,), generator=g)")]),
    dict(exercise=_E7, function="sample_mixture", name="labels 1..10",
         replace=[("torch.randint(10, (n,), generator=g)", "torch.randint(1, 11, (n,), generator=g)")]),
    dict(exercise=_E7, function="sample_mixture", name="uniform noise (rand) instead of standard normal",
         replace=[("eps = torch.randn(n, 2, generator=g)", "eps = torch.rand(n, 2, generator=g)")]),
    dict(exercise=_E7, function="sample_mixture", name="the seed ignored (the global generator)",
         replace=[("labels = torch.randint(10, (n,), generator=g)", "labels = torch.randint(10, (n,))"),
                  ("eps = torch.randn(n, 2, generator=g)", "eps = torch.randn(n, 2)")]),
    dict(exercise=_E7, function="sample_mixture", name="the labels not returned",
         replace=[("return mixture_codes(labels, eps, radius, radial_std, tangential_std), labels",
                   "return mixture_codes(labels, eps, radius, radial_std, tangential_std)")]),
    dict(exercise=_E7, function="sample_mixture", name="defaults ignored (radius 1, unit spreads)",
         replace=[("return mixture_codes(labels, eps, radius, radial_std, tangential_std), labels",
                   "return mixture_codes(labels, eps, 1.0, 1.0, 1.0), labels")]),
    # discriminator_loss
    dict(exercise=_E7, function="discriminator_loss", name="log(sigmoid) instead of logsigmoid (inf for large logits)",
         replace=[("return -(F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())",
                   "return -(torch.log(torch.sigmoid(real_logits)).mean() + torch.log(1 - torch.sigmoid(fake_logits)).mean())")]),
    dict(exercise=_E7, function="discriminator_loss", name="prior and data codes swapped",
         replace=[("F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean()",
                   "F.logsigmoid(fake_logits).mean() + F.logsigmoid(-real_logits).mean()")]),
    dict(exercise=_E7, function="discriminator_loss", name="log d(q(x)) in place of log(1 - d(q(x)))",
         replace=[("F.logsigmoid(-fake_logits)", "F.logsigmoid(fake_logits)")]),
    dict(exercise=_E7, function="discriminator_loss", name="sign dropped (returns V, not -V)",
         replace=[("return -(F.logsigmoid(", "return (F.logsigmoid(")]),
    dict(exercise=_E7, function="discriminator_loss", name="sums instead of means",
         replace=[("F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean()",
                   "F.logsigmoid(real_logits).sum() + F.logsigmoid(-fake_logits).sum()")]),
    dict(exercise=_E7, function="discriminator_loss", name="one mean over both batches (half the loss)",
         replace=[("return -(F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())",
                   "return -torch.cat([F.logsigmoid(real_logits), F.logsigmoid(-fake_logits)]).mean()")]),
    dict(exercise=_E7, function="discriminator_loss", name="rule: PyTorch's BCE with logits", every_test="test_discriminator_loss",
         source='''def discriminator_loss(real_logits, fake_logits):
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
'''),
    # generator_loss
    dict(exercise=_E7, function="generator_loss", name="the saturating loss, log(1 - d(q(x)))",
         replace=[("return -F.logsigmoid(fake_logits).mean()", "return F.logsigmoid(-fake_logits).mean()")]),
    dict(exercise=_E7, function="generator_loss", name="the discriminator's half, -log(1 - d(q(x))) (the slide's label)",
         replace=[("return -F.logsigmoid(fake_logits).mean()", "return -F.logsigmoid(-fake_logits).mean()")]),
    dict(exercise=_E7, function="generator_loss", name="sign dropped",
         replace=[("return -F.logsigmoid(fake_logits).mean()", "return F.logsigmoid(fake_logits).mean()")]),
    dict(exercise=_E7, function="generator_loss", name="log(sigmoid) (inf when d rejects for sure)",
         replace=[("return -F.logsigmoid(fake_logits).mean()", "return -torch.log(torch.sigmoid(fake_logits)).mean()")]),
    dict(exercise=_E7, function="generator_loss", name="sum instead of mean",
         replace=[("return -F.logsigmoid(fake_logits).mean()", "return -F.logsigmoid(fake_logits).sum()")]),
    dict(exercise=_E7, function="generator_loss", name="rule: PyTorch's BCE with logits", every_test="test_generator_loss",
         source='''def generator_loss(fake_logits):
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
'''),
    # aae_iteration
    dict(exercise=_E7, function="aae_iteration", name="reconstruction summed over the batch, not averaged",
         replace=[(").sum(1).mean()", ").sum()")]),
    dict(exercise=_E7, function="aae_iteration", name="reconstruction averaged over the pixels",
         replace=[(").sum(1).mean()", ").mean()")]),
    dict(exercise=_E7, function="aae_iteration", name="x and 1 - x swapped in the reconstruction",
         replace=[("-(flat * F.logsigmoid(logits) + (1 - flat) * F.logsigmoid(-logits))",
                   "-((1 - flat) * F.logsigmoid(logits) + flat * F.logsigmoid(-logits))")]),
    dict(exercise=_E7, function="aae_iteration", name="the discriminator sees the encoder's codes from before step 1",
         replace=[("    W_enc, W_dec, b_dec, w_disc, b_disc = (t.detach()", "    W_enc0 = W_enc.detach()\n    W_enc, W_dec, b_dec, w_disc, b_disc = (t.detach()"),
                  ("z_data = flat @ W_enc.T", "z_data = flat @ W_enc0.T")]),
    dict(exercise=_E7, function="aae_iteration", name="step 3 uses the discriminator from before step 2",
         replace=[("    # 2. discriminator", "    w_old, b_old = w_disc.detach(), b_disc.detach()\n    # 2. discriminator"),
                  ("generator_loss(flat @ W_enc.T @ w_disc + b_disc)", "generator_loss(flat @ W_enc.T @ w_old + b_old)")]),
    dict(exercise=_E7, function="aae_iteration", name="step 3 on the discriminator's loss (the slide's label): minus -V",
         replace=[("loss_g = generator_loss(flat @ W_enc.T @ w_disc + b_disc)",
                   "loss_g = -discriminator_loss(z_prior @ w_disc + b_disc, flat @ W_enc.T @ w_disc + b_disc)")]),
    dict(exercise=_E7, function="aae_iteration", name="step 3 also steps the discriminator",
         replace=[(_AAE_STEP3, '''    loss_g = generator_loss(flat @ W_enc.T @ w_disc + b_disc)
    grad, g_w, g_b = torch.autograd.grad(loss_g, (W_enc, w_disc, b_disc))
    with torch.no_grad():
        W_enc, w_disc, b_disc = W_enc - lr * grad, w_disc - lr * g_w, b_disc - lr * g_b
''')]),
    dict(exercise=_E7, function="aae_iteration", name="gradient ascent in step 3 (W_enc + lr grad)",
         replace=[("W_enc = W_enc - lr * grad", "W_enc = W_enc + lr * grad")]),
    dict(exercise=_E7, function="aae_iteration", name="discriminator updated before the reconstruction",
         source='''def aae_iteration(x, z_prior, W_enc, W_dec, b_dec, w_disc, b_disc, lr):
    W_enc, W_dec, b_dec, w_disc, b_disc = (t.detach().clone().requires_grad_() for t in (W_enc, W_dec, b_dec, w_disc, b_disc))
    flat = x.flatten(1)
    with torch.no_grad():
        z_data = flat @ W_enc.T
    grads = torch.autograd.grad(discriminator_loss(z_prior @ w_disc + b_disc, z_data @ w_disc + b_disc), (w_disc, b_disc))
    with torch.no_grad():
        w_disc, b_disc = w_disc - lr * grads[0], b_disc - lr * grads[1]
    logits = flat @ W_enc.T @ W_dec.T + b_dec
    recon = -(flat * F.logsigmoid(logits) + (1 - flat) * F.logsigmoid(-logits)).sum(1).mean()
    grads = torch.autograd.grad(recon, (W_enc, W_dec, b_dec))
    with torch.no_grad():
        W_enc, W_dec, b_dec = (p - lr * g for p, g in zip((W_enc, W_dec, b_dec), grads))
    W_enc.requires_grad_()
    (grad,) = torch.autograd.grad(generator_loss(flat @ W_enc.T @ w_disc + b_disc), (W_enc,))
    return (W_enc - lr * grad).detach(), W_dec.detach(), b_dec.detach(), w_disc.detach(), b_disc.detach()
'''),
    dict(exercise=_E7, function="aae_iteration", name="rule: PyTorch's BCE with logits for the reconstruction", every_test="test_aae_iteration",
         replace=[("recon = -(flat * F.logsigmoid(logits) + (1 - flat) * F.logsigmoid(-logits)).sum(1).mean()",
                   "recon = F.binary_cross_entropy_with_logits(logits, flat, reduction='sum') / len(flat)")]),
    # parzen_log_density
    dict(exercise=_E7, function="parzen_log_density", name="sigma instead of sigma^2 in the exponent",
         replace=[("-sq / (2 * sigma ** 2)", "-sq / (2 * sigma)")]),
    dict(exercise=_E7, function="parzen_log_density", name="log S not subtracted (a sum of kernels)",
         replace=[(" - math.log(S)", "")]),
    dict(exercise=_E7, function="parzen_log_density", name="normaliser of one dimension, not D",
         replace=[("0.5 * D * math.log(2 * math.pi * sigma ** 2)", "0.5 * math.log(2 * math.pi * sigma ** 2)")]),
    dict(exercise=_E7, function="parzen_log_density", name="sigma instead of sigma^2 in the normaliser",
         replace=[("math.log(2 * math.pi * sigma ** 2)", "math.log(2 * math.pi * sigma)")]),
    dict(exercise=_E7, function="parzen_log_density", name="log(mean(exp)) (-inf when every kernel underflows)",
         replace=[("torch.logsumexp(-sq / (2 * sigma ** 2), dim=1) - math.log(S)", "torch.log(torch.exp(-sq / (2 * sigma ** 2)).mean(dim=1))")]),
    dict(exercise=_E7, function="parzen_log_density", name="distance not squared",
         replace=[("torch.logsumexp(-sq / ", "torch.logsumexp(-sq.clamp(min=0).sqrt() / ")]),
    dict(exercise=_E7, function="parzen_log_density", name="+ 2 a^T b in the squared distance",
         replace=[("- 2 * test @ samples.T", "+ 2 * test @ samples.T")]),
    dict(exercise=_E7, function="parzen_log_density", name="logsumexp over the test points (dim 0)",
         replace=[("torch.logsumexp(-sq / (2 * sigma ** 2), dim=1)", "torch.logsumexp(-sq / (2 * sigma ** 2), dim=0)")]),
    dict(exercise=_E7, function="parzen_log_density", name="the mean over the test points (a scalar)",
         source='''def parzen_log_density(test, samples, sigma):
    S, D = samples.shape
    sq = (test ** 2).sum(1, keepdim=True) - 2 * test @ samples.T + (samples ** 2).sum(1)
    return (torch.logsumexp(-sq / (2 * sigma ** 2), dim=1) - math.log(S) - 0.5 * D * math.log(2 * math.pi * sigma ** 2)).mean()
'''),
]

CORRECT += [
    dict(exercise=_E7, function="mixture_codes", name="a rotation matrix per code",
         source='''def mixture_codes(labels, eps, radius, radial_std, tangential_std):
    angle = 2 * math.pi * labels.to(eps.dtype) / 10
    c, s = torch.cos(angle), torch.sin(angle)
    rotation = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)      # (n, 2, 2)
    local = torch.stack([radius + radial_std * eps[:, 0], tangential_std * eps[:, 1]], -1)
    return (rotation @ local.unsqueeze(-1)).squeeze(-1)
'''),
    dict(exercise=_E7, function="discriminator_loss", name="softplus form",
         source='''def discriminator_loss(real_logits, fake_logits):
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
'''),
    dict(exercise=_E7, function="generator_loss", name="softplus form",
         source='''def generator_loss(fake_logits):
    return F.softplus(-fake_logits).mean()
'''),
    dict(exercise=_E7, function="aae_iteration", name="torch.optim.SGD and backward, codes not under no_grad in step 2",
         source='''def aae_iteration(x, z_prior, W_enc, W_dec, b_dec, w_disc, b_disc, lr):
    W_enc, W_dec, b_dec, w_disc, b_disc = (t.detach().clone().requires_grad_() for t in (W_enc, W_dec, b_dec, w_disc, b_disc))
    flat = x.flatten(1)

    def step(params, loss):
        opt = torch.optim.SGD(params, lr=lr)
        opt.zero_grad()
        loss.backward()
        opt.step()

    logits = flat @ W_enc.T @ W_dec.T + b_dec
    step([W_enc, W_dec, b_dec], -(flat * F.logsigmoid(logits) + (1 - flat) * F.logsigmoid(-logits)).sum(1).mean())
    step([w_disc, b_disc], discriminator_loss(z_prior @ w_disc + b_disc, flat @ W_enc.T @ w_disc + b_disc))
    step([W_enc], generator_loss(flat @ W_enc.T @ w_disc + b_disc))
    return W_enc.detach(), W_dec.detach(), b_dec.detach(), w_disc.detach(), b_disc.detach()
'''),
    dict(exercise=_E7, function="parzen_log_density", name="torch.cdist and a loop over test points",
         source='''def parzen_log_density(test, samples, sigma):
    S, D = samples.shape
    out = []
    for t in test:
        sq = torch.cdist(t[None], samples)[0] ** 2
        out.append(torch.logsumexp(-sq / (2 * sigma ** 2), 0) - math.log(S) - D / 2 * math.log(2 * math.pi * sigma ** 2))
    return torch.stack(out)
'''),
]

LITERAL[_E7] = {
    "discriminator_loss": '''def discriminator_loss(real_logits, fake_logits):
    return -(F.logsigmoid(real_logits) + F.logsigmoid(-fake_logits)).mean()
''',
    "parzen_log_density": '''def parzen_log_density(test, samples, sigma):
    S, D = samples.shape
    sq = torch.cdist(test, samples) ** 2
    return torch.logsumexp(-sq / (2 * sigma**2), dim=1) - math.log(S) - D / 2 * math.log(2 * math.pi * sigma**2)
''',
}

# --------------------------------------------------------------------------- 08 PixelCNN (h23)

_E8 = "08_pixelcnn"

MISTAKES += [
    dict(exercise=_E8, function="causal_mask", name="masks A and B swapped",
         replace=[('(1 if mask_type == "B" else 0)', '(1 if mask_type == "A" else 0)')]),
    dict(exercise=_E8, function="causal_mask", name="the rows above zeroed instead of the rows below",
         replace=[("mask[c + 1:, :] = 0", "mask[:c, :] = 0")]),
    dict(exercise=_E8, function="causal_mask", name="the rows below the centre kept",
         replace=[("mask[c + 1:, :] = 0", "pass")]),
    dict(exercise=_E8, function="causal_mask", name="the centre row kept whole (the centre pixel seen in mask A)",
         replace=[('mask[c, c + (1 if mask_type == "B" else 0):] = 0', "pass")]),
    dict(exercise=_E8, function="causal_mask", name="the centre row zeroed on the left instead of the right",
         replace=[('mask[c, c + (1 if mask_type == "B" else 0):] = 0', 'mask[c, :c + (1 if mask_type == "A" else 0)] = 0')]),
    dict(exercise=_E8, function="causal_mask", name="transposed (columns to the left instead of rows above)",
         replace=[("return mask", "return mask.T")]),
    dict(exercise=_E8, function="causal_mask", name="flipped as for a true convolution (F.conv2d does not flip)",
         replace=[("return mask", "return torch.flip(mask, dims=(0, 1))")]),
    dict(exercise=_E8, function="causal_mask", name="centre off by one (c = k // 2 + 1)",
         replace=[("c = k // 2", "c = k // 2 + 1")]),
    dict(exercise=_E8, function="dependency_matrix", name="the mask not applied to the weights",
         replace=[("weight = torch.randn(1, 1, k, k, dtype=torch.float64) * mask",
                   "weight = torch.randn(1, 1, k, k, dtype=torch.float64)")]),
    dict(exercise=_E8, function="dependency_matrix", name="transposed (row k holds the outputs input k reaches)",
         replace=[("return torch.stack(rows)", "return torch.stack(rows).T")]),
    dict(exercise=_E8, function="dependency_matrix", name="the mask flipped before the convolution",
         replace=[("* mask", "* torch.flip(mask, dims=(0, 1))")]),
    dict(exercise=_E8, function="dependency_matrix", name="a positive gradient instead of a nonzero one",
         replace=[(".flatten() != 0", ".flatten() > 0")]),
    dict(exercise=_E8, function="dependency_matrix", name="one backward pass of the sum of all outputs",
         source='''def dependency_matrix(masks, height, width):
    x = torch.rand(1, 1, height, width, dtype=torch.float64, requires_grad=True)
    h = x
    for n, mask in enumerate(masks):
        mask = torch.as_tensor(mask, dtype=torch.float64)
        k = mask.shape[0]
        h = F.conv2d(h, torch.randn(1, 1, k, k, dtype=torch.float64) * mask, padding=k // 2)
        if n < len(masks) - 1:
            h = torch.tanh(h)
    grad = torch.autograd.grad(h.sum(), x)[0].flatten() != 0
    return grad.expand(height * width, height * width).clone()
'''),
    dict(exercise=_E8, function="dependency_matrix", name="only the first layer's mask (one mask reused)",
         replace=[("mask = torch.as_tensor(mask, dtype=torch.float64)", "mask = torch.as_tensor(masks[0], dtype=torch.float64)")]),
    dict(exercise=_E8, function="image_nll", name="per-pixel mean instead of the sum over pixels",
         replace=[(".flatten(1).sum(1)", ".flatten(1).mean(1)")]),
    dict(exercise=_E8, function="image_nll", name="log(sigmoid) (log 0 for large logits)",
         replace=[("-(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits))",
                   "-(x * torch.log(torch.sigmoid(logits)) + (1 - x) * torch.log(1 - torch.sigmoid(logits)))")]),
    dict(exercise=_E8, function="image_nll", name="the logits taken as probabilities",
         replace=[("-(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits))",
                   "-(x * torch.log(logits) + (1 - x) * torch.log(1 - logits))")]),
    dict(exercise=_E8, function="image_nll", name="sign dropped (a log-likelihood)",
         replace=[("return -(x * F.logsigmoid", "return (x * F.logsigmoid")]),
    dict(exercise=_E8, function="image_nll", name="x and 1 - x swapped",
         replace=[("-(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits))",
                   "-((1 - x) * F.logsigmoid(logits) + x * F.logsigmoid(-logits))")]),
    dict(exercise=_E8, function="image_nll", name="log(1 - p) written 1 - log p",
         replace=[("F.logsigmoid(-logits)", "(1 - F.logsigmoid(logits))")]),
    dict(exercise=_E8, function="image_nll", name="log sigm(l) for x = 0 as well",
         replace=[("F.logsigmoid(-logits)", "F.logsigmoid(logits)")]),
    dict(exercise=_E8, function="image_nll", name="summed over the batch too (a scalar)",
         replace=[(".flatten(1).sum(1)", ".sum()")]),
    dict(exercise=_E8, function="image_nll", name="in bits instead of nats",
         replace=[(".flatten(1).sum(1)", ".flatten(1).sum(1) / math.log(2)")]),
    dict(exercise=_E8, function="sample_logistic", name="u > p instead of u < p",
         replace=[("(u[:, j] < torch.sigmoid(logit))", "(u[:, j] > torch.sigmoid(logit))")]),
    dict(exercise=_E8, function="sample_logistic", name="column j of W instead of row j",
         replace=[("x[:, :j] @ weight[j, :j]", "x[:, :j] @ weight[:j, j]")]),
    dict(exercise=_E8, function="sample_logistic", name="the logit compared with u (no sigmoid)",
         replace=[("(u[:, j] < torch.sigmoid(logit))", "(u[:, j] < logit)")]),
    dict(exercise=_E8, function="sample_logistic", name="bias forgotten",
         replace=[("logit = bias[j] + x[:, :j] @ weight[j, :j]", "logit = x[:, :j] @ weight[j, :j]")]),
    dict(exercise=_E8, function="sample_logistic", name="torch.bernoulli instead of the given uniforms",
         replace=[("(u[:, j] < torch.sigmoid(logit)).to(u.dtype)", "torch.bernoulli(torch.sigmoid(logit))")]),
    dict(exercise=_E8, function="sample_logistic", name="every pixel at once given the empty image (not sequential)",
         source='''def sample_logistic(weight, bias, u):
    x = torch.zeros_like(u)
    logits = bias + x @ torch.tril(weight, -1).T
    return (u < torch.sigmoid(logits)).to(u.dtype)
'''),
    dict(exercise=_E8, function="sample_logistic", name="the first pixel never drawn (loop from 1)",
         replace=[("for j in range(u.shape[1]):", "for j in range(1, u.shape[1]):")]),
    dict(exercise=_E8, function="image_nll", name="rule: PyTorch's BCE with logits", every_test="test_image_nll",
         source='''def image_nll(x, logits):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
'''),
    dict(exercise=_E8, function="causal_mask", name="rule: calls the library", every_test="test_causal_mask",
         source='''def causal_mask(k, mask_type):
    return pixelcnn.causal_mask(k, mask_type)
'''),
]

CORRECT += [
    dict(exercise=_E8, function="causal_mask", name="from the raster order of the taps",
         source='''def causal_mask(k, mask_type):
    order = torch.arange(k * k).view(k, k)
    centre = (k // 2) * k + k // 2
    return ((order < centre) | ((order == centre) & (mask_type == "B"))).float()
'''),
    dict(exercise=_E8, function="dependency_matrix", name="the Jacobian in one call (torch.autograd.functional.jacobian)",
         source='''def dependency_matrix(masks, height, width):
    weights = [torch.randn(1, 1, *m.shape, dtype=torch.float64) * torch.as_tensor(m, dtype=torch.float64) for m in masks]
    def stack(x):
        h = x
        for n, w in enumerate(weights):
            h = F.conv2d(h, w, padding=w.shape[-1] // 2)
            h = torch.tanh(h) if n < len(weights) - 1 else h
        return h.flatten()
    x = torch.rand(1, 1, height, width, dtype=torch.float64)
    return torch.autograd.functional.jacobian(stack, x).reshape(height * width, height * width) != 0
'''),
    dict(exercise=_E8, function="image_nll", name="softplus form, softplus(l) - x l",
         source='''def image_nll(x, logits):
    return (F.softplus(logits) - x * logits).reshape(len(x), -1).sum(dim=1)
'''),
    dict(exercise=_E8, function="sample_logistic", name="the whole row of W (the pixels not drawn yet are still 0)",
         source='''def sample_logistic(weight, bias, u):
    x = torch.zeros_like(u)
    for j in range(u.shape[1]):
        p = torch.sigmoid(bias[j] + x @ torch.tril(weight, -1)[j])
        x[:, j] = torch.where(u[:, j] < p, 1.0, 0.0)
    return x
'''),
]

LITERAL[_E8] = {
    "image_nll": '''def image_nll(x, logits):
    log_p1 = F.logsigmoid(logits)
    log_p0 = F.logsigmoid(-logits)
    return -(x * log_p1 + (1 - x) * log_p0).sum(dim=(1, 2, 3))
''',
    "sample_logistic": '''def sample_logistic(weight, bias, u):
    x = torch.zeros_like(u)
    for j in range(u.shape[1]):
        logit = bias[j] + x[:, :j] @ weight[j, :j]
        x[:, j] = torch.where(u[:, j] < torch.sigmoid(logit), 1.0, 0.0)
    return x
''',
}

# --------------------------------------------------------------------------- 10 conditional GANs (h21)

_E10 = "10_conditional_gans"

MISTAKES += [
    dict(exercise=_E10, function="generator_input", name="the label as one number, not one-hot",
         replace=[("torch.cat([z, F.one_hot(labels, num_classes).to(z.dtype)], dim=1)",
                   "torch.cat([z, labels[:, None].to(z.dtype)], dim=1)")]),
    dict(exercise=_E10, function="generator_input", name="one-hot first, then z",
         replace=[("torch.cat([z, F.one_hot(labels, num_classes).to(z.dtype)], dim=1)",
                   "torch.cat([F.one_hot(labels, num_classes).to(z.dtype), z], dim=1)")]),
    dict(exercise=_E10, function="generator_input", name="K - 1 columns (the last class has none)",
         replace=[("F.one_hot(labels, num_classes)", "F.one_hot(labels.clamp(max=num_classes - 2), num_classes - 1)")]),
    dict(exercise=_E10, function="discriminator_input", name="label planes before the image",
         replace=[("return torch.cat([x, planes], dim=1)", "return torch.cat([planes, x], dim=1)")]),
    dict(exercise=_E10, function="discriminator_input", name="one plane holding the class index",
         replace=[("planes = F.one_hot(labels, num_classes).to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[2:])",
                   "planes = labels.to(x.dtype)[:, None, None, None].expand(-1, 1, *x.shape[2:])")]),
    dict(exercise=_E10, function="discriminator_input", name="labels off by one (class k in channel k + 2)",
         replace=[("F.one_hot(labels, num_classes)", "F.one_hot((labels + 1) % num_classes, num_classes)")]),
    dict(exercise=_E10, function="cycle_consistency_loss", name="squared error instead of L1",
         replace=[("return (x_cycled - x).abs().mean() + (y_cycled - y).abs().mean()",
                   "return ((x_cycled - x) ** 2).mean() + ((y_cycled - y) ** 2).mean()")]),
    dict(exercise=_E10, function="cycle_consistency_loss", name="one mean over both batches",
         replace=[("return (x_cycled - x).abs().mean() + (y_cycled - y).abs().mean()",
                   "return torch.cat([(x_cycled - x).abs().flatten(), (y_cycled - y).abs().flatten()]).mean()")]),
    dict(exercise=_E10, function="cycle_consistency_loss", name="the X cycle only",
         replace=[("return (x_cycled - x).abs().mean() + (y_cycled - y).abs().mean()", "return (x_cycled - x).abs().mean()")]),
    dict(exercise=_E10, function="cycle_consistency_loss", name="sums instead of means",
         replace=[("return (x_cycled - x).abs().mean() + (y_cycled - y).abs().mean()",
                   "return (x_cycled - x).abs().sum() + (y_cycled - y).abs().sum()")]),
    dict(exercise=_E10, function="pix2pix_generator_loss", name="log(sigmoid) (inf when D rejects for sure)",
         replace=[("adversarial = -F.logsigmoid(fake_logits).mean()", "adversarial = -torch.log(torch.sigmoid(fake_logits)).mean()")]),
    dict(exercise=_E10, function="pix2pix_generator_loss", name="the saturating term log(1 - D)",
         replace=[("adversarial = -F.logsigmoid(fake_logits).mean()", "adversarial = F.logsigmoid(-fake_logits).mean()")]),
    dict(exercise=_E10, function="pix2pix_generator_loss", name="lambda on the adversarial term",
         replace=[('"loss": adversarial + lam * l1', '"loss": lam * adversarial + l1')]),
    dict(exercise=_E10, function="pix2pix_generator_loss", name="L2 instead of L1",
         replace=[("l1 = (output - target).abs().mean()", "l1 = ((output - target) ** 2).mean()")]),
    dict(exercise=_E10, function="pix2pix_generator_loss", name="rule: PyTorch's BCE with logits", every_test="test_pix2pix",
         replace=[("adversarial = -F.logsigmoid(fake_logits).mean()",
                   "adversarial = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))")]),
    dict(exercise=_E10, function="receptive_field", name="j multiplied by the stride before r is updated",
         replace=[("r, j = r + (kernel - 1) * j, j * stride", "j = j * stride\n        r = r + (kernel - 1) * j")]),
    dict(exercise=_E10, function="receptive_field", name="kernel instead of kernel - 1",
         replace=[("r + (kernel - 1) * j", "r + kernel * j")]),
    dict(exercise=_E10, function="receptive_field", name="strides ignored (j stays 1)",
         replace=[("j * stride", "j")]),
    dict(exercise=_E10, function="receptive_field", name="returns a tensor, not an int",
         replace=[("return int(r)", "return torch.tensor(r)")]),
]

CORRECT += [
    dict(exercise=_E10, function="generator_input", name="rows of an identity matrix",
         source='''def generator_input(z, labels, num_classes=10):
    return torch.cat([z, torch.eye(num_classes, dtype=z.dtype)[labels]], dim=1)
'''),
    dict(exercise=_E10, function="receptive_field", name="the recursion from the output backwards",
         source='''def receptive_field(layers):
    r = 1
    for kernel, stride in reversed(layers):
        r = stride * (r - 1) + kernel
    return r
'''),
    dict(exercise=_E10, function="pix2pix_generator_loss", name="softplus form",
         replace=[("adversarial = -F.logsigmoid(fake_logits).mean()", "adversarial = F.softplus(-fake_logits).mean()")]),
]

LITERAL[_E10] = {
    "discriminator_input": '''def discriminator_input(x, labels, num_classes=10):
    one_hot = F.one_hot(labels, num_classes).to(x.dtype)
    H, W = x.shape[2], x.shape[3]
    return torch.cat([x, one_hot[:, :, None, None].expand(-1, -1, H, W)], dim=1)
''',
    "receptive_field": '''def receptive_field(layers):
    r, j = 1, 1
    for kernel, stride in layers:
        r = r + (kernel - 1) * j
        j = j * stride
    return r
''',
}

# --------------------------------------------------------------------------- 11 the families compared (h31)

_E11 = "11_comparison"

MISTAKES += [
    # gaussian_fit
    dict(exercise=_E11, function="gaussian_fit", name="divides by N (the biased covariance)",
         replace=[("/ (len(features) - 1)", "/ len(features)")]),
    dict(exercise=_E11, function="gaussian_fit", name="centred @ centred.T (an N x N matrix)",
         replace=[("centred.T @ centred", "centred @ centred.T")]),
    dict(exercise=_E11, function="gaussian_fit", name="not centred (second moments)",
         replace=[("centred = features - mean", "centred = features")]),
    dict(exercise=_E11, function="gaussian_fit", name="mean over the features (dim 1)",
         replace=[("mean = features.mean(dim=0)\n    centred = features - mean",
                   "mean = features.mean(dim=1)\n    centred = features - features.mean(dim=0)")]),
    # frechet_distance
    dict(exercise=_E11, function="frechet_distance", name="mean gap not squared (|mu_a - mu_b|)",
         replace=[("((mean_a - mean_b) ** 2).sum()", "(mean_a - mean_b).norm()")]),
    dict(exercise=_E11, function="frechet_distance", name="no factor 2 on the cross term",
         replace=[("- 2 * cross", "- cross")]),
    dict(exercise=_E11, function="frechet_distance", name="elementwise square root of cov_a @ cov_b",
         replace=[("cross = torch.linalg.eigvals(cov_a @ cov_b).real.clamp(min=0).sqrt().sum()",
                   "cross = torch.trace(torch.sqrt((cov_a @ cov_b).clamp(min=0)))")]),
    dict(exercise=_E11, function="frechet_distance", name="square root of the trace",
         replace=[("cross = torch.linalg.eigvals(cov_a @ cov_b).real.clamp(min=0).sqrt().sum()",
                   "cross = torch.sqrt(torch.trace(cov_a @ cov_b))")]),
    dict(exercise=_E11, function="frechet_distance", name="returns d, not d^2",
         replace=[("return ((mean_a - mean_b) ** 2).sum() + torch.trace(cov_a) + torch.trace(cov_b) - 2 * cross",
                   "return (((mean_a - mean_b) ** 2).sum() + torch.trace(cov_a) + torch.trace(cov_b) - 2 * cross).clamp(min=0).sqrt()")]),
    dict(exercise=_E11, function="frechet_distance", name="square roots of the covariances multiplied elementwise",
         replace=[("cross = torch.linalg.eigvals(cov_a @ cov_b).real.clamp(min=0).sqrt().sum()",
                   "cross = (cov_a.clamp(min=0).sqrt() * cov_b.clamp(min=0).sqrt()).trace()")]),
    # precision_at_k
    dict(exercise=_E11, function="precision_at_k", name="the query not left out (finds itself)",
         replace=[("    distances.fill_diagonal_(math.inf)\n", "")]),
    dict(exercise=_E11, function="precision_at_k", name="the farthest codes (largest=True)",
         replace=[("largest=False", "largest=True")]),
    dict(exercise=_E11, function="precision_at_k", name="mean over classes instead of over queries",
         replace=[("return (labels[neighbours] == labels[:, None]).double().mean()",
                   "hits = (labels[neighbours] == labels[:, None]).double().mean(1)\n"
                   "    return torch.stack([hits[labels == c].mean() for c in labels.unique()]).mean()")]),
    dict(exercise=_E11, function="precision_at_k", name="largest dot product instead of nearest",
         replace=[("distances = torch.cdist(codes, codes)", "distances = -(codes @ codes.T)")]),
    dict(exercise=_E11, function="precision_at_k", name="cosine similarity instead of Euclidean distance",
         replace=[("distances = torch.cdist(codes, codes)",
                   "unit = codes / codes.norm(dim=1, keepdim=True)\n    distances = -(unit @ unit.T)")]),
    dict(exercise=_E11, function="precision_at_k", name="k + 1 neighbours (query left out)",
         replace=[("topk(k, dim=1", "topk(k + 1, dim=1")]),
    dict(exercise=_E11, function="precision_at_k", name="rule: the book's library", every_test="test_precision_at_k",
         source='''def precision_at_k(codes, labels, k=10):
    from edu_gen import applications
    return applications.precision_at_k(codes, labels, k)
'''),
    # auroc
    dict(exercise=_E11, function="auroc", name="ties count as outlier wins (>=)",
         replace=[("tied = (scores_out[:, None] == scores_in[None, :]).double()",
                   "tied = 2 * (scores_out[:, None] == scores_in[None, :]).double()")]),
    dict(exercise=_E11, function="auroc", name="ties ignored (>)",
         replace=[("return (above + 0.5 * tied).mean()", "return above.mean()")]),
    dict(exercise=_E11, function="auroc", name="inliers and outliers swapped",
         replace=[("above = (scores_out[:, None] > scores_in[None, :]).double()",
                   "above = (scores_out[:, None] < scores_in[None, :]).double()")]),
    dict(exercise=_E11, function="auroc", name="compares outliers with outliers' mean, not pairs",
         replace=[("above = (scores_out[:, None] > scores_in[None, :]).double()",
                   "above = (scores_out[:, None] > scores_in.mean()).double().expand(-1, len(scores_in))")]),
    dict(exercise=_E11, function="auroc", name="rule: scikit-learn's roc_auc_score", every_test="test_auroc",
         source='''def auroc(scores_in, scores_out):
    from sklearn.metrics import roc_auc_score
    y = [0] * len(scores_in) + [1] * len(scores_out)
    return float(roc_auc_score(y, torch.cat([scores_in, scores_out]).numpy()))
'''),
    # outlier_aurocs
    dict(exercise=_E11, function="outlier_aurocs", name="log p as the outlier score (sign)",
         replace=[('"likelihood": auroc(-log_p_in, -log_p_out)', '"likelihood": auroc(log_p_in, log_p_out)')]),
    dict(exercise=_E11, function="outlier_aurocs", name="typicality without the absolute value",
         replace=[("auroc((-log_p_in - entropy).abs(), (-log_p_out - entropy).abs())",
                   "auroc(-log_p_in - entropy, -log_p_out - entropy)")]),
    dict(exercise=_E11, function="outlier_aurocs", name="H from the test inliers, not the reference",
         replace=[("entropy = (-log_p_reference).mean()", "entropy = (-log_p_in).mean()")]),
    dict(exercise=_E11, function="outlier_aurocs", name="H as the mean log p (sign)",
         replace=[("entropy = (-log_p_reference).mean()", "entropy = log_p_reference.mean()")]),
    # inverse_density_weights
    dict(exercise=_E11, function="inverse_density_weights", name="weights proportional to the density",
         replace=[("weights = weights / (share[index] + alpha)", "weights = weights * (share[index] + alpha)")]),
    dict(exercise=_E11, function="inverse_density_weights", name="a sum over latents instead of a product",
         replace=[("weights = torch.ones(N, dtype=codes.dtype)", "weights = torch.zeros(N, dtype=codes.dtype)"),
                  ("weights = weights / (share[index] + alpha)", "weights = weights + 1 / (share[index] + alpha)")]),
    dict(exercise=_E11, function="inverse_density_weights", name="not normalised to sum to 1",
         replace=[("return weights / weights.sum()", "return weights")]),
    dict(exercise=_E11, function="inverse_density_weights", name="alpha added after inverting",
         replace=[("weights = weights / (share[index] + alpha)", "weights = weights * (1 / share[index] + alpha)")]),
    dict(exercise=_E11, function="inverse_density_weights", name="counts instead of shares",
         replace=[("share = torch.bincount(index, minlength=bins).to(codes.dtype) / N",
                   "share = torch.bincount(index, minlength=bins).to(codes.dtype)")]),
    dict(exercise=_E11, function="inverse_density_weights", name="the first latent's range for every latent",
         replace=[("        z = codes[:, i]\n        width = (z.max() - z.min()) / bins\n",
                   "        z = codes[:, i]\n        width = (codes[:, 0].max() - codes[:, 0].min()) / bins\n"),
                  ("((z - z.min()) / width)", "((z - codes[:, 0].min()) / width)")]),
]

CORRECT += [
    dict(exercise=_E11, function="gaussian_fit", name="torch.cov of the transposed features",
         source='''def gaussian_fit(features):
    return features.mean(dim=0), torch.cov(features.T)
'''),
    dict(exercise=_E11, function="frechet_distance", name="SciPy's sqrtm, a float",
         source='''def frechet_distance(mean_a, cov_a, mean_b, cov_b):
    from scipy import linalg
    root = linalg.sqrtm(cov_a.numpy() @ cov_b.numpy()).real
    return float(((mean_a - mean_b) ** 2).sum()) + float(torch.trace(cov_a) + torch.trace(cov_b)) - 2 * float(root.trace())
'''),
    dict(exercise=_E11, function="frechet_distance", name="the symmetric form with eigh",
         source='''def frechet_distance(mean_a, cov_a, mean_b, cov_b):
    values, vectors = torch.linalg.eigh(cov_a)
    root_a = vectors @ torch.diag(values.clamp(min=0).sqrt()) @ vectors.T
    cross = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp(min=0).sqrt().sum()
    return ((mean_a - mean_b) ** 2).sum() + torch.trace(cov_a + cov_b) - 2 * cross
'''),
    dict(exercise=_E11, function="precision_at_k", name="squared distances, argsort, k + 1 with the first dropped",
         source='''def precision_at_k(codes, labels, k=10):
    squared = ((codes[:, None, :] - codes[None, :, :]) ** 2).sum(-1)
    order = squared.argsort(dim=1)[:, 1:k + 1]
    return float((labels[order] == labels[:, None]).float().mean())
'''),
    dict(exercise=_E11, function="auroc", name="average ranks (the Mann-Whitney U by hand)",
         source='''def auroc(scores_in, scores_out):
    from scipy.stats import rankdata
    ranks = rankdata(torch.cat([scores_in, scores_out]).numpy())
    n_in, n_out = len(scores_in), len(scores_out)
    u = ranks[n_in:].sum() - n_out * (n_out + 1) / 2
    return float(u / (n_in * n_out))
'''),
    dict(exercise=_E11, function="outlier_aurocs", name="squared deviation for typicality (same order)",
         replace=[("auroc((-log_p_in - entropy).abs(), (-log_p_out - entropy).abs())",
                   "auroc((-log_p_in - entropy) ** 2, (-log_p_out - entropy) ** 2)")]),
    dict(exercise=_E11, function="inverse_density_weights", name="NumPy histograms, in log space",
         source='''def inverse_density_weights(codes, bins=10, alpha=0.01):
    import numpy as np
    z = codes.numpy()
    log_w = np.zeros(len(z))
    for i in range(z.shape[1]):
        counts, edges = np.histogram(z[:, i], bins=bins)
        which = np.clip(np.digitize(z[:, i], edges) - 1, 0, bins - 1)
        log_w -= np.log(counts[which] / len(z) + alpha)
    w = np.exp(log_w - log_w.max())
    return torch.tensor(w / w.sum(), dtype=codes.dtype)
'''),
]

LITERAL[_E11] = {
    "gaussian_fit": '''def gaussian_fit(features):
    mean = features.mean(dim=0)
    centred = features - mean
    N = features.shape[0]
    return mean, centred.T @ centred / (N - 1)
''',
    "precision_at_k": '''def precision_at_k(codes, labels, k=10):
    d = torch.cdist(codes, codes)
    d.fill_diagonal_(math.inf)
    idx = d.topk(k, dim=1, largest=False).indices
    return (labels[idx] == labels[:, None]).float().mean()
''',
    "auroc": '''def auroc(scores_in, scores_out):
    wins = (scores_out[:, None] > scores_in[None, :]).float()
    ties = (scores_out[:, None] == scores_in[None, :]).float()
    return (wins + 0.5 * ties).mean()
''',
    "inverse_density_weights": '''def inverse_density_weights(codes, bins=10, alpha=0.01):
    N, d = codes.shape
    w = torch.ones(N, dtype=codes.dtype)
    for i in range(d):
        z = codes[:, i]
        width = (z.max() - z.min()) / bins
        b = ((z - z.min()) / width).floor().long().clamp(max=bins - 1) if width > 0 else torch.zeros(N, dtype=torch.long)
        q = torch.bincount(b, minlength=bins) / N
        w = w / (q[b] + alpha)
    return w / w.sum()
''',
}
