"""The compiled loop's own contracts, pinned to the plain NumPy loop (``_helpers.reference_sgd``).

- Momentum on CSR rows is lazy: a coefficient no row of the batch stores is
  brought up to date only when it is read, yet the pass equals the eager
  NumPy loop (and the compiled eager path) to rounding.
- The loop never spins and never guesses: a batch size below 1, an unknown
  loss code or a step array that does not fit the pass raises ValueError
  before any work.
- Sparse X with int64 indices trains as with int32 ones (cast once, the data
  shared), and is refused clearly when int32 cannot index it.
- Weights act per sample, as SGDRegressor's: a stream's model does not depend
  on how it is chunked into ``partial_fit`` calls.
- The compiled loss sum (sgd's J) is the NumPy objective's pass, on dense
  and CSR rows, and never reads a row of zero weight.
- The conditioned dense epoch (``sgd_pass(..., conditioning=...)``) is the NumPy
  loop run on ``z = (x - shift) * scale`` with the user's penalty, and with
  ``shift=0, scale=1`` it is the unconditioned loop; the scaled CSR epoch is
  the NumPy loop on ``z = x * scale``, its per-column L2 shrinks caught up
  lazily.
- The AVX2 build of the loop (``skgd._sgd_fast_avx2``, no FMA) fits bitwise
  as the portable build across losses, penalties, momentum, averaging,
  mini-batches, shuffling, dtypes, dense and CSR rows; ``skgd._sgd_loop``
  runs the portable build where the CPU or the installation lacks it.
"""

import itertools
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import LOSS_PARAMS, PER_UPDATE_SCHEDULES, make_weights, reference_sgd, targets_for
from hypothesis import given, settings
from hypothesis import strategies as st
from skgd._sgd_fast import N_LOSSES, loss_sum, sgd_epoch

import skgd
import skgd._algorithms._sgd as sgd_module
from skgd import GradientDescentRegressor, _sgd_fast, _sgd_loop
from skgd._algorithms._sgd import LoopRows, sample_order, sgd_pass
from skgd._conditioning import Conditioning
from skgd._loss import LOSSES, make_loss
from skgd._penalty import Penalty
from skgd._problem import Settings
from skgd._reductions import loss_gradient_sums
from skgd._schedules import SCHEDULES
from skgd._validation import int32_indices


def _sgd(X, y, epochs=3, **params):
    """Our sgd, in order, for ``epochs`` passes; the other parameters are the reference's."""
    return GradientDescentRegressor(solver="sgd", shuffle=False, tol=None, max_iter=epochs, **params).fit(X, y)


def _csr_problem(n=60, d=40, density=0.12, seed=0, dtype=np.float64):
    """Sparse rows whose column norms span four decades; a column nothing stores."""
    rng = np.random.RandomState(seed)
    X = sp.random(n, d, density=density, format="csr", random_state=rng)
    X.data = rng.standard_normal(X.nnz)
    X = sp.csr_matrix(X @ sp.diags(np.logspace(-2, 2, d)[rng.permutation(d)]))
    X.data[X.indices == 3] = 0.0
    X.eliminate_zeros()
    y = X @ (rng.standard_normal(d) / 10) + rng.standard_normal(n)
    return X.astype(dtype), y.astype(dtype)


def _momentum_cases():
    for nesterov, penalty, average, batch_size in itertools.product(
        [False, True], [None, "l2", "l1", "elasticnet"], [0, 7], [1, 4]
    ):
        yield dict(nesterov=nesterov, penalty=penalty, average=average, batch_size=batch_size)


# ------------------------------------------------------------- lazy momentum
@pytest.mark.parametrize("case", list(_momentum_cases()), ids=lambda c: "-".join(str(v) for v in c.values()))
def test_sparse_momentum_is_the_eager_loop(case):
    """Three passes of lazy momentum equal the eager NumPy loop to 1e-12, coefficient by coefficient.

    The step and penalty are large enough that every untouched coefficient
    keeps moving (velocity) and shrinking (eta * l2 = 0.02 a step) between the
    rows that store it; averaging starts inside the first pass (update 7) and
    continues across passes. The compiled eager path (invscaling with
    ``power_t=0``, the same constant step) agrees too. With L1 (3e-5 a step,
    which leaves a few coefficients away from zero) the pass is eager: the
    penalty holds every coefficient every step, as on dense rows, since
    momentum carries the untouched ones, perhaps across zero.
    """
    X, y = _csr_problem()
    mu = 0.9
    lr = 0.3 * (1 - mu) / (2 * X.multiply(X).sum(axis=1).max())
    l1_step = 3e-5
    alpha = l1_step / lr if case["penalty"] == "l1" else 0.02 / lr
    params = dict(learning_rate=lr, momentum=mu, alpha=alpha, l1_ratio=l1_step / 0.02, **case)
    lazy = _sgd(X, y, schedule="constant", **params)
    eager = _sgd(X, y, schedule="invscaling", power_t=0.0, **params)
    w, b, curve = reference_sgd(X, y, epochs=3, **params)
    assert np.any(w != 0.0)
    if case["penalty"] in ("l1", "elasticnet"):
        assert np.any(w == 0.0)
    np.testing.assert_allclose(lazy.coef_, w, rtol=1e-12, atol=0)
    np.testing.assert_allclose(lazy.intercept_, b, rtol=1e-12)
    np.testing.assert_allclose(lazy.loss_curve_, curve, rtol=1e-12)
    np.testing.assert_allclose(lazy.coef_, eager.coef_, rtol=1e-12, atol=0)
    if case["penalty"] in ("l1", "elasticnet"):
        np.testing.assert_array_equal(lazy.coef_ == 0.0, w == 0.0)


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("penalty", [None, "l2"])
def test_a_long_untouched_stretch_is_caught_up_exactly(nesterov, penalty):
    """A column stored in the first and last of 3000 rows: 2998 steps caught up at once (12 binary powers)."""
    rng = np.random.RandomState(1)
    n = 3000
    dense = np.zeros((n, 3))
    dense[:, 0] = rng.standard_normal(n)
    dense[[0, -1], 1] = [3.0, -2.0]
    dense[::500, 2] = 1.0
    X, y = sp.csr_matrix(dense), dense @ [0.5, 1.0, -1.0] + 0.1 * rng.standard_normal(n)
    params = dict(learning_rate=0.002, momentum=0.95, nesterov=nesterov, penalty=penalty, alpha=0.05, average=1500)
    lazy = _sgd(X, y, epochs=2, **params)
    w, b, _ = reference_sgd(X, y, epochs=2, **params)
    np.testing.assert_allclose(lazy.coef_, w, rtol=1e-12)
    np.testing.assert_allclose(lazy.intercept_, b, rtol=1e-12)
    np.testing.assert_allclose(lazy.coef_, _sgd(dense, y, epochs=2, **params).coef_, rtol=1e-12)


@pytest.mark.parametrize("batch_size", [1, 4])
def test_float32_sparse_momentum_matches_the_numpy_loop(batch_size):
    """The eager loop rounds w and v to float32 every step, the lazy one once per catch-up: equal to that rounding."""
    X, y = _csr_problem(dtype=np.float32)
    lr = 0.3 * 0.1 / (2 * X.multiply(X).sum(axis=1).max())
    params = dict(
        learning_rate=float(lr), momentum=0.9, penalty="elasticnet", alpha=0.02 / lr, l1_ratio=0.0015, average=7
    )
    lazy = _sgd(X, y, batch_size=batch_size, **params)
    w, b, _ = reference_sgd(X, y, epochs=3, batch_size=batch_size, **params)
    assert lazy.coef_.dtype == np.float32
    np.testing.assert_allclose(lazy.coef_, w, rtol=2e-4, atol=1e-6 * np.abs(w).max())
    np.testing.assert_allclose(lazy.intercept_, b, rtol=2e-4)


# ------------------------------------------------------------ loud refusals
def _epoch_call(coef, **overrides):
    """One pass over three dense rows of two features with plain, valid settings, updating ``coef``."""
    X, y, s = np.arange(6.0), np.array([1.0, 2.0, 3.0]), np.ones(3)
    empty_int, empty = np.empty(0, dtype=np.int32), np.empty(0)
    settings = dict(
        loss_code=0,
        loss_param=0.1,
        steps=np.full(1, 0.01),
        l2=0.0,
        l1=0.0,
        momentum=0.0,
        nesterov=False,
        batch_size=1,
        fit_intercept=True,
        average_start=0.0,
    )
    settings.update(overrides)
    order = np.arange(3, dtype=np.int32)
    return sgd_epoch(X, empty_int, empty_int, 2, y, s, order, coef, np.zeros(6), empty, empty, empty, **settings)


def test_batch_size_zero_raises_instead_of_spinning(tmp_path):
    """It once looped forever without the GIL; a child process gets ValueError or is killed after a minute.

    The child runs outside the source tree, so it imports the installed skgd.
    """
    code = textwrap.dedent(
        """
        import numpy as np
        from skgd._sgd_fast import sgd_epoch
        empty_int, empty = np.empty(0, dtype=np.int32), np.empty(0)
        try:
            sgd_epoch(np.ones(2), empty_int, empty_int, 2, np.ones(1), np.ones(1), np.zeros(1, dtype=np.int32),
                      np.zeros(2), np.zeros(6), empty, empty, empty, loss_code=0, loss_param=0.1,
                      steps=np.full(1, 0.1), l2=0.0, l1=0.0, momentum=0.0, nesterov=False,
                      batch_size=0, fit_intercept=True, average_start=0.0)
        except ValueError as error:
            print("ValueError:", error)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ValueError: batch_size must be at least 1")


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(batch_size=-3), "batch_size must be at least 1"),
        (dict(loss_code=N_LOSSES), "Unknown loss code"),
        (dict(loss_code=-1), "Unknown loss code"),
        (dict(steps=np.full(2, 0.01)), r"steps must hold one step for the pass or one per update \(3 for 3"),
        (dict(steps=np.empty(0)), "steps must hold one step for the pass or one per update"),
    ],
)
def test_the_loop_refuses_before_any_work(overrides, message):
    coef = np.zeros(2)
    _epoch_call(coef)  # the valid call trains
    assert np.all(coef != 0.0)
    trained = coef.copy()
    with pytest.raises(ValueError, match=message):
        _epoch_call(coef, **overrides)
    np.testing.assert_array_equal(coef, trained)


# ------------------------------------------------------- int64 sparse indices
def _with_int64_indices(X):
    X = X.copy()
    X.indices, X.indptr = X.indices.astype(np.int64), X.indptr.astype(np.int64)
    return X


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("solver", ["sgd", "batch"])
def test_int64_indices_train_as_int32_ones(fmt, solver):
    X, y = _csr_problem(d=8, density=0.4)
    X = X.asformat(fmt)
    wide = _with_int64_indices(X)
    assert wide.indices.dtype == np.int64
    params = dict(solver=solver, momentum=0.5, max_iter=4, tol=None, random_state=0)
    got = GradientDescentRegressor(**params).fit(wide, y)
    expected = GradientDescentRegressor(**params).fit(X, y)
    np.testing.assert_array_equal(got.coef_, expected.coef_)
    np.testing.assert_array_equal(got.intercept_, expected.intercept_)
    np.testing.assert_array_equal(got.predict(wide), expected.predict(X))


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csr_array])
def test_int32_indices_share_the_data(container):
    X = _with_int64_indices(container(_csr_problem(d=8)[0]))
    narrow = int32_indices(X)
    assert type(narrow) is container
    assert narrow.indices.dtype == narrow.indptr.dtype == np.int32
    assert np.shares_memory(narrow.data, X.data)
    np.testing.assert_array_equal(narrow.toarray(), X.toarray())
    assert int32_indices(narrow) is narrow


def test_sparse_x_int32_cannot_index_is_refused():
    columns = 2**31 + 10
    X = sp.csr_matrix(
        (np.ones(2), np.array([columns - 5, 3], dtype=np.int64), np.array([0, 1, 2], dtype=np.int64)),
        shape=(2, columns),
    )
    with pytest.raises(ValueError, match="int32, so both must be at most 2147483647"):
        GradientDescentRegressor(solver="sgd").fit(X, [1.0, 2.0])


# ------------------------------------------------------------ weights in a stream
STREAMS = {
    "plain": dict(),
    "l2-invscaling": dict(penalty="l2", alpha=0.1, schedule="invscaling", power_t=0.3),
    "momentum-elasticnet-average": dict(momentum=0.6, nesterov=True, penalty="elasticnet", alpha=0.05, average=20),
}


def _stream(X, y, s, rows_per_call, **params):
    """``partial_fit`` over the rows in order, ``rows_per_call`` at a time."""
    settings = dict(solver="sgd", shuffle=False, learning_rate=0.02, schedule="constant")
    reg = GradientDescentRegressor(**{**settings, **params})
    for start in range(0, len(y), rows_per_call):
        stop = start + rows_per_call
        reg.partial_fit(X[start:stop], y[start:stop], sample_weight=s[start:stop])
    return reg


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("params", STREAMS.values(), ids=STREAMS.keys())
def test_a_weighted_stream_does_not_depend_on_its_chunks(params, sparse):
    rng = np.random.RandomState(3)
    X = rng.standard_normal((60, 6)) * (rng.rand(60, 6) < 0.6)
    y = X @ rng.standard_normal(6) + 0.5 + 0.3 * rng.standard_normal(60)
    s = rng.uniform(0.1, 3.0, 60)
    X = sp.csr_matrix(X) if sparse else X
    whole = _stream(X, y, s, 60, **params)
    for rows_per_call in (1, 10):
        chunked = _stream(X, y, s, rows_per_call, **params)
        np.testing.assert_allclose(chunked.coef_, whole.coef_, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(chunked.intercept_, whole.intercept_, rtol=1e-10)
    unweighted = _stream(X, y, np.ones(60), 60, **params)
    assert np.max(np.abs(unweighted.coef_ - whole.coef_)) > 1e-3 * np.max(np.abs(whole.coef_))


@pytest.mark.parametrize("sparse", [False, True])
def test_the_automatic_step_follows_the_raw_weights(sparse):
    """learning_rate="auto" bounds each raw-weighted step: weights 1000 times larger give the same model.

    The per-sample bound grows with the weights, so without a penalty each
    sample's step (weight times step size) is unchanged; and the loss curve,
    a weighted mean, is too.
    """
    rng = np.random.RandomState(4)
    X = rng.standard_normal((80, 5)) * [1.0, 10.0, 0.1, 1.0, 3.0]
    y = X @ rng.standard_normal(5) + 1.0 + 0.1 * rng.standard_normal(80)
    s = rng.uniform(0.2, 5.0, 80)
    X = sp.csr_matrix(X) if sparse else X
    params = dict(solver="sgd", momentum=0.5, shuffle=False, tol=None, max_iter=5)
    light = GradientDescentRegressor(**params).fit(X, y, sample_weight=s)
    heavy = GradientDescentRegressor(**params).fit(X, y, sample_weight=1000.0 * s)
    np.testing.assert_allclose(heavy.coef_, light.coef_, rtol=1e-10)
    np.testing.assert_allclose(heavy.intercept_, light.intercept_, rtol=1e-10)
    np.testing.assert_allclose(heavy.loss_curve_, light.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(heavy.learning_rate_, light.learning_rate_ / 1000.0, rtol=1e-12)
    assert light.loss_curve_[-1] < 0.1 * light.loss_curve_[0]


# ------------------------------------------------------- the conditioned epoch
def _loop_settings(
    *, penalty=None, alpha=1e-4, l1_ratio=0.15, loss="squared_error", epsilon=0.1, schedule="constant", **settings
):
    """The settings ``sgd_pass`` reads, in ``reference_sgd``'s terms, for an in-order pass."""
    defaults = dict(
        power_t=0.5,
        momentum=0.0,
        nesterov=False,
        batch_size=1,
        fit_intercept=True,
        average=0,
    )
    return Settings(
        loss=make_loss(loss, epsilon=epsilon),
        schedule=SCHEDULES[schedule],
        penalty=Penalty.from_params(penalty, alpha, l1_ratio),
        shuffle=False,
        **(defaults | settings),
    )


def _loop_state(d, dtype):
    """The plain record of one target's state that ``sgd_pass`` reads and writes, at zero."""
    return SimpleNamespace(
        coef=np.zeros((1, d), dtype),
        intercept=np.zeros(1),
        momentum=SimpleNamespace(velocity=np.zeros((1, d), dtype), velocity_intercept=np.zeros(1)),
        sgd=SimpleNamespace(
            coef_average=np.zeros((1, d)),
            intercept_average=np.zeros(1),
            l1_applied=np.zeros((1, d)),
            l1_total=np.zeros(1),
            n_averaged=0,
        ),
        t=0,
    )


def _passes(X, y, sample_weight, conditioning, *, epochs, learning_rate, **params):
    """``epochs`` in-order passes of ``sgd_pass`` from zero: the model, and the curve as ``reference_sgd`` defines it.

    The curve's penalty is that of the user's coefficients, ``scale * v``.
    """
    settings = _loop_settings(**params)
    state = _loop_state(X.shape[1], X.dtype)
    rows, curve = LoopRows(X, y[:, None], sample_weight), []
    scale = np.ones(X.shape[1]) if conditioning is None else conditioning.scale
    for _ in range(epochs):
        total = sgd_pass(settings, state, rows, sample_order(X.shape[0]), learning_rate, conditioning)
        curve.append(total / sample_weight.sum() + settings.penalty.value(scale * state.coef)[0])
    own = state.sgd
    model = (own.coef_average, own.intercept_average) if own.n_averaged else (state.coef, state.intercept)
    return model[0][0], model[1][0], curve


def _raw_columns(dtype=np.float64, n=23):
    """Columns with offsets and scales of their own; their mean and 1 / std as the conditioning."""
    rng = np.random.RandomState(7)
    X = rng.standard_normal((n, 6)) * [0.1, 1.0, 10.0, 3.0, 0.5, 2.0] + [100.0, -5.0, 0.0, 1e3, 2.0, -50.0]
    w = rng.standard_normal(6) / [0.1, 1.0, 10.0, 3.0, 0.5, 2.0]
    w[0] = 0.0  # an irrelevant feature, for the L1 penalties to zero
    y = (X - X.mean(axis=0)) @ w + 0.3 + 0.3 * rng.standard_normal(n)
    s = rng.uniform(0.5, 2.0, n)
    conditioning = Conditioning(shift=X.mean(axis=0), scale=1.0 / X.std(axis=0))
    return X.astype(dtype), y.astype(dtype), s, conditioning


PENALTIES = [None, "l2", "l1", "elasticnet"]
CONTROLS = {"plain": dict(), "momentum": dict(momentum=0.7), "nesterov": dict(momentum=0.7, nesterov=True)}


def _conditioned_cases():
    cases = itertools.product([np.float64, np.float32], PENALTIES, CONTROLS, [1, 5], [0, 6])
    for index, (dtype, penalty, control, batch_size, average) in enumerate(cases):
        yield pytest.param(
            dict(
                dtype=dtype,
                penalty=penalty,
                batch_size=batch_size,
                average=average,
                **CONTROLS[control],
                # the remaining options rotate through the cases
                loss=list(LOSSES)[index % len(LOSSES)],
                schedule=PER_UPDATE_SCHEDULES[index % len(PER_UPDATE_SCHEDULES)],
                fit_intercept=index % 5 != 0,
            ),
            id=f"{np.dtype(dtype).name}-{penalty}-{control}-b{batch_size}-avg{average}",
        )


@pytest.mark.parametrize("case", list(_conditioned_cases()))
def test_the_conditioned_epoch_is_the_numpy_loop_on_conditioned_rows(case):
    case = dict(case)
    dtype = case.pop("dtype")
    X, y, s, conditioning = _raw_columns(dtype)
    y = targets_for(case["loss"], y)
    params = dict(learning_rate=0.02, alpha=0.05, l1_ratio=0.4, epsilon=0.3, power_t=0.3, **case)
    v, c, curve = _passes(X, y, s, conditioning, epochs=3, **params)
    w, b, expected = reference_sgd(
        X, y, epochs=3, sample_weight=s, shift=conditioning.shift, scale=conditioning.scale, **params
    )
    assert v.dtype == (dtype if not params["average"] else np.float64)
    rtol, atol = (1e-10, 1e-12) if dtype == np.float64 else (2e-4, 2e-5)
    np.testing.assert_allclose(v, w, rtol=rtol, atol=atol)
    np.testing.assert_allclose(c, b, rtol=rtol, atol=atol)
    np.testing.assert_allclose(curve, expected, rtol=rtol)
    if dtype == np.float64 and case["penalty"] in ("l1", "elasticnet"):
        np.testing.assert_array_equal(v == 0.0, w == 0.0)


@pytest.mark.parametrize("penalty", PENALTIES)
@pytest.mark.parametrize("control", CONTROLS)
@pytest.mark.parametrize("batch_size", [1, 5])
@pytest.mark.parametrize("average", [0, 6])
def test_conditioning_by_zero_and_one_is_the_unconditioned_loop(penalty, control, batch_size, average):
    X, y, s, conditioning = _raw_columns()
    X = (X - conditioning.shift) * conditioning.scale
    identity = Conditioning(shift=np.zeros(6), scale=np.ones(6))
    params = dict(
        learning_rate=0.02,
        alpha=0.05,
        l1_ratio=0.4,
        penalty=penalty,
        batch_size=batch_size,
        average=average,
        **CONTROLS[control],
    )
    v, c, curve = _passes(X, y, s, identity, epochs=3, **params)
    w, b, expected = _passes(X, y, s, None, epochs=3, **params)
    np.testing.assert_allclose(v, w, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c, b, rtol=1e-12)
    np.testing.assert_allclose(curve, expected, rtol=1e-12)


def _scaled_csr_cases():
    schedules = ["constant", *PER_UPDATE_SCHEDULES]
    cases = itertools.product([np.float64, np.float32], PENALTIES, CONTROLS, [1, 4], [0, 7], [False, True])
    for index, (dtype, penalty, control, batch_size, average, weighted) in enumerate(cases):
        yield pytest.param(
            dict(
                dtype=dtype,
                penalty=penalty,
                batch_size=batch_size,
                average=average,
                weighted=weighted,
                **CONTROLS[control],
                # the remaining options rotate through the cases
                loss=list(LOSSES)[index % len(LOSSES)],
                schedule=schedules[index % len(schedules)],
                fit_intercept=index % 5 != 0,
            ),
            id=f"{np.dtype(dtype).name}-{penalty}-{control}-b{batch_size}-avg{average}-w{int(weighted)}",
        )


@pytest.mark.parametrize("case", list(_scaled_csr_cases()))
def test_the_scaled_csr_epoch_is_the_numpy_loop_on_scaled_rows(case):
    """CSR rows in the coordinates ``z = x * scale`` (uncentred) equal the NumPy loop on those rows.

    Every column has its own L2 shrink, so the columns a batch does not store
    are caught up lazily by their own map (a constant step, equal weights) or
    take every step (a decaying step or unequal weights with L2); either way
    the passes equal the eager reference to rounding. The cumulative L1
    penalty (threshold ``u * scale_j``) touches the batch's stored columns, as
    on unscaled CSR rows; averaging starts inside the first pass.
    """
    case = dict(case)
    dtype, weighted = case.pop("dtype"), case.pop("weighted")
    X, y = _csr_problem(dtype=dtype)
    y = targets_for(case["loss"], y)
    # Jacobi's scales as Conditioning.from_moments makes them for sparse rows (an L2 part of 0.05):
    # each column's L2 shrink a step is then at most eta * l2 * scale_j**2 <= 0.01 * 0.5 / 0.05.
    scale = 1.0 / np.sqrt(np.asarray(X.multiply(X).mean(axis=0), dtype=np.float64).ravel() + 0.05)
    conditioning = Conditioning(shift=np.zeros(X.shape[1]), scale=scale)
    s = make_weights(X.shape[0]) if weighted else np.ones(X.shape[0])
    params = dict(learning_rate=0.01, alpha=0.5, l1_ratio=0.5, epsilon=0.3, power_t=0.3, **case)
    v, c, curve = _passes(X, y, s, conditioning, epochs=3, **params)
    w, b, expected = reference_sgd(X, y, epochs=3, sample_weight=s, scale=scale, **params)
    assert np.any(w != 0.0)
    rtol, atol = (1e-10, 1e-12) if dtype == np.float64 else (2e-4, 2e-5)
    np.testing.assert_allclose(v, w, rtol=rtol, atol=atol * np.abs(w).max())
    np.testing.assert_allclose(c, b, rtol=rtol, atol=atol)
    np.testing.assert_allclose(curve, expected, rtol=rtol)
    if dtype == np.float64 and case["penalty"] in ("l1", "elasticnet"):
        np.testing.assert_array_equal(v == 0.0, w == 0.0)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_a_long_untouched_scaled_stretch_is_caught_up_exactly(momentum):
    """A column stored in the first and last of 3000 rows takes 2998 L2 shrinks of its own at once."""
    rng = np.random.RandomState(1)
    n = 3000
    dense = np.zeros((n, 3))
    dense[:, 0] = rng.standard_normal(n)
    dense[[0, -1], 1] = [3.0, -2.0]
    dense[::500, 2] = 100.0
    X, y = sp.csr_matrix(dense), dense @ [0.5, 1.0, -0.01] + 0.1 * rng.standard_normal(n)
    conditioning = Conditioning(shift=np.zeros(3), scale=np.array([1.0, 30.0, 0.05]))
    params = dict(learning_rate=0.002, momentum=momentum, penalty="l2", alpha=0.01, average=1500)
    v, c, _ = _passes(X, y, np.ones(n), conditioning, epochs=2, **params)
    w, b, _ = reference_sgd(X, y, epochs=2, scale=conditioning.scale, **params)
    np.testing.assert_allclose(v, w, rtol=1e-11)
    np.testing.assert_allclose(c, b, rtol=1e-11)


@pytest.mark.parametrize(
    "X, shift, scale, message",
    [
        (sp.csr_matrix(np.eye(3)), np.ones(3), np.ones(3), "shift centres dense rows; CSR rows take a scale alone"),
        (sp.csr_matrix(np.eye(3)), np.zeros(3), np.ones(2), "scale must have n_features=3 elements; got 2"),
        (np.eye(3), np.zeros(3), np.ones(2), "both have n_features=3 elements; got 3 and 2"),
        (np.eye(3), np.zeros(3), None, "got 3 and 0"),
    ],
)
def test_conditioning_is_refused_where_it_does_not_apply(X, shift, scale, message):
    settings, state = _loop_settings(), _loop_state(3, np.float64)
    rows = LoopRows(X, np.ones((3, 1)), np.ones(3))
    with pytest.raises(ValueError, match=message):
        sgd_pass(settings, state, rows, sample_order(3), 0.1, Conditioning(shift=shift, scale=scale))
    np.testing.assert_array_equal(state.coef, 0.0)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("loss_name", list(LOSSES))
def test_the_compiled_loss_sum_is_the_objectives_pass(loss_name, sparse):
    """``loss_sum`` equals the NumPy pass's weighted loss sum; a zero-weight row's NaN target is never read."""
    X, y = _csr_problem(n=80, d=30)
    X = X if sparse else X.toarray()
    loss, y = make_loss(loss_name, **LOSS_PARAMS), targets_for(loss_name, y)
    rng = np.random.RandomState(1)
    s, coef, intercept = rng.uniform(0.5, 2.0, 80), rng.standard_normal(30) / 20, 0.3
    s[5] = 0.0  # a held-out row
    expected, _, _ = loss_gradient_sums(loss, X, y[:, None], s, coef[None, :], np.array([intercept]), gradient=False)
    y[5] = np.nan
    rows = LoopRows(X, y[:, None], s)
    total = loss_sum(
        *rows.arrays, 30, rows.targets[0], rows.weights, coef, intercept, loss_code=loss.code, loss_param=loss.parameter
    )
    np.testing.assert_allclose(total, expected[0], rtol=1e-13)


# ------------------------------------------------------------- the two builds
def _avx2_build():
    """The AVX2 build where this CPU runs it and this installation has it, else skip."""
    if not _sgd_fast.cpu_has_avx2():
        pytest.skip("this CPU has no AVX2")
    return pytest.importorskip("skgd._sgd_fast_avx2", reason="this build has no AVX2 loop (not x86-64, or MSVC)")


@settings(max_examples=40, deadline=None, database=None)
@given(
    sparse=st.booleans(),
    dtype=st.sampled_from([np.float64, np.float32]),
    loss_name=st.sampled_from(["squared_error", "huber", "epsilon_insensitive", "quantile", "poisson"]),
    penalty=st.sampled_from([None, "l2", "l1", "elasticnet"]),
    momentum=st.sampled_from([0.0, 0.9]),
    average=st.booleans(),
    batch_size=st.sampled_from([1, 7]),
    shuffle=st.booleans(),
    learning_rate=st.sampled_from([5e-7, "auto"]),  # the safe step is 1e-6
    fit_intercept=st.booleans(),
)
def test_the_avx2_build_fits_bitwise_as_the_portable_one(
    sparse, dtype, loss_name, penalty, momentum, average, batch_size, shuffle, learning_rate, fit_intercept
):
    """Same coefficients, intercept, epochs and loss curve, bit for bit, on raw columns (norms 1e-2...1e2, offset 2)."""
    avx2 = _avx2_build()
    X, y = _csr_problem(n=90, d=14, density=0.3, seed=2)
    X = X if sparse else X.toarray() + 2.0
    y = targets_for(loss_name, y)
    params = dict(loss=loss_name, penalty=penalty, alpha=1e-3, momentum=momentum, average=average)
    params.update(batch_size=batch_size, shuffle=shuffle, learning_rate=learning_rate, fit_intercept=fit_intercept)
    fits = []
    for build in (_sgd_fast, avx2):
        with pytest.MonkeyPatch.context() as patch:
            for name in ("loss_sum", "sgd_epoch", "shuffle"):
                patch.setattr(sgd_module, name, getattr(build, name))
            reg = GradientDescentRegressor(solver="sgd", max_iter=5, tol=None, random_state=0, **params)
            fits.append(reg.fit(X.astype(dtype), y.astype(dtype)))
    portable, fast = fits
    assert fast.coef_.tobytes() == portable.coef_.tobytes()
    assert np.asarray(fast.intercept_).tobytes() == np.asarray(portable.intercept_).tobytes()
    assert (fast.n_iter_, fast.loss_curve_) == (portable.n_iter_, portable.loss_curve_)


def test_the_loop_is_the_avx2_build_where_the_cpu_runs_it(monkeypatch):
    """Where the CPU has AVX2 and the build has it, sgd runs it; without either, the portable build."""
    avx2 = _avx2_build()
    assert _sgd_loop.LOOP is avx2 and sgd_module.sgd_epoch is avx2.sgd_epoch
    monkeypatch.setattr(_sgd_fast, "cpu_has_avx2", lambda: False)
    assert _sgd_loop._fastest() is _sgd_fast
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "skgd._sgd_fast_avx2", None)  # an installation without it
    monkeypatch.delattr(skgd, "_sgd_fast_avx2")
    assert _sgd_loop._fastest() is _sgd_fast
