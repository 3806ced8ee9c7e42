"""Segmentation measures: confusion matrix, the IoU family, a streaming meter, panoptic quality.

* ``confusion_matrix(pred, target, num_classes, ignore_index=255)`` and, from a matrix,
  ``pixel_accuracy``, ``class_accuracy``, ``mean_accuracy``, ``iou``, ``mean_iou``,
  ``frequency_weighted_iou``, ``class_frequency`` (lesson 01);
* ``SegmentationMeter`` for whole data sets, with a printable table and plots (lesson 01);
* boundary metrics ``band_metrics`` (trimap accuracy) and ``boundary_iou`` (lessons 01, 09);
* ``panoptic_quality`` and ``PanopticMeter`` with COCO's ``panopticapi`` rules (lesson 10);
* ``remap_labels``, ``mapping_lut``, ``mapping_from_names`` to move label maps into a
  unified taxonomy, and ``harmonic_mean`` across test sets (lesson 11).

Every function takes NumPy or CuPy arrays. Scalars come back as Python floats, per-class
arrays in the library of the input. The plots import matplotlib only when called.
"""

from .boundary import band_metrics, boundary_band, boundary_iou, label_edges
from .confusion import (
    class_accuracy,
    class_frequency,
    confusion_matrix,
    frequency_weighted_iou,
    iou,
    mean_accuracy,
    mean_iou,
    pixel_accuracy,
)
from .meter import SegmentationMeter, format_class_table
from .panoptic import PanopticMeter, panoptic_quality, panoptic_segment_stats
from .plots import normalize_confusion, plot_class_iou, plot_confusion_matrix
from .taxonomy import harmonic_mean, mapping_from_names, mapping_lut, remap_labels

__all__ = [
    "confusion_matrix",
    "pixel_accuracy",
    "class_accuracy",
    "mean_accuracy",
    "iou",
    "mean_iou",
    "frequency_weighted_iou",
    "class_frequency",
    "label_edges",
    "boundary_band",
    "band_metrics",
    "boundary_iou",
    "SegmentationMeter",
    "format_class_table",
    "panoptic_quality",
    "panoptic_segment_stats",
    "PanopticMeter",
    "normalize_confusion",
    "plot_confusion_matrix",
    "plot_class_iou",
    "remap_labels",
    "mapping_lut",
    "mapping_from_names",
    "harmonic_mean",
]
