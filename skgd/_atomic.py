"""A training call is atomic: one call at a time on an estimator, and one that raises leaves it as it was."""

import functools
import threading
import weakref

#: Each estimator's training lock, kept off the estimator (a lock neither pickles nor clones).
_TRAINING_LOCKS = weakref.WeakKeyDictionary()
_LOCKS_LOCK = threading.Lock()


def _training_lock(estimator):
    """The re-entrant lock one estimator's training calls take in turn."""
    with _LOCKS_LOCK:
        lock = _TRAINING_LOCKS.get(estimator)
        if lock is None:
            lock = _TRAINING_LOCKS[estimator] = threading.RLock()
        return lock


def all_or_nothing(method):
    """Run a training method atomically: one call at a time, and if it raises, the estimator is left as it was.

    Training already works on a copy of the state; this also undoes what input
    validation set (``n_features_in_``, ``feature_names_in_``) before the failure.
    Calls from several threads on one estimator take turns, so the estimator
    holds one call's complete model, never a mix of two.
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with _training_lock(self):
            before = dict(vars(self))
            try:
                return method(self, *args, **kwargs)
            except BaseException:
                vars(self).clear()
                vars(self).update(before)
                raise

    return wrapper
