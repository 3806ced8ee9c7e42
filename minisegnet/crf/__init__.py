"""Dense CRF (Krähenbühl & Koltun 2011): mean-field inference, forward and backward.

``mean_field_forward(unary, image, ...) -> (Q, cache)`` and
``mean_field_backward(dQ, cache) -> dunary`` (CRF-as-RNN; ``mean_field_gradients`` adds the
gradients of the two compat weights) with pydensecrf's model and
parameters; ``method="exact"`` (all pairs, ``exact.py``) or ``"lattice"`` (permutohedral
lattice, ``lattice.py``). ``unary_from_probabilities`` turns class probabilities into unary
energies and ``crf_refine`` refines a batch of softmax outputs; ``demo_refinement`` and
``refinement_figure`` show a coarse labelling of a real photograph refined to follow its
edges. Lesson: ``lessons/09-dense-crf.md``.
"""

from .meanfield import (
    MeanFieldGrads,
    mean_field_backward,
    mean_field_forward,
    mean_field_gradients,
    pairwise_features,
)
from .refine import crf_refine
from .unary import unary_from_probabilities
from .viz import demo_refinement, refinement_figure

__all__ = [
    "mean_field_forward",
    "mean_field_backward",
    "mean_field_gradients",
    "MeanFieldGrads",
    "pairwise_features",
    "unary_from_probabilities",
    "crf_refine",
    "demo_refinement",
    "refinement_figure",
]
