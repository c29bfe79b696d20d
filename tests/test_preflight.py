"""The trainer's checks before anything slow (issue 26): a missing ImageNet weights file offline, missing dataset
files and an unwritable save folder each end the run with status 2 and the message saying what to do, before any
dataset is read (the data manager is never built) and before a log is written."""
from pathlib import Path

import pytest

from aitl_reid import train
from aitl_reid.models.weights_download import weights_source

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_data_loading(monkeypatch):
    """Fails the test if the trainer gets as far as reading a dataset."""
    def build_datamanager(cfg, *args, **kwargs):
        raise AssertionError("the trainer read the dataset before its checks stopped it")

    monkeypatch.setattr(train, "build_datamanager", build_datamanager)


def trainer(root, save_dir, *opts):
    return train.main(["--config-file", str(REPO / "configs" / "asta_aitl_synthetic.yaml"), "data.root", str(root),
                       "data.save_dir", str(save_dir), "data.height", "32", "data.width", "16", *opts])


def test_imagenet_weights_missing_offline_stop_the_trainer_before_the_data(no_data_loading, tiny_mars_root, tmp_path,
                                                                           capsys):
    """conftest leaves $TORCH_HOME empty and points the weights mirror at a closed port: offline, not in the cache."""
    assert trainer(tiny_mars_root, tmp_path / "log", "model.pretrained", "True") == 2
    err = capsys.readouterr().err
    source = weights_source("resnet18")
    assert f"error: cannot download the weights file {source.file_name} from http://127.0.0.1:1/" in err
    assert source.cache_path in err and "model.pretrained_path" in err and "Traceback" not in err
    assert not (tmp_path / "log" / "log.txt").exists()


def test_a_missing_local_weights_file_stops_the_trainer_before_the_data(no_data_loading, tiny_mars_root, tmp_path,
                                                                        capsys):
    missing = tmp_path / "weights" / "resnet18.pth"
    assert trainer(tiny_mars_root, tmp_path / "log", "model.pretrained", "True", "model.pretrained_path", str(missing)) == 2
    assert f"pretrained weights file not found: {missing} (model.pretrained_path)" in capsys.readouterr().err


def test_missing_dataset_files_stop_the_trainer_before_the_data_naming_every_path(no_data_loading, tiny_mars_root,
                                                                                 tmp_path, capsys):
    assert trainer(tmp_path / "nowhere", tmp_path / "log") == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "nowhere" / "mars") in err and str(tmp_path / "nowhere" / "mars" / "bbox_train") in err
    assert train.DATA_HINT in err and "Traceback" not in err
    assert not (tmp_path / "log" / "log.txt").exists()
    # a target dataset is checked too, with its own default CSV; the sources' files are there
    assert trainer(tiny_mars_root, tmp_path / "log", "data.targets", "['mars_attr', 'dukemtmcvidreid_attr']") == 2
    err = capsys.readouterr().err
    assert "dukemtmcvidreid_attr: 5 required paths not found" in err
    assert str(tiny_mars_root / "dukemtmc-vidreid" / "duke_attributes.csv") in err and "mars_attr:" not in err


def test_an_unwritable_save_folder_stops_the_trainer_before_the_data(no_data_loading, tiny_mars_root, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert trainer(tiny_mars_root, blocker / "log") == 2
    err = capsys.readouterr().err
    assert f"error: data.save_dir '{blocker / 'log'}' is not writable" in err and "Traceback" not in err
