"""A fresh install (``pip install -e .``, no extras) must work: runtime code imports only the runtime
dependencies declared in pyproject.toml, whatever else happens to be installed."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

import healthgate

PACKAGE = Path(healthgate.__file__).parent

# Import every module of the package (except the Alembic environment, which runs migrations when imported),
# build the app and run the CLI's --help and --version, then list the top-level modules that got imported.
_IMPORT_EVERYTHING = textwrap.dedent("""
    import json, pkgutil, sys, importlib, contextlib, io
    import healthgate
    for info in pkgutil.walk_packages(healthgate.__path__, "healthgate."):
        if info.name != "healthgate.migrations.env":
            importlib.import_module(info.name)
    from healthgate.app import create_app
    from healthgate.cli import app
    from healthgate.config import Settings
    create_app(Settings(data_dir=sys.argv[1]))
    for args in (["--help"], ["--version"], ["db", "--help"]):
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                app(args)
            except SystemExit as exc:
                assert exc.code in (0, None), (args, exc.code)
    print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
""")

# Makes the named top-level modules unimportable, as on a machine where they are not installed.
_BLOCK = textwrap.dedent("""
    import sys
    BLOCKED = set(sys.argv.pop(2).split(","))
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)
            return None
    sys.meta_path.insert(0, Block())
""")


def _closure(dist: str, extras: frozenset[str] = frozenset()) -> set[str]:
    """Names of the distributions ``dist`` (with ``extras``) needs, itself included, recursively."""
    seen: set[str] = set()
    todo = [(dist, extras)]
    while todo:
        name, wanted = todo.pop()
        key = name.lower().replace("_", "-")
        if (key, wanted) in seen:
            continue
        seen.add((key, wanted))  # type: ignore[arg-type]
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # an optional dependency that is not installed here
        for text in requires:
            req = Requirement(text)
            envs = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                todo.append((req.name, frozenset(req.extras)))
    return {name for name, _ in seen}  # type: ignore[misc]


def _run(code: str, *args: str, tmp_path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, str(tmp_path), *args], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300, check=False)


def _imports_of(source: str) -> set[str]:
    """Top-level names of every absolute import in ``source``, wherever it sits (functions included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_runtime_code_imports_only_declared_runtime_dependencies():
    allowed = _closure("healthgate")
    owners = metadata.packages_distributions()
    outside: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for module in _imports_of(path.read_text()) - set(sys.stdlib_module_names) - {"healthgate", "__future__"}:
            dists = {d.lower().replace("_", "-") for d in owners.get(module, [])}
            if not dists & allowed:
                outside.setdefault(module, []).append(str(path.relative_to(PACKAGE)))
    assert not outside, f"runtime code imports modules that no runtime dependency provides: {outside}"


def test_import_check_sees_a_test_only_import():
    owners = metadata.packages_distributions()
    module = next(iter(_imports_of("def f():\n    from jsonschema import Draft202012Validator\n")))
    assert not {d.lower() for d in owners[module]} & _closure("healthgate")


def test_the_package_works_without_test_only_dependencies(tmp_path):
    # Everything only the ``test`` extra brings in, made unimportable.
    runtime = _closure("healthgate")
    test_only = sorted(_closure("healthgate", frozenset({"test"})) - runtime)
    owners = metadata.packages_distributions()
    blocked = {m for m, dists in owners.items()
               if {d.lower().replace("_", "-") for d in dists} & set(test_only)
               and not {d.lower().replace("_", "-") for d in dists} & runtime}
    assert "jsonschema" in blocked  # the fault this test was written for
    result = _run(_BLOCK + _IMPORT_EVERYTHING, ",".join(sorted(blocked)), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]


def test_uri_check_does_not_depend_on_installed_extras(tmp_path):
    """The translation's URI check gives the same answers with and without jsonschema's format extras."""
    code = _BLOCK + textwrap.dedent("""
        from healthgate.catalogue.standard import translate
        samples = ["https://x.org/a", "nhs.uk:80/x", "www.nhs.uk", "http://a b", "mailto:a@b.org", "x",
                   "https://example.com/\u00e4", "urn:isbn:0451450523", "http://[bad"]
        print([translate._as_uri(s) for s in samples])
    """)
    with_extras = _run(code, "nothing-blocked", tmp_path=tmp_path)
    without = _run(code, "jsonschema,rfc3987,rfc3986_validator,rfc3339_validator,fqdn,uri_template,"
                   "webcolors,jsonpointer,isoduration", tmp_path=tmp_path)
    assert with_extras.returncode == 0 and without.returncode == 0, with_extras.stderr + without.stderr
    assert with_extras.stdout == without.stdout
    assert "'https://www.nhs.uk'" in with_extras.stdout and "'https://x.org/a'" in with_extras.stdout
