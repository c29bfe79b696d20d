"""Mutation testing (mutmut 3) of the modules where a wrong number is silent, one module at a time.

    python tools/mutation_test.py                      # every module below, one after another
    python tools/mutation_test.py flops transforms     # only these
    make mutation MUTATION_MODULES="flops"             # the same through make (installs mutmut first)

For each module the package is copied into ``<workdir>/<module>/src/aitl_reid`` (mutmut imports the
mutated code from ``mutants/src`` and maps module names from file paths with only a ``src/`` prefix
stripped, so the ``plugin/`` layout cannot be mutated in place), beside copies of tests/, configs/,
tools/ and bench/, with a ``setup.cfg`` naming the files to mutate and only the test files that cover
them: each mutant then runs just the covering tests, in seconds. Workers come from mutmut's fork
server (``process_isolation = forkserver``): forking the process that already ran torch hangs.
mutmut mutates code inside functions and methods; module-level constants (``PAD``, ``FLIP_P``) are
left to the tests that measure them (docs/TESTING.md).

Each module's ``summary.md`` (status counts and score) and ``survivors.txt`` (the diff of every
surviving mutant) are written in its folder, and its summary line printed.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
COPIED = ("tests", "configs", "tools", "bench", "pytest.ini")


class Target(NamedTuple):
    """What to mutate (mutmut ``only_mutate`` globs under ``src/``) and the pytest arguments selecting its tests."""

    mutate: Sequence[str]
    tests: Sequence[str]


TARGETS: Dict[str, Target] = {
    "losses": Target(["src/aitl_reid/losses/*"], [
        "tests/test_losses_attribute.py", "tests/test_losses_cross_entropy.py", "tests/test_losses_intra_identity.py",
        "tests/test_losses_triplet.py", "tests/test_losses_unified.py", "tests/test_attribute_heads.py"]),
    # the MARS-size comparison with torchreid takes ~10 s and checks what the random-input comparisons check
    "metrics": Target(["src/aitl_reid/metrics/*"], [
        "tests/test_metrics_attributes.py", "tests/test_metrics_rank.py",
        "--deselect", "tests/test_metrics_rank.py::test_identical_to_torchreid_with_a_mars_size_gallery"]),
    "transforms": Target(["src/aitl_reid/data/transforms.py"], [
        "tests/test_data_transforms.py", "tests/test_data_uint8_clips.py"]),
    "identity_sampler": Target(["src/aitl_reid/data/identity_sampler.py"], ["tests/test_data_identity_sampler.py"]),
    "flops": Target(["src/aitl_reid/models/flops.py"], ["tests/test_models_flops.py"]),
    # the variant-building tests cover variants.py and the models, not paired.py
    "paired": Target(["src/aitl_reid/experiments/paired.py"], [
        "tests/test_ablation_runner.py", "tests/test_experiments_report.py", "-k", "not builds_its_model"]),
}
DETECTED = ("killed", "timeout", "caught by type check", "segfault")


def ini_list(values: Sequence[str]) -> str:
    return "".join(f"\n    {value}" for value in values)


def prepare(folder: Path, target: Target) -> None:
    """A fresh copy of the package, tests and their data files, with mutmut's configuration for ``target``."""
    if folder.exists():
        shutil.rmtree(folder)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "out")
    shutil.copytree(REPO / "plugin" / "aitl_reid", folder / "src" / "aitl_reid", ignore=ignore)
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=ignore)
        elif source.is_file():
            shutil.copy2(source, folder / name)
    (folder / "setup.cfg").write_text(
        "[mutmut]\nsource_paths = src\n"
        f"only_mutate ={ini_list(target.mutate)}\n"
        f"pytest_add_cli_args_test_selection ={ini_list(target.tests)}\n"
        f"also_copy ={ini_list([name for name in COPIED if (REPO / name).exists()])}\n"
        "pytest_add_cli_args = -p no:cacheprovider\n"
        "process_isolation = forkserver\n"
    )


def mutmut(folder: Path, *args: str, timeout: Optional[float] = None, log: Optional[Path] = None) -> str:
    """Run ``python -m mutmut ARGS`` in ``folder`` without PYTHONPATH (the copy's ``src`` must be what is imported)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.setdefault("OMP_NUM_THREADS", "1")  # one thread per worker: workers run side by side
    command = [sys.executable, "-m", "mutmut", *args]
    if log is None:
        return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, check=True).stdout
    with open(log, "w") as handle:
        try:
            subprocess.run(command, cwd=folder, env=env, stdout=handle, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            handle.write(f"\nstopped after {timeout} s: the mutants not run yet are 'not checked'\n")
    return ""


def statuses(folder: Path) -> Dict[str, str]:
    """Mutant name -> mutmut's status (killed, survived, timeout, no tests, not checked, ...)."""
    out = mutmut(folder, "results", "--all", "true")
    return dict(re.findall(r"^\s+(\S+): (.+)$", out, flags=re.MULTILINE))


def summary_line(module: str, by_name: Dict[str, str]) -> str:
    """A markdown table row: module, mutants, detected, survived, others, score over the checked mutants."""
    counts = Counter(by_name.values())
    checked = sum(n for status, n in counts.items() if status != "not checked")
    detected = sum(counts[s] for s in DETECTED)
    score = f"{100 * detected / checked:.1f} %" if checked else "-"
    others = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()) if s not in DETECTED + ("survived",)) or "-"
    return f"| {module} | {len(by_name)} | {detected} | {counts['survived']} | {others} | {score} |"


def run_module(module: str, workdir: Path, max_children: int, timeout: float, resume: bool = False) -> str:
    """Mutate ``module`` in a fresh copy (or, with ``resume``, go on with the mutants an earlier run left unchecked)."""
    folder = workdir / module
    if not (resume and (folder / "mutants").is_dir()):
        prepare(folder, TARGETS[module])
    mutmut(folder, "run", "--max-children", str(max_children), timeout=timeout, log=folder / "run.log")
    by_name = statuses(folder)
    survivors = [name for name, status in by_name.items() if status not in DETECTED + ("not checked",)]
    (folder / "survivors.txt").write_text("".join(mutmut(folder, "show", name) + "\n" for name in survivors))
    line = summary_line(module, by_name)
    (folder / "summary.md").write_text(line + "\n")
    return line


def build_parser() -> argparse.ArgumentParser:
    """The modules to mutate and how the runs go (work folder, parallel mutants, time per module, resuming)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", choices=[[], *TARGETS], metavar="MODULE",
                        help=f"modules to mutate (default: all of {', '.join(TARGETS)})")
    parser.add_argument("--workdir", default=str(REPO / "build" / "mutation"), help="where the copies are made")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per module before stopping its run")
    parser.add_argument("--resume", action="store_true",
                        help="go on with a module's earlier run (stopped by --timeout) on its copy as it was, "
                             "instead of a fresh copy")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Mutate each module on a copy, run its covering tests against every mutant, print the score table."""
    args = build_parser().parse_args(argv)
    try:
        import mutmut as _  # noqa: F401
    except ImportError:
        print("mutmut is not installed: pip install -r requirements-mutation.txt", file=sys.stderr)
        return 2
    print("| module | mutants | killed (incl. timeout) | survived | other | score |\n| --- | --- | --- | --- | --- | --- |")
    for module in args.modules or list(TARGETS):
        print(run_module(module, Path(args.workdir), args.max_children, args.timeout, args.resume), flush=True)
    print(f"surviving mutants: {args.workdir}/<module>/survivors.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
