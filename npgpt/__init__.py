"""npgpt: a GPT built from scratch in NumPy, with a hand-written reverse-mode autograd.

The same code runs on NumPy (CPU) or CuPy (GPU) arrays. Start with ``npgpt.tensor`` and
``Tensor.backward``. The engine reads in the order it imports: ``npgpt.autograd`` (the op contract
and the graph), ``npgpt.ops`` (every op's forward and backward side by side), ``npgpt.tensor``
(``Tensor``, whose operators call the ops), ``npgpt.functional`` (``F.xxx``).
"""

from . import _startup, functional  # noqa: F401 (_startup first: a Ctrl-C while the `npgpt` command imports)
from .autograd import Function, is_grad_enabled, no_grad
from .backend import DeviceError, cuda_available
from .gradcheck import GradcheckReport, gradcheck
from .tensor import Tensor, tensor

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
