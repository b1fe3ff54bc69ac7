"""Shared fixtures."""

import pytest

from _helpers import NOTE_X, NOTE_Y


@pytest.fixture
def note_data():
    """The note's three points, as X of shape (3, 1) and y of shape (3,)."""
    return NOTE_X.copy(), NOTE_Y.copy()
