"""Every public class, function and method has a valid numpydoc docstring.

Public means: exported in ``sklearn_gdlogreg.__all__``, and the public
methods a class defines itself (methods inherited from scikit-learn are
scikit-learn's to document). Checked with ``numpydoc.validate``.
"""

import inspect

import pytest

import sklearn_gdlogreg

validate = pytest.importorskip("numpydoc.validate", reason="needs numpydoc").validate

# Checks left out, as scikit-learn's own docstring test does:
# ES01 extended summary, SA01 See Also (both optional for methods),
# RT02 "self : object" names the returned value, GL01/GL02 where the text
# starts relative to the quotes.
IGNORED = {"ES01", "SA01", "RT02", "GL01", "GL02"}


def _public_names():
    for name in sorted(sklearn_gdlogreg.__all__):
        obj = getattr(sklearn_gdlogreg, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        yield f"sklearn_gdlogreg.{name}"
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if isinstance(member, (classmethod, staticmethod, property)) or (
                    inspect.isfunction(member)
                ):
                    yield f"sklearn_gdlogreg.{name}.{attr}"


@pytest.mark.parametrize("qualname", list(_public_names()))
def test_docstring(qualname):
    errors = [
        f"{code}: {message}"
        for code, message in validate(qualname)["errors"]
        if code not in IGNORED
    ]
    assert not errors, f"{qualname}:\n" + "\n".join(errors)
