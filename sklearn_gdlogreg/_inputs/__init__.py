"""What a fit is given, checked once and turned into (objective, classes).

Labels, class weights and sample weights (:mod:`._checks`), and the routing
of each input kind: NumPy/SciPy, dask (:mod:`._dask`), the array API
(:mod:`._routing`). Nothing numeric is computed here.
"""
