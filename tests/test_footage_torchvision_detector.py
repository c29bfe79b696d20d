"""aitl-reid-track --detector <torchvision COCO model>: its weights come through the plugin's weights helper (served
here by a local HTTP server: a randomly initialised model's state dict, no real COCO file), the detector keeps
person boxes above its threshold clipped to the frame, and offline, a wrong hash or an unknown name end cleanly."""
import inspect
import os

import numpy as np
import pytest
import torch
import torchvision

from aitl_reid import track
from aitl_reid.footage import TorchvisionDetector, TorchvisionSettings, torchvision_detectors
from aitl_reid.footage.torchvision_detect import ZERO_EPS_MODELS, load_detection_model, person_boxes
from aitl_reid.inference import InputError
from aitl_reid.models.weights_download import (MIRROR_ENV, WeightsDownloadError, WeightsSource, detection_weights_source,
                                               fetch)
from footage_data import track_args, write_video
from inference_data import one_torch_thread  # noqa: F401  (autouse fixture)
from weights_server import cache, cache_files, save_with_sha256_name, served, serving, stopped_server_address  # noqa: F401

SMALLEST = "ssdlite320_mobilenet_v3_large"  # 3.4 M parameters (fasterrcnn_mobilenet_v3_large_320_fpn: 19 M)
SMALLEST_FILE = "ssdlite320_mobilenet_v3_large_coco-a79551df.pth"  # torchvision's name: sha256 prefix a79551df
PERSON_BIAS = 8.0


@pytest.fixture(scope="module")
def downloaded(tmp_path_factory):
    """A random model's state dict (what was served) and the path it was fetched to, through the helper, into an
    empty torch.hub cache from a server on 127.0.0.1 (under a name carrying its own sha256 prefix).

    The served classifier's bias favours COCO's person class at every anchor of SSDlite's coarsest feature map,
    so a model holding these weights sees a couple of large people in any frame (softmax about 0.97) and one left
    at random initialisation sees nobody."""
    root = tmp_path_factory.mktemp("coco")
    (root / "served").mkdir()
    torch.manual_seed(0)
    state = torchvision.models.get_model(SMALLEST, weights=None, weights_backbone=None).state_dict()
    # the last of SSDlite's six feature maps; each output channel is one (anchor, class) pair
    state["head.classification_head.module_list.5.1.bias"].view(-1, 91)[:, 1] = PERSON_BIAS
    file, prefix = save_with_sha256_name(state, root / "served", SMALLEST)
    with pytest.MonkeyPatch.context() as patch, serving(root / "served") as address:
        patch.setenv("TORCH_HOME", str(root / "torch"))
        patch.delenv(MIRROR_ENV, raising=False)
        path = fetch(WeightsSource(f"{address}/{file.name}", file.name, hash_prefix=prefix))
    assert path == str(root / "torch" / "hub" / "checkpoints" / file.name)
    return state, path


def test_a_detection_model_gets_torchvisions_coco_file_name_and_hash_in_the_hub_cache(cache):
    source = detection_weights_source(SMALLEST)
    assert source == WeightsSource(f"https://download.pytorch.org/models/{SMALLEST_FILE}", SMALLEST_FILE,
                                   hash_prefix="a79551df")
    assert source.cache_path == str(cache / SMALLEST_FILE)
    assert detection_weights_source("fasterrcnn_mobilenet_v3_large_320_fpn").file_name == (
        "fasterrcnn_mobilenet_v3_large_320_fpn-907ea3f9.pth")
    assert {"fasterrcnn_mobilenet_v3_large_fpn", SMALLEST, "fasterrcnn_resnet50_fpn_v2",
            "retinanet_resnet50_fpn_v2"} <= set(torchvision_detectors())
    with pytest.raises(ValueError):
        detection_weights_source("motion")


def test_the_detector_built_from_the_download_holds_the_served_weights_and_gives_person_boxes(downloaded):
    state, path = downloaded
    detector = TorchvisionDetector(SMALLEST, TorchvisionSettings(), weights_path=path)
    loaded = detector.model.state_dict()
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)
    assert not detector.model.training
    frame = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    boxes = detector(frame)
    assert boxes, "the served weights see people in any frame: were they loaded?"
    for x, y, w, h, score in boxes:
        assert 0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= 64 and y + h <= 48 and 0.8 <= score <= 1


def test_person_boxes_are_people_at_or_above_the_threshold_clipped_to_the_frame():
    output = {"boxes": torch.tensor([[-5.0, 2.0, 30.0, 60.0], [1.0, 1.0, 9.0, 9.0], [2.0, 3.0, 12.0, 23.0],
                                     [70.0, 10.0, 90.0, 20.0], [4.0, 4.0, 8.0, 8.0]]),
              "labels": torch.tensor([1, 3, 1, 1, 1]), "scores": torch.tensor([0.9, 0.99, 0.5, 0.95, 0.49])}
    boxes = person_boxes(output, 0.5, width=64, height=48)
    # the car is dropped, the box left of the frame clipped, the one wholly right of it has no area, 0.49 < 0.5
    assert np.array(boxes) == pytest.approx(np.array([(0.0, 2.0, 30.0, 46.0, 0.9), (2.0, 3.0, 10.0, 20.0, 0.5)]))


def test_a_file_that_is_not_the_models_weights_is_an_error_naming_it(tmp_path):
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(InputError, match=rf"{tmp_path / 'other.pth'}: not the weights of torchvision's {SMALLEST}"):
        load_detection_model(SMALLEST, str(tmp_path / "other.pth"))


def test_a_file_whose_sha256_does_not_match_its_name_is_refused_and_leaves_nothing(cache, served, monkeypatch):
    torch.save({"x": torch.zeros(1)}, served / SMALLEST_FILE)  # not torchvision's file
    with serving(served) as address:
        monkeypatch.setenv(MIRROR_ENV, address)
        with pytest.raises(WeightsDownloadError, match="sha256 does not match"):
            TorchvisionDetector(SMALLEST, TorchvisionSettings())
    assert cache_files(cache) == []


def test_offline_the_command_exits_2_naming_the_file_and_the_cache_path(tiny_run, cache, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(MIRROR_ENV, stopped_server_address(tmp_path))
    video = write_video(tmp_path / "cam.avi", frames=3)
    status = track.main(track_args(tiny_run, tmp_path / "out", "--detector", SMALLEST, str(video)))
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert f"error: cannot download the weights file {SMALLEST_FILE} from {os.environ[MIRROR_ENV]}/{SMALLEST_FILE}" in err
    assert f"by hand (it is then used without any network):\n  {cache / SMALLEST_FILE}\n" in err
    assert "--detector motion" in err and "model.pretrained" not in err
    assert cache_files(cache) == [] and not (tmp_path / "out" / "tracks").exists()


def test_an_unknown_detector_or_threshold_ends_with_status_2_listing_the_valid_ones(tiny_run, tmp_path, capsys):
    with pytest.raises(SystemExit) as raised:
        track.main(track_args(tiny_run, tmp_path / "out", "--detector", "yolo", "cam.avi"))
    err = capsys.readouterr().err
    assert raised.value.code == 2 and "invalid choice: 'yolo'" in err
    assert all(f"'{name}'" in err for name in ["motion", *torchvision_detectors()])
    with pytest.raises(InputError, match="unknown detector 'yolo': use 'motion' or one of torchvision's fasterrcnn_"):
        TorchvisionDetector("yolo", TorchvisionSettings())
    with pytest.raises(InputError, match="score_threshold=1.5: give a score between 0 and 1"):
        TorchvisionDetector(SMALLEST, TorchvisionSettings(score_threshold=1.5))


def test_the_models_run_with_batch_norm_eps_0_are_those_torchvisions_builders_set_so():
    """torchvision sets eps 0 in the builders of some models when it loads their COCO file; built without weights
    they keep 1e-5, so the plugin sets it for the same names (ZERO_EPS_MODELS), which must follow torchvision."""
    from torchvision.models import get_model_builder

    setting = {n for n in torchvision_detectors() if "overwrite_eps(model, 0.0)" in inspect.getsource(get_model_builder(n))}
    assert setting == ZERO_EPS_MODELS


def test_a_weights_file_put_in_the_cache_by_hand_is_used_and_the_command_tracks_its_people(
        downloaded, tiny_run, cache, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(MIRROR_ENV, stopped_server_address(tmp_path))  # offline: only the cache can serve it
    cache.mkdir(parents=True)
    os.link(downloaded[1], cache / SMALLEST_FILE)
    video = write_video(tmp_path / "cam.avi", frames=4)  # plain grey: nothing moves, only the served model sees people
    status = track.main(track_args(tiny_run, tmp_path / "out", "--detector", SMALLEST, "--embedder", "histogram",
                                   "--tracker", "n_init=1", "--tracker", "min_frames=2", str(video)))
    assert status == 0, capsys.readouterr().err
    rows = (tmp_path / "out" / "tracks" / "cam.txt").read_text().splitlines()
    assert rows and (tmp_path / "out" / "report.html").is_file()
