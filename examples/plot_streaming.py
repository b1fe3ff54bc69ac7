"""Streaming: learn from chunks of data that never sit in memory together, with partial_fit.

What it teaches:

- ``partial_fit`` runs exactly one epoch on the chunk it is given and carries
  everything else (weights, step size, update count, random state) to the
  next call, so a model can learn from data far larger than memory: read a
  chunk, ``partial_fit`` it, drop it;
- each chunk's entry in ``loss_curve_`` is measured *before* the model
  updates on that chunk's samples, so the curve is an honest running estimate
  of the error on data the model has not seen. With averaging it measures the
  running iterate, not the averaged ``coef_`` that predicts, which is better:
  compare the two panels;
- for a stream, a constant step with iterate averaging keeps learning from
  every chunk, and the average cancels SGD's noise: ``schedule="constant",
  average=True`` averages every iterate; the default (adaptive) schedule
  keeps its step in a stream too and adapts the averaging window instead,
  restarting the average where a chunk says the running iterate predicts
  better (a burn-in, or a changed concept: ``stream_prequential.py``);
- a small held-out chunk, kept aside, tracks the error as the stream goes by;
  and since the data are simulated, the excess error over the noise is known
  exactly: ``|coef_ - w|**2 + (intercept_ - b)**2`` for standard-normal features.

The stream here is a generator that draws each chunk when asked for it (a
linear model with noise, 20 features). Reading a large CSV file with
``pandas.read_csv(path, chunksize=...)`` or rows from a database cursor plugs
into the same loop. Scale features with statistics known in advance or learnt
on a first chunk (``StandardScaler.partial_fit``); these are already scaled.

The figure is ``streaming.png``.

Run: ``python examples/plot_streaming.py [--out DIR] [--n-chunks N] [--chunk-size N]``.
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from skgd import GradientDescentRegressor, LossCurveDisplay

N_FEATURES = 20
NOISE = 0.5
TRUE_COEF = np.random.RandomState(0).standard_normal(N_FEATURES)
TRUE_INTERCEPT = 3.0


def stream(n_chunks, chunk_size, seed=1):
    """Yield ``n_chunks`` chunks ``(X, y)`` of ``chunk_size`` rows, each made when asked for."""
    rng = np.random.RandomState(seed)
    for _ in range(n_chunks):
        X = rng.standard_normal((chunk_size, N_FEATURES))
        yield X, X @ TRUE_COEF + TRUE_INTERCEPT + NOISE * rng.standard_normal(chunk_size)


def main(out, n_chunks=60, chunk_size=250):
    """Learn from the stream and write ``streaming.png`` to ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out) if out else Path(tempfile.mkdtemp(prefix="skgd-examples-"))
    out.mkdir(parents=True, exist_ok=True)
    X_held, y_held = next(stream(1, 1000, seed=12345))

    models = {
        "averaged SGD, constant step": GradientDescentRegressor(
            solver="sgd", schedule="constant", average=True, random_state=0
        ),
        "default (adaptive averaging window)": GradientDescentRegressor(solver="sgd", random_state=0),
    }
    excess = {name: [] for name in models}
    for k, (X, y) in enumerate(stream(n_chunks, chunk_size)):
        for name, reg in models.items():
            reg.partial_fit(X, y)
            excess[name].append(float(np.sum((reg.coef_ - TRUE_COEF) ** 2) + (reg.intercept_ - TRUE_INTERCEPT) ** 2))
        if k % 20 == 0 or k == n_chunks - 1:
            reports = (
                f"{name}: held-out MSE {np.mean((reg.predict(X_held) - y_held) ** 2):.4f}, "
                f"step {reg.learning_rate_:.2g}"
                for name, reg in models.items()
            )
            print(f"chunk {k:3d}: " + "; ".join(reports))
    print(f"{n_chunks * chunk_size} rows seen, at most {chunk_size} in memory at once")
    for name, reg in models.items():
        print(f"{name}: excess error {excess[name][-1]:.5f}, held-out R2 {reg.score(X_held, y_held):.4f}")

    fig, (ax_loss, ax_held) = plt.subplots(1, 2, figsize=(11, 4.2))
    chunks = np.arange(1, n_chunks + 1)
    for (name, reg), color in zip(models.items(), ("C0", "C1"), strict=True):
        LossCurveDisplay.from_estimator(reg, ax=ax_loss, name=name, log_scale=True, color=color)
        ax_held.semilogy(chunks, excess[name], color=color, label=name)
    ax_loss.axhline(NOISE**2, color="0.4", linestyle=":", label=f"noise floor ({NOISE**2})")
    for ax in (ax_loss, ax_held):
        ax.legend(loc="upper right")
    ax_loss.set_xlabel("chunk (one partial_fit call = one epoch)")
    ax_loss.set_ylabel("loss_curve_ (before each update)")
    ax_loss.set_title(f"The stream: {n_chunks} chunks of {chunk_size} rows")
    ax_held.set_xlabel("chunks seen")
    ax_held.set_ylabel("excess error over the noise (log scale)")
    ax_held.set_title("After each chunk: distance to the true model")
    fig.tight_layout()
    fig.savefig(out / "streaming.png", dpi=100)
    plt.close(fig)
    print(f"figure written to {(out / 'streaming.png').resolve()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="folder for the figure (default: a new temporary folder)")
    parser.add_argument("--n-chunks", type=int, default=60, help="chunks in the stream")
    parser.add_argument("--chunk-size", type=int, default=250, help="rows per chunk")
    args = parser.parse_args()
    main(args.out, args.n_chunks, args.chunk_size)
