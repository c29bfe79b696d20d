"""From raw footage to people: detection, tracking, cross-camera identities, attribute search, a report, scores.

    from aitl_reid.footage import FootageSettings, camera_inputs, run_footage
    from aitl_reid.inference import TrackletEncoder, load_trained

    encoder = TrackletEncoder(load_trained("log/asta_aitl_synthetic"))
    result = run_footage(camera_inputs(["cam1.avi", "cam2.avi"]), "out", encoder, FootageSettings())

One module per stage (:mod:`.detect`, with :mod:`.torchvision_detect` for torchvision's COCO detectors,
:mod:`.track`, :mod:`.link`, :mod:`.search`, :mod:`.report`, :mod:`.score`), :mod:`.pipeline` running them in
order; the command line is ``aitl-reid-track`` (:mod:`aitl_reid.track`) and ``aitl-reid-search``
(:mod:`aitl_reid.search`).
"""
from .cameras import CameraInput, camera_inputs
from .detect import MotionDetector, MotionSettings
from .link import TrackletSpan, link
from .pipeline import FootageResult, FootageSettings, Timings, run_footage
from .torchvision_detect import TorchvisionDetector, TorchvisionSettings, torchvision_detectors
from .track import EMBEDDERS, TrackerSettings

__all__ = [
    "CameraInput", "camera_inputs", "MotionDetector", "MotionSettings", "TrackletSpan", "link", "FootageResult",
    "FootageSettings", "Timings", "run_footage", "TorchvisionDetector", "TorchvisionSettings", "torchvision_detectors",
    "EMBEDDERS", "TrackerSettings",
]
