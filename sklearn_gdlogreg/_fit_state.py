"""Fits that complete, or leave the estimator exactly as it was.

One mechanism for every fitting method (``fit``, ``partial_fit``, the CV's
``fit``): whatever stops the call, a bad input found late, a failing
scorer, a lost worker, Ctrl-C or another signal's exception, the estimator's
attributes are those it had before the call.
"""

import functools
import inspect
import os
import sys


def restores_state_on_error(method):
    """Decorate a fitting method so that an exception leaves ``self`` as it was.

    The attributes are saved by a shallow copy of ``__dict__`` (fits bind
    new fitted arrays, never write into the ones they had) and put back by
    rebinding ``__dict__`` in one step, so that a second interrupt cannot
    leave them half restored.

    Parameters
    ----------
    method : callable
        ``method(self, *args, **kwargs)``.

    Returns
    -------
    callable
        The decorated method.

    Examples
    --------
    >>> class Model:
    ...     @restores_state_on_error
    ...     def fit(self, fail):
    ...         self.coef_ = 1.0
    ...         if fail:
    ...             raise ValueError("bad input")
    ...         return self
    >>> model = Model()
    >>> try:
    ...     model.fit(fail=True)
    ... except ValueError:
    ...     pass
    >>> hasattr(model, "coef_")
    False
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        saved = self.__dict__.copy()
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            self.__dict__ = saved
            raise

    return wrapper


class LoadsOlderModels:
    """A model saved before one of its parameters existed loads with its default.

    Put before ``BaseEstimator`` in the bases: after its ``__setstate__``,
    every ``__init__`` parameter missing from the state gets its default, so
    that ``get_params``, ``clone`` and a refit work on the loaded model.

    Examples
    --------
    >>> from sklearn.base import BaseEstimator
    >>> class Model(LoadsOlderModels, BaseEstimator):
    ...     def __init__(self, a=1, b=2):
    ...         self.a, self.b = a, b
    >>> model = Model.__new__(Model)
    >>> model.__setstate__({"a": 5})  # saved when Model had only ``a``
    >>> model.get_params()
    {'a': 5, 'b': 2}
    """

    def __setstate__(self, state):
        super().__setstate__(state)
        for name, param in inspect.signature(type(self).__init__).parameters.items():
            if param.default is not param.empty and name not in self.__dict__:
                setattr(self, name, param.default)


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def caller_stacklevel():
    """The ``stacklevel`` that points a warning at the user's call into a fit.

    The first frame, from the caller of this function's caller outwards,
    that is neither in this package nor in scikit-learn's ``_fit_context``
    wrapper (``sklearn/base.py``): the user's line, or the scikit-learn
    meta-estimator (Pipeline, GridSearchCV) that called ``fit``. Fixed
    levels went stale whenever a frame was added on the way (dask, the
    array API, the CV's refit all reach the solver by other paths).

    Returns
    -------
    int
        For ``warnings.warn(..., stacklevel=caller_stacklevel())`` called
        directly in the warning function.
    """
    frame, level = sys._getframe(2), 2
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        inside = path.startswith(_PACKAGE_DIR + os.sep) or (
            frame.f_code.co_name == "wrapper"
            and path.endswith(os.path.join("sklearn", "base.py"))
        )
        if not inside:
            return level
        frame, level = frame.f_back, level + 1
    return level
