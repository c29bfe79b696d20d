"""aitl-reid-infer and aitl-reid-export (``aitl_reid.infer`` / ``aitl_reid.export``; ``tools/reid_tracklets.py`` and
``tools/export_onnx.py`` in a checkout) end to end on easy data with an untrained tiny model: rankings put each
query's identity first, attribute outputs are named by the schema, the report draws the first --report-k of each
list, KEY VALUE overrides reach the run's config, the ONNX graph matches PyTorch and gives the same ranking, a
missing onnx extra is named, and runs load from a folder or a checkpoint."""
import contextlib
import csv
import io
import json
import re
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from aitl_reid import export, infer
from aitl_reid.inference import RunError, TrackletEncoder, load_trained, predict_attributes, read_tracklet_folders
from aitl_reid.schema import get_schema
from inference_data import one_torch_thread  # noqa: F401  (autouse fixture)
from inference_data import make_run, write_tracklets, write_video

IDENTITIES = list(range(6))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("inference")
    make_run(root / "run")
    write_tracklets(root / "query", IDENTITIES, frames=5, seed=1)
    write_tracklets(root / "gallery", IDENTITIES, frames=9, seed=2)
    return root


def reid(data, out, *extra, inputs=("query", "gallery"), opts=()):
    """aitl-reid-infer on ``inputs`` (relative: under ``data``), then the KEY VALUE ``opts``."""
    args = ["--run", str(data / "run"), "--out", str(out), "--workers", "0", "--backend", "exact", *extra]
    return infer.main(args + [str(data / i) if not Path(i).is_absolute() else i for i in inputs] + list(opts))


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_tracklet_folders_rank_each_query_identity_first_and_every_output_is_written(data, tmp_path):
    assert reid(data, tmp_path, "--k", "4") == 0
    rows = read_csv(tmp_path / "ranking.csv")
    assert list(rows[0]) == ["query", "rank", "gallery", "distance"]
    assert len(rows) == 4 * len(IDENTITIES)
    for query in (f"id{i}" for i in IDENTITIES):
        ranked = [r for r in rows if r["query"] == query]
        assert [int(r["rank"]) for r in ranked] == [1, 2, 3, 4]
        assert ranked[0]["gallery"] == query
        assert [float(r["distance"]) for r in ranked] == sorted(float(r["distance"]) for r in ranked)
    payload = json.loads((tmp_path / "ranking.json").read_text())
    as_rows = [{"query": q["query"], "rank": str(r["rank"]), "gallery": r["gallery"], "distance": f"{r['distance']:.6f}"}
               for q in payload["queries"] for r in q["ranked"]]
    assert as_rows == rows
    html = (tmp_path / "report.html").read_text()
    pictures = re.findall(r"<img src='([^']+)'>", html)
    assert len(pictures) == len(IDENTITIES) and all((tmp_path / p).is_file() for p in pictures)


def test_a_video_with_mot_tracks_ranks_each_track_first(data, tmp_path):
    write_video(tmp_path / "cam1.avi", tmp_path / "cam1.txt", IDENTITIES[:4], frames=6, seed=3)
    write_video(tmp_path / "cam2.avi", tmp_path / "tracks_cam2.txt", IDENTITIES[:4][::-1], frames=9, seed=4)
    out = tmp_path / "out"
    code = reid(data, out, "--k", "2", "--gallery-tracks", str(tmp_path / "tracks_cam2.txt"),
                inputs=(str(tmp_path / "cam1.avi"), str(tmp_path / "cam2.avi")))
    assert code == 0
    firsts = {r["query"]: r["gallery"] for r in read_csv(out / "ranking.csv") if r["rank"] == "1"}
    assert firsts == {f"cam1_{t:04d}": f"cam2_{t:04d}" for t in (1, 2, 3, 4)}
    assert len(list((out / "crops" / "gallery" / "cam2_0004").iterdir())) == 9


def test_attribute_outputs_are_named_by_the_schema_with_a_class_and_probability_each(data, tmp_path):
    schema = get_schema("mars_v2")
    assert reid(data, tmp_path, "--k", "1") == 0
    rows = read_csv(tmp_path / "attributes.csv")
    assert list(rows[0]) == ["set", "tracklet"] + [c for n in schema.names for c in (n, f"{n}_prob")]
    assert [(r["set"], r["tracklet"]) for r in rows] == [(s, f"id{i}") for s in ("query", "gallery") for i in IDENTITIES]
    for row in rows:
        for name, classes in zip(schema.names, schema.num_classes):
            assert 0 <= int(row[name]) < classes
            assert 1 / classes <= float(row[f"{name}_prob"]) <= 1  # softmax over the block: the winner's share
    # the API: [tracklets, attributes] in schema order, each the argmax of its block of the pooled logits
    trained = load_trained(str(data / "run"))
    encoded = TrackletEncoder(trained, workers=0, progress=False).encode(read_tracklet_folders(str(data / "query")))
    predictions = predict_attributes(encoded.attr_logits, schema, trained.attribute_form)
    assert predictions.names == list(schema.names)
    assert predictions.classes.shape == predictions.probabilities.shape == (len(IDENTITIES), len(schema.names))
    column, block = schema.blocks("id_relevant")[0]
    logits = encoded.attr_logits["id_relevant"][:, block]
    assert torch.equal(predictions.classes[:, column], logits.argmax(1))
    assert torch.allclose(predictions.probabilities[:, column], logits.softmax(1).max(1).values)
    assert [int(r[schema.names[column]]) for r in rows[:len(IDENTITIES)]] == logits.argmax(1).tolist()


def test_attention_overlays_are_drawn_for_the_reported_queries(data, tmp_path):
    assert reid(data, tmp_path, "--k", "2", "--report-queries", "1", "--attention") == 0
    html = (tmp_path / "report.html").read_text()
    assert "grids/attention_0000.png" in html and (tmp_path / "grids" / "attention_0000.png").is_file()
    assert len(list((tmp_path / "grids").glob("query_*.png"))) == 1


def test_attributes_only_predicts_for_one_input_and_ranks_nothing(data, tmp_path):
    assert reid(data, tmp_path, "--attributes-only", inputs=("gallery",)) == 0
    assert {r["set"] for r in read_csv(tmp_path / "attributes.csv")} == {"input"}
    assert not (tmp_path / "ranking.csv").exists()
    assert "Predicted attributes" in (tmp_path / "report.html").read_text()


def grid_width(out):
    with Image.open(out / "grids" / "query_0000.png") as image:
        return image.width


def test_the_report_draws_the_first_report_k_of_each_list_while_the_files_list_k(data, tmp_path):
    # a real video's --k 300 drew all 300 in one PNG 28,638 pixels wide
    assert reid(data, tmp_path / "long", "--k", "6", "--report-k", "2", "--report-queries", "1") == 0
    assert reid(data, tmp_path / "short", "--k", "2", "--report-queries", "1") == 0  # default --report-k 10: both
    assert len(read_csv(tmp_path / "long" / "ranking.csv")) == 6 * len(IDENTITIES)
    assert grid_width(tmp_path / "long") == grid_width(tmp_path / "short")  # the query and 2, not the query and 6
    note = (tmp_path / "long" / "report.html").read_text()
    assert "then its 2 nearest gallery tracklets (" in note and "; ranking.csv lists 6)" in note


def test_key_value_overrides_follow_the_inputs_as_the_trainers_do(data, tmp_path, capsys):
    args = infer.parse_args(["--run", "RUN", "--out", "OUT", "Q", "G", "test.dist_metric", "euclidean", "--k", "3"])
    assert (args.inputs, args.opts, args.k, args.report_k) == (["Q", "G"], ["test.dist_metric", "euclidean"], 3, 10)
    only = infer.parse_args(["--run", "RUN", "--out", "OUT", "--attributes-only", "T", "data.height", "32"])
    assert (only.inputs, only.opts) == (["T"], ["data.height", "32"])

    trained = load_trained(str(data / "run"))
    assert trained.cfg.test.dist_metric == "cosine"  # the run's own; the override below changes it
    assert reid(data, tmp_path / "euclidean", "--k", "1", opts=("test.dist_metric", "euclidean")) == 0
    assert json.loads((tmp_path / "euclidean" / "ranking.json").read_text())["metric"] == "euclidean"
    encoder = TrackletEncoder(trained, workers=0, progress=False)
    query, gallery = (encoder.encode(read_tracklet_folders(str(data / s))).features for s in ("query", "gallery"))
    nearest = torch.cdist(query.double(), gallery.double()).pow(2).min(1).values  # torchreid's: squared distance
    assert [float(r["distance"]) for r in read_csv(tmp_path / "euclidean" / "ranking.csv")] == \
        pytest.approx(nearest.tolist(), abs=1e-3)  # float32 |q|²+|g|²-2q·g loses ~1e-4

    assert reid(data, tmp_path / "typo", opts=("test.dist_metrc", "cosine")) == 2
    assert "unknown config key 'test.dist_metrc'; did you mean 'test.dist_metric'?" in capsys.readouterr().err


def test_without_the_onnx_extra_export_and_onnx_inference_end_with_status_2_naming_it(data, tmp_path, capsys, monkeypatch):
    onnx = tmp_path / "model.onnx"
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "onnxscript", None)  # as if not installed: importing it raises ImportError
        assert export.main(["--run", str(data / "run"), "--out", str(onnx)]) == 2
    err = capsys.readouterr().err
    assert "ONNX needs the Python package onnxscript" in err and "pip install 'aitl-reid[onnx]'" in err
    assert not onnx.exists()
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "onnxruntime", None)
        assert reid(data, tmp_path / "out", "--onnx", str(onnx)) == 2
    err = capsys.readouterr().err
    assert "ONNX needs the Python package onnxruntime" in err and "pip install 'aitl-reid[onnx]'" in err


@pytest.fixture(scope="module")
def exported(data, tmp_path_factory):
    """The run exported once to ``asta.onnx`` in a folder of its own: (its path, what the export printed)."""
    onnx = tmp_path_factory.mktemp("export") / "asta.onnx"
    capture = io.StringIO()
    with contextlib.redirect_stdout(capture):
        assert export.main(["--run", str(data / "run"), "--out", str(onnx), "--tolerance", "1e-4"]) == 0
    return onnx, capture.getvalue()


def test_onnx_export_matches_pytorch_and_gives_the_same_ranking(data, exported, tmp_path):
    onnx, printed = exported
    assert sorted(p.name for p in onnx.parent.iterdir()) == ["asta.onnx"]  # weights inside: the file moves alone
    assert "keep them beside it" not in printed
    diffs = dict(re.findall(r"(\w+) (\d\.\d+e[-+]\d+)", printed.split("max |ONNX Runtime - PyTorch|:")[1]))
    assert set(diffs) == {"feature", "attr_logits_id_relevant", "attr_logits_id_irrelevant"}
    assert all(float(v) < 1e-4 for v in diffs.values())
    assert reid(data, tmp_path / "torch", "--k", "6") == 0
    assert reid(data, tmp_path / "onnx", "--k", "6", "--onnx", str(onnx)) == 0
    torch_rows, onnx_rows = read_csv(tmp_path / "torch" / "ranking.csv"), read_csv(tmp_path / "onnx" / "ranking.csv")
    assert [(r["query"], r["gallery"]) for r in onnx_rows] == [(r["query"], r["gallery"]) for r in torch_rows]
    assert max(abs(float(a["distance"]) - float(b["distance"])) for a, b in zip(onnx_rows, torch_rows)) < 1e-5


def test_a_checkpoint_alone_loads_and_a_run_without_config_says_what_to_do(tmp_path):
    alone = make_run(tmp_path / "alone", config_yaml=False, epochs=(1, 3, 2))
    assert load_trained(str(alone)).checkpoint.endswith("model.pth.tar-3")  # latest
    trained = load_trained(str(alone / "model" / "model.pth.tar-2"))
    assert trained.schema == get_schema("mars_v2") and trained.cfg.model.name == "asta_resnet18"
    bare = make_run(tmp_path / "bare", config_yaml=False, config_in_checkpoint=False)
    with pytest.raises(RunError, match=r"stores no config and .*bare/config.yaml does not exist; give the training config"):
        load_trained(str(bare))
    (alone / "metrics.csv").write_text("epoch,loss,mAP\n1,2.0,0.5\n2,1.5,0.7\n3,1.2,0.6\n")
    assert load_trained(str(alone), checkpoint="best").checkpoint.endswith("model.pth.tar-2")
    with pytest.raises(RunError, match="no such run folder or checkpoint"):
        load_trained(str(tmp_path / "missing"))


def test_bad_input_ends_with_status_2_and_the_file_name(data, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code = infer.main(["--run", str(data / "run"), "--out", str(tmp_path / "out"), "--workers", "0",
                       str(data / "query"), str(tmp_path / "empty")])
    assert code == 2
    assert f"error: {tmp_path / 'empty'}: empty folder" in capsys.readouterr().err



def test_a_graph_whose_weights_file_is_missing_is_named(data, exported, tmp_path, capsys):
    """A graph over ONNX's 2 GB keeps its weights beside it; moved without them, the error names the file."""
    import onnx

    moved = tmp_path / "moved.onnx"
    onnx.save_model(onnx.load(str(exported[0])), str(moved), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="moved.onnx.data", size_threshold=0)
    (tmp_path / "moved.onnx.data").unlink()
    assert reid(data, tmp_path / "out", "--onnx", str(moved)) == 2
    assert f"it keeps its weights in {tmp_path / 'moved.onnx.data'}, which is missing" in capsys.readouterr().err
