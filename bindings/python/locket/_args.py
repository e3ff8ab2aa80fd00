"""The checks of the package's arguments: paths, timeouts, modes, lock kinds
and byte ranges (the same rule wherever an argument is taken)."""

import os as _os

from . import _core

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from typing import Any, Tuple, Union

    StrOrBytesPath = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


class _Default:
    """acquire()'s default timeout: the lock's (a readable repr for help())."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<the lock's timeout>"


DEFAULT: "Any" = _Default()


def real_seconds(timeout: "Any") -> float:
    """A timeout that is neither int nor float (Fraction, Decimal, numpy
    scalars) as a float; TypeError for what is not a real number."""
    import numbers

    if not isinstance(timeout, numbers.Real):
        raise TypeError(f"timeout must be a number of seconds or None, not {type(timeout).__name__}")
    try:
        return float(timeout)
    except OverflowError:  # beyond a double: forever, or refused if negative
        return float("inf") if timeout > 0 else -1.0  # type: ignore[operator]


# Seconds (None = forever, 0 = try once) to the C library's milliseconds (-1 = forever):
# locket_timeout_ms(), the rule of every language (NaN and negative: ValueError; +inf and
# anything too large for the core: forever; rounded up to whole milliseconds).
timeout_ms: "Any" = _core.timeout_ms


def path_of(path: "StrOrBytesPath") -> "Tuple[Union[str, bytes], bytes]":
    """(the path as given, str or bytes; its bytes for the C library)."""
    name = _os.fspath(path)
    raw = _os.fsencode(name)
    if not raw:
        raise ValueError("empty path")
    if b"\0" in raw:
        raise ValueError("embedded null byte in path")
    return name, raw


def mode_of(mode: "Any") -> int:
    if isinstance(mode, bool) or not isinstance(mode, int):
        raise TypeError(f"mode must be an int, not {type(mode).__name__}")
    if not 0 <= mode <= 0o7777:
        raise ValueError(f"mode {mode:#o} is not a permission mode")
    return mode


def kind_of(kind: "Any") -> int:
    """The C library's lock kind for "flock" or "ofd"."""
    if kind not in ("flock", "ofd"):
        raise ValueError(f"kind must be 'flock' or 'ofd', not {kind!r}")
    k: int = _core.KIND_OFD if kind == "ofd" else _core.KIND_FLOCK
    return k


def check_range(kind: int, start: "Any", length: "Any") -> None:
    """A byte range (length 0: to the end of the file); only OFD locks take one."""
    for what, v in (("start", start), ("length", length)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{what} must be an int, not {type(v).__name__}")
        if not 0 <= v < 1 << 63:
            raise ValueError(f"{what} {v} is not a byte offset (0 to 2**63 - 1)")
    if start + length >= 1 << 63:
        raise ValueError("start + length is beyond the largest file offset")
    if kind == _core.KIND_FLOCK and (start or length):
        raise ValueError("a 'flock' lock covers the whole file: a byte range needs kind='ofd'")
