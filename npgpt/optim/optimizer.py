"""Base class shared by all optimizers: parameter groups, state, checkpoints.

A *parameter* is any object with

* ``.data``: a NumPy or CuPy float array. Optimizers update it IN PLACE
  (``p.data -= ...``), never rebind it, so views and references held
  elsewhere (tied weights, the model's own attributes) stay valid.
* ``.grad``: an array with the same shape, dtype and array module, or
  ``None`` (no gradient this step: the parameter is skipped).

Parameters are numbered 0, 1, 2, ... in the order they appear across the
param groups (the same packing torch uses). ``self.state[i]`` is the state
dict of parameter ``i``; that index is also the prefix of its keys in
:meth:`Optimizer.state_dict`.
"""

import numbers

import numpy as np

from ..backend import device_of, get_array_module, to_device


def _plain(value):
    """Turn a hyperparameter into a JSON-able value (tuples become lists)."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _copy_like(value, like):
    """Fresh copy of ``value`` with the dtype and array module of ``like``."""
    if hasattr(value, "dtype"):
        value = to_device(value, device_of(like))
    return get_array_module(like).array(value, dtype=like.dtype, copy=True)


class Optimizer:
    """Holds ``param_groups`` (list of dicts) and per-parameter ``state``.

    ``params`` is an iterable of parameters, or a list of dicts (param
    groups) like ``[{"params": [...], "weight_decay": 0.0}, ...]``; keys a
    group leaves out are taken from ``defaults``. A schedule changes the
    learning rate by writing ``group["lr"]`` (see ``schedule.set_lr``).

    Subclasses implement ``_update(group, param, grad, state)`` and
    ``_validate(group)``, and list the names of their per-parameter state in
    ``_array_state`` (arrays, shaped like the parameter) and
    ``_scalar_state`` (Python numbers).
    """

    _array_state = ()
    _scalar_state = ()

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}  # parameter index -> {name: array or number}
        self._scratch = {}  # (array module, dtype) -> flat work buffer (not saved)
        self._step_count = 0
        if hasattr(params, "data") or isinstance(params, dict):
            raise TypeError("params must be an iterable of parameters or of param-group dicts")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group):
        """Append a param group, filling missing hyperparameters from defaults."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError("a param group must be a dict with a 'params' entry")
        params = group["params"]
        params = [params] if hasattr(params, "data") else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in params:
            if not hasattr(p, "data") or not hasattr(p, "grad"):
                raise TypeError(f"parameter {p!r} has no .data/.grad attributes")
            if id(p) in seen:
                raise ValueError("a parameter appears more than once in the optimizer")
            seen.add(id(p))
        new = {**self.defaults, **group, "params": params}
        self._validate(new)
        self.param_groups.append(new)

    def _validate(self, group):
        """Raise ValueError for invalid hyperparameters (subclasses extend)."""
        lr = group.get("lr")
        if not isinstance(lr, numbers.Real) or not lr >= 0.0:
            raise ValueError(f"invalid learning rate: {lr!r} (must be a number >= 0)")

    def _indexed_params(self):
        """Yield (group, global index, param) in the canonical order."""
        i = 0
        for group in self.param_groups:
            for p in group["params"]:
                yield group, i, p
                i += 1

    def _scratch_for(self, p):
        """A work buffer shaped like ``p``: a view of one flat buffer shared by all parameters
        (updates run one parameter at a time), so a step allocates nothing and the scratch
        costs the size of the largest parameter, not a copy of the model."""
        key = (get_array_module(p.data).__name__, p.data.dtype.str)
        buf = self._scratch.get(key)
        if buf is None or buf.size < p.data.size:
            buf = self._scratch[key] = get_array_module(p.data).empty(max(p.data.size, 1), dtype=p.data.dtype)
        return buf[: p.data.size].reshape(p.data.shape)

    def zero_grad(self, set_to_none=True):
        """Forget the gradients: ``.grad = None`` (default, like torch) or fill 0."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad[...] = 0

    def step(self):
        """Update every parameter that has a gradient, in place."""
        for group, i, p in self._indexed_params():
            g = p.grad
            if g is None:
                continue
            if g.shape != p.data.shape:
                raise ValueError(f"parameter {i}: grad shape {g.shape} != data shape {p.data.shape}")
            self._update(group, p, g, self.state.setdefault(i, {}))
        self._step_count += 1

    def _update(self, group, p, g, state):
        raise NotImplementedError

    # ----- checkpoints ---------------------------------------------------

    def state_dict(self):
        """Everything needed to resume, split so that nothing needs pickling.

        Returns ``{"step": int, "param_groups": [...], "state": {...},
        "scalars": {...}}`` where

        * ``param_groups``: one dict per group with the hyperparameters as
          plain JSON values and ``"params"`` as the list of parameter indices;
        * ``state``: ``"<index>.<name>" -> array`` (copies, same array module
          as the parameters) -- put these in a safetensors file;
        * ``scalars``: ``"<index>.<name>" -> int/float`` (e.g. AdamW's
          per-parameter step count) -- JSON, like ``step`` and the groups.
        """
        groups, i = [], 0
        for group in self.param_groups:
            plain = {k: _plain(v) for k, v in group.items() if k != "params"}
            plain["params"] = list(range(i, i + len(group["params"])))
            i += len(group["params"])
            groups.append(plain)
        arrays, scalars = {}, {}
        for index, st in sorted(self.state.items()):
            for name, value in st.items():
                key = f"{index}.{name}"
                if name in self._array_state:
                    arrays[key] = value.copy()
                else:
                    scalars[key] = _plain(value)
        return {"step": self._step_count, "param_groups": groups, "state": arrays, "scalars": scalars}

    def load_state_dict(self, sd):
        """Restore from :meth:`state_dict` output (arrays may be NumPy or CuPy).

        Everything is checked before anything changes: group and parameter
        counts, hyperparameter names, state names and array shapes. A
        mismatch raises ValueError and leaves the optimizer untouched.
        """
        for key in ("param_groups", "state"):
            if key not in sd:
                raise ValueError(f"state dict has no {key!r} entry")
        groups = sd["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"state dict has {len(groups)} param groups, optimizer has {len(self.param_groups)}")
        new_groups = []
        for gi, (saved, group) in enumerate(zip(groups, self.param_groups)):
            n_saved = len(saved.get("params", group["params"]))
            if n_saved != len(group["params"]):
                raise ValueError(
                    f"param group {gi}: state dict has {n_saved} params, optimizer has {len(group['params'])}"
                )
            ours = set(group) - {"params"}
            theirs = set(saved) - {"params"}
            if ours != theirs:
                raise ValueError(f"param group {gi}: hyperparameters {sorted(theirs)} do not match {sorted(ours)}")
            new = dict(group)
            for k in ours:
                v = saved[k]
                new[k] = tuple(v) if isinstance(group[k], tuple) else v
            self._validate(new)
            new_groups.append(new)

        params = {i: p for _, i, p in self._indexed_params()}
        new_state = {}
        entries = [(k, v, self._array_state) for k, v in sd["state"].items()]
        entries += [(k, v, self._scalar_state) for k, v in sd.get("scalars", {}).items()]
        for key, value, allowed in entries:
            index, _, name = key.partition(".")
            if not index.isdigit() or int(index) not in params or name not in allowed:
                raise ValueError(
                    f"unexpected state entry {key!r} for {type(self).__name__} "
                    f"with {len(params)} params (names: {allowed})"
                )
            p = params[int(index)]
            if name in self._array_state:
                shape = getattr(value, "shape", None)
                if shape is None or tuple(shape) != p.data.shape:
                    raise ValueError(f"state {key!r} has shape {shape}, parameter has {p.data.shape}")
                value = _copy_like(value, p.data)
            new_state.setdefault(int(index), {})[name] = value
        expected = set(self._array_state) | set(self._scalar_state)
        for index, st in new_state.items():
            if set(st) != expected:
                raise ValueError(f"state of parameter {index} has {sorted(st)}, expected {sorted(expected)}")

        for group, new in zip(self.param_groups, new_groups):
            group.update(new)
        self.state = new_state
        self._step_count = int(sd.get("step", 0))
