"""The generated command and config references match the parsers and dataclasses they
describe, and the docstring escaping keeps plain-text maths readable."""

import argparse
import dataclasses
import re
import sys
import typing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import mfm_reference as ref  # noqa: E402
import plain_docstrings  # noqa: E402
import public_names  # noqa: E402

from manifold_fm.cli import demo  # noqa: E402
from manifold_fm.cli.main import build_parser  # noqa: E402
from manifold_fm.cli.registry import DATASETS, MODELS, SPACES  # noqa: E402
from manifold_fm.train import TrainConfig  # noqa: E402


def _rows(text: str) -> list[list[str]]:
    """The list-table rows of generated rst, each as its cells."""
    rows, cur = [], None
    for line in text.splitlines():
        if line.startswith("   * - "):
            cur = [line[7:]]
            rows.append(cur)
        elif line.startswith("     - ") and cur is not None:
            cur.append(line[7:])
    return rows


def _actions(parser):
    return [
        a
        for a in parser._actions
        if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))
    ]


def test_every_mfm_option_is_listed_with_its_default_and_help():
    text = ref.cli_reference()
    subs = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parsers = {**subs.choices, "demo": demo.build_parser()}
    sections = re.split(r"\nmfm (\w+)\n-+\n", text)
    by_name = dict(zip(sections[1::2], sections[2::2]))
    assert set(by_name) == set(parsers)
    for name, parser in parsers.items():
        rows = _rows(by_name[name])
        assert len(rows) == 1 + len(_actions(parser))  # the header row, then one per argument
        for act, row in zip(_actions(parser), rows[1:]):
            assert (act.option_strings or [act.dest])[0] in row[0]
            if act.option_strings and act.default is not None and act.default is not False:
                assert row[2] == f"``{act.default!r}``", (name, act.dest)
            expected = re.sub(r"(?<![`:])`([^`]+)`(?!`)", r"``\1``", act.help or "")
            assert row[3] == plain_docstrings.escape_line(expected)


def test_cli_reference_follows_a_changed_parser():
    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    subs.choices["sample"].add_argument("--brand-new", type=int, default=7, help="a new knob")
    text = ref.cli_reference(parser)
    assert ["``--brand-new BRAND_NEW``", "int", "``7``", "a new knob"] in _rows(text)
    assert "brand-new" not in ref.cli_reference()


def test_every_train_key_has_type_default_and_meaning():
    rows = {r[0]: r for r in _rows(ref.config_reference())}
    hints = typing.get_type_hints(TrainConfig)
    meanings = ref.field_meanings(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        row = rows[f"``{f.name}``"]
        assert row[1] == f"``{ref._type_name(hints[f.name])}``"
        assert row[2] == f"``{ref.field_default(f)!r}``"  # a factory default: its value
        assert row[3] == plain_docstrings.escape_line(meanings[f.name]) != ""
    assert "AdamW settings" in rows["``weight_decay``"][3]  # a shared entry serves both


def test_every_registered_kind_is_listed():
    text = ref.config_reference()
    for reg in (SPACES, MODELS, DATASETS):
        for kind in reg.names():
            assert f"   * - ``{kind}``" in text, kind


def test_a_field_without_a_meaning_is_refused():
    @dataclasses.dataclass
    class Broken:
        """A config.

        Attributes:
            steps: how many.
        """

        steps: int = 1
        undocumented: float = 0.5

    with pytest.raises(ref.DocDriftError, match="undocumented"):
        ref.config_reference(Broken)

    @dataclasses.dataclass
    class Stale:
        """A config.

        Attributes:
            steps: how many.
            removed: a key that no longer exists.
        """

        steps: int = 1

    with pytest.raises(ref.DocDriftError, match="removed"):
        ref.field_meanings(Stale)


def test_plain_maths_is_escaped_but_markup_is_kept():
    esc = plain_docstrings.escape_line
    assert esc("dist = |y - <x,y> x|") == r"dist = \|y - <x,y> x\|"
    assert esc("points (n, *event)") == r"points (n, \*event)"
    assert esc("* a bullet with ``a|b`` and :math:`|x|`") == (
        "* a bullet with ``a|b`` and :math:`|x|`"
    )
    assert esc("some **strong** words") == "some **strong** words"


API = ROOT / "docs" / "reference" / "api"


def test_a_re_exported_name_links_to_its_defining_module():
    assert public_names.defining_name("manifold_fm.Sphere") == "manifold_fm.spaces.sphere.Sphere"
    assert public_names.defining_name("manifold_fm.log_prob") == (
        "manifold_fm.solvers.likelihood.log_prob"
    )
    assert public_names.defining_name("discrete_fm.elbo") == "discrete_fm.elbo.elbo"
    assert public_names.defining_name("manifold_fm.solvers") is None  # a module: no qualname
    assert public_names.defining_name("manifold_fm.no_such_name") is None


def _public_modules() -> set[str]:
    """Every module of manifold_fm and discrete_fm whose dotted name has no private part."""
    names = set()
    for pkg in ("manifold_fm", "discrete_fm"):
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if not any(part.startswith("_") for part in parts):
                names.add(".".join(parts))
    return names


def _automodules() -> dict[str, list[str]]:
    """automodule target -> the API pages that document it."""
    found: dict[str, list[str]] = {}
    for page in sorted(API.glob("*.rst")):
        for target in re.findall(r"^\.\. automodule:: (\S+)$", page.read_text(), flags=re.M):
            found.setdefault(target, []).append(page.stem)
    return found


def test_every_package_has_its_api_page():
    packages = sorted(p.parent.name for p in (ROOT / "manifold_fm").glob("*/__init__.py"))
    for name in packages:
        page = API / f"{name}.rst"
        assert page.is_file(), f"manifold_fm.{name} has no page {page.relative_to(ROOT)}"
        assert f".. automodule:: manifold_fm.{name}\n" in page.read_text()
    for name, module in (("manifold_fm", "manifold_fm"), ("discrete_fm", "discrete_fm")):
        assert f".. automodule:: {module}\n" in (API / f"{name}.rst").read_text()


def test_every_public_module_is_documented_once_and_every_target_exists():
    documented = _automodules()
    public = _public_modules()
    assert sorted(set(documented) - public) == []  # a target that is no module (any more)
    assert sorted(public - set(documented)) == []  # a module on no page
    assert {m: pages for m, pages in documented.items() if len(pages) > 1} == {}


def test_the_api_index_lists_every_page():
    index = (API / "index.rst").read_text()
    listed = re.findall(r"^   (\w+)$", index, flags=re.M)
    assert sorted(listed) == sorted(p.stem for p in API.glob("*.rst") if p.stem != "index")


def test_train_table_shows_factory_defaults_as_values():
    """A field with a default factory (coupling_options) shows what the factory makes, never
    dataclasses' MISSING marker."""
    from manifold_fm.train import TrainConfig

    rows = {r[0]: r for r in ref._train_rows(TrainConfig)}
    assert "MISSING" not in " ".join(" ".join(r) for r in rows.values())
    assert rows["``coupling_options``"][2] == ref._lit({})
