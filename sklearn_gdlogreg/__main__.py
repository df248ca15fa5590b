"""``python -m sklearn_gdlogreg``: the command line (see ``_cli``).

With no arguments, fits StandardScaler + GDLogisticRegression on the
breast-cancer data bundled with scikit-learn, prints what gradient descent
did and how close it came to scikit-learn's own LogisticRegression, and saves
the cost curve. ``--help`` lists the options.
"""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
