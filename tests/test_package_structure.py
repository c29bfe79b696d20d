"""The package's import structure: the schema at the base, the renderer imported only by what renders."""
import ast
import functools
import json
import os
import subprocess
import sys

import aitl_reid

PACKAGE_DIR = os.path.dirname(aitl_reid.__file__)


def _from_module(node: ast.ImportFrom, package: str) -> str:
    """The absolute name of the module of ``from <module> import ...`` (a relative one resolved against ``package``)."""
    if not node.level:
        return node.module or ""
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _imported_modules(path: str, package: str) -> set:
    """Absolute names of the modules a file imports (relative imports resolved against ``package``)."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = _from_module(node, package)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _package_files(subpackage: str):
    folder = os.path.join(PACKAGE_DIR, subpackage)
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            yield os.path.join(folder, name), f"aitl_reid.{subpackage}"


def test_imported_modules_resolves_relative_imports():
    path = os.path.join(PACKAGE_DIR, "metrics", "attributes.py")
    assert "aitl_reid.schema" in _imported_modules(path, "aitl_reid.metrics")


def test_models_losses_metrics_do_not_import_data():
    offenders = []
    for subpackage in ("models", "losses", "metrics"):
        for path, package in _package_files(subpackage):
            bad = [m for m in _imported_modules(path, package) if m == "aitl_reid.data" or m.startswith("aitl_reid.data.")]
            if bad:
                offenders.append(f"{os.path.relpath(path, PACKAGE_DIR)}: {sorted(bad)}")
    assert offenders == []


def test_schema_imports_nothing_from_the_package():
    path = os.path.join(PACKAGE_DIR, "schema.py")
    assert [m for m in _imported_modules(path, "aitl_reid") if m.startswith("aitl_reid")] == []


_PROBE = """
import builtins, json, sys, warnings
warnings.simplefilter("ignore")
import torchreid
importers = {}
real_import = builtins.__import__
def recording_import(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {}).get("__name__", "")
    if level == 0 and importer.startswith("aitl_reid"):
        importers.setdefault(name.split(".")[0], set()).add(importer)
    return real_import(name, globals, locals, fromlist, level)
builtins.__import__ = recording_import
found = {}
for statement in %r:
    before = set(sys.modules)
    importers.clear()
    exec(statement)
    found[statement] = {"added": sorted(set(sys.modules) - before),
                        "importers": {k: sorted(v) for k, v in importers.items()}}
builtins.__import__ = real_import
print(json.dumps(found))
"""
# In this order, in one interpreter: the models first, with nothing of the package loaded yet.
PROBED = ("import aitl_reid.models", "import aitl_reid.synthetic")


@functools.lru_cache(maxsize=None)
def _probe_all() -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE % (PROBED,)], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _probe(statement: str) -> dict:
    """In a fresh interpreter (after torchreid and the statements before it in :data:`PROBED`): the modules
    ``statement`` loads, and which ``aitl_reid`` modules execute an absolute import of each top-level package while it
    runs (even of one already loaded)."""
    return _probe_all()[statement]


def test_importing_models_loads_neither_renderer_nor_matplotlib():
    found = _probe("import aitl_reid.models")
    assert "aitl_reid.models.asta" in found["added"]  # the probe sees this package's modules
    assert [m for m in found["added"] if m.startswith("aitl_reid.synthetic") or m.startswith("matplotlib")] == []
    assert "matplotlib" not in found["importers"]


def test_importing_models_uses_opencv_only_to_decode_frames():
    # torchreid itself imports cv2 (torchreid.utils.reidtools), so cv2 is loaded before this package
    # runs; what this package adds is one user, the frame decoder that the datasets registered at import need.
    found = _probe("import aitl_reid.models")
    assert found["importers"]["cv2"] == ["aitl_reid.data.image_io"]


def test_importing_the_renderer_is_seen_by_the_probe():
    found = _probe("import aitl_reid.synthetic")
    assert "aitl_reid.synthetic.render" in found["added"]
    assert "aitl_reid.synthetic.render" in found["importers"]["cv2"]


def _is_package_module(name: str) -> bool:
    """Whether ``aitl_reid[.a.b]`` is a module or subpackage (not a name defined in one)."""
    target = os.path.join(PACKAGE_DIR, *name.split(".")[1:])
    return os.path.isdir(target) or os.path.isfile(target + ".py")


def _package_modules(path: str) -> set:
    """The ``aitl_reid`` modules a file imports, function-level imports included: ``from X import y`` counts as
    ``X.y`` when that is a module or subpackage, as ``X`` otherwise (``from . import __version__`` is ``aitl_reid``)."""
    package = _package_of(path)
    found = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _from_module(node, package)
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if child.startswith("aitl_reid") and _is_package_module(child) else base)
    return {name for name in found if name == "aitl_reid" or name.startswith("aitl_reid.")}


def _package_of(path: str) -> str:
    relative = os.path.relpath(os.path.dirname(path), os.path.dirname(PACKAGE_DIR))
    return relative.replace(os.sep, ".")


def _module_of(path: str) -> str:
    name = os.path.splitext(os.path.relpath(path, os.path.dirname(PACKAGE_DIR)))[0].replace(os.sep, ".")
    return name[: -len(".__init__")] if name.endswith(".__init__") else name


def upward_imports(path: str) -> list:
    """``'<module> -> <imported>'`` for each import of the file that points to a higher layer of ``aitl_reid.layers``."""
    from aitl_reid.layers import layer_of

    module = _module_of(path)
    return sorted(f"{module} -> {name}" for name in _package_modules(path) if layer_of(name) > layer_of(module))


def test_no_module_imports_from_a_layer_above_its_own():
    from aitl_reid.layers import layer_of

    paths = [os.path.join(folder, name) for folder, _, names in os.walk(PACKAGE_DIR) for name in names
             if name.endswith(".py")]
    assert len(paths) > 100 and all(layer_of(_module_of(p)) >= 0 for p in paths)  # every module has a layer
    assert [line for path in paths for line in upward_imports(path)] == []


def test_the_layer_check_sees_an_upward_import_inside_a_function(tmp_path, monkeypatch):
    """A synthetic engine module importing inference inside a method (what aitl_engine.py did) is reported;
    the same import from a command is not."""
    package = tmp_path / "aitl_reid"
    (package / "engine").mkdir(parents=True)
    (package / "inference").mkdir()
    (package / "inference" / "fast.py").write_text("")
    for folder in (package, package / "engine", package / "inference"):
        (folder / "__init__.py").write_text("")
    (package / "engine" / "loop.py").write_text(
        "from .. import distributed\n\nclass Engine:\n    def forward(self):\n"
        "        from ..inference.fast import FrozenForward\n        return FrozenForward\n")
    (package / "train.py").write_text("from .inference.fast import FrozenForward\n")
    (package / "distributed.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE_DIR", str(package))
    assert upward_imports(str(package / "engine" / "loop.py")) == ["aitl_reid.engine.loop -> aitl_reid.inference.fast"]
    assert upward_imports(str(package / "train.py")) == []
