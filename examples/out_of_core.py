"""Out of core: fit an array larger than this machine's memory, reading it once.

X is generated lazily, block by block, on a dask cluster and never stored:
``--rows`` rows of ``--features`` float32 columns (10**9 x 8 is 32 GB) with
``y = X @ w + 0.5 + noise``. ``GradientDescentRegressor`` with squared error
and the batch solver reads each block once for its sufficient statistics (the
blocks are generated, reduced to a d x d summary and dropped), then runs its
epochs locally. The script reports rows per second, the peak memory of the
cluster's processes and of this one, and how close the fit is to ``w``.

Run ``python examples/out_of_core.py`` for a small size (seconds), or
``--rows 1000000000`` for 32 GB of float32. ``--scheduler ADDRESS`` uses a
running cluster instead of starting a 2-worker LocalCluster.
"""

import argparse
import resource
import time

import dask.array as da
import numpy as np
from distributed import Client, LocalCluster
from distributed.diagnostics import MemorySampler

from skgd import GradientDescentRegressor


def lazy_data(rows, features, chunk_rows, seed=0):
    """A lazily generated regression problem and its true coefficients."""
    rng = da.random.default_rng(seed)
    w = np.linspace(-2.0, 2.0, features)
    X = rng.standard_normal((rows, features), chunks=(chunk_rows, features), dtype=np.float32)
    noise = rng.standard_normal(rows, chunks=chunk_rows, dtype=np.float32)
    y = X @ w.astype(np.float32) + np.float32(0.5) + np.float32(0.1) * noise
    return X, y, w


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--chunk-rows", type=int, default=1_000_000)
    parser.add_argument("--memory-limit", default="4GiB", help="per worker of the LocalCluster")
    parser.add_argument("--scheduler", help="address of a running dask scheduler")
    args = parser.parse_args(argv)

    if args.scheduler:
        client = Client(args.scheduler)
    else:
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, memory_limit=args.memory_limit, dashboard_address=None
        )
        client = Client(cluster)
    try:
        X, y, w = lazy_data(args.rows, args.features, args.chunk_rows)
        size = f"{args.rows:,} x {args.features} float32 = {X.nbytes / 1e9:.1f} GB"
        print(f"X: {size}, in {X.numblocks[0]} blocks, never stored")
        sampler = MemorySampler()
        reg = GradientDescentRegressor()
        with sampler.sample("fit", interval=0.25):
            start = time.perf_counter()
            reg.fit(X, y)
            elapsed = time.perf_counter() - start
        cluster_peak = sampler.to_pandas()["fit"].max() / 1e9
        client_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        error = float(np.max(np.abs(reg.coef_ - w)))
        print(f"rows:                  {args.rows:,}")
        print(f"time:                  {elapsed:.1f} s")
        print(f"rows per second:       {args.rows / elapsed:,.0f}")
        print(f"peak cluster memory:   {cluster_peak:.2f} GB (all worker processes)")
        print(f"peak client memory:    {client_peak:.2f} GB")
        print(f"epochs (local, O(d^2)): {reg.n_iter_}")
        print(f"max |coef - w|:        {error:.2e}; intercept {float(reg.intercept_):.4f} (true 0.5)")
    finally:
        client.close()
        if not args.scheduler:
            cluster.close()


if __name__ == "__main__":
    main()
