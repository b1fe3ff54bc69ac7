"""Search hyper-parameters on a dask cluster with joblib's dask backend.

``GridSearchCV`` fits one model per (candidate, fold); under
``joblib.parallel_backend("dask")`` those fits run on the cluster's workers
(here a 2-worker LocalCluster, or ``--scheduler ADDRESS``) instead of local
processes. Nothing in skgd changes: the estimator is pickled to the workers
and fitted there on in-memory folds. The script checks that the search finds
the same best candidate and scores as the same search run locally.

Run ``python examples/grid_search_dask.py``.
"""

import argparse
import time

import numpy as np
from distributed import Client, LocalCluster, get_task_stream
from joblib import parallel_backend
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skgd import GradientDescentRegressor

GRID = {
    "gradientdescentregressor__solver": ["batch", "sgd"],
    "gradientdescentregressor__loss": ["squared_error", "huber"],
    "gradientdescentregressor__penalty": [None, "l2", "l1"],
}


def make_data(n_samples, n_features=10, seed=0):
    """A linear problem with a few outliers, where huber should win."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features)) * rng.uniform(0.5, 5.0, n_features)
    y = X @ rng.standard_normal(n_features) + 2.0 + 0.3 * rng.standard_normal(n_samples)
    outliers = rng.random(n_samples) < 0.02
    y[outliers] += rng.normal(0.0, 50.0, outliers.sum())
    return X, y


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=2_000)
    parser.add_argument("--scheduler", help="address of a running dask scheduler")
    args = parser.parse_args(argv)

    X, y = make_data(args.n_samples)
    search = GridSearchCV(make_pipeline(StandardScaler(), GradientDescentRegressor(random_state=0)), GRID, cv=3)

    if args.scheduler:
        client = Client(args.scheduler)
    else:
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)
        client = Client(cluster)
    try:
        start = time.perf_counter()
        with parallel_backend("dask"), get_task_stream(client) as tasks:
            search.fit(X, y)
        elapsed = time.perf_counter() - start
        workers = {task["worker"] for task in tasks.data}
    finally:
        client.close()
        if not args.scheduler:
            cluster.close()

    local = GridSearchCV(search.estimator, GRID, cv=3).fit(X, y)
    n_fits = 3 * len(search.cv_results_["params"])
    print(f"{n_fits} fits (candidates x 3 folds) in {elapsed:.1f} s: {len(tasks.data)} tasks on {len(workers)} workers")
    print(f"best: {search.best_params_}")
    print(f"best R^2 (cross-validated): {search.best_score_:.4f}")
    same = local.best_params_ == search.best_params_ and np.allclose(
        local.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"], rtol=1e-12
    )
    print(f"same as the local search: {same}")


if __name__ == "__main__":
    main()
