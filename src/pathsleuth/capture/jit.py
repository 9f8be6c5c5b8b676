"""Two numba tools the capture kernels' hot loops need and numba does not spell out.

`prefetch(array, index)`, a cache-prefetch hint (LLVM's llvm.prefetch). The dissector
reads a few header bytes of every frame, at offsets it knows frames ahead
(`RecordBatch.data_offset`), from a buffer the kernel's copy has just left in the
last-level cache, not in L2. Left to itself the CPU waits for each frame's first cache
line; a hint for frame i + k issued while it works on frame i overlaps those waits (the
Linux network stack's `prefetch()` of the next skb's data). A prefetch never faults and
changes no result. It is declared with the typed-pointer name (`llvm.prefetch.p0i8`),
which LLVM versions with opaque pointers re-mangle to `llvm.prefetch.p0` when they parse
the module, so the same code compiles with every llvmlite numba supports.

`njit_unrefcounted(**options)`, `numba.njit` with numba's reference counting (NRT) off, as
numba compiles its own hot unicode and sort helpers (`_nrt=False`). In a kernel that
passes its arrays to inlined helpers, NRT adds an atomic increment and decrement of an
array's count around each call it cannot prove redundant: on every frame, in the
dissector. Such a kernel must not allocate (no `np.zeros` inside; pass scratch arrays in)
and must not return arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numba
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

#: llvm.prefetch arguments: read access, highest temporal locality, data (not code) cache
_READ, _LOCALITY, _DATA_CACHE = 0, 3, 1
_PREFETCH = "llvm.prefetch.p0i8"

_F = TypeVar("_F", bound=Callable[..., Any])


def _prefetch(typingctx: Any, arr: Any, idx: Any) -> Any:
    """Hint that `arr[idx]` will be read soon (no bounds check, no effect on results)."""
    if not isinstance(arr, types.Array) or not isinstance(idx, types.Integer):
        return None
    sig = types.void(arr, idx)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        aryty, idxty = signature.args
        ary = context.make_array(aryty)(context, builder, args[0])
        i = context.cast(builder, args[1], idxty, types.intp)
        byte_ptr = ir.IntType(8).as_pointer()
        ptr = builder.bitcast(builder.gep(ary.data, [i]), byte_ptr)
        i32 = ir.IntType(32)
        module = builder.module
        fn = module.globals.get(_PREFETCH)
        if fn is None:
            fnty = ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32])
            fn = ir.Function(module, fnty, _PREFETCH)
        builder.call(fn, [ptr, i32(_READ), i32(_LOCALITY), i32(_DATA_CACHE)])
        return context.get_dummy_value()

    return sig, codegen


#: `prefetch(array, index)` inside a numba kernel
prefetch: Any = intrinsic(_prefetch)


def njit_unrefcounted(**options: Any) -> Callable[[_F], _F]:
    """`numba.njit(**options)` without reference counting; see the module docstring."""
    njit: Any = numba.njit  # its type stubs do not list the private `_nrt` option
    jit: Callable[[_F], _F] = njit(_nrt=False, **options)
    return jit
