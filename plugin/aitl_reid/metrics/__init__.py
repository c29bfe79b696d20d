"""Evaluation metrics: fast CMC/mAP ranking (market/MARS protocol) and attribute recognition scores."""
from .attributes import AttributeReport, AttributeScore, attribute_recognition_metrics, majority_classes
from .rank import evaluate_rank

__all__ = ["AttributeReport", "AttributeScore", "attribute_recognition_metrics", "evaluate_rank", "majority_classes"]
