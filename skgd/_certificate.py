"""Evidence that a fit is at its optimum, measured on the full training objective.

A stopping rule (``skgd._training``) watches the loss curve; before a fit
may end silently as converged, this module measures how far the model is from
the optimum of J itself, at the model the call leaves:

- a smooth loss (squared error, huber, squared epsilon-insensitive, the log
  link's deviances): the Newton decrement ``g^T H^+ g / 2``, ``g`` the (for an
  L1 penalty minimal-norm sub)gradient of J and ``H`` its d x d curvature
  matrix at the model (intercept included). For squared error J is a quadratic
  and this is exactly ``J - J*`` (an upper bound with an L1 penalty); for the
  other losses it is the gap of J's local quadratic model, an estimate.
- the quantile, absolute and epsilon-insensitive losses, with any penalty:
  the duality gap of their linear programme (with an elastic net, of its
  dual), ``P - D(alpha)``, from a dual point built on the residuals nearest
  a kink (zero, or epsilon-insensitive's ``+-epsilon``: the basis of the LP's
  vertex). Any feasible dual point makes it an upper bound on ``J - J*``;
  where none is found there is no certificate.

The curvature matrix also gives the step in its own coordinates (Newton's,
damped so that J falls), which a full-batch fit on a smooth loss takes when
the evidence contradicts its rule: the same objective in better coordinates.

Evidence is measured in NumPy (other namespaces' data is copied to the host
for it) from in-memory data or the Gram solver's statistics, with at most
``MAX_FEATURES`` features; for dask arrays and wider X there is none and the
stopping rule alone decides.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.linalg import LinAlgError, cho_factor, cho_solve, lapack
from scipy.optimize import linprog

from ._array_api import get_namespace_and_device, is_dask_array, move_to
from ._reductions import block_gram, row_blocks, symmetrised

#: The most features for which the d x d curvature matrix is formed (one O(n d^2) pass).
MAX_FEATURES = 512

#: Largest violation of the dual constraints (relative, per unit column norm) a dual point may have.
DUAL_TOLERANCE = 1e-8

#: Share of the gradient off the curvature matrix's range that is still rounding.
RANGE_TOLERANCE = 1e-6

#: A scaled curvature matrix whose reciprocal condition estimate (1-norm) exceeds this times
#: ``d**2 * eps`` is solved by its Cholesky factor: all its eigenvalues are then above the
#: ``d * eps`` share of the largest that the eigendecomposition keeps (the estimate may be 3x
#: optimistic, and 2-norm and 1-norm conditions differ by at most ``d``).
CHOLESKY_MARGIN = 10.0

#: The losses whose J is a linear programme, certified by its duality gap (``_quantile_gap``).
LP_LOSSES = ("quantile", "absolute_error", "epsilon_insensitive")

#: Vertices of the quantile LP an active-set search visits from a model (``_quantile_gap``).
VERTEX_PIVOTS = 8

#: Damped steps a Newton step halves through before it gives up (J no longer falls).
MAX_HALVINGS = 30


@dataclass
class Evidence:
    """What the verification measured at a model.

    Parameters
    ----------
    gap : float or None
        An estimate of ``J - J*`` (averaged over targets), or an upper bound on it
        when ``bound``; None where no certificate was found (the LP's dual).
    bound : bool
        Whether ``gap`` is a certificate (an upper bound) rather than an estimate.
    step : tuple or None
        ``(d_coef, d_intercept)``: the step in the curvature matrix's
        coordinates (Newton's), for a smooth loss without an L1 penalty; None otherwise.
    """

    gap: float
    bound: bool
    step: tuple = None


def _host(*arrays, cast=True):
    """The arrays as NumPy arrays (SciPy sparse kept), in float64 when ``cast``, moved to the host if need be."""
    moved = []
    for a in arrays:
        if not (isinstance(a, np.ndarray) or sp.issparse(a)):
            a = move_to(a, xp=np, device="cpu")
        moved.append(a.astype(np.float64) if cast and a.dtype != np.float64 else a)
    return moved


def _numpy_data(solver):
    """``(X, Y, s)`` in NumPy (X in its dtype and sparsity, the others float64) for in-memory data, or None (dask)."""
    data = getattr(solver, "data", None)
    if data is None or is_dask_array(data.X) or data.X.shape[1] > MAX_FEATURES:
        return None
    return (*_host(data.X, cast=False), *_host(data.Y, data.sample_weight))


def measure(solver, coef, intercept):
    """The evidence at ``(coef, intercept)``, or None where none can be measured.

    Parameters
    ----------
    solver : objective or sgd algorithm
        Supplies ``settings`` and its data (``data``, or a Gram objective's ``statistics``).
    coef : ndarray of shape (n_targets, n_features)
        In the user's coordinates.
    intercept : ndarray of shape (n_targets,)

    Returns
    -------
    Evidence or None
    """
    p = solver.settings
    loss, penalty = p.loss, p.penalty
    statistics = getattr(solver, "statistics", None)
    coef, intercept = _host(coef, intercept)
    if statistics is not None:
        if not isinstance(statistics.scatter_xx, np.ndarray) or not isinstance(solver.covariance, np.ndarray):
            return None
        return _combine([_gram_evidence(solver, statistics, coef[k], intercept[k], k) for k in range(coef.shape[0])])
    data = _numpy_data(solver)
    if data is None:
        return None
    X, Y, s = data
    if loss.smooth:
        parts = [
            _smooth_evidence(loss, penalty, p.fit_intercept, X, Y[:, k], s, coef[k], intercept[k])
            for k in range(coef.shape[0])
        ]
        return _combine(parts)
    if loss.name in LP_LOSSES:
        (X,) = _host(X)
        # Each as a pinball loss times a factor: absolute error is twice the median's, epsilon-insensitive
        # twice the median's with a tube of half-width epsilon around the zero residual.
        q, factor, tube = (loss.quantile, 1.0, 0.0) if loss.name == "quantile" else (0.5, 2.0, loss.tube)
        parts = []
        for k in range(coef.shape[0]):
            gap, step = _quantile_gap(
                q,
                penalty.l2 / factor,
                penalty.l1 / factor,
                p.fit_intercept,
                X,
                Y[:, k],
                s,
                coef[k],
                intercept[k],
                tube=tube,
            )
            parts.append(Evidence(None if gap is None else factor * gap, True, step))
        return _combine(parts)
    return None


def _combine(parts):
    """The targets' evidence as one (J is their mean), or None when a target has none."""
    if any(part is None for part in parts):
        return None
    step = None
    if all(part.step is not None for part in parts):
        step = (np.stack([part.step[0] for part in parts]), np.array([part.step[1] for part in parts]))
    gaps = [part.gap for part in parts]
    gap = None if any(g is None for g in gaps) else float(np.mean(gaps))
    return Evidence(gap, all(part.bound for part in parts), step)


def _subgradient(grad, coef, l1):
    """J's minimal-norm subgradient in ``coef`` given the smooth part's gradient and the L1 weight."""
    if l1 == 0.0:
        return grad
    at_zero = np.sign(grad) * np.maximum(np.abs(grad) - l1, 0.0)
    return np.where(coef != 0.0, grad + l1 * np.sign(coef), at_zero)


def _decrement(hessian, gradient):
    """``(g^T H^+ g / 2, -H^+ g)``, H symmetric positive semi-definite, solved in its Jacobi-scaled form.

    By its Cholesky factor where that form is well conditioned, else by its
    eigendecomposition, whose eigenvalues within rounding of zero are dropped.

    ``(inf, None)`` when ``g`` is not in H's range: J's local quadratic model is then unbounded below.
    """
    diagonal = np.diag(hessian).copy()
    diagonal[diagonal <= 0.0] = 1.0
    root = np.sqrt(diagonal)
    scaled = hessian / root[:, None] / root[None, :]
    scaled_gradient = gradient / root
    solved = _well_conditioned_solve(scaled, scaled_gradient)
    if solved is not None:
        return 0.5 * float(scaled_gradient @ solved), -solved / root
    values, vectors = np.linalg.eigh(scaled)
    keep = values > max(values[-1], 0.0) * hessian.shape[0] * np.finfo(np.float64).eps
    projected = vectors[:, keep].T @ scaled_gradient
    # A gradient off H's range (beyond rounding) leaves J's local model unbounded below: no estimate.
    outside = scaled_gradient - vectors[:, keep] @ projected
    if not np.all(keep) and np.linalg.norm(outside) > RANGE_TOLERANCE * np.linalg.norm(scaled_gradient):
        return np.inf, None
    step = -(vectors[:, keep] @ (projected / values[keep])) / root
    return 0.5 * float(np.sum(projected**2 / values[keep])), step


def _well_conditioned_solve(matrix, vector):
    """``matrix^-1 vector`` by Cholesky where the matrix is well conditioned (``CHOLESKY_MARGIN``), else None."""
    d = matrix.shape[0]
    try:
        factor, lower = cho_factor(matrix, lower=True, check_finite=False)
    except LinAlgError:  # not positive definite
        return None
    rcond, info = lapack.dpocon(factor, np.linalg.norm(matrix, 1), uplo="L")
    if info != 0 or not rcond > CHOLESKY_MARGIN * d * d * np.finfo(np.float64).eps:
        return None
    return cho_solve((factor, lower), vector, check_finite=False)


def _hessian_and_gradient(loss, X, y, weights, coef, intercept, penalty, fit_intercept):
    """J's curvature matrix and (sub)gradient in ``(w, b)`` (b last when fitted), over row blocks of X.

    Each block is cast to float64 on its own (X is not copied whole), and the
    block products stay small enough for BLAS to run them without threads.
    A dense block's rows, scaled by the root of their curvature and with that
    root as a last column when the intercept is fitted, give the whole
    matrix in one symmetric rank-k update.
    """
    d = X.shape[1]
    m = d + int(fit_intercept)
    total = weights.sum()
    xtcx, xtc, xtg, c_sum, g_sum = np.zeros((m, m), order="F"), np.zeros(d), np.zeros(d), 0.0, 0.0
    blocks = row_blocks(X, np)
    # One buffer for the scaled rows, reused block after block (fresh pages cost more than the scaling).
    buffer = None if sp.issparse(X) or not blocks else np.empty((blocks[0].stop - blocks[0].start, m))
    for rows in blocks:
        block = X[rows].astype(np.float64, copy=False)
        p = np.asarray(block @ coef).ravel() + intercept
        slope, curvature = loss.slope_and_curvature(p, y[rows], xp=np)
        c = weights[rows] * np.maximum(curvature, 0.0) / total  # a convex model of J where l is not convex
        g = weights[rows] * slope / total
        if sp.issparse(block):
            xtcx[:d, :d] += np.asarray((block.T @ sp.diags(c) @ block).todense())
            xtc += np.asarray(block.T @ c).ravel()
            c_sum += c.sum()
        else:
            root = np.sqrt(c)
            scaled = buffer[: block.shape[0]]
            np.multiply(block, root[:, None], out=scaled[:, :d])
            scaled[:, d:] = root[:, None]
            xtcx = block_gram(scaled, np, into=xtcx)  # c >= 0: a rank-k update's triangle
        xtg += np.asarray(block.T @ g).ravel()
        g_sum += g.sum()
    if sp.issparse(X):
        xtcx[:d, d:], xtcx[d:, :d], xtcx[d:, d:] = xtc[:, None], xtc[None, :], c_sum
    else:
        xtcx = symmetrised(xtcx)
    xtcx[:d, :d] += penalty.l2 * np.eye(d)
    grad = _subgradient(xtg + penalty.l2 * coef, coef, penalty.l1)
    return xtcx, (np.append(grad, g_sum) if fit_intercept else grad)


def _split(evidence_step, fit_intercept, d):
    return evidence_step[:d], (float(evidence_step[d]) if fit_intercept else 0.0)


def _smooth_evidence(loss, penalty, fit_intercept, X, y, s, coef, intercept):
    """The Newton decrement of one target's J (exact for squared error), and the step."""
    hessian, grad = _hessian_and_gradient(loss, X, y, s, coef, intercept, penalty, fit_intercept)
    gap, step = _decrement(hessian, grad)
    d = X.shape[1]
    return Evidence(gap, loss.quadratic, None if penalty.l1 or step is None else _split(step, fit_intercept, d))


def _gram_evidence(solver, statistics, coef, intercept, k):
    """The exact gap of one target's quadratic J from the Gram solver's statistics."""
    p = solver.settings
    penalty, d = p.penalty, coef.shape[0]
    covariance, mean_x = solver.covariance, statistics.mean_x
    mean_residual = coef @ mean_x + intercept - statistics.mean_y[k]
    grad = 2.0 * (covariance @ coef - solver.cross[k] + mean_residual * mean_x)
    grad = _subgradient(grad + penalty.l2 * coef, coef, penalty.l1)
    hessian = 2.0 * (covariance + np.outer(mean_x, mean_x)) + penalty.l2 * np.eye(d)
    if p.fit_intercept:
        full = np.empty((d + 1, d + 1))
        full[:d, :d], full[:d, d], full[d, :d], full[d, d] = hessian, 2.0 * mean_x, 2.0 * mean_x, 2.0
        hessian, grad = full, np.append(grad, 2.0 * mean_residual)
    gap, step = _decrement(hessian, grad)
    return Evidence(gap, True, None if penalty.l1 or step is None else _split(step, p.fit_intercept, d))


def _quantile_gap(q, l2, l1, fit_intercept, X, y, s, coef, intercept, tube=0.0):
    """The LP duality gap of one target's pinball J (penalty ``l2 / 2 ||w||^2`` or ``l1 ||w||_1``), and a step.

    The dual of ``min sum_i c_i rho_q(y_i - p_i) + l2/2 ||w||^2`` (``c = s / sum s``)
    is ``max alpha . y - ||X^T alpha||^2 / (2 l2)`` over ``alpha_i`` in
    ``[c_i (q - 1), c_i q]`` (``sum alpha = 0`` with an intercept; ``X^T alpha = 0``
    without a penalty, ``|X^T alpha| <= l1`` with ``l1 ||w||_1`` instead). With
    both, ``D(alpha) = alpha . y - ||(|X^T alpha| - l1)_+||^2 / (2 l2)`` bounds J*
    at any alpha in the box (summing to 0 with an intercept); the free rows take their values under the
    optimum's conditions (``X^T alpha = l2 w + l1 sign(w)`` off ``w = 0``).
    With a ``tube`` (``rho_q`` of the residual's excess over it, zero inside
    it: epsilon-insensitive) the dual loses ``tube * ||alpha||_1`` more, rows
    inside the tube take 0 and the rows nearest a kink (``|u| = tube``) are free.
    Rows off the kinks take their bound; the ``4 m`` (then ``32 m``, ``256 m``;
    with a tube ``32 m`` first) rows nearest one, ``m`` the unknowns, take their
    best values under the constraints (``_lp_gap``).
    Unpenalised and without a tube, the LP's vertices are tried too (an active-set search): the
    model that interpolates the rows the model's dual point leaves strictly
    inside their box (its basis; the ``m`` rows nearest the residuals' zero
    without one), then, up to ``VERTEX_PIVOTS`` times, the one of the
    previous vertex's dual basis. A
    dual point found at a vertex bounds the model's gap (by ``J - J(vertex)``
    more), and the step to it is returned when it is the optimum. The gap is
    None where no dual point is found.
    """
    # Without the vertex search a tube's dual starts from more free rows (the 4 m nearest its kinks left a
    # gap bound 50 times the gap after a smoothed fit's continuation).
    sizes = (32, 256) if tube > 0.0 else (4, 32, 256)
    gap, basis, primal = _lp_gap(q, l2, l1, fit_intercept, X, y, s, coef, intercept, sizes, tube)
    if l2 != 0.0 or l1 != 0.0 or tube > 0.0:
        return gap, None
    m = X.shape[1] + fit_intercept
    u = y - (X @ coef + intercept)
    nearest = np.argsort(np.abs(u) / np.where(s > 0.0, 1.0, np.inf))
    candidate = nearest[:m] if basis is None else np.concatenate([basis, nearest[~np.isin(nearest, basis)]])[:m]
    for _ in range(VERTEX_PIVOTS):
        step = _vertex_step(X, y, candidate, fit_intercept, coef, intercept)
        if step is None:
            break
        at_vertex, basis, value = _lp_gap(
            q, l2, l1, fit_intercept, X, y, s, coef + step[0], intercept + step[1], (1, 8)
        )
        rise = primal - value
        if at_vertex is not None and rise > 0.0:
            # The vertex is certified: its gap bounds the model's too, and a step there is offered only
            # when it is the LP's optimum (its gap rounding), as a gradient method can stall at another vertex.
            gap = rise + at_vertex if gap is None else min(gap, rise + at_vertex)
            if at_vertex <= 1e-9 * abs(primal):
                return gap, step
        if basis is None:
            break
        # The next vertex: the dual's basis, completed with the rows nearest the model's residuals' zero.
        following = np.concatenate([basis, nearest[~np.isin(nearest, basis)]])[:m]
        if set(following) == set(candidate):
            break
        candidate = following
    return gap, None


def _lp_gap(q, l2, l1, fit_intercept, X, y, s, coef, intercept, sizes, tube=0.0):
    """``(gap, basis, primal)`` of ``_quantile_gap``'s dual at a model, free rows ``sizes`` times ``m``.

    ``basis`` is the dual point's rows strictly inside their box (None without
    a dual point), ``primal`` the model's J.
    """
    c = s / s.sum()
    u = y - (X @ coef + intercept)
    low, high = c * (q - 1.0), c * q
    terms = np.maximum(high * (u - tube), low * (u + tube))
    if tube > 0.0:
        terms = np.maximum(terms, 0.0)
    primal = float(np.sum(terms) + 0.5 * l2 * coef @ coef + l1 * np.abs(coef).sum())
    alpha = np.where(u > 0.0, high, low)
    if tube > 0.0:
        alpha[np.abs(u) <= tube] = 0.0  # inside the tube the loss is flat: its best dual value is 0
    m = X.shape[1] + fit_intercept
    order = np.argsort(np.abs(np.abs(u) - tube) / np.where(c > 0.0, 1.0, np.inf))
    for size in sizes:
        found = _dual_on(
            free=order[: min(size * m, X.shape[0])],
            alpha=alpha,
            low=low,
            high=high,
            l2=l2,
            l1=l1,
            fit_intercept=fit_intercept,
            X=X,
            y=y,
            coef=coef,
            intercept=intercept,
            tube=tube,
        )
        if found is not None:
            return max(primal - found[0], 0.0), found[1], primal
        if size * m >= X.shape[0]:
            break
    return None, None, primal


def _dual_on(free, alpha, low, high, l2, l1, fit_intercept, X, y, coef, intercept, tube=0.0):
    """``(value, basis)``: the dual value at the best point whose ``free`` rows meet the dual constraints
    within their box, and those of its rows strictly inside it; None when there is none.

    The free rows' best dual values (a linear programme of their size,
    ``scipy.optimize.linprog``, constraints scaled to unit column norms) under
    ``X^T alpha = l2 w`` (an L2 penalty or none), ``|X^T alpha| <= l1`` (an
    L1 penalty) or, with both, the optimum's conditions ``X^T alpha = l2 w +
    l1 sign(w)`` off ``w = 0`` and ``|X^T alpha| <= l1`` on it (the elastic
    net's dual value holds at any ``X^T alpha``), and ``sum alpha = 0`` with
    an intercept; None when it is infeasible or its constraints are not met
    to ``DUAL_TOLERANCE``. A
    ``tube`` costs ``tube * |alpha_i|`` a row: each free row's value is then
    split into its positive and negative parts.
    """
    fixed = alpha.copy()
    fixed[free] = 0.0
    width = high[free] - low[free]
    if not np.all(width > 0.0):
        return None
    rows = X[free].toarray() if sp.issparse(X) else X[free]
    squares = X.multiply(X).sum(axis=0) if sp.issparse(X) else (X * X).sum(axis=0)
    norms = np.sqrt(np.asarray(squares).ravel())
    norms[norms == 0.0] = 1.0
    base = np.asarray(X.T @ fixed).ravel()
    # Unknowns in units of each row's width (the dual values are of the order of the row weights).
    scaled = rows.T * width / norms[:, None]
    ones = width[None, :] / np.sqrt(X.shape[0])
    elastic = l1 > 0.0 and l2 > 0.0
    if elastic:
        # The optimum's conditions: X^T alpha = l2 w + l1 sign(w) where w is not 0, |X^T alpha| <= l1 where it is.
        zero = coef == 0.0
        A_ub = np.vstack([scaled[zero], -scaled[zero]])
        b_ub = np.concatenate([(l1 - base[zero]) / norms[zero], (l1 + base[zero]) / norms[zero]])
        A_eq, b_eq = scaled[~zero], (l2 * coef[~zero] + l1 * np.sign(coef[~zero]) - base[~zero]) / norms[~zero]
        if fit_intercept:
            A_eq, b_eq = np.vstack([A_eq, ones]), np.append(b_eq, -fixed.sum() / np.sqrt(X.shape[0]))
        A_ub, b_ub, A_eq, b_eq = (None if A.size == 0 else A for A in (A_ub, b_ub, A_eq, b_eq))
    elif l1 > 0.0:
        A_ub, b_ub = np.vstack([scaled, -scaled]), np.concatenate([(l1 - base) / norms, (l1 + base) / norms])
        A_eq, b_eq = (ones, [-fixed.sum() / np.sqrt(X.shape[0])]) if fit_intercept else (None, None)
    else:
        A_ub = b_ub = None
        A_eq, b_eq = scaled, (l2 * coef - base) / norms
        if fit_intercept:
            A_eq, b_eq = np.vstack([A_eq, ones]), np.append(b_eq, -fixed.sum() / np.sqrt(X.shape[0]))
    objective = -y[free] * width
    lower, upper = low[free] / width, high[free] / width
    bounds = np.column_stack([lower, upper])
    if tube > 0.0:  # alpha = positive part - negative part, each paying the tube
        objective = np.concatenate([objective + tube * width, -objective + tube * width])
        A_ub, A_eq = (None if A is None else np.hstack([A, -A]) for A in (A_ub, A_eq))
        bounds = np.vstack(
            [np.column_stack([np.zeros_like(upper), upper]), np.column_stack([np.zeros_like(lower), -lower])]
        )
    result = linprog(
        objective / np.abs(objective).max(initial=1e-300),
        A_ub=A_ub,
        b_ub=b_ub,
        A_eq=A_eq,
        b_eq=b_eq,
        bounds=bounds,
        method="highs",
    )
    if result.status != 0:
        return None
    a = result.x
    if tube > 0.0:
        a = a[: free.shape[0]] - a[free.shape[0] :]
        A_eq = None if A_eq is None else A_eq[:, : free.shape[0]]
    basic = (a > lower) & (a < upper)
    unit = np.max(np.abs(high))
    # The rows that absorb the solver's own tolerance on the equalities: the basic ones, and where that
    # leaves a residue (on nearly collinear rows HiGHS may put a row at its bound that the exact
    # solution holds inside its box; hypothesis seed 60 of test_evidence) every free row, in the box.
    for absorbing in (basic, np.ones_like(basic)) if l1 == 0.0 or elastic else (basic,):
        corrected = a.copy()
        if (l1 == 0.0 or elastic) and A_eq is not None and np.any(absorbing):
            corrected[absorbing] += np.linalg.lstsq(A_eq[:, absorbing], b_eq - A_eq @ a, rcond=None)[0]
        fixed[free] = np.clip(corrected * width, low[free], high[free])
        product = np.asarray(X.T @ fixed).ravel()
        total = fixed.sum() if fit_intercept else 0.0
        excess = np.maximum(np.abs(product) - l1, 0.0) if l1 > 0.0 else np.abs(product - l2 * coef)
        # The elastic net's dual value (below) bounds J* at any X^T alpha: only sum(alpha) = 0 must hold.
        met = elastic or np.max(excess / norms) <= DUAL_TOLERANCE * unit
        if met and abs(total) <= DUAL_TOLERANCE * unit * np.sqrt(X.shape[0]):
            break
    else:
        return None
    # Weak duality: J(w, b) >= alpha . y - (X^T alpha - l2 w) . w - b sum(alpha) (+ the L1 term's slack),
    # taken at the model for the constraints' rounding-sized residue.
    basis = free[(fixed[free] > low[free]) & (fixed[free] < high[free])]
    value = fixed @ y - tube * np.abs(fixed).sum()
    if elastic:  # min over w of l2/2 ||w||^2 + l1 ||w||_1 - (X^T alpha) . w is -||excess||^2 / (2 l2)
        return float(value - excess @ excess / (2.0 * l2) - total * intercept), basis
    if l2 > 0.0:
        return float(value - product @ product / (2.0 * l2)), basis
    return float(value - excess @ np.abs(coef) - total * intercept), basis


def _vertex_step(X, y, basis, fit_intercept, coef, intercept):
    """The step from ``(coef, intercept)`` to the model that fits the ``basis`` rows exactly (None if singular)."""
    rows = X[basis].toarray() if sp.issparse(X) else X[basis]
    system = np.hstack([rows, np.ones((len(basis), 1))]) if fit_intercept else rows
    if system.shape[0] < system.shape[1] or np.linalg.matrix_rank(system) < system.shape[1]:
        return None
    theta = np.linalg.solve(system, y[basis])
    d = X.shape[1]
    return theta[:d] - coef, (float(theta[d]) if fit_intercept else 0.0) - intercept


def newton_step(solver, state, evidence):
    """Take the evidence's step from the state's model, halved until J falls (Armijo); return J before it.

    Parameters
    ----------
    solver : Algorithm
        Measures J (``value``).
    state : TrainingState
        Its model moves in place, and an accelerated state's extrapolation restarts there.
    evidence : Evidence
        With a ``step``.

    Returns
    -------
    value : float
        J at the model the step was taken from.
    moved : bool
        Whether a step was taken.
    """
    coef, intercept = state.coef, state.intercept
    value = solver.value(coef, intercept)
    xp, _, device = get_namespace_and_device(coef)
    d_coef, d_intercept = move_to(evidence.step[0], evidence.step[1], xp=xp, device=device)
    t = 1.0
    for _ in range(MAX_HALVINGS):
        new_coef = xp.astype(coef + t * xp.astype(d_coef, coef.dtype), coef.dtype)
        new_intercept = xp.astype(intercept + t * xp.astype(d_intercept, intercept.dtype), intercept.dtype)
        new_value = solver.value(new_coef, new_intercept)
        if new_value <= value - 0.5 * t * (abs(value) if evidence.gap is None else evidence.gap) * 1e-4:
            state.restart_at(new_coef, new_intercept)
            state.objective = new_value
            state.t += 1
            return value, True
        t *= 0.5
    return value, False
