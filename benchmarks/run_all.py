"""Regenerate the results section of ``benchmarks/README.md``.

Runs ``bench_iteration.py``, ``bench_convergence.py``, ``bench_memory.py``,
``bench_dask.py``, ``bench_startup.py``, ``bench_threads.py``,
``bench_defaults.py`` and ``bench_early_stopping.py`` (full data, their
default repeats) one after the other and replaces the text between the
``<!-- results -->`` markers of the README with their output (stdout
only: dask's log lines go to stderr).

Run: ``python benchmarks/run_all.py`` (takes several minutes; run it on a
quiet machine and check the load average it prints).
"""

import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).parent
SCRIPTS = (
    "bench_iteration.py",
    "bench_convergence.py",
    "bench_memory.py",
    "bench_dask.py",
    "bench_startup.py",
    "bench_threads.py",
    "bench_defaults.py",
    "bench_early_stopping.py",
)
BEGIN, END = "<!-- results -->", "<!-- /results -->"


def main():
    sections = []
    for script in SCRIPTS:
        print(f"running {script} ...", file=sys.stderr)
        out = subprocess.run(
            [sys.executable, str(HERE / script), *sys.argv[1:]],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        sections.append(f"### `{script}`\n\n{out.strip()}\n")
    readme = HERE / "README.md"
    text = readme.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(head + BEGIN + "\n\n" + "\n".join(sections) + "\n" + END + tail)


if __name__ == "__main__":
    main()
