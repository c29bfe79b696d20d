"""Programs end through ``aitl_reid.process_exit``: the exit status is main's, garbage main left is still finalized,
atexit handlers and the standard streams still run, and every program of the repository that imports the package
ends that way (its installed commands too)."""
import ast
import gc
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from aitl_reid.process_exit import as_command

REPO = Path(__file__).resolve().parents[1]
MODULE = REPO / "plugin" / "aitl_reid" / "process_exit.py"
PROGRAM_FOLDERS = (REPO / "plugin" / "aitl_reid", REPO / "tools", REPO / "bench")


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the suite's objects stay collectable


def test_a_command_returns_mains_status_with_the_live_objects_out_of_the_collectors_sight(unfrozen):
    def main() -> int:
        """The program's own help."""
        return 3

    command = as_command(main)
    assert gc.get_freeze_count() == 0
    assert command() == 3
    assert gc.get_freeze_count() > 0
    assert command.__doc__ == main.__doc__


def test_the_exit_still_finalizes_mains_garbage_runs_atexit_and_flushes_output(tmp_path):
    """In a fresh interpreter that loads the module alone (the package's import would take seconds): a reference
    cycle with a finalizer that main dropped, an atexit handler, and buffered standard output."""
    finalized = tmp_path / "finalized.txt"
    script = textwrap.dedent(f"""
        import atexit, importlib.util, sys
        spec = importlib.util.spec_from_file_location("process_exit", {str(MODULE)!r})
        process_exit = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(process_exit)

        class Cycle:
            def __del__(self):
                with open({str(finalized)!r}, "w") as handle:
                    handle.write("finalized")

        def main():
            node = Cycle()
            node.self = node
            atexit.register(print, "atexit ran")
            sys.stdout.write("buffered output")
            return 5

        sys.exit(process_exit.finish(main()))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 5, result.stderr
    assert result.stdout == "buffered outputatexit ran\n"
    assert finalized.read_text() == "finalized"


def main_block(tree: ast.Module):
    """The body of the module's ``if __name__ == "__main__":`` block, or None."""
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "__name__ == '__main__'":
            return node.body
    return None


def imports_the_package(tree: ast.Module, path: Path) -> bool:
    if REPO / "plugin" in path.parents:
        return True
    return any(isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "aitl_reid"
               or isinstance(node, ast.Import) and any(a.name.split(".")[0] == "aitl_reid" for a in node.names)
               for node in ast.walk(tree))


def test_every_program_that_loads_the_package_ends_through_finish():
    checked, wrong = [], []
    for folder in PROGRAM_FOLDERS:
        for path in sorted(folder.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            body = main_block(tree)
            if body is None or not imports_the_package(tree, path):
                continue
            checked.append(path)
            code = ast.unparse(body[-1])
            commands = {ast.unparse(node.targets[0]) for node in tree.body if isinstance(node, ast.Assign)
                        and ast.unparse(node.value).startswith("as_command(")}
            if not (code.startswith("sys.exit(finish(") or code == "sys.exit(command())" and "command" in commands):
                wrong.append(f"{path.relative_to(REPO)}: {code}")
    assert len(checked) > 25 and wrong == []
