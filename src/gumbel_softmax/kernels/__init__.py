"""Fused Triton kernels for `gumbel_softmax.functional`, registered with `gumbel_softmax.backend`.

`gumbel_softmax.backend` reads `KERNELS` on first use; importing this package raises
`ImportError` where Triton is not installed, and the backend then keeps the
pure-PyTorch reference. The kernels import nothing from the reference layer.

* `softmax_op`: Gumbel-Softmax forward (soft,
  hard) and backward, as the custom operators `torch.ops.gumbel_softmax.forward`
  and `.backward`.
* `sample_op`: Gumbel-max index sampling,
  `torch.ops.gumbel_softmax.sample`.
* `noise`: the Philox noise they share.
* `online`: the online max/sum/argmax over the tiles of long rows.
* `tiles`: launch settings and tile addressing.

They run on CUDA tensors of dtype float32, float16 and bfloat16, and on CPU
tensors when Triton's interpreter is on (`TRITON_INTERPRET=1` before import;
for tests). `gumbel_softmax.set_backend("triton")` forces them,
`"torch"` forces the reference.
"""

import torch
import triton  # noqa: F401  (ImportError here keeps the reference backend)
from torch import Tensor

from gumbel_softmax.kernels import sample_op, softmax_op
from gumbel_softmax.kernels.tiles import INTERPRETING

__all__ = ["KERNELS", "SUPPORTED_DTYPES", "supports"]

SUPPORTED_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def supports(tensor: Tensor) -> bool:
    """Whether the kernels run on `tensor`: a supported dtype on CUDA (or on CPU under the interpreter)."""
    device_ok = tensor.device.type == "cuda" or (INTERPRETING and tensor.device.type == "cpu")
    return device_ok and tensor.dtype in SUPPORTED_DTYPES


# op name -> (implementation, the tensors it runs on), read by gumbel_softmax.backend.
KERNELS = {"gumbel_softmax": (softmax_op.gumbel_softmax, supports), "sample": (sample_op.sample, supports)}
