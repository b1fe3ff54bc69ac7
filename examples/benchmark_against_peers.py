"""Benchmark: skgd against its peers, measured side by side in one run.

Each scenario fits the same data with skgd and with the estimators people use
today, and prints time, the ratio against skgd (peer time / skgd time, so
above 1 means skgd is faster) and the final objective, the note's mean squared
error. A last table shows how each solver's time grows with n (n, 2n, 4n).

- SGD, dense and sparse: skgd ``solver="sgd"`` against ``SGDRegressor`` doing
  the same steps (``eta0 = 2 * learning_rate``: its squared loss is halved);
  then both shuffled (the default), each in its own sample order.
- Mini-batch SGD: against ``MLPRegressor(hidden_layer_sizes=())``, a linear
  model trained by its SGD optimizer.
- Full batch, squared loss: skgd ``solver="batch"`` (sufficient statistics,
  O(d^2) per epoch) against the plain two-pass NumPy loop doing the same
  steps, ``Ridge(solver="cholesky")``, ``LinearRegression`` and, when torch
  is installed, ``torch.optim.SGD`` on tensors.
- Time to accuracy on raw data (``benchmark_time_to_accuracy.py``): default
  batch fits against LinearRegression, scipy's L-BFGS-B (huber) and Lasso,
  each peer timed to the objective gap the default fit reaches.
- Ctrl-C inside one long epoch: the time from SIGINT (sent by a thread half-way
  through a default one-epoch sgd fit, float32) to the fit's KeyboardInterrupt,
  against the time the epoch would have kept running.
- At the memory limit: an sgd epoch (the time ``max_iter=6`` adds to
  ``max_iter=1``, over 5) against one ``X @ w`` read of the same X, in order
  and with its rows gathered in a shuffled order, block by block; and the
  centred sufficient statistics of the batch rows against one ``X.T @ X``.
- Wide sparse: a default batch fit with an L2 penalty (alpha=1e-4) on 5 000 x 1 000 000 CSR
  with 25 000 non-zeros against ``Ridge(solver="sparse_cg")`` on the same
  objective (its ``alpha`` is ``n * alpha / 2``).
- Threads: ``GridSearchCV(n_jobs=2)`` over eight sgd settings under joblib's
  threading backend, against ``n_jobs=1`` (the compiled loop releases the GIL),
  both with one BLAS thread per fit.

Run ``python examples/benchmark_against_peers.py`` for small sizes (seconds)
or ``--full`` for the sizes quoted in the README (a minute or two);
``--tiny`` (what the tests run) times each fit once, at the smallest sizes
that still take every solver (the batch rows use the Gram solver).
"""

import argparse
import os
import signal
import sys
import threading
import time
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from joblib import parallel_backend
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, Ridge, SGDRegressor
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPRegressor
from threadpoolctl import threadpool_limits

from skgd import GradientDescentRegressor
from skgd._moments import SufficientStatistics

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling example with the time-to-accuracy rows
from benchmark_time_to_accuracy import main as time_to_accuracy  # noqa: E402

SIZES = {
    "tiny": dict(
        sgd=(2_000, 10),
        sparse=(2_000, 500),
        batch=(5_000, 20),
        wide=(500, 20_000, 1_000),
        epochs=200,
        grid=(1_000, 10),
        interrupt=(20_000, 10),
    ),
    "small": dict(
        sgd=(10_000, 20),
        sparse=(10_000, 2_000),
        batch=(40_000, 50),
        wide=(2_000, 100_000, 10_000),
        epochs=200,
        grid=(5_000, 20),
        interrupt=(300_000, 50),
    ),
    "full": dict(
        sgd=(100_000, 50),
        sparse=(100_000, 10_000),
        batch=(400_000, 100),
        wide=(5_000, 1_000_000, 25_000),
        epochs=200,
        grid=(200_000, 50),
        interrupt=(3_000_000, 100),
    ),
}
SGD_STEPS = dict(learning_rate=1e-4, schedule="constant", shuffle=False, tol=None, max_iter=5, penalty=None)


#: At most this many timings of each fit (None: as each scenario asks); --tiny sets 1.
MAX_REPEAT = None


def _repeats(repeat):
    return repeat if MAX_REPEAT is None else min(repeat, MAX_REPEAT)


def timed(fit, repeat=3):
    """Best wall time of ``repeat`` calls of ``fit`` and its last result."""
    best, result = np.inf, None
    for _ in range(_repeats(repeat)):
        start = time.perf_counter()
        result = fit()
        best = min(best, time.perf_counter() - start)
    return best, result


def timed_pair(fit, peer_fit, repeat=5):
    """``timed`` for two fits, called in turn: a slower spell of a shared
    machine then falls on both, not on one of them."""
    times, results = [[], []], [None, None]
    for _ in range(_repeats(repeat)):
        for k, f in enumerate((fit, peer_fit)):
            start = time.perf_counter()
            results[k] = f()
            times[k].append(time.perf_counter() - start)
    return (min(times[0]), results[0]), (min(times[1]), results[1])


def objective(X, y, coef, intercept):
    """The note's objective: mean squared error of the linear model."""
    residual = np.asarray(X @ np.ravel(coef)).ravel() + float(np.ravel(intercept)[0]) - y
    return float(np.mean(residual**2))


def linear_data(n, d, seed=0, density=None):
    """y = X w + 0.1 noise, dense or CSR."""
    rng = np.random.RandomState(seed)
    if density is None:
        X = rng.standard_normal((n, d))
    else:
        X = sp.random(n, d, density=density, format="csr", random_state=rng)
    y = np.asarray(X @ rng.standard_normal(d)).ravel() + 0.1 * rng.standard_normal(n)
    return X, y


def row(table, scenario, name, seconds, reference, value, note=""):
    """Append one result; the ratio is this peer's time over skgd's."""
    table.append(
        (scenario, name, seconds, reference / seconds if name.startswith("skgd") else seconds / reference, value, note)
    )


def sgd_scenario(table, X, y, scenario, fit_intercept=True, shuffle=False):
    lr = SGD_STEPS["learning_rate"]
    ours = GradientDescentRegressor(solver="sgd", fit_intercept=fit_intercept, **{**SGD_STEPS, "shuffle": shuffle})
    peer = SGDRegressor(
        eta0=2 * lr,
        learning_rate="constant",
        penalty=None,
        alpha=0.0,
        shuffle=shuffle,
        tol=None,
        max_iter=SGD_STEPS["max_iter"],
        fit_intercept=fit_intercept,
        random_state=0,
    )
    (t_ours, ours), (t_peer, peer) = timed_pair(lambda: ours.fit(X, y), lambda: peer.fit(X, y))
    gap = float(np.max(np.abs(ours.coef_ - peer.coef_)))
    row(table, scenario, "skgd sgd", t_ours, t_ours, objective(X, y, ours.coef_, ours.intercept_))
    # Shuffled, each draws its own order: the same work, not the same steps.
    row(
        table,
        scenario,
        "SGDRegressor",
        t_peer,
        t_ours,
        objective(X, y, peer.coef_, peer.intercept_),
        "own sample order" if shuffle else f"max |coef diff| {gap:.1e}",
    )


def minibatch_scenario(table, X, y):
    lr, batch, epochs = 1e-3, 32, 5
    ours = GradientDescentRegressor(
        solver="sgd", learning_rate=lr, batch_size=batch, schedule="constant", shuffle=False, tol=None, max_iter=epochs
    )
    t_ours, ours = timed(lambda: ours.fit(X, y))
    # MLPRegressor minimises half the mean squared error: same steps at twice the rate.
    peer = MLPRegressor(
        hidden_layer_sizes=(),
        solver="sgd",
        learning_rate_init=2 * lr,
        momentum=0.0,
        alpha=0.0,
        batch_size=batch,
        shuffle=False,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t_peer, peer = timed(lambda: peer.fit(X, y))
    scenario = f"mini-batch {batch} {X.shape[0]}x{X.shape[1]}"
    row(table, scenario, "skgd sgd", t_ours, t_ours, objective(X, y, ours.coef_, ours.intercept_))
    row(table, scenario, "MLPRegressor", t_peer, t_ours, objective(X, y, peer.coefs_[0].ravel(), peer.intercepts_[0]))


def numpy_loop(X, y, lr, epochs):
    """The plain two-pass gradient-descent loop, as the note writes it, vectorised."""
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(epochs):
        r = X @ w + b - y
        w = w - lr * (2.0 / len(y)) * (X.T @ r)
        b = b - lr * 2.0 * r.mean()
    return w, b


def torch_loop(X, y, lr, epochs):
    """Full-batch torch.optim.SGD on tensors, the same steps."""
    import torch

    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    w = torch.zeros(X.shape[1], dtype=Xt.dtype, requires_grad=True)
    b = torch.zeros(1, dtype=Xt.dtype, requires_grad=True)
    opt = torch.optim.SGD([w, b], lr=lr)
    for _ in range(epochs):
        opt.zero_grad()
        loss = ((Xt @ w + b - yt) ** 2).mean()
        loss.backward()
        opt.step()
    return w.detach().numpy(), b.detach().numpy()


def batch_scenario(table, X, y, epochs):
    scenario = f"batch {X.shape[0]}x{X.shape[1]}, {epochs} epochs"
    ours = GradientDescentRegressor(solver="batch", tol=None, max_iter=epochs)
    ridge = Ridge(solver="cholesky", alpha=1e-12)
    (t_ours, ours), (t_ridge, ridge) = timed_pair(lambda: ours.fit(X, y), lambda: ridge.fit(X, y), repeat=3)
    lr = ours.learning_rate_
    row(table, scenario, "skgd batch", t_ours, t_ours, objective(X, y, ours.coef_, ours.intercept_))
    t_np, (w, b) = timed(lambda: numpy_loop(X, y, lr, epochs), repeat=1)
    row(
        table,
        scenario,
        "NumPy two-pass loop",
        t_np,
        t_ours,
        objective(X, y, w, b),
        f"max |coef diff| {np.max(np.abs(w - ours.coef_)):.1e}",
    )
    row(
        table,
        scenario,
        "Ridge(cholesky)",
        t_ridge,
        t_ours,
        objective(X, y, ridge.coef_, ridge.intercept_),
        "closed form",
    )
    t_ols, ols = timed(lambda: LinearRegression().fit(X, y), repeat=2)
    row(table, scenario, "LinearRegression", t_ols, t_ours, objective(X, y, ols.coef_, ols.intercept_), "closed form")
    try:
        import torch  # noqa: F401
    except ImportError:
        table.append((scenario, "torch.optim.SGD", np.nan, np.nan, np.nan, "torch not installed"))
    else:
        t_torch, (w, b) = timed(lambda: torch_loop(X, y, lr, epochs), repeat=1)
        row(table, scenario, "torch.optim.SGD", t_torch, t_ours, objective(X, y, w, b), "CPU, same steps")


def threads_scenario(table, X, y):
    grid = {"learning_rate": [1e-4, 3e-4, 1e-3, 3e-3], "batch_size": [1, 4]}
    base = GradientDescentRegressor(solver="sgd", schedule="constant", tol=None, max_iter=5)

    def search(n_jobs):
        # One BLAS thread per fit, as joblib's process backend sets it: after a
        # call (the scoring's predict), OpenBLAS's idle threads spin, and a
        # spinning thread takes the core the other fit's loop runs on.
        with threadpool_limits(limits=1, user_api="blas"), parallel_backend("threading", n_jobs=n_jobs):
            return GridSearchCV(base, grid, cv=2, n_jobs=n_jobs, refit=False).fit(X, y)

    (t_one, _), (t_two, _) = timed_pair(lambda: search(1), lambda: search(2), repeat=3)
    scenario = f"GridSearchCV 8 sgd settings {X.shape[0]}x{X.shape[1]}"
    table.append((scenario, "skgd n_jobs=2 (threads)", t_two, t_one / t_two, np.nan, "speed-up over n_jobs=1"))
    table.append((scenario, "skgd n_jobs=1", t_one, 1.0, np.nan, ""))


def epoch_seconds(X, y, shuffle):
    """One sgd epoch's seconds: what five more epochs add to a one-epoch fit, over 5."""
    fits = [
        partial(
            GradientDescentRegressor(**{**SGD_STEPS, "max_iter": epochs, "shuffle": shuffle}, solver="sgd").fit, X, y
        )
        for epochs in (1, 6)
    ]
    return (timed(fits[1], repeat=5)[0] - timed(fits[0], repeat=5)[0]) / 5


def shuffled_read(X, w, order, rows=4096):
    """``X @ w`` over the rows in ``order``, gathered block by block (a shuffled read of X)."""
    return np.concatenate([X[order[start : start + rows]] @ w for start in range(0, len(order), rows)])


def limits_scenario(table, X, y, Xb, yb):
    """An sgd epoch against one read of X; the centred statistics against one ``X.T @ X``."""
    w, order = np.ones(X.shape[1]), np.random.RandomState(0).permutation(X.shape[0])
    scenario = f"sgd epoch vs X @ w {X.shape[0]}x{X.shape[1]}"
    for shuffle, name, read in (
        (False, "in order", lambda: X @ w),
        (True, "shuffled", lambda: shuffled_read(X, w, order)),
    ):
        # The loop is one core's sequential pass: its limit is one core's read (BLAS's threads shown beside it).
        epoch, (threaded, _) = epoch_seconds(X, y, shuffle), timed(read, repeat=5)
        with threadpool_limits(limits=1, user_api="blas"):
            gemv, _ = timed(read, repeat=5)
        note = f"one read {gemv * 1e3:.2f} ms on 1 thread, {threaded * 1e3:.2f} ms on BLAS's"
        table.append((scenario, f"skgd epoch, {name}", epoch, gemv / epoch, np.nan, note))
    scenario = f"centred statistics {Xb.shape[0]}x{Xb.shape[1]}"
    weights = np.ones(Xb.shape[0])
    (t_stats, _), (t_gram, _) = timed_pair(
        lambda: SufficientStatistics.of(Xb, yb[:, None], weights), lambda: Xb.T @ Xb, repeat=3
    )
    table.append((scenario, "skgd statistics", t_stats, t_gram / t_stats, np.nan, f"X.T @ X {t_gram * 1e3:.1f} ms"))


def wide_scenario(table, n, d, nnz, alpha=1e-4):
    """A default batch fit on wide CSR rows against Ridge's conjugate gradients on the same objective."""
    rng = np.random.RandomState(0)
    X = sp.csr_matrix((rng.standard_normal(nnz), (rng.randint(0, n, nnz), rng.randint(0, d, nnz))), shape=(n, d))
    y = X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)

    def penalised(model):
        return objective(X, y, model.coef_, model.intercept_) + 0.5 * alpha * float(model.coef_ @ model.coef_)

    ours = GradientDescentRegressor(solver="batch", penalty="l2", alpha=alpha)
    ridge = Ridge(alpha=n * alpha / 2, solver="sparse_cg")
    (t_ours, ours), (t_ridge, ridge) = timed_pair(lambda: ours.fit(X, y), lambda: ridge.fit(X, y), repeat=3)
    scenario = f"wide CSR {n}x{d}, {nnz} non-zeros"
    row(table, scenario, "skgd batch", t_ours, t_ours, penalised(ours), f"{ours.n_iter_} epochs, {ours.stop_reason_}")
    row(table, scenario, "Ridge(sparse_cg)", t_ridge, t_ours, penalised(ridge), "objective with the penalty")


def interrupt_scenario(table, n, d):
    """Seconds from SIGINT, sent half-way through a (warm) one-epoch fit, to its KeyboardInterrupt."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d), dtype=np.float32)
    y = X @ rng.standard_normal(d).astype(np.float32)
    reg = GradientDescentRegressor(solver="sgd", tol=None, max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        epoch, _ = timed(lambda: reg.fit(X, y), repeat=2)  # the second fit is warm, as the timed one is
        sent = []

        def send():
            time.sleep(epoch / 2)
            sent.append(time.perf_counter())
            os.kill(os.getpid(), signal.SIGINT)

        # Python's own handler, which raises KeyboardInterrupt, whatever an earlier row left installed.
        handler = signal.signal(signal.SIGINT, signal.default_int_handler)
        sender = threading.Thread(target=send)
        sender.start()
        start = time.perf_counter()
        try:
            reg.fit(X, y)
            ended = time.perf_counter() - start
            sender.join()  # the fit ended first: the signal lands here
            latency, note = np.nan, f"the fit ended ({ended:.2f} s) before the signal (due at {epoch / 2:.2f} s)"
        except KeyboardInterrupt:
            latency = time.perf_counter() - sent[0]
            note = f"one-epoch fit {epoch:.2f} s"
        sender.join()
        signal.signal(signal.SIGINT, handler)
    if handler is not signal.default_int_handler:
        note += f" (SIGINT's handler was {handler!r})"
    scenario = f"Ctrl-C in an sgd epoch {n}x{d} f32"
    table.append((scenario, "skgd sgd (latency)", latency, epoch / 2 / latency, np.nan, note))


def scaling(sizes):
    """Seconds per fit at n, 2n, 4n for each solver."""
    lines = []
    n, d = sizes["sgd"]
    for name, params in (
        ("skgd sgd", dict(solver="sgd", **SGD_STEPS)),
        ("skgd batch (Gram)", dict(solver="batch", tol=None, max_iter=sizes["epochs"])),
        ("skgd batch (streaming, huber)", dict(solver="batch", loss="huber", tol=None, max_iter=20)),
    ):
        times = []
        for factor in (1, 2, 4):
            X, y = linear_data(n * factor, d)
            fit = partial(GradientDescentRegressor(**params).fit, X, y)
            times.append(timed(fit, repeat=2)[0])
        lines.append((name, times))
    return n, lines


#: The groups of rows ``--only`` picks from, in the order they run.
GROUPS = ("sgd", "minibatch", "sparse", "batch", "wide", "limits", "threads", "interrupt", "scaling", "accuracy")


def main(size="small", only=GROUPS):
    sizes = SIZES[size]
    table = []
    X, y = linear_data(*sizes["sgd"])
    if "sgd" in only:
        sgd_scenario(table, X, y, f"sgd dense {X.shape[0]}x{X.shape[1]}, 5 epochs")
        sgd_scenario(table, X, y, f"sgd dense {X.shape[0]}x{X.shape[1]}, shuffled", shuffle=True)
    if "minibatch" in only:
        minibatch_scenario(table, X, y)
    if "sparse" in only:
        n, d = sizes["sparse"]
        Xs, ys = linear_data(n, d, density=0.005)
        # SGDRegressor damps the intercept's steps on sparse data (intercept_decay=0.01):
        # without an intercept both take exactly the same steps.
        sgd_scenario(table, Xs, ys, f"sgd CSR {n}x{d} 0.5%, 5 epochs, no b", fit_intercept=False)
    if "batch" in only:
        X, y = linear_data(*sizes["batch"])
        batch_scenario(table, X, y, sizes["epochs"])
    if "wide" in only:
        wide_scenario(table, *sizes["wide"])
    if "limits" in only:
        limits_scenario(table, *linear_data(*sizes["sgd"]), *linear_data(*sizes["batch"]))
    if "threads" in only:
        X, y = linear_data(*sizes["grid"])
        threads_scenario(table, X, y)
    if "interrupt" in only:
        interrupt_scenario(table, *sizes["interrupt"])

    print(f"{'scenario':<40} {'estimator':<26} {'seconds':>9} {'ratio':>7} {'objective':>12}  note")
    for scenario, name, seconds, ratio, value, note in table:
        print(f"{scenario:<40} {name:<26} {seconds:>9.4f} {ratio:>7.2f} {value:>12.6g}  {note}")
    print(
        "ratio: peer seconds / skgd seconds (above 1: skgd faster); for threads, the speed-up; for Ctrl-C, "
        "the half epoch left over the latency; for an epoch or the statistics, the one read's time over theirs "
        "(an epoch's: on one thread)."
    )
    if "scaling" in only:
        n, lines = scaling(sizes)
        print(f"\n{'time growth with n':<32} {'n=' + str(n):>12} {'2n':>10} {'4n':>10}")
        for name, times in lines:
            print(f"{name:<32} {times[0]:>12.4f} {times[1]:>10.4f} {times[2]:>10.4f}")
    if "accuracy" in only:
        print("\nTime to accuracy on raw data: default fits against the best peer at the gap they reach")
        time_to_accuracy(size)
    return table


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--full", action="store_true", help="the README's sizes (slower)")
    sizes.add_argument("--tiny", action="store_true", help="the smallest sizes, each fit timed once (the tests' run)")
    parser.add_argument("--out", default=None, help="unused; accepted like every example's")
    parser.add_argument(
        "--only", default=",".join(GROUPS), help=f"comma-separated groups of rows to run, of {', '.join(GROUPS)} (all)"
    )
    args = parser.parse_args()
    if args.tiny:
        MAX_REPEAT = 1
    main("full" if args.full else "tiny" if args.tiny else "small", only=args.only.split(","))
