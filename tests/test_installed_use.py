"""What a user of the installed package meets: configs by name, the dataset layout printed by a command, the demo's
bad-input paths; tests/test_packaging.py runs the same from a wheel installed in a fresh environment."""
import os
import re
from pathlib import Path

import pytest

from aitl_reid.config import ConfigError
from aitl_reid.config.packaged import CONFIG_DIR, config_names, config_table, describe, main as list_configs
from aitl_reid.data.check import layout_text, main as check_main
from aitl_reid.demo import main as demo_main
from aitl_reid.launch import load_config
from aitl_reid.synthetic.generate import DATASET_DIR

REPO = Path(__file__).resolve().parents[1]
PAPER_CONFIGS = {"asta_aitl_mars", "released_code", "table1/baseline_mars", "table1/itl_mars", "table1/aitl_mars",
                 "table1/asta_mars", "table3/asta_aitl_duke", "table4/baseline_duke_to_mars"}


def test_the_checkout_configs_folder_is_the_packaged_one():
    assert (REPO / "configs").is_symlink() and (REPO / "configs").resolve() == Path(CONFIG_DIR).resolve()


def test_every_config_yaml_is_listed_by_name_with_a_one_line_description():
    on_disk = {str(p.relative_to(CONFIG_DIR).with_suffix("")) for p in Path(CONFIG_DIR).rglob("*.yaml")}
    assert set(config_names()) == on_disk and PAPER_CONFIGS <= on_disk and len(on_disk) == 22
    undescribed = [name for name, text in config_table() if not re.search(r"[.)]$", text)]
    assert undescribed == []  # each file's first line is a comment that is a whole sentence


def test_list_configs_prints_one_line_per_config(capsys):
    assert list_configs([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:len(config_names())] == [f"{n:<{max(map(len, config_names()))}}  {d}" for n, d in config_table()]


@pytest.mark.parametrize("name", ["table1/itl_mars", "table1/itl_mars.yaml", "configs/table1/itl_mars.yaml"])
def test_a_config_name_loads_what_its_file_loads_from_any_folder(name, tmp_path, monkeypatch):
    expected = load_config(str(REPO / "configs" / "table1" / "itl_mars.yaml"))
    monkeypatch.chdir(tmp_path)  # no configs/ here: the name is the packaged config's
    assert load_config(name) == expected and expected.loss.aitl.selection == "feature"  # _BASE_ chain of two files


def test_a_file_on_disk_wins_over_the_packaged_config_of_that_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("asta_aitl_mars.yaml").write_text("train:\n  max_epoch: 3\n")
    assert load_config("asta_aitl_mars.yaml").train.max_epoch == 3
    assert load_config("asta_aitl_mars").train.max_epoch == 400  # no file of that exact name: the packaged one


def test_a_config_of_ones_own_extends_a_packaged_one_by_name(tmp_path):
    own = tmp_path / "mine.yaml"
    own.write_text("_BASE_: table1/baseline_mars.yaml\ntrain:\n  max_epoch: 7\n")
    cfg = load_config(str(own))
    assert (cfg.model.name, cfg.train.max_epoch, cfg.data.save_dir) == ("tp_resnet50", 7, "log/table1/baseline_mars")


def test_unknown_names_and_bases_say_where_they_were_looked_for(tmp_path):
    with pytest.raises(ConfigError, match=r"no packaged config is named 'table1/itl_mar'; did you mean table1/itl_mars"):
        load_config("table1/itl_mar")
    own = tmp_path / "mine.yaml"
    own.write_text("_BASE_: nowhere.yaml\n")
    with pytest.raises(ConfigError, match=r"mine\.yaml: _BASE_ 'nowhere\.yaml' is neither a file beside it"):
        load_config(str(own))
    for escaping in ("../configs/base", "/nowhere/asta_aitl_mars"):  # outside the packaged folder: no name
        with pytest.raises(ConfigError, match="config file not found"):
            load_config(escaping)


@pytest.mark.parametrize("dataset", ["mars", "duke"])
def test_layout_prints_the_shipped_text_that_datasets_readme_holds(dataset, capsys):
    assert check_main([dataset, "--layout"]) == 0
    printed = capsys.readouterr().out
    assert printed == layout_text(dataset) + "\n"
    assert f"```\n{layout_text(dataset)}\n```" in (REPO / "datasets" / "README.md").read_text()
    assert "published" in printed and f"aitl-reid-check {dataset} ROOT" in printed


def test_check_without_root_or_layout_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        check_main(["mars"])
    assert exited.value.code == 2 and "--layout" in capsys.readouterr().err


def test_every_packaged_config_description_is_its_first_line():
    path = os.path.join(CONFIG_DIR, "demo.yaml")
    with open(path, encoding="utf-8") as handle:
        assert describe(path) == handle.readline()[1:].strip()
    assert "aitl-reid-demo" in describe(path)


def test_demo_refuses_a_config_not_on_the_synthetic_mars_layout(tmp_path, capsys):
    assert demo_main(["--config-file", "table3/asta_aitl_duke", "--out", str(tmp_path / "out")]) == 2
    assert "dukemtmcvidreid_attr" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_demo_never_writes_over_a_real_mars_copy_and_says_how_to_go_elsewhere(tmp_path, capsys):
    real = tmp_path / "data" / DATASET_DIR / "bbox_train"
    real.mkdir(parents=True)
    code = demo_main(["--out", str(tmp_path / "out"), "--data-root", str(tmp_path / "data")])
    assert code == 2 and "--data-root" in capsys.readouterr().err
    assert os.listdir(tmp_path / "data" / DATASET_DIR) == ["bbox_train"] and not (tmp_path / "out").exists()
