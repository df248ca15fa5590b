"""What a fit is given, checked once and turned into (objective, classes).

:mod:`._routing` tells the input's kind; :mod:`._numpy`, :mod:`._dask` and
:mod:`._array_api` encode the labels, take the weights and build that
kind's objective; :mod:`._checks` holds the checks of labels, class weights
and sample weights that every kind (and each fold of the CV) shares;
:mod:`._start` the starting point. The estimator validates X itself
(``validate_data`` needs the estimator) and passes its parameters down:
nothing here reads or sets an estimator.
"""
