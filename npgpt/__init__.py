"""npgpt: a GPT built from scratch in NumPy, with a hand-written reverse-mode autograd.

The same code runs on NumPy (CPU) or CuPy (GPU) arrays. Start with ``npgpt.tensor`` and
``Tensor.backward``; every op's forward and backward live side by side in ``npgpt.ops``.
"""

# isort: off
from .tensor import Tensor, tensor  # first: it installs the operators from functional
from . import functional

# isort: on
from .autograd import Function, is_grad_enabled, no_grad
from .backend import DeviceError, cuda_available
from .gradcheck import GradcheckReport, gradcheck

__version__ = "0.1.0"

__all__ = [
    "Tensor",
    "tensor",
    "no_grad",
    "is_grad_enabled",
    "Function",
    "functional",
    "gradcheck",
    "GradcheckReport",
    "DeviceError",
    "cuda_available",
    "__version__",
]
