"""The public API's docstrings: numpydoc-valid as scikit-learn validates its own, and their examples run."""

import doctest
import inspect

import pytest

import skgd

PUBLIC_CLASSES = [skgd.GradientDescentRegressor, skgd.LossCurveDisplay]

#: Errors known and not yet fixed, each with its reason: (object, code) -> why.
#: The test fails once one is fixed, so that the entry goes too.
KNOWN_ERRORS = {
    ("skgd.GradientDescentRegressor", "GL07"): "Notes comes before See Also; fixed with the class docstring's rewrite",
}


def _public_api():
    """Import paths of each public class and of the public methods and properties skgd defines on it.

    Methods inherited from scikit-learn (get_params, score, set_*_request...)
    are scikit-learn's to document.
    """
    for cls in PUBLIC_CLASSES:
        yield f"skgd.{cls.__name__}"
        for name, member in vars(cls).items():
            if name.startswith("_"):
                continue
            function = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
            if inspect.isfunction(function):
                yield f"skgd.{cls.__name__}.{name}"


def _errors(import_path):
    """numpydoc's errors, filtered as scikit-learn's test_docstrings.py filters them."""
    from numpydoc.validate import validate

    is_method = import_path.count(".") == 2
    for code, message in validate(import_path)["errors"]:
        # The first line of Returns may name the object returned; summary
        # placement and blank lines are the formatter's business.
        if code in ("RT02", "GL01", "GL02"):
            continue
        # An extended summary, See Also and Examples are asked of classes only.
        if is_method and code in ("ES01", "SA01", "EX01"):
            continue
        yield code, message


@pytest.mark.parametrize("import_path", list(_public_api()))
def test_public_docstrings_are_numpydoc_valid(import_path):
    pytest.importorskip("numpydoc")
    errors = dict(_errors(import_path))
    known = {code for (path, code) in KNOWN_ERRORS if path == import_path}
    assert {code: message for code, message in errors.items() if code not in known} == {}
    assert known <= errors.keys(), f"fixed, so drop it from KNOWN_ERRORS: {known - errors.keys()}"


@pytest.mark.parametrize("cls", PUBLIC_CLASSES, ids=lambda cls: cls.__name__)
def test_docstring_examples_run_as_written(cls):
    if cls is skgd.LossCurveDisplay:
        plt = pytest.importorskip("matplotlib.pyplot")
    report = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in doctest.DocTestFinder(recurse=False).find(cls, cls.__name__, globs={}):
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    if cls is skgd.LossCurveDisplay:
        plt.close("all")
    assert result.attempted >= 5, "the class docstring's Examples section"
    assert result.failed == 0, "".join(report)


def test_each_string_option_is_documented_where_its_parameter_is():
    """Each string option is listed in the class docstring's ``{...}`` of its parameter.

    Written out for most parameters; the losses' and schedules' are their registries' keys, filled in on import.
    """
    pytest.importorskip("numpydoc")
    from numpydoc.docscrape import ClassDoc
    from sklearn.utils._param_validation import StrOptions

    documented = {p.name: p.type for p in ClassDoc(skgd.GradientDescentRegressor)["Parameters"]}
    for name, constraints in skgd.GradientDescentRegressor._parameter_constraints.items():
        options = [c.options for c in constraints if isinstance(c, StrOptions)]
        if not options or name == "learning_rate":  # "auto" is documented beside the float it stands for
            continue
        listed = documented[name].split("{", 1)[1].split("}", 1)[0]
        names = {part.strip().strip('"') for part in listed.replace("\\", " ").split(",")}
        undocumented, unknown = sorted(set(options[0]) - names), sorted(names - set(options[0]))
        assert not undocumented, (
            f"add {undocumented} to the {{...}} of {name!r} in GradientDescentRegressor's docstring"
        )
        assert not unknown, f"{name!r}'s docstring lists {unknown}, which its registry lacks"
