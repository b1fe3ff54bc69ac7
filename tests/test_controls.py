"""Training controls seen from the estimator: averaging, early stopping, the automatic step.

- average: coef_ is the mean of the iterates the same run without averaging
  visits (from the requested update on); batch refuses it.
- early_stopping: validation_scores_ are the held-out R^2 of the models an
  independent run on the training part visits; the best one is restored and
  training stops n_iter_no_change epochs after it; partial_fit refuses it.
- learning_rate="auto": for every loss, penalty and momentum, in both
  solvers, on columns whose scales differ by 1e4, J decreases and nothing
  diverges.
"""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import make_problem, targets_for
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split

import skgd._validation
from skgd import GradientDescentRegressor
from skgd._loss import LOSSES, make_loss
from skgd._penalty import Penalty
from skgd._state import independent_rng

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)


# ------------------------------------------------------------------ averaging
@pytest.mark.parametrize("average", [True, 4])
@pytest.mark.parametrize("sparse", [False, True])
def test_coef_is_the_mean_of_the_iterates(average, sparse):
    """With batch_size = n every epoch is one update: fit(max_iter=k) without averaging is iterate k."""
    X, y = make_problem(n=30, d=3, seed=1)
    X = sp.csr_matrix(X) if sparse else X
    params = dict(
        solver="sgd",
        batch_size=30,
        learning_rate=0.05,
        penalty="elasticnet",
        alpha=0.1,
        momentum=0.5,
        shuffle=False,
        tol=None,
    )
    iterates = [GradientDescentRegressor(max_iter=k, **params).fit(X, y) for k in range(1, 9)]
    averaged = GradientDescentRegressor(max_iter=8, average=average, **params).fit(X, y)
    start = int(average) - 1
    np.testing.assert_allclose(averaged.coef_, np.mean([r.coef_ for r in iterates[start:]], axis=0), rtol=1e-12)
    np.testing.assert_allclose(averaged.intercept_, np.mean([r.intercept_ for r in iterates[start:]]), rtol=1e-12)


def test_averaging_not_yet_started_keeps_the_iterate():
    X, y = make_problem(n=20, d=2)
    params = dict(solver="sgd", learning_rate=0.01, shuffle=False, tol=None, max_iter=2)
    late = GradientDescentRegressor(average=1000, **params).fit(X, y)
    plain = GradientDescentRegressor(**params).fit(X, y)
    np.testing.assert_array_equal(late.coef_, plain.coef_)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_batch_with_average_is_refused(method):
    X, y = make_problem(n=20, d=2)
    reg = GradientDescentRegressor(solver="batch", average=5)
    with pytest.raises(ValueError, match="average is an option of solver='sgd'"):
        getattr(reg, method)(X, y)
    assert not hasattr(reg, "coef_")


# ------------------------------------------------------------- early stopping
def _overfitting_problem():
    """Few samples, many features, much noise: held-out R^2 rises, then falls."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((80, 50))
    return X, X[:, :3] @ np.array([1.0, -2.0, 1.5]) + 2.0 * rng.standard_normal(80)


@pytest.mark.parametrize("solver, learning_rate", [("batch", 0.05), ("sgd", 0.002)])
@pytest.mark.parametrize("sparse", [False, True])
def test_early_stopping_scores_held_out_data_and_restores_the_best(solver, learning_rate, sparse):
    X, y = _overfitting_problem()
    X = sp.csr_matrix(X) if sparse else X
    params = dict(solver=solver, learning_rate=learning_rate, schedule="constant", shuffle=False, random_state=0)
    reg = GradientDescentRegressor(early_stopping=True, validation_fraction=0.25, tol=None, max_iter=200, **params)
    reg.fit(X, y)
    scores = np.array(reg.validation_scores_)
    best = int(np.argmax(scores))
    assert len(scores) == reg.n_iter_ == 200 and 0 < best < 150 and scores[-1] < scores[best] - 0.02
    assert reg.best_validation_score_ == scores[best]

    # The split the estimator draws: 20 held-out rows, the other 60 trained on.
    _, _, _, train, (X_val, y_val, _) = skgd._validation.split_validation(
        reg.validation_fraction, X, y[:, None], np.ones(80), independent_rng(0)
    )
    X_tr, y_tr = X[train], y[train]
    assert X_val.shape[0] == 20 and X_tr.shape[0] == 60
    for epoch in (0, best, 199):
        model = GradientDescentRegressor(tol=None, max_iter=epoch + 1, **params).fit(X_tr, y_tr.ravel())
        assert r2_score(y_val, model.predict(X_val)) == pytest.approx(scores[epoch], rel=1e-9, abs=1e-12)
        if epoch == best:
            np.testing.assert_allclose(reg.coef_, model.coef_, rtol=1e-12)
            np.testing.assert_allclose(reg.intercept_, model.intercept_, rtol=1e-12)
    assert reg.score(X_val, y_val.ravel()) == pytest.approx(reg.best_validation_score_, rel=1e-9)


def _copying_hold_out(X, Y, sample_weight, n_val, seed):
    """The split as early stopping drew it by copying: train_test_split's train and validation rows."""
    X_tr, X_val, Y_tr, Y_val, s_tr, s_val = train_test_split(X, Y, sample_weight, test_size=n_val, random_state=seed)
    return X_tr, Y_tr, s_tr, None, (X_val, Y_val, s_val)


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "batch"},
        {"solver": "batch", "loss": "huber", "learning_rate": 0.05},
        *({"solver": "sgd", "shuffle": shuffle, "batch_size": b} for shuffle in (True, False) for b in (1, 8)),
    ],
)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_early_stopping_trains_on_the_rows_train_test_split_keeps(params, weighted, sparse, monkeypatch):
    # Training in place (zero weight on the held-out rows, the training
    # positions in train_test_split's order) is the fit on copies of the
    # training rows, up to rounding: same split seed from the state's rng,
    # same shuffles after it, same automatic step.
    X, y = make_problem(n=300, d=4, seed=3)
    X = sp.csr_matrix(X) if sparse else X
    s = np.random.RandomState(4).uniform(0.2, 3.0, 300) if weighted else None
    common = dict(early_stopping=True, validation_fraction=0.2, tol=None, max_iter=12, random_state=5, **params)
    fits = [GradientDescentRegressor(**common).fit(X, y, sample_weight=s)]
    with monkeypatch.context() as m:
        m.setattr(skgd._validation, "hold_out", _copying_hold_out)
        fits.append(GradientDescentRegressor(**common).fit(X, y, sample_weight=s))
    in_place, copied = fits
    for name in ("coef_", "intercept_", "loss_curve_", "validation_scores_"):
        np.testing.assert_allclose(getattr(in_place, name), getattr(copied, name), rtol=1e-10, err_msg=name)

    # The positions are train_test_split's, in its order, drawn with the seed
    # that follows independent_rng(random_state).
    seed = independent_rng(5).randint(np.iinfo(np.int32).max)
    n_val, weights = 60, np.ones(300) if s is None else s
    _, _, s_train, train, (X_val, _, _) = skgd._validation.hold_out(X, y[:, None], weights, n_val, seed)
    X_tr, X_te = train_test_split(X, test_size=n_val, random_state=seed)
    assert train.dtype == np.int32
    np.testing.assert_array_equal(_dense(X[train]), _dense(X_tr))
    np.testing.assert_array_equal(_dense(X_val), _dense(X_te))
    held_out = np.setdiff1d(np.arange(300), train)
    assert np.all(s_train[held_out] == 0) and np.array_equal(s_train[train], weights[train])


def _dense(X):
    return X.toarray() if sp.issparse(X) else X


def test_early_stopping_stops_n_iter_no_change_epochs_after_the_best():
    X, y = _overfitting_problem()
    reg = GradientDescentRegressor(
        learning_rate=0.01,
        schedule="constant",
        early_stopping=True,
        validation_fraction=0.25,
        tol=1e-3,
        n_iter_no_change=7,
        max_iter=500,
        random_state=0,
    ).fit(X, y)
    scores = np.array(reg.validation_scores_)
    best = int(np.argmax(scores))
    assert reg.n_iter_ == len(scores) < 500
    assert np.all(scores[best + 1 :] < scores[best] + 1e-3) and len(scores) - 1 - best <= 7


def test_partial_fit_trains_without_early_stopping():
    # As MLPRegressor and SGDRegressor: partial_fit ignores early_stopping, so
    # it trains on all the rows it is given and holds nothing out.
    X, y = make_problem(n=20, d=2)
    stopping = GradientDescentRegressor(early_stopping=True, random_state=0).partial_fit(X, y).partial_fit(X, y)
    plain = GradientDescentRegressor(random_state=0).partial_fit(X, y).partial_fit(X, y)
    np.testing.assert_array_equal(stopping.coef_, plain.coef_)
    assert stopping.n_iter_ == 2 and not hasattr(stopping, "validation_scores_")


# ------------------------------------------------------- learning_rate="auto"
def _badly_scaled():
    rng = np.random.RandomState(0)
    scales = np.array([1e-2, 1.0, 1e1, 1e2])  # 1e4 between the smallest and the largest
    X = rng.standard_normal((200, 4)) * scales + np.array([0.0, 5.0, 0.0, 50.0])
    return X, X @ np.array([30.0, -1.0, 0.2, 0.01]) + 3.0 + rng.standard_normal(200)


def _objective(X, y, loss, penalty, coef, intercept, epsilon):
    prediction = np.asarray(X @ coef).ravel() + intercept
    values, _ = make_loss(loss, epsilon=epsilon).value_and_derivative(prediction, y)
    return float(np.mean(values) + penalty.value(np.atleast_2d(coef))[0])


AUTO_CASES = list(
    itertools.product(
        ["batch", "sgd"], LOSSES, [None, "l2", "l1", "elasticnet"], [(0.0, False), (0.9, False), (0.9, True)]
    )
)


@pytest.mark.parametrize("solver, loss, penalty, momentum", AUTO_CASES)
def test_auto_step_decreases_the_loss_on_badly_scaled_data(solver, loss, penalty, momentum):
    X, y = _badly_scaled()
    y = targets_for(loss, y)
    reg = GradientDescentRegressor(
        solver=solver,
        loss=loss,
        epsilon=0.5,
        penalty=penalty,
        alpha=0.01,
        momentum=momentum[0],
        nesterov=momentum[1],
        batch_size=1 + 7 * momentum[1],
        max_iter=30,
        tol=None,
        random_state=0,
    ).fit(X, y)
    pen = Penalty.from_params(penalty, 0.01, 0.15)
    start = _objective(X, y, loss, pen, np.zeros(4), 0.0, 0.5)
    end = _objective(X, y, loss, pen, reg.coef_, reg.intercept_, 0.5)
    assert np.all(np.isfinite(reg.coef_)) and np.all(np.isfinite(reg.loss_curve_))
    assert end < start
    if solver == "batch" and not momentum[0] and LOSSES[loss].smooth:
        # Accelerated steps of 1/L on a smooth objective, restarted when J rises: never above the start.
        assert max(reg.loss_curve_) <= reg.loss_curve_[0]


@pytest.mark.parametrize("solver", ["batch", "sgd"])
@pytest.mark.parametrize("fmt", ["csr", "float32"])
def test_auto_step_on_badly_scaled_sparse_and_float32_data(solver, fmt):
    X, y = _badly_scaled()
    Xin = sp.csr_matrix(X) if fmt == "csr" else X.astype(np.float32)
    reg = GradientDescentRegressor(
        solver=solver, loss="huber", penalty="elasticnet", alpha=0.01, momentum=0.9, max_iter=30, random_state=0
    ).fit(Xin, y)
    pen = Penalty.from_params("elasticnet", 0.01, 0.15)
    assert np.all(np.isfinite(reg.coef_))
    assert _objective(X, y, "huber", pen, reg.coef_, reg.intercept_, 0.1) < _objective(
        X, y, "huber", pen, np.zeros(4), 0.0, 0.1
    )


@pytest.mark.parametrize("solver", ["batch", "sgd"])
def test_momentum_trains_to_least_squares_with_default_stopping(solver):
    """Momentum's loss rises and falls; the stall window stretches by 1/(1-mu)."""
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0)
    reference = LinearRegression().fit(X_tr, y_tr).score(X_te, y_te)
    reg = GradientDescentRegressor(solver=solver, momentum=0.9, random_state=0).fit(X_tr, y_tr)
    assert abs(reg.score(X_te, y_te) - reference) < 0.01
    assert reg.n_iter_ > 50


def test_patience_stretches_by_the_momentum_time_scale():
    from skgd._training import patience

    assert patience(5, 0.0) == 5 and patience(5, 0.9) == 50 and patience(3, 0.5) == 6
