"""Every error class the library defines derives from ManifoldFMError and from a builtin.

``except ManifoldFMError`` catches any error manifold-fm raises on purpose; the builtin base
each class had before (ValueError, TypeError, RuntimeError, ImportError) is kept, so
``except ValueError`` and the like still catch them.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import pkgutil
import types

import pytest

from manifold_fm.errors import ManifoldFMError

PACKAGES = ("manifold_fm", "discrete_fm")
# optional dependencies of manifold_fm.proteins: its modules are skipped where one is missing
PROTEIN_DEPS = ("torch_geometric", "e3nn", "gemmi")


def _library_modules() -> list[types.ModuleType]:
    """Every module of both packages (``__main__`` excluded: importing it runs the CLI)."""
    mods = []
    for pkg in PACKAGES:
        top = importlib.import_module(pkg)
        names = [pkg] + [m.name for m in pkgutil.walk_packages(top.__path__, pkg + ".")]
        for name in names:
            if name.rsplit(".", 1)[-1] == "__main__":
                continue
            try:
                mods.append(importlib.import_module(name))
            except ModuleNotFoundError as err:
                missing = (err.name or "").split(".")[0]
                if name.startswith("manifold_fm.proteins") and missing in PROTEIN_DEPS:
                    continue
                raise
    return mods


def _builtin_base(cls: type) -> type | None:
    """The first builtin exception in ``cls``'s MRO more specific than Exception, or None."""
    for base in cls.__mro__:
        if (
            base.__module__ == "builtins"
            and getattr(builtins, base.__name__, None) is base
            and issubclass(base, Exception)
            and base not in (Exception, BaseException)
        ):
            return base
    return None


def error_classes(module: types.ModuleType) -> list[type]:
    """Exception subclasses defined in ``module`` (not merely imported into it)."""
    return [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj) and issubclass(obj, Exception) and obj.__module__ == module.__name__
    ]


def untyped_errors(module: types.ModuleType) -> list[str]:
    """Error classes of ``module`` missing ManifoldFMError or a builtin base, with why."""
    bad = []
    for cls in error_classes(module):
        if cls is ManifoldFMError:
            continue
        why = []
        if not issubclass(cls, ManifoldFMError):
            why.append("not a ManifoldFMError")
        if _builtin_base(cls) is None:
            why.append("no builtin base other than Exception")
        if why:
            bad.append(f"{module.__name__}.{cls.__qualname__}: {', '.join(why)}")
    return bad


@pytest.fixture(scope="module")
def modules() -> list[types.ModuleType]:
    return _library_modules()


def test_every_library_error_is_a_manifold_fm_error_and_a_builtin(modules):
    found = [cls for m in modules for cls in error_classes(m) if cls is not ManifoldFMError]
    assert len(found) >= 15  # the collector really saw the library's error classes
    assert [line for m in modules for line in untyped_errors(m)] == []


def test_the_collector_reports_an_error_class_without_the_base():
    mod = types.ModuleType("fake_mfm_module")
    exec(
        "from manifold_fm.errors import ManifoldFMError\n"
        "class BadError(ValueError):\n    pass\n"
        "class BareError(ManifoldFMError):\n    pass\n"
        "class GoodError(ManifoldFMError, KeyError):\n    pass\n"
        "Imported = ValueError\n",
        mod.__dict__,
    )
    assert untyped_errors(mod) == [
        "fake_mfm_module.BadError: not a ManifoldFMError",
        "fake_mfm_module.BareError: no builtin base other than Exception",
    ]


# each class and the builtin it derived from before ManifoldFMError existed
PREVIOUS_BASES = {
    "manifold_fm.cli.options:CLIError": ValueError,
    "manifold_fm.cli.registry:PluginError": ImportError,
    "manifold_fm.conditioning:ConditionError": ValueError,
    "manifold_fm.data.mnist:MnistFormatError": ValueError,
    "manifold_fm.errors:DataValidationError": ValueError,
    "manifold_fm.errors:ResumeMismatchError": ValueError,
    "manifold_fm.keyword_check:ConfigKeyError": ValueError,
    "manifold_fm.keyword_check:ConfigTypeError": TypeError,
    "manifold_fm.nn.features:FeatureConfigError": ValueError,
    "manifold_fm.proteins.parse:ProteinParseError": ValueError,
    "manifold_fm.solvers.likelihood:LikelihoodError": RuntimeError,
    "manifold_fm.spaces.geoopt.manifolds:NoDefaultPriorError": ValueError,
    "manifold_fm.spaces.product.mask:ProductMaskError": ValueError,
    "manifold_fm.testing.report:SpaceCheckError": ValueError,
    "manifold_fm.train.loss_meter:NonFiniteLossError": RuntimeError,
}


@pytest.mark.parametrize("target", sorted(PREVIOUS_BASES))
def test_each_error_keeps_its_previous_builtin_base(target):
    module, name = target.split(":")
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, ManifoldFMError)
    assert _builtin_base(cls) is PREVIOUS_BASES[target]


def test_except_builtin_still_catches_the_library_errors():
    from manifold_fm.keyword_check import ConfigKeyError, ConfigTypeError, check_keys

    with pytest.raises(ValueError) as info:
        check_keys({"lr": 1, "bogus": 2}, ["lr"], "[train]")
    assert type(info.value) is ConfigKeyError
    assert "bogus" in str(info.value)
    # str() is the builtin's (no KeyError-style quoting), so messages read as before
    assert str(ConfigKeyError("a message")) == "a message"
    with pytest.raises(TypeError):
        raise ConfigTypeError("lr: expected float")
    with pytest.raises(ManifoldFMError):
        check_keys({"bogus": 2}, ["lr"], "[train]")
