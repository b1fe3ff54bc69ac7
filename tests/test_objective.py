"""Losses, penalties and step-size bounds against independent definitions.

- The compiled loop's losses equal the registry's Python twins, code by code;
  the loop's table of losses (``LOSS_CODES``) names exactly the registry's and
  the twins in the sources, and a half twin stops the build with its name.
- Each loss is its textbook definition (``_helpers.TEXTBOOK_LOSSES``) and
  a factor times scikit-learn's SGDRegressor loss ``_helpers.SGDREGRESSOR_LOSSES``
  names, value and derivative (SGDRegressor's own loss objects).
- The penalty's value, L1/L2 split and proximal step follow their formulas; the
  proximal step minimises what it should.
- The Lipschitz bounds equal eigenvalues computed densely with NumPy.
"""

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import LOSS_PARAMS, SGDREGRESSOR_LOSSES, TEXTBOOK_LOSSES, sgdregressor_loss, squared_error_problem
from skgd._sgd_fast import LOSS_CODES, N_LOSSES, loss_and_derivative
from sklearn.linear_model import SGDRegressor

import skgd._loss
from skgd import GradientDescentRegressor
from skgd._conditioning import Conditioning
from skgd._loss import LOSSES, SquaredError, make_loss
from skgd._loss._twins import dispatch, twins
from skgd._moments import ColumnMoments
from skgd._objective import GramObjective, StreamingObjective
from skgd._penalty import Penalty
from skgd._step_size import batch_lipschitz, sample_lipschitz

EPSILONS = [0.0, 0.1, 1.5]


def _residuals(epsilon):
    """A grid of residuals with the kinks (0, +-epsilon) and their neighbours."""
    grid = np.linspace(-3.0, 3.0, 61)
    kinks = np.array([0.0, epsilon, -epsilon])
    return np.concatenate([grid, kinks, kinks + 1e-9, kinks - 1e-9])


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("epsilon", EPSILONS)
def test_compiled_losses_are_the_registry_twins(name, epsilon):
    loss = make_loss(name, **{**LOSS_PARAMS, "epsilon": epsilon})
    r = _residuals(epsilon)
    y = np.linspace(-1.0, 1.0, r.size)
    if loss.targets is not None:  # the log link's: positive targets, some zero where allowed
        y = np.where(y < -0.8, 0.0, y + 1.5) if loss.targets == "non-negative" else y + 1.5
    p = y + r
    compiled = np.array([loss_and_derivative(loss.code, pi, yi, loss.parameter) for pi, yi in zip(p, y, strict=True)])
    value, derivative = loss.value_and_derivative(p, y)
    if loss.targets is None:
        np.testing.assert_array_equal(compiled[:, 0], value)
        np.testing.assert_array_equal(compiled[:, 1], derivative)
    else:  # NumPy's exp and log (its own SIMD kernels) and the C library's may differ in the last bit
        np.testing.assert_allclose(compiled[:, 0], value, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(compiled[:, 1], derivative, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("power", [1.0, 1.2, 2.0, 3.0])
def test_tweedie_at_one_and_two_is_poisson_and_gamma_and_the_loop_agrees(power):
    tweedie = make_loss("tweedie", power=power)
    y, p = np.linspace(0.1, 4.0, 25), np.linspace(-2.0, 3.0, 25)
    value, derivative = tweedie.value_and_derivative(p, y)
    if power in (1.0, 2.0):
        twin = make_loss("poisson" if power == 1.0 else "gamma")
        np.testing.assert_array_equal(value, twin.value_and_derivative(p, y)[0])
        np.testing.assert_array_equal(derivative, twin.value_and_derivative(p, y)[1])
    compiled = np.array([loss_and_derivative(tweedie.code, a, b, tweedie.parameter) for a, b in zip(p, y, strict=True)])
    np.testing.assert_allclose(compiled, np.column_stack([value, derivative]), rtol=1e-13, atol=1e-13)


def test_log_link_losses_at_extreme_predictors_are_infinite_not_errors():
    # exp(p) beyond the float range: +inf where the deviance grows with it, never NaN nor a warning.
    p = np.array([-1600.0, 0.0, 1600.0])
    expected = {"poisson": [False, False, True], "gamma": [True, False, False], "tweedie": [True, False, True]}
    expected["tweedie 3"] = [True, False, False]  # both powers of mu overflow at p << 0: still +inf
    for name in ("poisson", "gamma", "tweedie", "tweedie 3"):
        loss = make_loss("tweedie", power=3.0) if name == "tweedie 3" else make_loss(name)
        value, derivative = loss.value_and_derivative(p, np.ones(3))
        np.testing.assert_array_equal(np.isposinf(value), expected[name])
        assert not np.any(np.isnan(value)) and not np.any(np.isnan(derivative)) and loss.inverse_link(p)[2] == np.inf
        compiled = np.array([loss_and_derivative(loss.code, pi, 1.0, loss.parameter) for pi in p])
        np.testing.assert_array_equal(compiled, np.column_stack([value, derivative]))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_a_loss_at_its_targets_part_formed_once_is_bitwise_the_loss(name):
    # The objective forms target_part(Y) once a fit; every read of X then passes it in.
    loss = make_loss(name, **LOSS_PARAMS)
    rng = np.random.RandomState(0)
    p = np.concatenate([rng.uniform(-5.0, 5.0, 200), [-1600.0, 0.0, 1600.0]])[:, None]
    y = np.concatenate([rng.gamma(0.5, 2.0, 200), [1.0, 1.0, 1.0]])[:, None]
    if loss.targets == "non-negative":
        y[::7] = 0.0  # y log y at 0
    part = loss.target_part(y)
    assert (part is None) == (loss.name not in ("poisson", "gamma", "tweedie"))
    with_part, without = loss.value_and_derivative(p, y, part=part), loss.value_and_derivative(p, y)
    np.testing.assert_array_equal(with_part[0], without[0])
    np.testing.assert_array_equal(with_part[1], without[1])


def test_every_loss_has_its_compiled_twin_and_its_textbook_definition():
    untwinned = sorted(set(LOSSES) - set(LOSS_CODES))
    where = "'<name>_loss' and '<name>_dloss' in the .pxd next to its class (skgd/_loss/), then a rebuild"
    assert not untwinned, f"losses without a compiled twin ({where}): {untwinned}"
    unregistered = sorted(set(LOSS_CODES) - set(LOSSES))
    assert not unregistered, f"compiled losses missing from skgd._loss.LOSSES: {unregistered}"
    assert sorted(LOSS_CODES.values()) == list(range(N_LOSSES)), f"the codes are not 0 to {N_LOSSES - 1}: {LOSS_CODES}"
    assert [make_loss(name).code for name in LOSSES] == [LOSS_CODES[name] for name in LOSSES]
    untested = sorted(set(LOSSES) - set(TEXTBOOK_LOSSES))
    assert not untested, f"losses without their independent definition in tests/_helpers.TEXTBOOK_LOSSES: {untested}"
    for name in LOSSES:
        twin = loss_and_derivative(LOSS_CODES[name], 0.5, 0.25, 0.3)
        assert np.all(np.isfinite(twin)), f"the compiled twin of {name!r} is not finite at p=0.5, y=0.25: {twin}"


def test_the_built_loop_holds_the_twins_of_the_sources():
    """The built table of losses is the one the sources' twins give (a twin added without a rebuild fails)."""
    folder = Path(skgd._loss.__file__).parent
    if not list(folder.glob("*.pxd")):
        pytest.skip("an installed wheel holds no .pxd sources")
    sources = [name for _, name in twins(folder)]
    rebuild = "rebuild the loop (pip install ., or python setup.py build_ext --inplace in a clone)"
    assert sources == list(LOSS_CODES), f"{rebuild}: built {list(LOSS_CODES)}, sources {sources}"
    assert dispatch(folder).count("return NAN") == 2 and f"LOSS_COUNT = {N_LOSSES}" in dispatch(folder)


def test_a_twin_missing_half_is_named_at_build_time(tmp_path):
    """A loss with its compiled value but not its derivative stops the build, naming the missing function."""
    (tmp_path / "_residual.pxd").write_text(
        "cdef inline double cube_loss(double p, double y, double param) noexcept nogil:\n    return 0.0\n"
    )
    with pytest.raises(ValueError, match="_residual.pxd: the compiled twin of 'cube' lacks its cube_dloss"):
        twins(tmp_path)
    (tmp_path / "_residual.pxd").write_text(
        "cdef inline double cube_loss(double p, double y, double param) noexcept nogil:\n    return 0.0\n"
        "cdef inline double cube_dloss(double p, double y, double param) noexcept nogil:\n    return 0.0\n"
    )
    (tmp_path / "_other.pxd").write_text((tmp_path / "_residual.pxd").read_text())
    with pytest.raises(ValueError, match="_residual.pxd: a second compiled twin of 'cube'"):
        twins(tmp_path)
    (tmp_path / "_other.pxd").unlink()
    text = dispatch(tmp_path)
    assert "from ._loss._residual cimport cube_dloss, cube_loss" in text and "return cube_dloss(p, y, param)" in text


@pytest.mark.parametrize("name", list(LOSSES))
def test_losses_are_the_textbook_definitions(name):
    p = _residuals(LOSS_PARAMS["epsilon"]) + 1.0
    y = np.ones_like(p)
    value, derivative = make_loss(name, **LOSS_PARAMS).value_and_derivative(p, y)
    expected_value, expected_derivative = TEXTBOOK_LOSSES[name](p, y, LOSS_PARAMS)
    np.testing.assert_allclose(value, expected_value, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(derivative, expected_derivative, rtol=1e-12, atol=1e-12)


class _Untwinned(SquaredError):
    """A loss the compiled loop lacks: squared error under a name without a twin in skgd/_loss/_residual.pxd."""

    name = "untwinned"


def test_a_loss_without_its_compiled_twin_is_named_by_sgd(monkeypatch):
    monkeypatch.setattr(GradientDescentRegressor, "_make_loss", lambda self: _Untwinned())
    X, y = np.eye(3), np.arange(3.0)
    reg = GradientDescentRegressor(solver="sgd", random_state=0)
    message = "Loss 'untwinned' has no compiled twin: add .*untwinned_loss.* to skgd/_loss/_residual.pxd.*--inplace"
    with pytest.raises(NotImplementedError, match=message):
        reg.fit(X, y)
    assert not hasattr(reg, "coef_")
    # The batch solver has no compiled twin to ask for: the same loss trains there.
    batch = GradientDescentRegressor(tol=None, max_iter=2).fit(X, y)
    assert batch.n_iter_ == 2


def test_an_unknown_loss_fails_loudly():
    with pytest.raises(ValueError, match="Unknown loss 'absolute'"):
        make_loss("absolute")
    with pytest.raises(ValueError, match="Unknown loss code"):
        loss_and_derivative(len(LOSS_CODES), 0.5, 0.0, 0.1)


def _sklearn_loss(params, r):
    """SGDRegressor's loss of ``params`` (``_helpers.sgdregressor_loss``) at predictions ``r``, target 0."""
    peer_class, *defaults = SGDRegressor.loss_functions[params["loss"]]
    peer = peer_class(*([params["epsilon"]] if defaults else []))
    if hasattr(peer, "py_loss"):  # the SGD loss objects of sklearn.linear_model._sgd_fast
        return np.array([peer.py_loss(p, 0.0) for p in r]), np.array([peer.py_dloss(p, 0.0) for p in r])
    value, derivative = np.empty_like(r), np.empty_like(r)  # those of sklearn._loss
    peer.loss(np.zeros_like(r), r, None, value)
    peer.gradient(np.zeros_like(r), r, None, derivative)
    return value, derivative


@pytest.mark.parametrize("name", list(SGDREGRESSOR_LOSSES))
@pytest.mark.parametrize("epsilon", [0.1, 1.5])
def test_losses_are_a_factor_times_sgdregressors(name, epsilon):
    loss = make_loss(name, epsilon=epsilon)
    factor, params = sgdregressor_loss(name, epsilon)
    r = np.linspace(-3.0, 3.0, 61)  # no exact kink: conventions at a kink may differ
    r = r[np.abs(np.abs(r) - epsilon) > 1e-6]
    value, derivative = _sklearn_loss(params, r)
    ours, our_derivative = loss.value_and_derivative(r, np.zeros_like(r))
    np.testing.assert_allclose(ours, factor * value, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(our_derivative, factor * derivative, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", list(LOSSES))
def test_derivative_is_the_slope_and_curvature_bounds_it(name):
    loss, h = make_loss(name, **LOSS_PARAMS), 1e-6
    r = np.linspace(-2.0, 2.0, 41) + 0.013  # away from the kinks at 0 and +-0.4
    y = np.zeros_like(r) if loss.targets is None else np.full_like(r, 1.3)
    slope = (loss.value_and_derivative(r + h, y)[0] - loss.value_and_derivative(r - h, y)[0]) / (2 * h)
    derivative = loss.value_and_derivative(r, y)[1]
    np.testing.assert_allclose(derivative, slope, atol=1e-6)
    if not loss.global_curvature:  # the log link's: the curvature at the prediction of a target mean of 1.3
        at = np.log(1.3) + np.array([h, -h])
        slopes = loss.value_and_derivative(at, 1.3)[1]
        second = slopes[0] - slopes[1]
        sized, k = loss.for_targets(np.array([1.3, 0.5])), loss.power
        assert sized.curvature == pytest.approx(max(2.0 * 1.3 ** (2.0 - k), 2.0 * 0.5 ** (2.0 - k)))
        assert make_loss(name, **LOSS_PARAMS).for_targets([1.3]).curvature == pytest.approx(second / (2 * h), rel=1e-6)
    elif loss.smooth:  # a non-smooth loss borrows its squared twin's bound
        # The derivative changes no faster than `curvature` (what the automatic step relies on).
        jumps = np.abs(np.diff(derivative))
        assert np.all(jumps <= loss.curvature * np.diff(r) + 1e-12)


@pytest.mark.parametrize("name", list(LOSSES))
def test_slope_and_curvature_are_the_textbook_derivative_and_its_slope(name):
    # The certificate weighs rows by the curvature: each loss's (a closed form for the log link's,
    # a central difference otherwise) is the slope of the textbook derivative, its slope the derivative.
    loss, h = make_loss(name, **LOSS_PARAMS), 1e-5
    p = np.linspace(-2.0, 2.0, 41) + 0.013  # away from the kinks at 0 and +-0.4
    y = np.zeros_like(p) if loss.targets is None else np.linspace(0.5, 3.0, 41)
    slope, curvature = loss.slope_and_curvature(p, y)
    textbook = TEXTBOOK_LOSSES[name]
    np.testing.assert_allclose(slope, textbook(p, y, LOSS_PARAMS)[1], rtol=1e-12, atol=1e-14)
    second = (textbook(p + h, y, LOSS_PARAMS)[1] - textbook(p - h, y, LOSS_PARAMS)[1]) / (2 * h)
    np.testing.assert_allclose(curvature, second, rtol=1e-6, atol=1e-6)


def test_float32_residuals_stay_float32():
    p = np.linspace(-1, 1, 7, dtype=np.float32)
    for name in LOSSES:
        y = np.float32(0.25) * p + np.float32(0.0 if make_loss(name).targets is None else 1.5)
        value, derivative = make_loss(name, epsilon=0.1).value_and_derivative(p, y)
        assert value.dtype == np.float32 and derivative.dtype == np.float32


def test_the_inverse_link_of_the_residual_losses_is_the_identity():
    p = np.linspace(-1, 1, 7)
    for name in LOSSES:
        if make_loss(name).targets is None:
            assert make_loss(name, epsilon=0.1).inverse_link(p) is p
        else:  # the log link's losses predict exp(p)
            np.testing.assert_array_equal(make_loss(name).inverse_link(p), np.exp(p))


# ------------------------------------------------------------------ penalty
@pytest.mark.parametrize("penalty, rho", [(None, 0.0), ("l2", 0.0), ("l1", 1.0), ("elasticnet", 0.3)])
def test_penalty_value_is_the_designed_formula(penalty, rho):
    alpha = 0.0 if penalty is None else 0.7
    pen = Penalty.from_params(penalty, 0.7, 0.3)
    assert (pen.alpha, pen.rho) == (alpha, rho)
    coef = np.array([[1.0, -2.0, 0.0], [0.5, 0.0, 3.0]])
    expected = alpha * (rho * np.abs(coef).sum(axis=1) + (1 - rho) / 2 * (coef**2).sum(axis=1))
    np.testing.assert_allclose(pen.value(coef), expected, rtol=1e-15)
    assert pen.l1 == pytest.approx(alpha * rho) and pen.l2 == pytest.approx(alpha * (1 - rho))


def test_prox_minimises_the_l1_step_objective():
    """prox(v) = argmin_z |z - v|^2 / 2 + step * l1 * |z|_1, with exact zeros."""
    pen = Penalty(alpha=2.0, rho=0.25)  # l1 = 0.5
    step = 0.3
    v = np.random.RandomState(0).standard_normal((3, 50))
    z = v.copy()
    pen.prox(z, step)

    def objective(candidate):
        return 0.5 * (candidate - v) ** 2 + step * pen.l1 * np.abs(candidate)

    for delta in (1e-4, -1e-4):
        assert np.all(objective(z) <= objective(z + delta) + 1e-15)
    np.testing.assert_array_equal(z == 0.0, np.abs(v) <= step * pen.l1)
    untouched = v.copy()
    Penalty(alpha=2.0, rho=0.0).prox(untouched, step)
    np.testing.assert_array_equal(untouched, v)


# ---------------------------------------------------------------- Lipschitz
@pytest.mark.parametrize("d", [3, 40])  # dense X: from the statistics; sparse: dense eigenvalue below 33, Lanczos above
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("conditioned", [False, True])
def test_batch_lipschitz_is_the_top_eigenvalue(d, fit_intercept, sparse, conditioned, row_block_size):
    # In the coordinates (v, c) with w = s * v, b = c - m . w the data term's
    # Hessian is T^T H T; the L2 part adds l2 * s**2 on v's diagonal.
    rng = np.random.RandomState(d)
    X = rng.standard_normal((300, d)) * rng.uniform(0.1, 3, d) + 1.0
    s = rng.uniform(0.2, 2.0, 300)
    pen = Penalty(alpha=0.4, rho=0.25)
    Xin = sp.csr_matrix(X) if sparse else X
    if conditioned:
        conditioning = Conditioning.from_moments(ColumnMoments.of(Xin, s), fit_intercept, 2.0, pen.l2)
    else:
        conditioning = Conditioning(shift=np.zeros(d), scale=np.ones(d))
    m, scale = conditioning.shift, conditioning.scale
    Z = np.hstack([X, np.ones((300, 1))]) if fit_intercept else X
    T = np.diag(np.append(scale, 1.0)) if fit_intercept else np.diag(scale)
    if fit_intercept:
        T[d, :d] = -m * scale
    H = 2.0 * T.T @ (Z.T @ (s[:, None] * Z) / s.sum()) @ T
    H[:d, :d] += np.diag(pen.l2 * scale**2)
    expected = np.linalg.eigvalsh(H)[-1]
    got = batch_lipschitz(LOSSES["huber"], pen, Xin, s, fit_intercept, conditioning)
    assert got == pytest.approx(expected, rel=1e-6)
    problem = squared_error_problem(Xin, rng.standard_normal((300, 1)), s, pen, fit_intercept)
    gram = GramObjective(*problem).lipschitz(conditioning)
    streaming = StreamingObjective(*problem).lipschitz(conditioning)
    assert gram == pytest.approx(expected, rel=1e-6) and streaming == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("n", [20, 60])  # the row space's dense eigenvalue below 33 rows, Lanczos above
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("conditioned", [False, True])
@pytest.mark.parametrize("alpha", [0.0, 0.4])
def test_wide_sparse_lipschitz_is_the_top_eigenvalue(n, fit_intercept, conditioned, alpha):
    # Fewer rows than coordinates: the eigenvalue is found in the rows' n
    # dimensions (A A^T) where the penalty's diagonal is constant, in the
    # coordinates' otherwise; either way it is H's, and the dense rows' one.
    rng = np.random.RandomState(n)
    d = 300
    X = sp.random(n, d, density=0.05, format="csr", random_state=rng)  # some columns store nothing
    X.data = rng.standard_normal(X.nnz) * 3.0 + 2.0
    X = sp.csr_matrix(X @ sp.diags(rng.uniform(0.1, 3.0, d)))
    s = rng.uniform(0.2, 2.0, n)
    pen = Penalty(alpha=alpha, rho=0.0)
    if conditioned:
        conditioning = Conditioning.from_moments(ColumnMoments.of(X, s), fit_intercept, 2.0, pen.l2)
    else:
        conditioning = Conditioning(shift=np.zeros(d), scale=np.ones(d))
    m, scale = conditioning.shift, conditioning.scale
    dense = X.toarray()
    Z = np.hstack([dense, np.ones((n, 1))]) if fit_intercept else dense
    T = np.diag(np.append(scale, 1.0)) if fit_intercept else np.diag(scale)
    if fit_intercept:
        T[d, :d] = -m * scale
    H = 2.0 * T.T @ (Z.T @ (s[:, None] * Z) / s.sum()) @ T
    H[:d, :d] += np.diag(pen.l2 * scale**2)
    expected = np.linalg.eigvalsh(H)[-1]
    got = batch_lipschitz(LOSSES["squared_error"], pen, X, s, fit_intercept, conditioning)
    coordinates = batch_lipschitz(LOSSES["squared_error"], pen, dense, s, fit_intercept, conditioning)
    assert got == pytest.approx(expected, rel=1e-6) and coordinates == pytest.approx(expected, rel=1e-6)


def test_conditioned_coordinates_standardise_raw_columns():
    # Columns in their own units (scales 1e-3 to 1e4, offsets): centred and
    # scaled, they have unit variance, so the conditioned curvature is that
    # of standardised data, whatever the units.
    rng = np.random.RandomState(0)
    Z = rng.standard_normal((500, 4))
    X = Z * [1e-3, 1.0, 1e2, 1e4] + [0.0, 5.0, -3e3, 3e4]
    s = np.ones(500)
    conditioning = Conditioning.from_moments(ColumnMoments.of(X, s), True, 2.0, 0.0)
    np.testing.assert_allclose(conditioning.shift, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(conditioning.scale, 1.0 / X.std(axis=0), rtol=1e-10)
    raw = batch_lipschitz(LOSSES["squared_error"], Penalty(0.0, 0.0), X, s, True, conditioning)
    standard = (Z - Z.mean(axis=0)) / Z.std(axis=0)
    expected = 2.0 * max(np.linalg.eigvalsh(standard.T @ standard / 500)[-1], 1.0)
    assert raw == pytest.approx(expected, rel=1e-6)


def test_conditioning_overflow_is_a_clear_error():
    X = np.random.RandomState(0).standard_normal((20, 2)) * 1e159
    with pytest.raises(ValueError, match="overflow"):
        Conditioning.from_moments(ColumnMoments.of(X, np.ones(20)), True, 2.0, 0.0)


@pytest.mark.parametrize("sparse", [False, True])
def test_sample_lipschitz_is_the_largest_row_bound(sparse, row_block_size):
    rng = np.random.RandomState(1)
    X = rng.standard_normal((50, 4))
    X[X < 0] = 0.0
    s = rng.uniform(0.5, 1.5, 50)
    pen = Penalty(alpha=0.2, rho=0.5)
    # A weight scales its whole step, the penalty's share (l2 = 0.1) included.
    expected = 2.0 * np.max(s * ((X**2).sum(axis=1) + 1.0)) + 0.1 * s.max()
    got = sample_lipschitz(LOSSES["squared_error"], pen, sp.csr_matrix(X) if sparse else X, s, True)
    assert got == pytest.approx(expected, rel=1e-12)
    # In conditioned coordinates: the rows z = (x - m) * c (sparse rows uncentred), the L2 part weighted by c**2.
    m, c = (np.zeros(4) if sparse else X.mean(axis=0)), rng.uniform(0.5, 2.0, 4)
    rows = sp.csr_matrix(X) if sparse else X
    conditioned = sample_lipschitz(LOSSES["squared_error"], pen, rows, s, True, Conditioning(shift=m, scale=c))
    Z = (X - m) * c
    expected = 2.0 * np.max(s * ((Z**2).sum(axis=1) + 1.0)) + 0.1 * s.max() * np.max(c**2)
    assert conditioned == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
def test_the_bounds_hold_the_penalty_at_the_largest_target_step(sparse):
    # Targets of unequal smoothing widths step by their own widths
    # (relative_steps r_k = width_k / smallest): r_k times the shared step, on
    # the L2 penalty as on the data. Each target's own bound (its curvature
    # alone), times r_k, is at most the shared bound, per sample and full batch.
    rng = np.random.RandomState(2)
    X = rng.standard_normal((40, 3)) * [0.05, 1.0, 3.0] + [0.6, 0.0, 12.0]
    X[X < 0.2] = 0.0
    rows = sp.csr_matrix(X) if sparse else X
    s = rng.uniform(0.5, 1.5, 40)
    pen = Penalty(alpha=2.0, rho=0.0)
    widths = np.array([1.0, 30.0, 4.0])
    shared = make_loss("absolute_error").smoothed(widths)
    assert tuple(shared.relative_steps) == (1.0, 30.0, 4.0)
    conditioning = Conditioning.from_moments(ColumnMoments.of(rows, s), False, shared.curvature, pen.l2)
    per_sample = sample_lipschitz(shared, pen, rows, s, False, conditioning)
    full_batch = batch_lipschitz(shared, pen, rows, s, False, conditioning)
    for width, relative in zip(widths, shared.relative_steps, strict=True):
        own = make_loss("absolute_error").smoothed(width)
        assert relative * sample_lipschitz(own, pen, rows, s, False, conditioning) <= per_sample * (1 + 1e-12)
        assert relative * batch_lipschitz(own, pen, rows, s, False, conditioning) <= full_batch * (1 + 1e-9)
    assert 30.0 * sample_lipschitz(make_loss("absolute_error").smoothed(30.0), pen, rows, s, False, conditioning) == (
        pytest.approx(per_sample, rel=1e-12)
    )
