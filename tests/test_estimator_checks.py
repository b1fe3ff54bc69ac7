"""scikit-learn's estimator checks, for both solvers.

solver="batch" passes every check. solver="sgd" is stochastic like
scikit-learn's own SGD: fitting with integer weights is not step-for-step the
same as fitting on repeated rows (the sample order and the number of updates
differ), so the two sample-weight-equivalence checks are expected to fail.

Both declare array API support, so scikit-learn also yields its array API
checks (``check_array_api_input`` for each namespace, device and dtype,
``check_array_api_mixed_inputs``, ``check_array_api_same_namespace``): those
of array-api-strict and PyTorch on the CPU run wherever they are installed
(``SCIPY_ARRAY_API=1`` is set in conftest.py), the GPU ones where there is a GPU.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skgd import GradientDescentRegressor

SGD_EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": (
        "per-sample SGD with weights takes different steps from SGD on repeated rows"
    ),
    "check_sample_weight_equivalence_on_sparse_data": (
        "per-sample SGD with weights takes different steps from SGD on repeated rows"
    ),
}


def _expected_failures(estimator):
    return SGD_EXPECTED_FAILURES if estimator.solver == "sgd" else {}


@parametrize_with_checks(
    [GradientDescentRegressor(solver="batch"), GradientDescentRegressor(solver="sgd")],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
