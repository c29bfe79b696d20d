"""Use a trained model on your own tracklets: features, attribute predictions and gallery rankings.

    from aitl_reid.inference import TrackletEncoder, load_trained, predict_attributes, read_tracklet_folders

    trained = load_trained("log/asta_aitl_synthetic")          # a run folder or a checkpoint file
    encoder = TrackletEncoder(trained, batch_size=64)
    encoded = encoder.encode(read_tracklet_folders("my_tracklets"))
    predictions = predict_attributes(encoded.attr_logits, trained.schema, trained.attribute_form)

The command line is ``aitl-reid-infer`` (:mod:`aitl_reid.infer`); ONNX export is ``aitl-reid-export`` (:mod:`aitl_reid.export`).
"""
from .encoder import (AttributePredictions, EncodedTracklets, TorchForward, TrackletEncoder, TrackletPool,
                      class_probabilities, predict_attributes)
from .inputs import InputError, Tracklet, crop_video_tracks, read_input, read_mot_tracks, read_tracklet_folders
from .report import Ranking, rank_gallery
from ..run_folder import RunError, TrainedModel, find_checkpoint, load_trained, save_run_config

__all__ = [
    "AttributePredictions", "EncodedTracklets", "TorchForward", "TrackletEncoder", "TrackletPool",
    "class_probabilities", "predict_attributes", "InputError", "Tracklet", "crop_video_tracks", "read_input", "read_mot_tracks",
    "read_tracklet_folders", "Ranking", "rank_gallery", "RunError", "TrainedModel", "find_checkpoint",
    "load_trained", "save_run_config",
]
