"""Reference implementations in other libraries, used to cross-check npgpt (tests, benchmark).

``npgpt.reference.torch_gpt``: the same GPT in PyTorch (``TorchGPT``, ``load_npgpt_weights``).
Import that module explicitly; importing this package does not import torch, so npgpt works
without it.
"""

__all__ = ["torch_gpt"]
