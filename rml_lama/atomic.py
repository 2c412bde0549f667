"""The one atomic-write helper of the project (builder and harness): write to a temporary
file in the destination's folder, then rename it over the destination, so a reader never
sees a half-written file and a crash leaves the old one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | Path, data: bytes | str | Callable[[Path], None], durable: bool = False) -> Path:
    """Write ``data`` (bytes, UTF-8 text, or a function that writes the file at the path it
    is given, e.g. ``lambda p: pq.write_table(t, p)``) to ``path`` atomically. The file gets
    the permissions a plain ``open`` would give it (``0o666`` less the umask); ``durable``
    also fsyncs it before the rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(data, str):
                f.write(data.encode("utf-8"))
            elif isinstance(data, bytes):
                f.write(data)
        if callable(data):
            data(tmp)
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
