"""Reference implementations in other libraries, used to cross-check npgpt (tests, benchmark).

``npgpt.reference.torch_gpt``: the same GPT in PyTorch (``TorchGPT``, ``load_npgpt_weights``).
``npgpt.reference.torch_ops``: PyTorch versions of ops whose formula a classroom task asks for
(a student handout leaves this package out). Import a module explicitly; importing this package
does not import torch, so npgpt works without it.
"""

__all__ = ["torch_gpt", "torch_ops"]
