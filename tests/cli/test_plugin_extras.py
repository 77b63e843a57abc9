"""A plugin whose optional dependencies are missing is skipped and named; a broken one fails."""

from __future__ import annotations

import pytest

from manifold_fm.cli import registry
from manifold_fm.cli.main import main
from manifold_fm.cli.registry import SPACES, PluginError
from manifold_fm.keyword_check import ConfigKeyError

NEEDS = "toyplugin needs the 'toy' extra; install it with: pip install 'toyplugin[toy]'"


def _entry_point(name: str, error: BaseException | None = None):
    class EntryPoint:
        value = f"{name}.plugin:register"

        def load(self):
            if error is not None:
                raise error
            return lambda spaces, models, datasets: spaces.register(f"{name}_sphere")(
                lambda d=2: SPACES.get("sphere")(d)
            )

    ep = EntryPoint()
    ep.name = name
    return ep


@pytest.fixture
def plugins(monkeypatch):
    """Install the given fake entry points in place of the real ones (fresh registries)."""

    def use(*eps):
        monkeypatch.setattr(registry, "_PLUGINS_LOADED", False)
        monkeypatch.setattr(registry, "_SKIPPED", {})
        monkeypatch.setattr(SPACES, "_items", dict(SPACES._items))
        monkeypatch.setattr(registry.importlib.metadata, "entry_points", lambda group: list(eps))

    return use


def test_a_plugin_missing_an_uninstalled_package_is_skipped_and_named(plugins):
    missing = ModuleNotFoundError(NEEDS, name="no_such_package_xyz")
    plugins(_entry_point("toy", missing), _entry_point("fine"))
    assert "fine_sphere" in SPACES.names()  # the other plugins still load
    assert registry.skipped_plugins() == {"toy": f"{NEEDS} (toy.plugin:register)"}
    with pytest.raises(ConfigKeyError) as info:
        SPACES.get("toy_space")
    msg = str(info.value)
    assert "unknown space kind 'toy_space'" in msg and "fine_sphere" in msg
    assert f"plugin 'toy' not loaded: {NEEDS}" in msg


def test_a_plugin_importing_a_missing_module_of_an_installed_package_is_a_bug(plugins):
    typo = ModuleNotFoundError("No module named 'manifold_fm.nowhere'", name="manifold_fm.nowhere")
    plugins(_entry_point("buggy", typo))
    with pytest.raises(PluginError, match=r"plugin 'buggy' \(buggy.plugin:register\)"):
        registry.load_plugins()


def test_a_plain_import_error_is_a_plugin_error(plugins):
    plugins(_entry_point("broken", ImportError("cannot import name 'x' from 'y'")))
    with pytest.raises(PluginError, match="cannot import name"):
        SPACES.names()


def test_missing_package_tells_absent_packages_from_bugs():
    assert registry.missing_package(ModuleNotFoundError("x", name="no_such_pkg.sub")) == (
        "no_such_pkg"
    )
    assert registry.missing_package(ModuleNotFoundError("x", name="torch.nowhere")) is None
    assert registry.missing_package(ModuleNotFoundError("x")) is None
    assert registry.missing_package(ImportError("x", name="no_such_pkg")) is None


def test_mfm_prints_a_missing_package_as_one_line(monkeypatch, capsys, tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text('[space]\nkind = "needs_extra"\n[model]\nkind = "mlp"\n[data]\nkind = "x"\n')

    def needs_extra():
        raise ModuleNotFoundError(NEEDS, name="no_such_package_xyz")

    monkeypatch.setattr(SPACES, "_items", {**SPACES._items, "needs_extra": needs_extra})
    assert main(["train", str(cfg)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"mfm: error: {NEEDS}"]


def test_mfm_keeps_the_traceback_of_a_broken_import(monkeypatch, tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text('[space]\nkind = "broken"\n[model]\nkind = "mlp"\n[data]\nkind = "x"\n')

    def broken():
        raise ModuleNotFoundError("No module named 'torch.nowhere'", name="torch.nowhere")

    monkeypatch.setattr(SPACES, "_items", {**SPACES._items, "broken": broken})
    with pytest.raises(ModuleNotFoundError, match=r"torch\.nowhere"):
        main(["train", str(cfg)])
