"""lock_scope(): what a lock on a path can exclude (docs/filesystems.md)."""

from . import _core
from ._args import kind_of, path_of
from ._errors import _last_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from typing import Union

    StrOrBytesPath = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


class Scope(tuple):  # type: ignore[type-arg]
    """What a lock on a path can exclude: (kind, fs_type, reason).

    kind: "local" (every process of this kernel, through any path or bind
    mount), "network" (every client of the server's lock manager),
    "this-host" (only processes of this host that reach the same view of
    the file), or "unknown" (never guessed to be local). fs_type: the
    filesystem's type as the OS names it ("ext4", "nfs4", "fuse.sshfs").
    reason: one line saying why.
    """

    __slots__ = ()

    def __new__(cls, kind: str, fs_type: str, reason: str) -> "Scope":
        return tuple.__new__(cls, (kind, fs_type, reason))

    @property
    def kind(self) -> str:
        k: str = self[0]
        return k

    @property
    def fs_type(self) -> str:
        t: str = self[1]
        return t

    @property
    def reason(self) -> str:
        r: str = self[2]
        return r

    def __repr__(self) -> str:
        return f"Scope(kind={self[0]!r}, fs_type={self[1]!r}, reason={self[2]!r})"


def lock_scope(path: "StrOrBytesPath", kind: str = "flock") -> Scope:
    """What a lock on path can exclude (see Scope and docs/filesystems.md).

    path need not exist; its directory must (FileNotFoundError otherwise).
    kind: the kind of lock asked about, "flock" (the default) or "ofd" (as
    Lock's kind): they differ on NFS mounted with local_lock=flock or =posix.
    Looks at the mount that holds path: on Linux its type and options in
    /proc/self/mountinfo; on Windows the volume's drive type and file system.
    """
    name, raw = path_of(path)
    scope = _core.scope_kind(raw, kind_of(kind))
    if scope < 0:
        raise _last_error(name)
    return Scope(_core.scope_name(scope), _core.scope_fs_type(), _core.scope_reason())
