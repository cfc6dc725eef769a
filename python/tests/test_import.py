"""haplan.import_pool: the same pools as ``haplan import`` (the mapping
itself is tested in solver/import), as a Pool, with warnings as
PoolImportWarning and errors as InvalidExportError."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import pytest

import haplan

from conftest import IMPORT_FIXTURES


def test_an_import_is_a_pool_with_warnings() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pool = haplan.import_pool("ganeti", IMPORT_FIXTURES / "ganeti" / "shared-unevacuable.data", name="rack1")
    assert pool.name == "rack1"
    assert pool.hosts == ["n1", "n2", "n3", "n4"]
    report = pool.check()
    assert report.max_tolerable == 0
    assert report.witness is not None and report.witness.failed_hosts == ["n3"]
    codes = [w.message.code for w in caught if isinstance(w.message, haplan.PoolImportWarning)]
    assert "disk-not-modelled" in codes
    assert all(issubclass(w.category, haplan.PoolImportWarning) for w in caught)


def test_several_files_and_options() -> None:
    d = IMPORT_FIXTURES / "vsphere"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pool = haplan.import_pool(
            "vsphere", [d / "vcsim-collect.json", str(d / "vcsim-rules.json")], vsphere_sizing="reservation"
        )
    db1 = [v for v in pool.to_dict()["vms"] if v["name"] == "db1"][0]
    assert db1["demand"] == {"memory_mib": 16384, "cpu_mhz": 4000}
    assert db1["anti_affinity"] == "dbs-apart"
    # An imported pool is a Pool like any other.
    assert pickle.loads(pickle.dumps(pool)) == pool
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pool = haplan.import_pool("proxmox", IMPORT_FIXTURES / "proxmox" / "pve9" / "resources.json", cpu_overcommit=4.0)
    assert pool.to_dict()["ha"]["overcommit"] == {"vcpus": 4.0}


def test_errors_name_the_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "resources.json"
    bad.write_text('[{"type": "node", "node": "a", "status": "online"}]')
    with pytest.raises(haplan.InvalidExportError) as e:
        haplan.import_pool("proxmox", bad)
    assert str(e.value) == f"{bad}: [0].maxmem: missing"
    assert e.value.file == str(bad)
    assert e.value.field == "[0].maxmem"
    assert isinstance(e.value, ValueError)
    copy = pickle.loads(pickle.dumps(e.value))
    assert (str(copy), copy.file, copy.field) == (str(e.value), e.value.file, e.value.field)
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(haplan.InvalidExportError) as e:
        haplan.import_pool("kubevirt", other)
    assert e.value.file == str(other) and e.value.field is None
    with pytest.raises(ValueError, match="unknown platform"):
        haplan.import_pool("hyperv", bad)
    with pytest.raises(ValueError, match="unknown vSphere sizing"):
        haplan.import_pool("vsphere", bad, vsphere_sizing="guess")
    with pytest.raises(ValueError, match="command line"):
        haplan.import_pool("libvirt", bad)
    with pytest.raises(OSError):
        haplan.import_pool("proxmox", tmp_path / "missing.json")
    assert set(haplan.PLATFORMS) == {"proxmox", "vsphere", "xen", "openstack", "kubevirt", "ganeti"}


def test_a_pool_the_loader_refuses_is_not_returned() -> None:
    d = IMPORT_FIXTURES / "proxmox" / "pve9"
    # preferred_hosts (the pool-model extension): refused whole until the
    # loader reads it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pool = haplan.import_pool("proxmox", [d / "resources.json", d / "rules.cfg"])
        except haplan.InvalidExportError as e:
            assert "not one haplan accepts" in str(e)
            assert e.file is None
        else:
            assert "web1" in pool.vms
