"""Flatten nested gymnasium spaces into one fixed-size buffer per agent, and back.

Observations
------------
A structured observation space (any nesting of ``Dict``, ``Tuple``, ``Box``, ``Discrete``, ``MultiDiscrete``
and ``MultiBinary``) is laid out as a packed numpy *structured dtype* with one field per leaf, in the
space's own key order. One agent's observation is one record of that dtype, seen by the env as:

* a flat 1-D array of the leaves' common dtype, when every leaf has the same dtype (for example
  ``Dict(pos=Box(float32), vel=Box(float32))`` becomes ``Box(float32, (n,))`` with the leaves' bounds);
* raw bytes (``Box(uint8, (nbytes,))``) when the leaf dtypes differ.

A top-level ``Box`` is kept as it is (an image stays ``[H, W, C]``). :func:`unflatten` is the exact inverse
(it returns zero-copy views), and :func:`layout` gives the per-leaf ``(path, dtype, shape, offset)`` table
so a model can unflatten torch tensors the same way without numpy::

    table = layout(env.structured_observation_space)          # compute once, outside the model
    # obs: a [B, n] tensor of the flat observations
    for leaf in table:
        if obs.dtype == torch.uint8:                          # mixed dtypes: raw bytes
            raw = obs[:, leaf.offset : leaf.offset + leaf.nbytes].contiguous()
            x = raw.view(TORCH_DTYPE[leaf.dtype]).reshape(-1, *leaf.shape)
        else:                                                 # one shared dtype: plain slices
            start = leaf.offset // leaf.dtype.itemsize
            x = obs[:, start : start + leaf.size].reshape(-1, *leaf.shape)

Actions
-------
Top-level ``Discrete``, ``MultiDiscrete``, ``MultiBinary`` and ``Box`` action spaces are used natively.
Structured action spaces are flattened:

* all leaves discrete (``Discrete``, ``MultiDiscrete``, ``MultiBinary``) -> one ``MultiDiscrete`` whose
  entries are the leaves' entries in order (``MultiBinary`` entries become ``nvec=2``);
* otherwise -> one ``Box(float32)`` of every leaf's entries. Discrete leaves inside such a Box are rounded
  to the nearest integer and must lie in their range (ValueError otherwise: nothing is clipped), and
  integer ``Box`` leaves are rounded too.

:func:`unflatten_action` turns a flat action back into the nested value the wrapped env expects.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from gymnasium import spaces

__all__ = [
    "Leaf",
    "layout",
    "flatten_space",
    "flatten",
    "unflatten",
    "structured_dtype",
    "flatten_action_space",
    "unflatten_action",
    "ObservationWriter",
    "ActionReader",
]

Path = tuple[str | int, ...]
LEAF_TYPES = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)


@dataclass(frozen=True)
class Leaf:
    """One leaf of a structured space, as stored in the flat buffer.

    Attributes:
        path: keys (``str`` for ``Dict``, ``int`` for ``Tuple``) from the root to the leaf; ``()`` for a
            space that is itself a leaf.
        space: the leaf space.
        dtype: numpy dtype of the stored values (the space's dtype; ``int64`` for ``Discrete``).
        shape: shape of one value (``()`` for ``Discrete``).
        offset: byte offset of the leaf inside one agent's record.
        name: the leaf's field name in :func:`structured_dtype`: its path joined by ``.`` (``"value"`` for a
            bare leaf), prefixed with the leaf's index where two paths would join to the same name.
    """

    path: Path
    space: spaces.Space
    dtype: np.dtype
    shape: tuple[int, ...]
    offset: int
    name: str = ""

    @property
    def size(self) -> int:
        """Number of elements of one value."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize


def _leaves(space: spaces.Space, path: Path = ()) -> list[tuple[Path, spaces.Space]]:
    if isinstance(space, spaces.Dict):
        return [leaf for key, sub in space.spaces.items() for leaf in _leaves(sub, (*path, key))]
    if isinstance(space, spaces.Tuple):
        return [leaf for i, sub in enumerate(space.spaces) for leaf in _leaves(sub, (*path, i))]
    if isinstance(space, LEAF_TYPES):
        return [(path, space)]
    where = f" at {path}" if path else ""
    raise TypeError(
        f"cannot flatten {type(space).__name__}{where}: supported spaces are Dict, Tuple, Box, Discrete, "
        "MultiDiscrete and MultiBinary"
    )


def _leaf_dtype_shape(space: spaces.Space) -> tuple[np.dtype, tuple[int, ...]]:
    if isinstance(space, spaces.Discrete):
        return np.dtype(space.dtype), ()
    return np.dtype(space.dtype), tuple(int(s) for s in space.shape)


def layout(space: spaces.Space) -> list[Leaf]:
    """The per-leaf table of ``space``: path, dtype, shape and byte offset inside one packed record.

    Leaves come in the space's own order (``Dict`` key order, ``Tuple`` index order) and are packed with
    no padding, so ``offset`` of a leaf is the sum of ``nbytes`` of the leaves before it. When every leaf
    has the same dtype the flat observation is an array of that dtype and the leaf starts at element
    ``offset // dtype.itemsize``.
    """
    table: list[Leaf] = []
    offset = 0
    for path, leaf_space in _leaves(space):
        dtype, shape = _leaf_dtype_shape(leaf_space)
        if dtype.kind not in "biuf":
            raise TypeError(
                f"cannot flatten leaf {path} of dtype {dtype}: expected a bool, int or float dtype"
            )
        leaf = Leaf(path, leaf_space, dtype, shape, offset, ".".join(str(p) for p in path) or "value")
        table.append(leaf)
        offset += leaf.nbytes
    if not table:
        raise ValueError(f"cannot flatten {space}: it has no leaves")
    if len({leaf.name for leaf in table}) < len(table):  # e.g. keys "a.b" and "a" -> "b"
        table = [replace(leaf, name=f"{i}:{leaf.name}") for i, leaf in enumerate(table)]
    return table


def structured_dtype(space: spaces.Space) -> np.dtype:
    """The packed numpy structured dtype of one record of ``space`` (one field per leaf)."""
    table = layout(space)
    return np.dtype(
        {
            "names": [leaf.name for leaf in table],
            "formats": [(leaf.dtype, leaf.shape) if leaf.shape else leaf.dtype for leaf in table],
            "offsets": [leaf.offset for leaf in table],
            "itemsize": sum(leaf.nbytes for leaf in table),
        }
    )


def _leaf_bounds(leaf: Leaf) -> tuple[np.ndarray, np.ndarray]:
    space = leaf.space
    if isinstance(space, spaces.Box):
        return space.low, space.high
    if isinstance(space, spaces.Discrete):
        return np.array(space.start), np.array(space.start + space.n - 1)
    if isinstance(space, spaces.MultiDiscrete):
        return space.start, space.start + space.nvec - 1
    return np.zeros(leaf.shape), np.ones(leaf.shape)  # MultiBinary


def _common_dtype(table: list[Leaf]) -> np.dtype | None:
    dtypes = {leaf.dtype for leaf in table}
    return dtypes.pop() if len(dtypes) == 1 else None


def flatten_space(space: spaces.Space) -> spaces.Box:
    """The ``Box`` that holds one flattened value of ``space`` (see the module docs for the rules)."""
    if isinstance(space, spaces.Box):
        return space
    table = layout(space)
    common = _common_dtype(table)
    if common is None:
        nbytes = sum(leaf.nbytes for leaf in table)
        return spaces.Box(0, 255, (nbytes,), dtype=np.uint8)
    lows, highs = zip(*(_leaf_bounds(leaf) for leaf in table))
    low = np.concatenate([np.broadcast_to(lo, leaf.shape).ravel() for lo, leaf in zip(lows, table)])
    high = np.concatenate([np.broadcast_to(hi, leaf.shape).ravel() for hi, leaf in zip(highs, table)])
    # every leaf has dtype ``common``, so its bounds are representable in it
    return spaces.Box(low.astype(common), high.astype(common), dtype=common)


class ObservationWriter:
    """Writes observations of a structured ``space`` into flat rows, as fast as numpy allows.

    ``writer.bind(row)`` precomputes a view per leaf into ``row`` (one agent's slice of the observation
    buffer) and returns a function ``write(value)`` that checks each leaf's shape and casts it explicitly
    to the declared dtype (a float64 value of a float32 Box is stored as float32).
    """

    def __init__(self, space: spaces.Space) -> None:
        self.space = space
        self.flat_space = flatten_space(space)
        self.table = layout(space)
        self.is_box = isinstance(space, spaces.Box)
        self.dtype = structured_dtype(space)

    def leaf_views(self, row: np.ndarray) -> list[np.ndarray]:
        """Views into ``row`` (shape ``flat_space.shape``) of each leaf, writable in place."""
        if row.shape != self.flat_space.shape or row.dtype != self.flat_space.dtype:
            raise ValueError(
                f"row must have shape {self.flat_space.shape} and dtype {self.flat_space.dtype}, "
                f"got {row.shape} {row.dtype}"
            )
        if self.is_box:
            return [row]
        record = row.view(self.dtype)  # shape (1,): one packed record over the same memory
        return [record[leaf.name][0] if leaf.shape else record[leaf.name] for leaf in self.table]

    def bind(self, row: np.ndarray) -> Callable[[Any], None]:
        """A function ``write(value)`` that flattens one observation into ``row`` in place."""
        views = self.leaf_views(row)
        if self.is_box:
            return _array_writer(row, (), self.space)
        writers = {
            leaf.path: (_array_writer if leaf.shape else _scalar_writer)(view, leaf.path, leaf.space)
            for leaf, view in zip(self.table, views)
        }
        tree = _compile_writer(self.space, (), writers)
        space = self.space

        def write(value: Any) -> None:
            try:
                tree(value)
            except (KeyError, IndexError, TypeError) as exc:
                raise ValueError(f"observation does not match {space}: {exc!r}") from None

        return write


# Writers are closures compiled once per buffer row: each step then costs a few attribute reads and one
# numpy assignment per leaf (this runs for every agent on every step).


def _cast_is_exact(src: np.dtype, dst: np.dtype, where: str) -> bool:
    """Whether storing ``src`` values as ``dst`` is always acceptable (else each value is checked).

    Safe casts are, and so is rounding into a float dtype (float64 observations of a float32 Box): that is
    the documented explicit cast. Anything into an integer or bool dtype that could change a value (floats,
    wider integers) is checked value by value, so 300 never silently becomes 44 in a uint8 buffer.
    """
    if src.kind not in "biuf":
        raise ValueError(f"{where}observation has non-numeric dtype {src}, expected {dst}")
    return bool(np.can_cast(src, dst, "safe")) or dst.kind == "f"


def _check_exact(value: np.ndarray, dst: np.dtype, where: str) -> None:
    with np.errstate(invalid="ignore", over="ignore"):
        stored = value.astype(dst)
    if not np.array_equal(stored, value):
        raise ValueError(
            f"{where}observation {value!r} cannot be stored exactly in the declared dtype {dst} "
            "(out of range or not an integer)"
        )


def _array_writer(view: np.ndarray, path: Path, space: spaces.Space) -> Callable[[Any], None]:
    shape, dst = view.shape, view.dtype
    where = f"leaf {path} of the " if path else ""
    exact: dict[np.dtype, bool] = {}  # source dtype -> cast always fine; envs return one dtype in practice

    def write(value: Any) -> None:
        if type(value) is not np.ndarray:
            value = np.asarray(value)
        if value.shape != shape:
            raise ValueError(f"{where}observation has shape {value.shape}, expected {shape} (space {space})")
        src = value.dtype
        fine = exact.get(src)
        if fine is None:
            fine = exact[src] = _cast_is_exact(src, dst, where)
        if not fine:
            _check_exact(value, dst, where)
        view[...] = value  # an explicit cast to the declared dtype

    return write


def _scalar_writer(view: np.ndarray, path: Path, space: spaces.Space) -> Callable[[Any], None]:
    # ``view`` is the 1-element field of one record; ``view[0] = x`` is the cheapest numpy store.
    dst = view.dtype
    where = f"leaf {path} of the "
    # Python and numpy scalars that store exactly (or round into a float) skip the array path.
    direct = {dst.type, bool}
    if dst.kind in "iu":
        direct.add(int)
    if dst.kind == "f":
        direct |= {int, float}
    array_write = _array_writer(view.reshape(()), path, space)

    def write(value: Any) -> None:
        if type(value) in direct:
            try:
                view[0] = value
            except OverflowError:  # a Python int that the dtype cannot hold
                raise ValueError(f"{where}observation {value} is out of range for dtype {dst}") from None
        else:
            array_write(value)

    return write


def _compile_writer(
    space: spaces.Space, path: Path, writers: Mapping[Path, Callable[[Any], None]]
) -> Callable[[Any], None]:
    if isinstance(space, spaces.Dict):
        items = [(key, _compile_writer(sub, (*path, key), writers)) for key, sub in space.spaces.items()]

        def write_dict(value: Any) -> None:
            for key, write in items:
                write(value[key])

        return write_dict
    if isinstance(space, spaces.Tuple):
        parts = [_compile_writer(sub, (*path, i), writers) for i, sub in enumerate(space.spaces)]
        n = len(parts)

        def write_tuple(value: Any) -> None:
            if len(value) != n:
                raise ValueError(f"observation leaf {path} has {len(value)} entries, expected {n}")
            for write, item in zip(parts, value):
                write(item)

        return write_tuple
    return writers[path]


def flatten(value: Any, space: spaces.Space) -> np.ndarray:
    """One value of ``space`` as a new flat array of ``flatten_space(space)`` (not for hot paths)."""
    writer = ObservationWriter(space)
    out = np.zeros(writer.flat_space.shape, dtype=writer.flat_space.dtype)
    writer.bind(out)(value)
    return out


def unflatten(flat: np.ndarray, space: spaces.Space) -> Any:
    """Inverse of :func:`flatten`: nested dicts/tuples of arrays with shape ``[*batch, *leaf_shape]``.

    ``flat`` has shape ``[*batch, *flatten_space(space).shape]`` and the flat dtype. The leaves are views of
    ``flat`` when its last axis is contiguous, else of a contiguous copy (never a misread). ``Discrete``
    leaves come back as int64 arrays of shape ``[*batch]``.
    """
    flat_space = flatten_space(space)
    array = np.asarray(flat)
    flat_shape = tuple(flat_space.shape)
    n = len(flat_shape)
    if array.dtype != flat_space.dtype:
        raise ValueError(f"flat observations must have dtype {flat_space.dtype}, got {array.dtype}")
    if array.ndim < n or array.shape[array.ndim - n :] != flat_shape:
        raise ValueError(f"flat observations must have shape [*batch, *{flat_shape}], got {array.shape}")
    if isinstance(space, spaces.Box):
        return array
    batch = array.shape[: array.ndim - n]
    if not array.flags.c_contiguous:
        array = np.ascontiguousarray(array)
    records = array.view(structured_dtype(space)).reshape(batch)
    return _build(space, (), {leaf.path: records[leaf.name] for leaf in layout(space)})


def _build(space: spaces.Space, path: Path, values: Mapping[Path, Any]) -> Any:
    if isinstance(space, spaces.Dict):
        return {key: _build(sub, (*path, key), values) for key, sub in space.spaces.items()}
    if isinstance(space, spaces.Tuple):
        return tuple(_build(sub, (*path, i), values) for i, sub in enumerate(space.spaces))
    return values[path]


# -- actions ----------------------------------------------------------------------------------------------
def _is_discrete(space: spaces.Space) -> bool:
    return isinstance(space, (spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary))


def flatten_action_space(space: spaces.Space) -> spaces.Space:
    """The native action space of a (possibly structured) action space; see the module docs."""
    if isinstance(space, LEAF_TYPES):
        return space
    table = layout(space)
    if all(_is_discrete(leaf.space) for leaf in table):
        nvec, start = [], []
        for leaf in table:
            s = leaf.space
            if isinstance(s, spaces.Discrete):
                nvec.append([s.n])
                start.append([s.start])
            elif isinstance(s, spaces.MultiDiscrete):
                nvec.append(s.nvec.ravel())
                start.append(s.start.ravel())
            else:
                nvec.append(np.full(leaf.size, 2))
                start.append(np.zeros(leaf.size, dtype=np.int64))
        return spaces.MultiDiscrete(
            np.concatenate(nvec).astype(np.int64), start=np.concatenate(start).astype(np.int64)
        )
    lows, highs = zip(*(_leaf_bounds(leaf) for leaf in table))
    low = np.concatenate([np.broadcast_to(lo, leaf.shape).ravel() for lo, leaf in zip(lows, table)])
    high = np.concatenate([np.broadcast_to(hi, leaf.shape).ravel() for hi, leaf in zip(highs, table)])
    return spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)


class ActionReader:
    """Turns one agent's flat action (a row of the action buffer) into the value the wrapped env expects.

    ``Discrete`` leaves come back as Python ints, other leaves as new arrays of the leaf's dtype (the action
    buffer is reused, so nothing handed to the env aliases it).
    """

    def __init__(self, space: spaces.Space) -> None:
        self.space = space
        self.flat_space = flatten_action_space(space)
        self.native = self.flat_space is space
        if self.native:
            return
        self.table = layout(space)
        decoders: dict[Path, Callable[[np.ndarray, list], Any]] = {}
        start = 0
        for leaf in self.table:
            decoders[leaf.path] = self._decoder(leaf, start)
            start += leaf.size
        self._tree = _compile_reader(space, (), decoders)

    def _decoder(self, leaf: Leaf, lo: int) -> Callable[[np.ndarray, list], Any]:
        space, shape, dtype, hi, path = leaf.space, leaf.shape, leaf.dtype, lo + leaf.size, leaf.path
        if isinstance(self.flat_space, spaces.MultiDiscrete):
            # Integers already validated against the MultiDiscrete's ranges.
            if isinstance(space, spaces.Discrete):
                return lambda row, values: values[lo]
            return lambda row, values: row[lo:hi].astype(dtype).reshape(shape)
        if isinstance(space, spaces.Discrete):
            low, high = int(space.start), int(space.start + space.n - 1)

            def decode_discrete(row: np.ndarray, values: list) -> int:
                value = round(values[lo])  # half to even, like np.rint
                if not low <= value <= high:
                    raise ValueError(
                        f"action leaf {path} of Discrete rounds to {value}, "
                        f"expected {low} <= action <= {high}"
                    )
                return value

            return decode_discrete
        if dtype.kind == "f":
            return lambda row, values: row[lo:hi].astype(dtype).reshape(shape)
        low_arr, high_arr = (np.broadcast_to(b, shape).ravel() for b in _leaf_bounds(leaf))

        def decode_rounded(row: np.ndarray, values: list) -> np.ndarray:
            rounded = np.rint(row[lo:hi])
            if (rounded < low_arr).any() or (rounded > high_arr).any():
                raise ValueError(
                    f"action leaf {path} of {type(space).__name__} rounds to {rounded}, "
                    f"expected values in [{low_arr}, {high_arr}]"
                )
            return rounded.astype(dtype).reshape(shape)

        return decode_rounded

    def bind(self, actions: np.ndarray, slot: int) -> Callable[[], Any]:
        """A function of no arguments returning the structured action of ``actions[slot]``."""
        if self.native and isinstance(self.space, spaces.Discrete):
            return lambda: actions.item(slot)
        row = actions[slot]
        return lambda: self(row)

    def __call__(self, row: np.ndarray) -> Any:
        """The structured action for ``row``."""
        if self.native:
            if isinstance(self.space, spaces.Discrete):
                return int(row)
            return row.astype(self.space.dtype)  # a copy in the env's own dtype
        return self._tree(row, row.tolist())


def _compile_reader(
    space: spaces.Space, path: Path, decoders: Mapping[Path, Callable[[np.ndarray, list], Any]]
) -> Callable[[np.ndarray, list], Any]:
    if isinstance(space, spaces.Dict):
        items = [(key, _compile_reader(sub, (*path, key), decoders)) for key, sub in space.spaces.items()]
        return lambda row, values: {key: read(row, values) for key, read in items}
    if isinstance(space, spaces.Tuple):
        parts = [_compile_reader(sub, (*path, i), decoders) for i, sub in enumerate(space.spaces)]
        return lambda row, values: tuple([read(row, values) for read in parts])
    return decoders[path]


def unflatten_action(flat: np.ndarray, space: spaces.Space) -> Any:
    """One flat action (of ``flatten_action_space(space)``) as the structured value of ``space``."""
    reader = ActionReader(space)
    flat = np.asarray(flat)
    if not reader.native:
        # the hot path gets actions validated by write_actions; here they come straight from the caller
        from .spaces import validate_actions

        flat = validate_actions(flat[None], reader.flat_space, 1)[0]
    return reader(flat)
