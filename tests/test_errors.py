"""Clear errors: a mistake is reported with the op's name and the shapes or dtypes involved."""

import numpy as np
import pytest

import npgpt
import npgpt.functional as F
from npgpt import DeviceError


def T(*shape, dtype=np.float64, requires_grad=False):
    return npgpt.tensor(np.ones(shape, dtype=dtype), requires_grad=requires_grad)


# ----------------------------------------------------------------------- shapes
def test_matmul_shape_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"MatMul: inner dimensions differ: \(3, 4\) @ \(5, 2\)"):
        T(3, 4) @ T(5, 2)
    with pytest.raises(ValueError, match=r"MatMul.*\(2, 3, 4\).*\(3,\)"):
        T(2, 3, 4) @ T(3)
    with pytest.raises(ValueError, match="MatMul: matmul needs at least 1-D"):
        T(3) @ T()


def test_add_shape_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"Add: .*\(input shapes: \(3, 4\), \(5,\)\)"):
        T(3, 4) + T(5)
    with pytest.raises(ValueError, match=r"Mul: .*\(input shapes: \(2, 3\), \(3, 2\)\)"):
        T(2, 3) * T(3, 2)


def test_other_shape_errors():
    with pytest.raises(ValueError, match=r"Linear: input has 4 features but the weight \(2, 3\) expects 3"):
        F.linear(T(3, 4), T(2, 3))
    with pytest.raises(ValueError, match=r"LayerNorm: gamma has shape \(3,\), expected \(4,\)"):
        F.layer_norm(T(2, 4), T(3))
    with pytest.raises(ValueError, match=r"ScaledDotProductAttention: expected q \(B, H, Tq, D\)"):
        F.scaled_dot_product_attention(T(3, 4), T(3, 4), T(3, 4))
    with pytest.raises(ValueError, match="ScaledDotProductAttention: causal attention needs Tq <= Tk"):
        F.scaled_dot_product_attention(T(1, 1, 5, 2), T(1, 1, 3, 2), T(1, 1, 3, 2))
    with pytest.raises(ValueError, match=r"Reshape: cannot reshape array of size 12 into shape \(5,\)"):
        T(3, 4).reshape(5)
    with pytest.raises(ValueError, match=r"Concat: .*\(input shapes: \(3, 4\), \(2, 3\)\)"):
        F.concat([T(3, 4), T(2, 3)])
    with pytest.raises(ValueError, match=r"Stack: .*\(input shapes: \(3, 4\), \(2, 3\)\)"):
        F.stack([T(3, 4), T(2, 3)])
    with pytest.raises(ValueError, match=r"split: sizes \[1, 2\] do not add up to 4"):
        T(3, 4).split([1, 2])
    with pytest.raises(ValueError, match=r"Transpose: axes \(0, 0\) are not a permutation"):
        T(3, 4).permute(0, 0)
    with pytest.raises(ValueError, match="GetItem: index 5: .*out of bounds"):
        T(3, 4)[5]


# ----------------------------------------------------------------------- dtypes
def test_mixed_float_dtypes_name_op_and_dtypes():
    with pytest.raises(
        TypeError, match=r"Add: inputs have different float dtypes \(\(3, 4\) float64, \(4,\) float32\)"
    ):
        T(3, 4) + T(4, dtype=np.float32)
    with pytest.raises(TypeError, match="MatMul: .*float32.*float64"):
        T(2, 3, dtype=np.float32) @ T(3, 2)
    with pytest.raises(TypeError, match="LayerNorm: .*float64.*float32"):
        F.layer_norm(T(2, 4), T(4, dtype=np.float32))


def test_int_input_to_float_op_names_op():
    ints = npgpt.tensor([1, 2, 3])
    with pytest.raises(TypeError, match=r"Exp: expected floating-point input, got dtype int64 \(shape \(3,\)\)"):
        ints.exp()
    with pytest.raises(TypeError, match="Softmax: expected floating-point input"):
        ints.softmax()
    with pytest.raises(TypeError, match="Div: expected floating-point input"):
        ints / 2
    # ops that only move values may take ints (indexing, reshapes, + and *)
    assert (ints * 2 + 1)[1:].reshape(2, 1).tolist() == [[5], [7]]


def test_python_number_takes_the_tensor_dtype():
    # a constant is not a second dtype: it becomes the tensor's
    x = T(2, dtype=np.float32)
    assert (x + 1.5).dtype == np.float32 and (np.float64(2.0) * x).dtype == np.float32


# ----------------------------------------------------------------------- devices
def test_unknown_device():
    with pytest.raises(DeviceError, match=r"unknown device 'tpu': expected one of \('cpu', 'cuda'\)"):
        npgpt.tensor([1.0], device="tpu")
    with pytest.raises(DeviceError, match="'tpu' is neither a device"):
        T(2).to("tpu")


# ----------------------------------------------------------------------- axes
@pytest.mark.parametrize(
    "call, name",
    [
        (lambda x: x.sum(axis=2), "Sum"),
        (lambda x: x.mean(axis=(0, 5)), "Mean"),
        (lambda x: x.var(axis=-3), "Var"),
        (lambda x: x.max(axis=2), "Max"),
        (lambda x: x.softmax(axis=2), "Softmax"),
        (lambda x: x.log_softmax(axis=-3), "LogSoftmax"),
    ],
)
def test_out_of_range_axis(call, name):
    with pytest.raises(ValueError, match=rf"{name}: axis -?\d+ is out of (range|bounds).*\(input shapes: \(3, 4\)\)"):
        call(T(3, 4))


def test_var_with_too_few_elements():
    with pytest.raises(ValueError, match="Var: var over 1 elements with correction=1 divides by zero"):
        T(3, 1).var(axis=-1, correction=1)


# ----------------------------------------------------------------------- targets and ids
def test_cross_entropy_bad_targets():
    logits = T(3, 4)
    with pytest.raises(ValueError, match=r"CrossEntropy: a target is outside \[0, 4\)"):
        F.cross_entropy(logits, np.array([0, 1, 4]))
    with pytest.raises(ValueError, match=r"CrossEntropy: a target is outside \[0, 4\) and is not ignore_index=-100"):
        F.cross_entropy(logits, np.array([0, -1, 2]))
    with pytest.raises(ValueError, match=r"CrossEntropy: targets \(2,\) do not match logits \(3, 4\)"):
        F.cross_entropy(logits, np.array([0, 1]))
    with pytest.raises(TypeError, match="CrossEntropy: targets must be integers, got dtype float64"):
        F.cross_entropy(logits, np.array([0.0, 1.0, 2.0]))
    # ignored positions may hold any value
    assert np.isfinite(F.cross_entropy(logits, np.array([0, -100, 3])).item())


def test_embedding_out_of_range_ids():
    w = T(6, 3)
    with pytest.raises(ValueError, match=r"Embedding: an id is outside the vocabulary \[0, 6\): min 0, max 6"):
        F.embedding(np.array([0, 6]), w)
    with pytest.raises(ValueError, match=r"Embedding: an id is outside the vocabulary \[0, 6\): min -1"):
        F.embedding(np.array([[-1, 2]]), w)
    with pytest.raises(TypeError, match="embedding ids must be integers, got dtype float64"):
        F.embedding(np.array([0.0, 2.0]), w)


def test_dropout_bad_probability():
    for p in (1.0, -0.1):
        with pytest.raises(ValueError, match=r"dropout probability must be in \[0, 1\)"):
            F.dropout(T(3), p)


def test_gelu_bad_approximate():
    with pytest.raises(ValueError, match="GELU: approximate must be 'tanh' or 'none'"):
        T(3).gelu(approximate="erf")


# ----------------------------------------------------------------------- autograd misuse
def test_autograd_misuse_messages():
    with pytest.raises(RuntimeError, match="does not require grad"):
        T(3).sum().backward()
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients, got dtype int64"):
        npgpt.tensor([1, 2], requires_grad=True)
    with pytest.raises(ValueError, match="gradcheck: no input requires grad"):
        npgpt.gradcheck(lambda a: a * 2, [T(3)])
