"""Shared fixtures, and scipy's array API support for the array API tests."""

import os

# scikit-learn's array API dispatch needs scipy's own support, read when scipy
# is first imported: switch it on before anything imports scipy.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import pytest  # noqa: E402
from _helpers import NOTE_X, NOTE_Y

try:
    from hypothesis import settings
except ImportError:  # the property tests skip
    pass
else:
    # In CI (CI set, as CI services and .ci/run set it) the property tests draw
    # the same examples every run: a red run is one anyone can reproduce.
    settings.register_profile("ci", derandomize=True, database=None, deadline=None)
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        settings.load_profile("ci")


def pytest_report_header(config):
    """Which skgd the suite tests: the installed package, or a build in place."""
    import skgd

    import_path = f"skgd {skgd.__version__} from {os.path.dirname(skgd.__file__)}"
    try:
        from hypothesis import settings
    except ImportError:
        return import_path
    return [import_path, f"hypothesis derandomize={settings.default.derandomize}"]


@pytest.fixture
def note_data():
    """The note's three points, as X of shape (3, 1) and y of shape (3,)."""
    return NOTE_X.copy(), NOTE_Y.copy()


@pytest.fixture(params=["blocks as sized", "7-row blocks"])
def row_block_size(request, monkeypatch):
    """Run a pass with its blocks as sized, then cut into 7-row blocks.

    Sums over rows must not depend on where the blocks end.
    """
    if request.param == "7-row blocks":
        import skgd._moments
        import skgd._reductions

        def seven_rows(X, xp, elements=None, min_blocks=1, per_row=None):
            return [slice(start, min(start + 7, X.shape[0])) for start in range(0, X.shape[0], 7)]

        for module in (skgd._reductions, skgd._moments):
            monkeypatch.setattr(module, "row_blocks", seven_rows)
    return request.param
