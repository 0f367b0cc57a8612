"""gumbel-softmax: exact Gumbel sampling and the Gumbel-Softmax relaxation for PyTorch.

The public API, re-exported; see each module for the math and the papers.
"""

from gumbel_softmax.backend import get_backend as get_backend
from gumbel_softmax.backend import set_backend as set_backend
from gumbel_softmax.backend import use_backend as use_backend
from gumbel_softmax.checks import DimensionError as DimensionError
from gumbel_softmax.checks import set_validation as set_validation
from gumbel_softmax.checks import validation as validation
from gumbel_softmax.checks import validation_enabled as validation_enabled
from gumbel_softmax.functional import gumbel_softmax as gumbel_softmax
from gumbel_softmax.functional import gumbel_softmax_from_noise as gumbel_softmax_from_noise
from gumbel_softmax.functional import sample as sample
from gumbel_softmax.functional import sample_one_hot as sample_one_hot
from gumbel_softmax.noise import gumbel_like as gumbel_like
from gumbel_softmax.noise import gumbel_noise as gumbel_noise
from gumbel_softmax.noise import noise_range as noise_range
from gumbel_softmax.subset import gumbel_softmax_top_k as gumbel_softmax_top_k
from gumbel_softmax.subset import sample_without_replacement as sample_without_replacement

__version__ = "0.1.0"

__all__ = [
    "DimensionError",
    "get_backend",
    "gumbel_like",
    "gumbel_noise",
    "gumbel_softmax",
    "gumbel_softmax_from_noise",
    "gumbel_softmax_top_k",
    "noise_range",
    "sample",
    "sample_one_hot",
    "sample_without_replacement",
    "set_backend",
    "set_validation",
    "use_backend",
    "validation",
    "validation_enabled",
]
