"""The command line, end to end in a subprocess (``python -m sklearn_gdlogreg``)."""

import re
import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import GDLogisticRegression


def _run(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "sklearn_gdlogreg", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _value(out, name):
    return re.search(rf"^  {name}\s+(\S+)", out, re.MULTILINE).group(1)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """A CSV with numeric features and a string label column in the middle."""
    X, y = make_classification(200, 4, random_state=0)
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    lines = ["f0,f1,label,f2,f3"]
    for row, label in zip(X, np.array(["no", "yes"])[y]):
        lines.append(
            ",".join([*map(str, row[:2].tolist()), label, *map(str, row[2:].tolist())])
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def test_demo_without_arguments(tmp_path):
    pytest.importorskip("matplotlib", reason="the demo saves a plot when it can")
    res = _run(cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "breast cancer" in res.stdout
    assert int(_value(res.stdout, "iterations")) > 0
    J = float(_value(res.stdout, "final cost J"))
    assert 0 < J < np.log(2)  # below the cost of the all-zeros start
    assert float(_value(res.stdout, "test accuracy")) > 0.9
    # Nesterov to tol=1e-6 on this ill-conditioned problem: coefficients agree
    # with newton-cholesky's to a few 1e-4 relative, not better.
    assert float(_value(res.stdout, "coef gap to LogisticRegression")) < 1e-3
    png = tmp_path / "gdlogreg_cost_history.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_csv_fit_with_options_and_plot(tmp_path, table):
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib")
    args = ["--csv", str(table), "--target", "label", "--alpha", "0.5"]
    args += ["--solver", "gd", "--C", "10", "--max-iter", "5000", "--tol", "1e-8"]
    res = _run(*args, "--plot", "curve.png", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert float(_value(res.stdout, "step alpha_")) == 0.5
    # The lecture's gd to tol=1e-8 on well-conditioned data matches sklearn.
    assert float(_value(res.stdout, "coef gap to LogisticRegression")) < 1e-6
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"


def test_cv_picks_the_alpha_grid_search_picks(tmp_path):
    alphas = ["0.01", "0.1", "1"]
    res = _run("--cv", "3", "--alphas", *alphas, "--max-iter", "50", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    chosen = re.search(r"alpha=(\S+)\s.*<- chosen", res.stdout).group(1)
    # Oracle: GridSearchCV on the same split, standardized on the training part
    # (as the CLI's StandardScaler-first pipeline does).
    X, y = load_breast_cancer(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    search = GridSearchCV(
        GDLogisticRegression(solver="nesterov", max_iter=50, tol=1e-6),
        {"alpha": [float(a) for a in alphas]},
        cv=3,
    )
    with pytest.warns(Warning):  # 50 iterations do not converge: on purpose
        search.fit(StandardScaler().fit_transform(X_train), y_train)
    assert float(chosen) == search.best_params_["alpha"]


@pytest.mark.parametrize(
    "content, args, message",
    [
        (None, ["--csv", "missing.csv", "--target", "y"], "cannot read --csv"),
        ("a,b\n1,x\n2,y\n", ["--target", "label"], "--target 'label' is not a column"),
        ("a,b,y\n1,oops,0\n2,3,1\n", ["--target", "y"], "'b' is not numeric"),
        ("a,y\n1,0\n2,0\n3,0\n", ["--target", "y"], "single class"),
        ("a,y\n1,0\n2,1\n", [], "--csv needs --target"),
    ],
    ids=["missing-file", "missing-target", "non-numeric", "single-class", "no-target"],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, content, args, message):
    if content is not None:
        (tmp_path / "t.csv").write_text(content)
        args = ["--csv", "t.csv", *args]
    res = _run(*args, cwd=tmp_path)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert res.stderr.count("\n") == 1 and message in res.stderr
    assert res.stderr.startswith("gdlogreg: error:")


def test_progress_bar(tmp_path):
    from sklearn_gdlogreg._compat import sklearn_callback

    if sklearn_callback is None:
        pytest.skip("--progress needs sklearn.callback (scikit-learn >= 1.9)")
    pytest.importorskip("rich", reason="ProgressBar needs rich")
    res = _run("--progress", "--max-iter", "200", "--plot", "p.png", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "GDLogisticRegression - fit" in res.stdout
    assert "100%" in res.stdout
