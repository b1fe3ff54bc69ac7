"""Shared fixtures, and scipy's array API support for the array API tests."""

import os

# scikit-learn's array API dispatch needs scipy's own support, read when scipy
# is first imported: switch it on before anything imports scipy.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import pytest  # noqa: E402

from _helpers import NOTE_X, NOTE_Y


@pytest.fixture
def note_data():
    """The note's three points, as X of shape (3, 1) and y of shape (3,)."""
    return NOTE_X.copy(), NOTE_Y.copy()
