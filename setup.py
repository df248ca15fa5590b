"""Build of the compiled kernels (the metadata is in pyproject.toml).

Every ``sklearn_gdlogreg/_numerics/*.pyx`` is cythonized and compiled with
OpenMP when the compiler has it (else its ``prange`` loops run on one
thread), as scikit-learn builds its own kernels. Flags stay portable: no
``-march=native``; the float rules relaxed are those of the kernels' sums
(reassociation, so that dot products vectorize, and fused multiply-adds),
never ``-ffinite-math-only``: inf and NaN must keep their meaning.
"""

import os
import pathlib
import subprocess
import sys
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = pathlib.Path(__file__).parent
NUMERICS = HERE / "sklearn_gdlogreg" / "_numerics"

_FLOAT_FLAGS = [
    "-fno-math-errno",
    "-fno-trapping-math",
    "-fassociative-math",
    "-fno-signed-zeros",
    "-freciprocal-math",
    "-ffp-contract=fast",
]


def _compiler_is_msvc():
    return sys.platform == "win32" and "GCC" not in sys.version


def _openmp_flags():
    """The compile and link flags of OpenMP, or ``([], [])`` without it."""
    if _compiler_is_msvc():
        return ["/openmp"], []
    flag = ["-fopenmp"]
    source = "#include <omp.h>\nint main(void) { return omp_get_max_threads() < 1; }\n"
    cc = os.environ.get("CC", "cc")
    with tempfile.TemporaryDirectory() as tmp:
        src = pathlib.Path(tmp) / "check.c"
        src.write_text(source)
        result = subprocess.run(
            [cc, *flag, str(src), "-o", str(pathlib.Path(tmp) / "check")],
            capture_output=True,
        )
    if result.returncode != 0:
        print("sklearn_gdlogreg: no OpenMP, kernels run on one thread")
        return [], []
    return flag, flag


def extensions():
    compile_omp, link_omp = _openmp_flags()
    if _compiler_is_msvc():
        compile_args = ["/O2", *compile_omp]
    else:
        compile_args = ["-O3", *_FLOAT_FLAGS, *compile_omp]
    modules = []
    for pyx in sorted(NUMERICS.glob("*.pyx")):
        modules.append(
            Extension(
                f"sklearn_gdlogreg._numerics.{pyx.stem}",
                [str(pyx.relative_to(HERE))],
                include_dirs=[str(NUMERICS.relative_to(HERE))],
                extra_compile_args=compile_args,
                extra_link_args=link_omp,
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
            )
        )
    return cythonize(
        modules,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "nonecheck": False,
        },
    )


setup(ext_modules=extensions())
