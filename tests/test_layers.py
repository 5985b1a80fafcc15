"""Package layers: services never import app.ops, only app.db reaches Flask-SQLAlchemy's engines, config loads first."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

APP = ROOT / "app"


def imported_modules(path: Path) -> set[str]:
    """Every module a source file imports, at the top or inside a function."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


@pytest.mark.parametrize("package", ["services", "blueprints"])
def test_services_and_blueprints_never_import_ops(package):
    """app.ops is the CLI's layer: it may call services, never the other way round (no package cycle)."""
    offenders = {
        str(path.relative_to(ROOT)): sorted(name for name in imported_modules(path) if name.startswith("app.ops"))
        for path in (APP / package).rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_imported_modules_sees_imports_inside_functions(tmp_path):
    """The walker also finds a late import, the usual way to hide a cycle."""
    source = tmp_path / "late.py"
    source.write_text("def f():\n    from app.ops.files import backups_root\n", encoding="utf-8")
    assert "app.ops.files" in imported_modules(source)


def test_only_app_db_reaches_flask_sqlalchemy_engines_and_metadatas():
    """One accessor: engine_of(bind) and metadata_of(bind) in app/db/__init__.py; nobody else indexes db.engines."""
    users = sorted(
        str(path.relative_to(ROOT))
        for path in APP.rglob("*.py")
        if ("db.engines" in (text := path.read_text(encoding="utf-8")) or "db.metadatas" in text)
    )
    assert users == ["app/db/__init__.py"]


def test_config_can_be_imported_before_the_app_package():
    """config.py reads the bind registry from app.db.binds; importing it first must not hit an import cycle."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import config; import app; print(config.Config.SQLITE_PRAGMAS['users']['synchronous'])",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "FULL"
