"""The command line, end to end in a subprocess (``python -m sklearn_gdlogreg``)."""

import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.exceptions import ConvergenceWarning
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
    # The default tol=1e-4 bounds the gradient's max-norm, not the
    # coefficients: on this ill-conditioned problem they agree with
    # newton-cholesky's to a few percent, not better.
    assert float(_value(res.stdout, "coef gap to LogisticRegression")) < 0.1
    assert "warning" not in res.stdout  # the defaults converge


def test_demo_saves_the_plot_and_says_where(tmp_path):
    """The README's demo command: its PNG exists, is a PNG, and is announced."""
    pytest.importorskip("matplotlib", reason="the demo's plot needs matplotlib")
    res = _run(cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    png = tmp_path / "gdlogreg_cost_history.png"
    assert png.is_file() and png.stat().st_size > 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"cost curve saved to {png.resolve()}" in res.stdout


def test_readme_demo_command_installs_the_plot_extra():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = readme.split("<!-- demo-command -->", 1)[1].split("```")[1]
    assert 'python -m pip install -e ".[plot]" && python -m sklearn_gdlogreg' in block


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
    # The CLI's defaults (solver "auto": gd for a numeric alpha, tol 1e-4).
    search = GridSearchCV(
        GDLogisticRegression(solver="gd", max_iter=50, tol=1e-4),
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


def _run_without(module, *args, cwd):
    """``python -m sklearn_gdlogreg ARGS`` as if ``module`` were not installed."""
    code = (
        f"import runpy, sys; sys.modules[{module!r}] = None; "
        "runpy.run_module('sklearn_gdlogreg', run_name='__main__', alter_sys=True)"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_defaults_are_the_estimators_and_help_shows_them():
    from sklearn_gdlogreg._cli import build_parser

    parser = build_parser()
    args = parser.parse_args([])
    params = GDLogisticRegression().get_params()
    for name in ("alpha", "C", "max_iter", "tol"):
        assert getattr(args, name) == params[name], name
    # solver="auto": nesterov for alpha="auto", gd for a number; the
    # estimator's default too, once it has solver="auto" (it had "gd" before).
    assert args.solver == "auto"
    if params["solver"] != "gd":
        assert args.solver == params["solver"]
    text = " ".join(parser.format_help().split())  # undo argparse's wrapping
    for option, value in [
        ("--alpha ALPHA", params["alpha"]),
        ("--solver {auto,gd,nesterov}", "auto"),
        ("--C C", params["C"]),
        ("--max-iter MAX_ITER", params["max_iter"]),
        ("--tol TOL", params["tol"]),
        ("--test-size TEST_SIZE", 0.25),
        ("--random-state RANDOM_STATE", 0),
    ]:
        shown = re.search(rf" {re.escape(option)} .*?\(default: ([^)]*)\)", text)
        assert shown is not None and shown.group(1) == str(value), option


def test_diverged_fit_exits_1_with_the_stable_step(tmp_path):
    res = _run("--alpha", "1e6", "--solver", "gd", cwd=tmp_path)
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert res.stderr.count("\n") == 1
    assert res.stderr.startswith("gdlogreg: error: gradient descent diverged")
    stable = float(re.search(r"2/L = (\S+?);", res.stderr).group(1))
    assert 0 < stable < 1e6
    assert "test accuracy" not in res.stdout  # no report as if all went well
    assert not (tmp_path / "gdlogreg_cost_history.png").exists()


def test_cv_with_a_diverging_alpha_is_no_failure(tmp_path):
    # Settings that diverge on folds are scored on their lowest-cost iterate
    # (a poor score): a note, not a failure.
    res = _run("--cv", "3", "--alphas", "0.1", "1e6", "--solver", "gd", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert float(re.search(r"alpha=(\S+)\s.*<- chosen", res.stdout).group(1)) == 0.1


@pytest.mark.parametrize(
    "content, line, column",
    [
        ("a,b,y\n1,2,0\n3,,1\n4,5,0\n", 3, "b"),
        ("a,b,y\n1,2,0\n3,4,1\nNA,5,0\n", 4, "a"),
        ("a,b,y\n1,2,0\n3,4,\n4,5,0\n", 3, "y"),
    ],
    ids=["empty-feature", "NA-feature", "empty-label"],
)
def test_missing_value_names_line_and_column(tmp_path, content, line, column):
    (tmp_path / "t.csv").write_text(content)
    res = _run("--csv", "t.csv", "--target", "y", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    message = res.stderr
    assert f"missing value in column {column!r} on line {line}" in message
    assert "not numeric" not in message
    assert "dropna" in message and "SimpleImputer" in message


@pytest.mark.parametrize(
    "module, option, hint",
    [
        (
            "matplotlib",
            ["--plot", "c.png"],
            'from the repository root: python -m pip install -e ".[plot]"',
        ),
        ("rich", ["--progress"], "python -m pip install rich"),
    ],
)
def test_option_needing_a_missing_extra_fails_before_the_fit(
    tmp_path, module, option, hint
):
    if module == "rich":
        from sklearn_gdlogreg._compat import sklearn_callback

        if sklearn_callback is None:
            pytest.skip("--progress fails earlier without sklearn.callback")
    res = _run_without(module, *option, cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert hint in res.stderr
    assert res.stdout == ""  # nothing fitted, nothing reported


def test_demo_without_matplotlib_says_how_to_get_the_plot(tmp_path):
    res = _run_without("matplotlib", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "cost curve not saved" in res.stdout
    assert 'from the repository root: python -m pip install -e ".[plot]"' in res.stdout
    assert not (tmp_path / "gdlogreg_cost_history.png").exists()


def test_cv_tie_is_broken_like_grid_search_and_reported(tmp_path):
    # Two far-apart clusters: every alpha classifies every fold perfectly.
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(-5, 1, (60, 2)), rng.normal(5, 1, (60, 2))])
    y = np.repeat([0, 1], 60)
    lines = ["a,b,y", *(f"{a},{b},{c}" for (a, b), c in zip(X, y))]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    alphas = ["1", "0.1", "0.5"]  # not sorted: the first *given* wins
    args = ["--csv", "t.csv", "--target", "y", "--cv", "3", "--alphas", *alphas]
    res = _run(*args, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    chosen = float(re.search(r"alpha=(\S+)\s.*<- chosen", res.stdout).group(1))
    # Oracle: GridSearchCV on the same training split, standardized.
    X_train, _, y_train, _ = train_test_split(
        X, y.astype(str), test_size=0.25, stratify=y, random_state=0
    )
    search = GridSearchCV(
        GDLogisticRegression(solver="gd"), {"alpha": [float(a) for a in alphas]}, cv=3
    )
    with warnings.catch_warnings():  # gd with alpha=0.1 needs more iterations
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(StandardScaler().fit_transform(X_train), y_train)
    assert (search.cv_results_["rank_test_score"] == 1).all()  # a three-way tie
    assert chosen == search.best_params_["alpha"] == 1.0
    assert "tie: alphas 1, 0.1, 0.5 share the best mean accuracy 1.0000" in res.stdout
