"""``J*`` of ``CostHistoryDisplay.plot(relative=True)``: given, or extrapolated."""

import numpy as np

# Decrements of J over which the rate of the best curve is measured: enough to
# span an oscillation of nesterov's momentum (10 to 20 updates).
_TAIL_WINDOW = 30


def _extrapolated_reference(histories):
    """``J*`` for ``relative=True``: below every recorded ``J``, one for all curves.

    Extrapolated from the curve that got lowest: near the optimum gradient
    descent converges linearly, ``J_{k+1} - J* ~ rho (J_k - J*)``, so the
    decrements ``d_k = J_k - J_{k+1}`` shrink by ``rho`` per update and what is
    still to gain after the last one sums to ``d rho / (1 - rho)``.
    """
    best = min(histories, key=np.nanmin)
    head = best[: np.nanargmin(best) + 1]  # up to its lowest J
    lowest = head[-1]
    steps = -np.diff(head)[-_TAIL_WINDOW:]
    tail = 0.0  # J stopped falling: at its minimum, to float precision
    if steps.size and steps[-1] > 0:
        # Decrements that do not shrink give no rate: J* unknown, maybe 0.
        tail = np.inf if lowest > 0 else steps[-1]
        if steps.size > 1 and steps[0] > 0:
            rate = (steps[-1] / steps[0]) ** (1 / (steps.size - 1))
            if rate < 1:
                tail = steps[-1] * rate / (1 - rate)
    # Never closer than the float64 resolution of J, so J - J* > 0 everywhere.
    reference = lowest - max(tail, np.finfo(np.float64).eps * max(abs(lowest), 1.0))
    # The cross-entropy is never negative: J* >= 0 bounds a poor extrapolation.
    return max(reference, 0.0) if lowest > 0 else reference


def _reference(histories, reference_cost):
    """``(J*, y label)`` for ``relative=True``: ``reference_cost`` or extrapolated."""
    if reference_cost is None:
        # Not min J: its gap 0 would end every curve in a false plunge.
        reference = _extrapolated_reference(histories)
        return reference, f"J - J*  (J* = {reference:.6g}, extrapolated)"
    reference = float(reference_cost)
    lowest = min(np.nanmin(h) for h in histories)
    if not reference < lowest:
        raise ValueError(
            f"reference_cost={reference!r} is not below every recorded cost "
            f"(the lowest is {lowest!r}): J - J* must be positive to be drawn "
            "on a log scale."
        )
    return reference, f"J - J*  (J* = {reference:.6g})"
