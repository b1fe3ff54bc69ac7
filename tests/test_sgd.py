"""The compiled SGD loop against SGDRegressor, MLPRegressor and a plain NumPy loop.

- With ``shuffle=False, batch_size=1`` our sgd takes SGDRegressor's steps
  (``eta0 = f * learning_rate``, ``alpha / f``; f = 2 for squared error and
  huber, 1 for the epsilon losses) for every loss, penalty, the constant and
  invscaling schedules and averaging: coefficients equal to 1e-8.
- Mini-batch momentum takes MLPRegressor's (linear, SGD optimizer) steps.
- A plain NumPy loop, written from the design's definitions, is matched by the
  compiled loop on dense and CSR data, float64 and float32, 1-D and 2-D y, for
  every control the loop has.
"""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import (
    PER_UPDATE_SCHEDULES,
    SGDREGRESSOR_LOSSES,
    make_problem,
    reference_sgd,
    sgdregressor_loss,
    targets_for,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso, Ridge, SGDRegressor
from sklearn.neural_network import MLPRegressor

from skgd import GradientDescentRegressor
from skgd._algorithms._sgd import sample_order
from skgd._loss import LOSSES
from skgd._schedules import SCHEDULES

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)

PENALTIES = [None, "l2", "l1", "elasticnet"]

#: Much noise and an irrelevant first feature (for the L1 penalties to zero).
NOISY = dict(noise=0.3, intercept=0.3, zero_features=1)


# ------------------------------------------------------------ SGDRegressor
def _pin_cases():
    for loss, penalty, schedule, average in itertools.product(
        SGDREGRESSOR_LOSSES,
        PENALTIES,
        [name for name, schedule in SCHEDULES.items() if schedule.sgdregressor],
        [False, True, 7],
    ):
        # SGDRegressor's lazy average never sees its L1 truncation (add_average
        # only follows w.add), so with average and an L1 part its coef_ is not an
        # average of its iterates; those cases are pinned to the NumPy loop below.
        if average and penalty in ("l1", "elasticnet"):
            continue
        yield loss, penalty, schedule, average


@pytest.mark.parametrize("loss, penalty, schedule, average", list(_pin_cases()))
def test_sgd_takes_sgdregressors_steps(loss, penalty, schedule, average):
    X, y = make_problem(n=40, d=5, **NOISY)
    f, peer_loss = sgdregressor_loss(loss, 0.3)
    lr, alpha, epochs = 0.01, 0.05, 4
    ours = GradientDescentRegressor(
        solver="sgd",
        loss=loss,
        epsilon=0.3,
        penalty=penalty,
        alpha=alpha,
        l1_ratio=0.4,
        learning_rate=lr,
        schedule=schedule,
        power_t=0.3,
        average=average,
        batch_size=1,
        shuffle=False,
        tol=None,
        max_iter=epochs,
    )
    peer = SGDRegressor(
        **peer_loss,
        penalty=penalty,
        alpha=alpha / f,
        l1_ratio=0.4,
        eta0=f * lr,
        learning_rate=SCHEDULES[schedule].sgdregressor,
        power_t=0.3,
        average=average,
        shuffle=False,
        tol=None,
        max_iter=epochs,
    )
    ours.fit(X, y)
    peer.fit(X, y)
    np.testing.assert_allclose(ours.coef_, peer.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours.intercept_, peer.intercept_[0], rtol=0, atol=1e-8)
    assert ours.t_ == peer.t_ - 1  # SGDRegressor counts from 1
    if penalty in ("l1", "elasticnet"):
        np.testing.assert_array_equal(ours.coef_ == 0.0, peer.coef_ == 0.0)


def test_l1_sgd_gives_exact_zeros_like_sgdregressor():
    X, y = make_problem(n=200, d=8, seed=2, **NOISY)
    X[:, 5:] *= 0.05  # weak features the penalty removes
    ours = GradientDescentRegressor(
        solver="sgd",
        penalty="l1",
        alpha=0.1,
        learning_rate=0.005,
        schedule="constant",
        shuffle=False,
        tol=None,
        max_iter=10,
    ).fit(X, y)
    peer = SGDRegressor(
        penalty="l1", alpha=0.05, eta0=0.01, learning_rate="constant", shuffle=False, tol=None, max_iter=10
    ).fit(X, y)
    assert np.sum(ours.coef_ == 0.0) >= 2
    np.testing.assert_array_equal(ours.coef_ == 0.0, peer.coef_ == 0.0)


def test_sample_weights_scale_each_step_as_sgdregressors():
    """Without a penalty our step for sample i is s_i times its unweighted step, as SGDRegressor's."""
    X, y = make_problem(n=40, d=5, **NOISY)
    s = np.random.RandomState(5).uniform(0.2, 3.0, len(y))
    params = dict(solver="sgd", learning_rate=0.01, schedule="constant", shuffle=False, tol=None, max_iter=3)
    ours = GradientDescentRegressor(**params).fit(X, y, sample_weight=s)
    peer = SGDRegressor(penalty=None, eta0=0.02, learning_rate="constant", shuffle=False, tol=None, max_iter=3)
    peer.fit(X, y, sample_weight=s)
    np.testing.assert_allclose(ours.coef_, peer.coef_, rtol=0, atol=1e-8)


@pytest.mark.parametrize("penalty", ["l2", "l1"])
def test_a_weight_scales_its_steps_penalty_share_so_sgd_lands_on_j(penalty):
    # SGDRegressor applies the penalty unweighted at every step, so weights of
    # mean c move its fixed point as a penalty divided by c would. Ours scales
    # the penalty's share of a step by the batch's weight: with weights 10 the
    # averaged iterate lands on J's optimum, as with weights 1 (and Ridge/Lasso).
    X, y = make_problem(n=40, d=5, **NOISY)
    params = dict(solver="sgd", penalty=penalty, alpha=0.1, learning_rate=0.002, schedule="constant", shuffle=False)
    params.update(tol=None, max_iter=300, average=1000)
    unit = GradientDescentRegressor(**params).fit(X, y)
    heavy = GradientDescentRegressor(**{**params, "learning_rate": 0.0002})
    heavy.fit(X, y, sample_weight=np.full(len(y), 10.0))
    peer = (Ridge(alpha=len(y) * 0.05) if penalty == "l2" else Lasso(alpha=0.05, tol=1e-12)).fit(X, y)
    np.testing.assert_allclose(heavy.coef_, unit.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(unit.coef_, peer.coef_, atol=2e-2)


@pytest.mark.parametrize("penalty", PENALTIES)
@pytest.mark.parametrize("average", [False, True])
def test_sparse_sgd_gives_the_dense_model_without_the_intercept_decay(penalty, average):
    """SGDRegressor damps the intercept on sparse X (intercept_decay=0.01); ours is the dense model.

    With every entry stored, a CSR row touches every feature, so even the
    cumulative L1 penalty (applied to a row's features) matches dense.
    """
    X, y = make_problem(n=40, d=5, seed=4, **NOISY)
    params = dict(
        solver="sgd",
        penalty=penalty,
        alpha=0.05,
        learning_rate=0.01,
        schedule="invscaling",
        average=average,
        shuffle=False,
        tol=None,
        max_iter=3,
    )
    dense = GradientDescentRegressor(**params).fit(X, y)
    sparse = GradientDescentRegressor(**params).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sparse.intercept_, dense.intercept_, rtol=1e-12)


# ------------------------------------------------------------ MLPRegressor
@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("batch_size", [8, 40])
def test_minibatch_momentum_takes_mlpregressors_steps(nesterov, batch_size):
    """MLPRegressor(hidden_layer_sizes=()) is a linear model; its SGD optimizer has our momentum.

    Its loss is half the mean squared error, so its rate is twice ours. It
    starts from random weights: one throwaway fit creates its state, which is
    then reset to zero and trained again with a fresh optimizer (warm_start).
    """
    X, y = make_problem(n=40, d=5, **NOISY)
    lr, mu, epochs = 0.01, 0.9, 5
    ours = GradientDescentRegressor(
        solver="sgd",
        learning_rate=lr,
        momentum=mu,
        nesterov=nesterov,
        batch_size=batch_size,
        schedule="constant",
        shuffle=False,
        tol=None,
        max_iter=epochs,
    ).fit(X, y)
    peer = MLPRegressor(
        hidden_layer_sizes=(),
        solver="sgd",
        learning_rate_init=2 * lr,
        momentum=mu,
        nesterovs_momentum=nesterov,
        alpha=0.0,
        batch_size=batch_size,
        shuffle=False,
        max_iter=1,
        tol=0.0,
        n_iter_no_change=100,
        warm_start=True,
    )
    peer.fit(X, y)
    peer.coefs_ = [np.zeros((X.shape[1], 1))]
    peer.intercepts_ = [np.zeros(1)]
    peer.set_params(max_iter=epochs).fit(X, y)
    np.testing.assert_allclose(ours.coef_, peer.coefs_[0].ravel(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.intercept_, peer.intercepts_[0][0], rtol=0, atol=1e-10)


# ------------------------------------------------------- NumPy reference loop
def _loop_cases():
    controls = [dict(momentum=0.0), dict(momentum=0.7), dict(momentum=0.7, nesterov=True)]
    cases = itertools.product(LOSSES, PENALTIES, controls, [0, 5])
    for index, (loss, penalty, control, average) in enumerate(cases):
        yield dict(
            loss=loss,
            penalty=penalty,
            average=average,
            **control,
            # the remaining options rotate through the cases
            schedule=PER_UPDATE_SCHEDULES[index % len(PER_UPDATE_SCHEDULES)],
            batch_size=(1, 4, 23)[index % 3],
            fit_intercept=index % 5 != 0,
            sparse=index % 4 >= 2,
        )


@pytest.mark.parametrize("case", list(_loop_cases()), ids=lambda c: "-".join(str(v) for v in c.values()))
def test_compiled_loop_matches_the_numpy_loop(case):
    case = dict(case)
    sparse = case.pop("sparse")
    X, y = make_problem(n=23, d=6, seed=1, density=0.5, **NOISY)
    y = targets_for(case["loss"], y)
    s = np.random.RandomState(0).uniform(0.5, 2.0, len(y))
    params = dict(epsilon=0.3, alpha=0.1, l1_ratio=0.4, learning_rate=0.02, power_t=0.3, **case)
    Xin = sp.csr_matrix(X) if sparse else X
    reg = GradientDescentRegressor(solver="sgd", shuffle=False, tol=None, max_iter=3, **params)
    reg.fit(Xin, y, sample_weight=s, intercept_init=0.0)  # the log link's losses would start at log(mean y)
    w, b, curve = reference_sgd(Xin, y, epochs=3, sample_weight=s, **params)
    np.testing.assert_allclose(reg.coef_, w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(reg.intercept_, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(reg.loss_curve_, curve, rtol=1e-10)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("penalty", ["l2", "elasticnet"])
def test_float32_and_two_d_y_match_the_numpy_loop(sparse, penalty):
    X, Y = make_problem(n=30, d=5, n_targets=2, seed=2, density=0.6, **NOISY)
    params = dict(penalty=penalty, alpha=0.05, learning_rate=0.02, average=4, batch_size=3)
    X32 = X.astype(np.float32)
    Xin = sp.csr_matrix(X32) if sparse else X32
    reg = GradientDescentRegressor(solver="sgd", shuffle=False, tol=None, max_iter=4, **params)
    reg.fit(Xin, Y.astype(np.float32))
    assert reg.coef_.dtype == np.float32 and reg.coef_.shape == (2, 5)
    for k in range(2):
        w, b, _ = reference_sgd(sp.csr_matrix(X32) if sparse else X32, Y[:, k].astype(np.float32), epochs=4, **params)
        np.testing.assert_allclose(reg.coef_[k], w, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(reg.intercept_[k], b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_lazy_scale_and_average_survive_heavy_shrinkage(momentum):
    """eta * l2 = 0.5 halves the scale each step: it is folded back into w (and the average) many times.

    The lazy average (as scikit-learn's) holds ``w`` divided by a scale that may
    fall to 1e-9 before it is folded back, so the average keeps about 7 digits
    fewer than the iterate in this extreme regime; the iterate keeps them all.
    """
    X, y = make_problem(n=90, d=4, seed=3, density=0.7, **NOISY)
    params = dict(penalty="elasticnet", alpha=50.0, l1_ratio=0.01, learning_rate=0.0101, momentum=momentum)
    for Xin in (X, sp.csr_matrix(X)):
        for average, rtol in ((0, 1e-12), (10, 1e-7)):
            reg = GradientDescentRegressor(
                solver="sgd", shuffle=False, tol=None, max_iter=2, average=average, **params
            ).fit(Xin, y)
            w, b, _ = reference_sgd(Xin, y, epochs=2, average=average, **params)
            np.testing.assert_allclose(reg.coef_, w, rtol=rtol, atol=rtol * 1e-2)
            np.testing.assert_allclose(reg.intercept_, b, rtol=1e-12)


def test_averaging_continues_across_partial_fit_and_pickling():
    import pickle

    X, y = make_problem(n=40, d=5, seed=6, density=0.5, **NOISY)
    params = dict(solver="sgd", penalty="l1", alpha=0.05, learning_rate=0.01, average=30, shuffle=False, tol=None)
    Xs = sp.csr_matrix(X)
    reg = GradientDescentRegressor(**params)
    for _ in range(3):
        reg = pickle.loads(pickle.dumps(reg.partial_fit(Xs, y)))
    w, b, curve = reference_sgd(
        Xs, y, epochs=3, **{k: v for k, v in params.items() if k not in ("solver", "shuffle", "tol")}
    )
    np.testing.assert_allclose(reg.coef_, w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(reg.intercept_, b, rtol=1e-10)
    np.testing.assert_allclose(reg.loss_curve_, curve, rtol=1e-10)


@pytest.mark.parametrize("params", [dict(), dict(penalty="l1", average=2), dict(momentum=0.5, penalty="elasticnet")])
def test_csr_without_stored_entries_is_read_as_sparse(params):
    """A CSR matrix with no stored entries has empty data and indices (once mistaken for dense data)."""
    X, y = np.zeros((5, 3)), np.arange(5.0)
    common = dict(solver="sgd", learning_rate=0.1, shuffle=False, tol=None, max_iter=2, **params)
    sparse = GradientDescentRegressor(**common).fit(sp.csr_matrix(X), y)
    dense = GradientDescentRegressor(**common).fit(X, y)
    np.testing.assert_array_equal(sparse.coef_, 0.0)
    np.testing.assert_allclose(sparse.intercept_, dense.intercept_, rtol=1e-15)


@pytest.mark.parametrize("n", [1, 10, 100_003])
def test_sample_order_is_a_seeded_int32_permutation(n):
    shuffled = sample_order(n, np.random.RandomState(3))
    assert shuffled.dtype == np.int32
    np.testing.assert_array_equal(np.sort(shuffled), np.arange(n))
    np.testing.assert_array_equal(shuffled, sample_order(n, np.random.RandomState(3)))
    if n > 2:
        assert not np.array_equal(shuffled, sample_order(n, np.random.RandomState(4)))
    np.testing.assert_array_equal(sample_order(n), np.arange(n))


def test_every_order_of_four_samples_is_equally_likely():
    # Fisher-Yates draws each of the 24 orders with probability 1/24; a biased
    # draw (for example the naive swap with any position) fails this chi-square.
    rng = np.random.RandomState(0)
    draws = 24_000
    counts = {}
    for _ in range(draws):
        key = tuple(sample_order(4, rng))
        counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 24
    expected = draws / 24
    chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
    assert chi2 < 49.7  # the chi-square(23) quantile 0.999


def test_positions_shuffle_as_a_permutation_of_themselves():
    positions = np.array([7, 3, 11, 0, 5], dtype=np.int32)
    np.testing.assert_array_equal(sample_order(5, None, positions), positions)
    shuffled = sample_order(5, np.random.RandomState(1), positions)
    np.testing.assert_array_equal(np.sort(shuffled), np.sort(positions))
    np.testing.assert_array_equal(positions, [7, 3, 11, 0, 5])  # the positions are not shuffled in place


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_an_adaptive_reduction_restarts_the_average_with_the_next_epoch():
    # The model a call leaves is an average of iterates, also when it ends right after a reduction.
    X, y = make_problem(n=200, d=3, noise=0.5)
    params = dict(solver="sgd", average=True, n_iter_no_change=2, shuffle=False, learning_rate=0.05)
    reductions = 0
    for max_iter in range(2, 14):
        reg = GradientDescentRegressor(max_iter=max_iter, **params).fit(X, y)
        reductions += reg._state.average_restart  # ended right after a reduction
        plain = GradientDescentRegressor(max_iter=max_iter, **{**params, "average": False}).fit(X, y)
        assert reg._state.sgd.n_averaged > 0
        assert not np.allclose(reg.coef_, plain.coef_)  # an average, not the last iterate
    assert reductions > 0
