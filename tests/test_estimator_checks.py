"""scikit-learn's estimator checks, for both solvers.

solver="batch" passes every check. With early_stopping=True (partial_fit then
trains without it, as in MLPRegressor and SGDRegressor) both solvers pass all
but the same two sample-weight-equivalence checks: the validation split holds
a weighted row out whole, where its repeated copies fall on either side. solver="sgd" is stochastic like
scikit-learn's own SGD: fitting with integer weights is not step-for-step the
same as fitting on repeated rows (the sample order and the number of updates
differ), so the two sample-weight-equivalence checks are expected to fail.

The quantile loss passes every check with both solvers (sgd: but the same two).
The log link's losses (poisson, gamma, tweedie) pass with both solvers too, but
for scikit-learn's multi-output check, which feeds negative targets whatever the
positive_only tag says.

Both declare array API support, so scikit-learn also yields its array API
checks (``check_array_api_input`` for each namespace, device and dtype,
``check_array_api_mixed_inputs``, ``check_array_api_same_namespace``): those
of array-api-strict and PyTorch on the CPU run wherever they are installed
(``SCIPY_ARRAY_API=1`` is set in conftest.py), the GPU ones where there is a GPU.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skgd import GradientDescentRegressor
from skgd._loss import LOSSES, make_loss

SGD_EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": (
        "per-sample SGD with weights takes different steps from SGD on repeated rows"
    ),
    "check_sample_weight_equivalence_on_sparse_data": (
        "per-sample SGD with weights takes different steps from SGD on repeated rows"
    ),
}


#: With early stopping the held-out split draws rows, not units of weight: a row
#: of weight 2 is held out whole, where its two copies may fall on either side.
EARLY_STOPPING_EXPECTED_FAILURES = {
    name: "the validation split draws rows: a weighted row is held out whole, repeated rows one by one"
    for name in SGD_EXPECTED_FAILURES
}


#: scikit-learn's multi-output check draws targets of both signs whatever the
#: positive_only tag says (it skips ``_enforce_estimator_tags_y``), and the log
#: link's losses refuse negative targets with a ValueError, as they should.
POSITIVE_ONLY_EXPECTED_FAILURES = {
    "check_regressor_multioutput": "draws negative targets despite the positive_only tag; the loss refuses them"
}


def _expected_failures(estimator):
    if estimator.early_stopping:
        return EARLY_STOPPING_EXPECTED_FAILURES
    failures = SGD_EXPECTED_FAILURES if estimator.solver == "sgd" else {}
    if make_loss(estimator.loss).targets is not None:
        failures = {**failures, **POSITIVE_ONLY_EXPECTED_FAILURES}
    return failures


@parametrize_with_checks(
    [
        GradientDescentRegressor(solver="batch"),
        GradientDescentRegressor(solver="sgd"),
        GradientDescentRegressor(solver="batch", early_stopping=True),
        GradientDescentRegressor(solver="sgd", early_stopping=True),
        # The other losses from the registry: the quantile loss (its smoothing continued in batch) and the
        # log link's losses (positive targets, the positive_only tag, D^2 score).
        *(
            GradientDescentRegressor(solver=solver, loss=loss)
            for loss in LOSSES
            if loss == "quantile" or make_loss(loss).targets is not None
            for solver in ("batch", "sgd")
        ),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
