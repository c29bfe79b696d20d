"""The package's import structure: the schema at the base, the renderer imported only by what renders."""
import ast
import functools
import json
import os
import subprocess
import sys

import aitl_reid

PACKAGE_DIR = os.path.dirname(aitl_reid.__file__)


def _imported_modules(path: str, package: str) -> set:
    """Absolute names of the modules a file imports (relative imports resolved against ``package``)."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
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
before = set(sys.modules)
importers = {}
real_import = builtins.__import__
def recording_import(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {}).get("__name__", "")
    if level == 0 and importer.startswith("aitl_reid"):
        importers.setdefault(name.split(".")[0], set()).add(importer)
    return real_import(name, globals, locals, fromlist, level)
builtins.__import__ = recording_import
%s
builtins.__import__ = real_import
print(json.dumps({"added": sorted(set(sys.modules) - before), "importers": {k: sorted(v) for k, v in importers.items()}}))
"""


@functools.lru_cache(maxsize=None)
def _probe(statement: str) -> dict:
    """In a fresh interpreter: the modules ``statement`` loads beyond torchreid's own, and which
    ``aitl_reid`` modules execute an absolute import of each top-level package (even one already loaded)."""
    out = subprocess.run([sys.executable, "-c", _PROBE % statement], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


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
