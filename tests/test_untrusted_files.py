"""Files whose pickle would run code are refused at every entry point that reads a torch file.

Each malicious file below is a real exploit: loaded with ``weights_only=False`` it creates a marker
folder (checked once). Every entry point must refuse it with the project's own message, which names
the file and never advises ``weights_only=False``, and the marker must not appear.
"""
import os
import runpy
from pathlib import Path

import pytest
import torch
from torch import nn

import aitl_reid
from aitl_reid.engine import CheckpointError, load_checkpoint, resume
from aitl_reid.inference import RunError, load_trained
from aitl_reid.launch import run_cli
from aitl_reid.models import build_backbone, load_weights
from aitl_reid.serialization import UntrustedFileError, safe_torch_load

REPO = Path(__file__).resolve().parents[1]
SYNTHETIC_CONFIG = str(REPO / "configs" / "asta_aitl_synthetic.yaml")
REFUSAL = "holds Python objects that could run code when loaded"
FORMATS = {  # torch.save keyword arguments: the default zip archive, the legacy format, a protocol-4 pickle
    "zip": {}, "legacy": {"_use_new_zipfile_serialization": False}, "protocol4": {"pickle_protocol": 4},
}


class RunsCode:
    """Unpickling this calls ``os.mkdir(marker)``: a stand-in for any code an attacker wants run."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def write_malicious(path: Path, marker: Path, **save_kwargs) -> Path:
    """A checkpoint that looks ordinary (tensors, epoch) but also holds a :class:`RunsCode`."""
    state = {"state_dict": {"weight": torch.zeros(2, 2)}, "epoch": 1, "extra": RunsCode(str(marker))}
    torch.save(state, path, **save_kwargs)
    return path


@pytest.fixture
def evil(tmp_path):
    """``(file, marker)``: a malicious checkpoint in torch's default format and the folder it would create."""
    marker = tmp_path / "code_ran"
    return write_malicious(tmp_path / "model.pth.tar-1", marker), marker


def assert_refused(message: str, path: Path, marker: Path) -> None:
    assert REFUSAL in message and str(path) in message and "was not loaded" in message
    assert "state_dict" in message  # what to do instead
    assert "weights_only" not in message
    assert not marker.exists()


def test_the_file_really_runs_code_when_loaded_unsafely(evil):
    path, marker = evil
    torch.load(path, weights_only=False)  # what torch's own error would advise; never done by the project
    assert marker.is_dir()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol 4")
@pytest.mark.parametrize("fmt", FORMATS)
def test_safe_load_refuses_objects_in_every_torch_format(tmp_path, fmt):
    marker = tmp_path / "code_ran"
    path = write_malicious(tmp_path / f"{fmt}.pth", marker, **FORMATS[fmt])
    with pytest.raises(UntrustedFileError) as caught:
        safe_torch_load(str(path))
    assert_refused(str(caught.value), path, marker)
    assert "posix.mkdir" in str(caught.value) or "nt.mkdir" in str(caught.value)  # names what it would call
    assert isinstance(caught.value, ValueError) and aitl_reid.UntrustedFileError is UntrustedFileError


def test_damaged_or_foreign_files_are_unreadable_not_untrusted(tmp_path):
    good = tmp_path / "good.pth"
    torch.save({"w": torch.ones(3)}, good)
    cases = {"empty.pth": b"", "random.pth": bytes(range(256)) * 4, "truncated.pth": good.read_bytes()[:200],
             "text.pth": b"not a checkpoint\n"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=f"cannot read {tmp_path / name}: .+") as caught:
            safe_torch_load(str(tmp_path / name))
        assert not isinstance(caught.value, UntrustedFileError) and "weights_only" not in str(caught.value)


def test_plain_weights_in_a_protocol_torch_cannot_read_safely_are_not_called_untrusted(tmp_path):
    path = tmp_path / "p4.pth"
    torch.save({"w": torch.ones(3)}, path, pickle_protocol=4)
    with pytest.warns(UserWarning, match="protocol 4"):
        with pytest.raises(ValueError, match=r"cannot read .*p4.pth: its pickle \(protocol 4\)") as caught:
            safe_torch_load(str(path))
    assert not isinstance(caught.value, UntrustedFileError) and "weights_only" not in str(caught.value)


def test_plain_checkpoints_still_load_in_both_formats(tmp_path):
    for kwargs in FORMATS["zip"], FORMATS["legacy"]:
        torch.save({"w": torch.ones(3), "epoch": 2}, tmp_path / "ok.pth", **kwargs)
        assert torch.equal(safe_torch_load(str(tmp_path / "ok.pth"))["w"], torch.ones(3))


# ------------------------------------------------------------------ the entry points that read torch files
def test_model_load_weights_refuses(evil):
    path, marker = evil
    with pytest.raises(UntrustedFileError) as caught:
        load_weights(nn.Linear(2, 2), str(path))
    assert_refused(str(caught.value), path, marker)


def test_pretrained_path_refuses(evil):
    path, marker = evil
    with pytest.raises(UntrustedFileError) as caught:
        build_backbone("resnet18", 32, 16, pretrained=True, pretrained_path=str(path))
    assert_refused(str(caught.value), path, marker)


def test_checkpoint_resume_refuses_keeping_the_message(evil):
    path, marker = evil
    for read in (load_checkpoint, lambda p: resume(p, nn.Linear(2, 2))):
        with pytest.raises(CheckpointError) as caught:
            read(str(path))
        assert_refused(str(caught.value), path, marker)
        assert isinstance(caught.value.__cause__, UntrustedFileError)


def test_inference_load_trained_and_its_tools_refuse(evil, tmp_path, capsys):
    path, marker = evil
    with pytest.raises(RunError) as caught:
        load_trained(str(path))
    assert_refused(str(caught.value), path, marker)
    tools = {"reid_tracklets": ["--run", str(path), "--out", str(tmp_path / "out"), "query", "gallery"],
             "export_onnx": ["--run", str(path), "--out", str(tmp_path / "model.onnx")]}
    for tool, args in tools.items():
        assert run_cli(runpy.run_path(str(REPO / "tools" / f"{tool}.py"))["main"], args) == 2
        assert_refused(capsys.readouterr().err, path, marker)


def test_figure_tools_refuse_a_checkpoint(evil, tiny_mars_root, tmp_path, capsys):
    path, marker = evil
    overrides = ["model.name", "asta_resnet18", "data.root", str(tiny_mars_root), "data.save_dir", str(tmp_path / "run"),
                 "data.height", "32", "data.width", "16", "data.workers", "0", "video.seq_len", "2"]
    main = runpy.run_path(str(REPO / "tools" / "visualize_ranks.py"))["main"]
    assert run_cli(main, ["--config-file", SYNTHETIC_CONFIG, "--checkpoint", str(path)] + overrides) == 2
    assert_refused(capsys.readouterr().err, path, marker)


def test_trainer_cli_exits_2_on_a_malicious_load_weights_file(evil, tiny_mars_root, tmp_path, capsys):
    """The trainer's entry point in this process: a status, not an exception (which would be a traceback), and the
    file's code never run (its marker absent)."""
    from aitl_reid.train import main

    path, marker = evil
    status = main(["--config-file", SYNTHETIC_CONFIG, "data.root", str(tiny_mars_root), "data.save_dir",
                   str(tmp_path / "log"), "data.height", "32", "data.width", "16", "data.workers", "0",
                   "model.load_weights", str(path)])
    err = capsys.readouterr().err
    assert status == 2, err[-2000:]
    assert_refused(err, path, marker)
