"""The command lines the documentation shows, found and checked without running anything (tests/test_doc_commands.py).

A command is a line of a fenced shell block, an inline code span, or a usage line of a tool's docstring that calls
a tool of this repository (``tools/*.py``, ``python -m aitl_reid...`` or ``bench.run``, an ``aitl-reid-*`` console
script, ``tools/slurm_torchrun.sbatch``). :func:`check_command` parses its arguments with that tool's own parser,
loads every config it names with its ``KEY VALUE`` overrides, and looks for every repository path it names.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable, Dict, Iterator, List, Optional, Sequence

from aitl_reid.config import ConfigError
from aitl_reid.launch import load_config

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "configs" / "README.md"]

# how each tool is reached -> the module holding its parser (build_parser(), or parse_args(argv) where the tool
# checks more than argparse does); tools/*.py that only call a package module's main are that module
TOOL_MODULES: Dict[str, str] = {
    "tools/main.py": "aitl_reid.train", "aitl_reid.train": "aitl_reid.train", "aitl-reid-train": "aitl_reid.train",
    "tools/reid_tracklets.py": "aitl_reid.infer", "aitl_reid.infer": "aitl_reid.infer", "aitl-reid-infer": "aitl_reid.infer",
    "tools/export_onnx.py": "aitl_reid.export", "aitl_reid.export": "aitl_reid.export",
    "aitl-reid-export": "aitl_reid.export",
    "aitl-reid-check": "aitl_reid.data.check", "aitl_reid.data.check": "aitl_reid.data.check",
    "aitl_reid.data.attribute_variation": "aitl_reid.data.attribute_variation",
    "tools/ablation.py": "aitl_reid.experiments.cli", "aitl_reid.experiments.cli": "aitl_reid.experiments.cli",
    "tools/convert_released.py": "aitl_reid.convert", "aitl_reid.convert": "aitl_reid.convert",
    "aitl-reid-convert": "aitl_reid.convert",
    "aitl-reid-demo": "aitl_reid.demo", "aitl_reid.demo": "aitl_reid.demo",
    "aitl-reid-configs": "aitl_reid.config.packaged", "aitl_reid.config.packaged": "aitl_reid.config.packaged",
    "aitl-reid-track": "aitl_reid.track", "aitl_reid.track": "aitl_reid.track",
    "aitl-reid-search": "aitl_reid.search", "aitl_reid.search": "aitl_reid.search",
    "bench.run": "bench.run",
    **{f"tools/{name}.py": f"tools/{name}.py" for name in (
        "benchmark_synthetic", "count_flops", "flops_map", "loss_balance", "make_synthetic", "mutation_test", "plot_curves",
        "visualize_attention", "visualize_ranks")},
}
SCRIPTS = ("tools/slurm_torchrun.sbatch",)  # shell scripts: their arguments go to the trainer as KEY VALUE pairs
REPO_DIRS = ("configs/", "tools/", "docs/", "bench/", "plugin/", "tests/")
_TOOL_TOKEN = re.compile(r"(?:^|/)(tools/\w+\.(?:py|sbatch))$|(?:^|/)(aitl-reid-\w+)$")
_PLACEHOLDER = re.compile(r"^\$?[A-Z][A-Z0-9_]*$|\.\.\.|<|\$")  # CONFIG, RUN, $RUN, QUERY_DIR, ..., <name>


@dataclass(frozen=True)
class Command:
    """A command line shown in ``source`` (``file:line``), as written."""

    source: str
    text: str


def _logical_lines(lines: Sequence[str]) -> Iterator[tuple]:
    """(first line number, text) with backslash continuations joined."""
    start, parts = 0, []
    for number, line in enumerate(lines, 1):
        if not parts:
            start = number
        if line.rstrip().endswith("\\"):
            parts.append(line.rstrip()[:-1])
            continue
        parts.append(line)
        yield start, " ".join(p.strip() for p in parts)
        parts = []
    if parts:
        yield start, " ".join(p.strip() for p in parts)


def _calls_a_tool(text: str) -> bool:
    return bool(re.search(r"tools/\w+\.(py|sbatch)|-m (aitl_reid[\w.]*|bench\.run)\b|(^|[\s/])aitl-reid-\w+", text))


def _source_name(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def markdown_commands(path: Path, text: Optional[str] = None) -> List[Command]:
    """The commands of a markdown file: lines of fenced shell blocks, and inline code spans with arguments."""
    text = path.read_text(encoding="utf-8") if text is None else text  # text: a snippet standing for the file
    name = _source_name(path)
    commands: List[Command] = []
    fence: Optional[str] = None
    block: List[tuple] = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            if fence is None:
                fence, block = stripped[3:].strip() or "sh", []
            else:
                if fence in ("sh", "bash", "shell", "console"):
                    for offset, logical in _logical_lines([b for _, b in block]):
                        if _calls_a_tool(logical) and not logical.lstrip().startswith("#"):
                            commands.append(Command(f"{name}:{block[offset - 1][0]}", logical.lstrip("$ ")))
                fence = None
            continue
        if fence is not None:
            block.append((number, line))
            continue
        for span in re.findall(r"(?<!`)`([^`]+)`(?!`)", line.replace("\\|", "\x00")):
            span = re.sub(r"(\S+?)\x00\S+", r"\1", span)  # a table's `mars\|duke`: the first alternative
            if _calls_a_tool(span) and _has_arguments(span):
                commands.append(Command(f"{name}:{number}", span))
    return commands


def docstring_commands(path: Path, text: Optional[str] = None) -> List[Command]:
    """Usage lines of a tool's docstring or leading comments: lines that start by calling it, and ``rst`` literals."""
    text = path.read_text(encoding="utf-8") if text is None else text  # text: a snippet standing for the file
    name = _source_name(path)
    lines = [line.strip().lstrip("#").strip() for line in text.splitlines()]
    lines = [line[:-1] if line.endswith("\\\\") else line for line in lines]  # a docstring's escaped continuation
    commands = []
    for number, line in _logical_lines(lines):
        first = line.split(" ", 1)[0]
        if re.match(r"^(python|\.venv/bin/python|torchrun|nice|sbatch|aitl-reid-\w+|[A-Z_]+=\S+)$", first) and \
                _calls_a_tool(line):
            commands.append(Command(f"{name}:{number}", line))
        commands += [Command(f"{name}:{number}", literal) for literal in re.findall(r"``([^`]+)``", line)
                     if _calls_a_tool(literal) and _has_arguments(literal)]
    return commands


def _has_arguments(span: str) -> bool:
    """Whether a code span in prose is a command (the tool and its arguments), not only the tool's name."""
    try:
        return bool(_find_tool(_tokens(span))[1])
    except ValueError:  # not shell syntax
        return False


def documented_commands() -> List[Command]:
    """Every command of the documentation and of the tools' own usage text."""
    commands = [c for doc in DOCS for c in markdown_commands(doc)]
    sources = sorted({_module_file(m) for m in TOOL_MODULES.values()} | {REPO / s for s in SCRIPTS}
                     | set((REPO / "tools").glob("*.py")))
    return commands + [c for path in sources for c in docstring_commands(path)]


def _module_file(module: str) -> Path:
    if module.endswith(".py"):
        return REPO / module
    if module.startswith("bench."):
        return REPO / (module.replace(".", "/") + ".py")
    return Path(importlib.util.find_spec(module).origin)


_LOADED: Dict[str, ModuleType] = {}


def tool_module(module: str) -> ModuleType:
    """The module of a tool; a ``tools/`` script is loaded from its file (its ``__main__`` block does not run)."""
    if module not in _LOADED:
        if module.endswith(".py"):
            spec = importlib.util.spec_from_file_location(f"doc_tool_{Path(module).stem}", REPO / module)
            loaded = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(loaded)
            _LOADED[module] = loaded
        else:
            _LOADED[module] = importlib.import_module(module)
    return _LOADED[module]


def parse(module: str, argv: List[str]) -> argparse.Namespace:
    """``argv`` parsed as the tool parses it; argparse's complaint raises ValueError with its message."""
    tool = tool_module(module)
    if module == "aitl_reid.experiments.cli":
        argv = tool.end_seed_list(argv)
    parse_args: Callable = getattr(tool, "parse_args", None) or tool.build_parser().parse_args
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            return parse_args(argv)
    except SystemExit as stop:
        if stop.code == 0:  # --help
            return argparse.Namespace()
        raise ValueError(err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else f"exit {stop.code}")


def _tokens(text: str) -> List[str]:
    text = re.sub(r"\[KEY VALUE \.\.\.\]", "", text)  # usage notation: optional overrides
    text = re.sub(r"\b(\w+)\|\w+\b", r"\1", text)  # usage notation: alternatives (mars|duke), the first
    text = re.sub(r"\[options\]", "", text)
    text = re.sub(r"\[(--[^\[\]]*)\]", r"\1", text)  # usage notation: an optional option ([--batches 4])
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split, lexer.commenters = True, "#"
    return list(lexer)


def _is_placeholder(token: str) -> bool:
    return bool(_PLACEHOLDER.search(token))


def _config_pairs(opts: Sequence[str]) -> List[str]:
    """The ``KEY VALUE`` pairs of ``opts`` that name a real key (``KEY VALUE`` notation and ``...`` are left out)."""
    opts = [o for o in opts if o != "--"]
    pairs = list(zip(opts[::2], opts[1::2]))
    return [x for key, value in pairs if not _is_placeholder(key) and not _is_placeholder(value) for x in (key, value)]


def check_command(text: str) -> List[str]:
    """What is wrong with a documented command: bad arguments, a missing file, a config that does not load."""
    problems: List[str] = []
    simple: List[str] = []
    for token in [*_tokens(text), ";"]:
        if token in (";", "&", "&&", "||", "|"):
            problems += _check_simple(simple) if simple else []
            simple = []
        else:
            simple.append(token)
    return problems


def _check_simple(tokens: List[str]) -> List[str]:
    problems = [f"{t}: no such file in the repository" for t in tokens
                if t.split("=", 1)[-1].startswith(REPO_DIRS) and not _is_placeholder(t)
                and not (REPO / t.split("=", 1)[-1]).exists()]
    tool, argv = _find_tool(tokens)
    if tool is None or problems:
        return problems
    if tool not in TOOL_MODULES and tool not in SCRIPTS:
        return [f"{tool}: not a tool this check knows; add it to TOOL_MODULES"]
    if tool in SCRIPTS:
        opts: Sequence[str] = argv
        config = next((t.split("=", 1)[1] for t in tokens if t.startswith("CONFIG=")), "")
    else:
        try:
            args = parse(TOOL_MODULES[tool], argv)
        except ValueError as err:
            return [f"{tool}: {err}"]
        opts, config = getattr(args, "opts", []) or [], getattr(args, "config_file", "") or ""
    named = [t.split("=", 1)[-1] for t in argv if t.endswith(".yaml")]  # LABEL=PATH too
    configs = list(dict.fromkeys(p for p in [config, *named] if p and not _is_placeholder(p)))
    for path in configs or [""]:
        try:
            load_config(_config_location(path), _config_pairs(opts))
        except (ConfigError, FileNotFoundError) as err:
            problems.append(f"{path or 'KEY VALUE'}: {err}")
    return problems


def _config_location(path: str) -> str:
    """A documented config: a repository path when it is one, else as written (a packaged config's name)."""
    return str(REPO / path) if path and (REPO / path).exists() else path


def _find_tool(tokens: List[str]) -> tuple:
    """The tool a command calls and the arguments it gets."""
    for index, token in enumerate(tokens):
        if token == "-m" and index + 1 < len(tokens):
            module = tokens[index + 1]
            if module in TOOL_MODULES:
                return module, tokens[index + 2:]
        match = _TOOL_TOKEN.search(token)
        if match:
            return match.group(1) or match.group(2), tokens[index + 1:]
    return None, []
