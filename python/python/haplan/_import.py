"""Pools from the exports of the platforms operators run."""

from __future__ import annotations

import os
import warnings
from typing import Iterable, List, Optional, Tuple, Union

from . import _native
from ._errors import PoolImportWarning
from ._pool import Pool

__all__ = ["PLATFORMS", "import_pool"]

PathLike = Union[str, "os.PathLike[str]"]

#: The platforms :func:`import_pool` reads.
PLATFORMS = ("proxmox", "vsphere", "xen", "openstack", "kubevirt", "ganeti")


def import_pool(
    platform: str,
    paths: Union[PathLike, Iterable[PathLike]],
    *,
    name: Optional[str] = None,
    vsphere_sizing: str = "configured",
    cpu_overcommit: Optional[float] = None,
) -> Pool:
    """A pool from a platform's own exports, as ``haplan import PLATFORM
    FILE...`` builds it (``docs/import.md``: what to export, how each field
    maps, every warning).

    ``platform`` is one of :data:`PLATFORMS`; ``paths`` the exported files
    (one path or several), each recognised by its content. ``name`` names
    the pool (default: the cluster's name in the exports, else the
    platform's); ``vsphere_sizing`` is ``"configured"`` or
    ``"reservation"``; ``cpu_overcommit`` models vCPUs for platforms that
    do not limit vCPU overcommit.

    What the exports do not say is a :class:`~haplan.PoolImportWarning`
    (``warnings.warn``), with its code. A file that cannot be read raises
    ``OSError``; an export that cannot be imported, or a pool haplan's
    loader refuses, :class:`~haplan.InvalidExportError`, naming the file and
    the field. Nothing is half-imported.
    """
    if platform == "libvirt":
        raise ValueError("libvirt hosts are read live by the command line: haplan import libvirt NAME=URI...")
    many: Iterable[PathLike] = [paths] if isinstance(paths, str) or hasattr(paths, "__fspath__") else paths  # type: ignore[list-item]
    files: List[Tuple[str, bytes]] = []
    for p in many:
        path = os.fspath(p)
        with open(path, "rb") as f:
            files.append((str(path), f.read()))
    native, found = _native.import_pool(platform, files, name, vsphere_sizing, cpu_overcommit)
    for code, message in found:
        warnings.warn(PoolImportWarning(f"{message} [{code}]", code), stacklevel=2)
    return Pool(native)
