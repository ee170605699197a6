"""Pure core, thin shell: no pure module reaches faust, kafka or prometheus, even lazily.

Every module of the pure packages is checked, with every import it makes
(module level or inside a function) followed through the project's own
modules, so a pure module cannot reach a stream or metrics library through a
helper either.
"""

from __future__ import annotations

import ast
import importlib.util
import pkgutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

import schemas
import streams.core
import streams.engine
from tests.constants import ROOT

FORBIDDEN = frozenset({"faust", "mode", "kafka", "aiokafka", "prometheus_client"})
PURE_PACKAGES = (schemas, streams.core, streams.engine)
PURE_LAB_MODULES = (
    "streams.lab.bench",
    "streams.lab.citygen",
    "streams.lab.cityshape",
    "streams.lab.evaluate",
    "streams.lab.geojson",
    "streams.lab.simplan",
    "streams.lab.simulate",
)
PROJECT = ("schemas", "streams")


def _modules() -> list[str]:
    names = [package.__name__ for package in PURE_PACKAGES]
    for package in PURE_PACKAGES:
        names += [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
    return sorted(set(names) | set(PURE_LAB_MODULES))


def _source(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    assert spec is not None, module
    assert spec.origin is not None, module
    return Path(spec.origin)


def _is_module(name: str) -> bool:
    """Whether ``name`` is a module (``from package import thing`` may name a class)."""
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # the parent is a module, not a package
        return False


@cache
def _imports(module: str) -> frozenset[str]:
    """Every module ``module`` imports, anywhere in its source."""
    path = _source(module)
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            # `from package import module` imports the module too.
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return frozenset(found)


def _reaches(module: str) -> dict[str, str]:
    """{forbidden library: the chain of project modules that reaches it}."""
    bad: dict[str, str] = {}
    seen = {module}
    queue = [(module, module)]
    while queue:
        current, chain = queue.pop()
        for name in _imports(current):
            top = name.split(".")[0]
            if top in FORBIDDEN:
                bad.setdefault(top, f"{chain} -> {name}")
            elif top in PROJECT and name not in seen and _is_module(name):
                seen.add(name)
                queue.append((name, f"{chain} -> {name}"))
    return bad


def test_every_pure_package_module_is_listed() -> None:
    modules = _modules()
    assert "streams.engine.flow" in modules
    assert "streams.core.offline" in modules
    assert len(modules) > 30
    for module in modules:
        assert _source(module).is_relative_to(ROOT), module


@pytest.mark.parametrize("module", _modules())
def test_pure_module_reaches_no_stream_or_metrics_library(module: str) -> None:
    assert _reaches(module) == {}


def test_the_check_sees_a_lazy_import_through_a_helper() -> None:
    # The shell does import them: the check must be able to tell.
    assert "kafka" in _reaches("streams.broker.replay")
    assert "faust" in _reaches("streams.runtime.app")


def test_importing_every_pure_module_loads_none_of_them() -> None:
    # A fresh interpreter, so modules imported by other tests do not count.
    code = (
        "import sys\n"
        f"for name in {_modules()!r}: __import__(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {set(FORBIDDEN)!r})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
