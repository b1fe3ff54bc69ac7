"""Train on PyTorch tensors: the fit stays in torch, on the GPU when there is one.

With ``sklearn.set_config(array_api_dispatch=True)`` (and ``SCIPY_ARRAY_API=1``
in the environment before scipy is imported, which this script sets),
``GradientDescentRegressor`` fitted on torch tensors computes with torch, on
the tensors' device, and hands back ``coef_``, ``intercept_`` and predictions
as tensors there. The script

- makes a regression problem ``y = X @ w + 0.5 + noise`` as float32 tensors,
  on ``cuda`` when ``torch.cuda.is_available()``, else on the CPU;
- fits the batch solver (squared error through the d x d sufficient
  statistics, and huber reading X every epoch) and mini-batch SGD on them,
  and prints where each fitted model lives and how close it is to ``w``;
- fits the same NumPy arrays on the CPU, times both (the same number of
  epochs, after a warm-up fit) and prints the ratio of CPU to device time;
- draws the tensor fits' loss curves to ``torch_tensors.png`` in ``--out``.

Run: ``python examples/torch_tensors.py [--out DIR] [--n-samples N]
[--n-features D] [--epochs K] [--batch-size B]``.
"""

import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")  # read by scipy when it is imported

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import torch  # noqa: E402

from skgd import GradientDescentRegressor, LossCurveDisplay  # noqa: E402

MODELS = {
    "batch, squared error": dict(solver="batch"),
    "batch, huber": dict(solver="batch", loss="huber", epsilon=1.0),
    "sgd, mini-batches": dict(solver="sgd", random_state=0),
}


def make_data(n_samples, n_features, seed=0):
    """A float32 regression problem and its true coefficients."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features), dtype=np.float32)
    w = np.linspace(-1.0, 1.0, n_features)
    y = (X @ w + 0.5 + 0.1 * rng.standard_normal(n_samples)).astype(np.float32)
    return X, y, w


def timed_fit(params, X, y):
    """Fit and time it (``fit`` returns once the device has finished: it reads the loss)."""
    reg = GradientDescentRegressor(**params)
    start = time.perf_counter()
    reg.fit(X, y)
    return reg, time.perf_counter() - start


def main(out, n_samples, n_features, epochs, batch_size):
    """Fit on tensors and on NumPy arrays, report, and draw the tensor fits' loss curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out) if out else Path(tempfile.mkdtemp(prefix="skgd-examples-"))
    out.mkdir(parents=True, exist_ok=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    X, y, w = make_data(n_samples, n_features)
    X_t, y_t = torch.asarray(X, device=device), torch.asarray(y, device=device)
    print(
        f"device: {device} ({name}); X: {n_samples:,} x {n_features} float32; "
        f"{epochs} epochs per fit; sgd batch_size={batch_size}"
    )

    timings = {}
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, params in MODELS.items():
        params = {**params, "max_iter": epochs, "tol": None}
        if params["solver"] == "sgd":
            params["batch_size"] = batch_size
        with sklearn.config_context(array_api_dispatch=True):
            timed_fit(params, X_t[:1000], y_t[:1000])  # warm-up: kernels, cuBLAS handles
            reg, device_time = timed_fit(params, X_t, y_t)
            prediction = reg.predict(X_t)
            r2 = reg.score(X_t, y_t)
        cpu_reg, cpu_time = timed_fit(params, X, y)
        timings[label] = cpu_time, device_time
        error = float(np.max(np.abs(reg.coef_.cpu().numpy() - w)))
        gap = float(np.max(np.abs(reg.coef_.cpu().numpy() - cpu_reg.coef_)))
        print(
            f"{label:22s} coef_: {type(reg.coef_).__name__} {reg.coef_.dtype} on {reg.coef_.device}; "
            f"predict: {type(prediction).__name__} on {prediction.device}; R2 = {r2:.4f}; "
            f"max |coef - w| = {error:.1e}; max |coef - NumPy fit| = {gap:.1e}"
        )
        LossCurveDisplay.from_estimator(reg, ax=ax, name=label, log_scale=True)
    ax.set_title(f"Loss per epoch, fitted on torch tensors ({device})")
    fig.tight_layout()
    fig.savefig(out / "torch_tensors.png", dpi=110)
    plt.close(fig)

    print(f"\n{'model':22s} {'NumPy, CPU':>12s} {'torch, ' + device:>12s} {'CPU / device':>13s}")
    for label, (cpu_time, device_time) in timings.items():
        print(f"{label:22s} {cpu_time:11.3f}s {device_time:11.3f}s {cpu_time / device_time:12.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="folder for the figure (default: a new temporary folder)")
    parser.add_argument("--n-samples", type=int, default=100_000)
    parser.add_argument("--n-features", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=512, help="of the sgd fit")
    args = parser.parse_args()
    main(args.out, args.n_samples, args.n_features, args.epochs, args.batch_size)
