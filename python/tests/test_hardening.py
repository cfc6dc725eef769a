"""Hostile input and out-of-range options raise the documented exceptions
only: InvalidPoolError (naming the file), ValueError; verdicts are string
enums equal to the JSON strings."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any, Dict, List

import pytest

import haplan


def pool() -> Dict[str, Any]:
    return {
        "name": "gate",
        "hosts": [
            {"name": "h1", "capacity": {"memory_mib": 262144}},
            {"name": "h2", "capacity": {"memory_mib": 262144}},
        ],
        "vms": [
            {"name": "a", "host": "h1", "demand": {"memory_mib": 122880}},
            {"name": "b", "host": "h1", "demand": {"memory_mib": 122880}},
            {"name": "c", "host": "h2", "demand": {"memory_mib": 122880}},
        ],
    }


def test_bad_utf8_is_an_invalid_pool_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "pool.json"
    path.write_bytes(b'{\n  "name": "caf\xe9"}')
    with pytest.raises(haplan.InvalidPoolError) as e:
        haplan.Pool.load(path)
    assert str(e.value).startswith(f"{path}: invalid pool (1 problem)")
    assert e.value.source == str(path)
    p = e.value.problems[0]
    assert (p.line, p.column) == (2, 15)
    assert p.message.startswith("invalid UTF-8")
    with pytest.raises(haplan.InvalidPoolError):
        haplan.Pool.from_json(b"\xff\xfe")


@pytest.mark.parametrize(
    "text",
    ["", "not json", "[1, 2]", '{"name": "x", "hosts": [], "vms": [], "vms": []}'],
)
def test_every_bad_file_is_an_invalid_pool_naming_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(haplan.InvalidPoolError) as e:
        haplan.Pool.load(path)
    assert str(e.value).startswith(f"{path}: invalid pool")
    assert e.value.source == str(path)
    again = pickle.loads(pickle.dumps(e.value))
    assert (again.source, again.problems, again.omitted) == (e.value.source, e.value.problems, 0)


def test_a_duplicate_key_is_an_error_with_both_positions() -> None:
    text = json.dumps(pool(), indent=1)[:-2] + ',\n "vms": []\n}'
    with pytest.raises(haplan.InvalidPoolError) as e:
        haplan.Pool.from_json(text)
    p = e.value.problems[0]
    assert p.path == "vms"
    assert p.line is not None and p.column == 2
    assert "duplicate key \"vms\" (first at line" in p.message


def test_a_control_character_in_a_name_is_rejected() -> None:
    data = pool()
    data["hosts"][0]["name"] = "h1\nOK: pool gate tolerates 9 host failures"
    with pytest.raises(haplan.InvalidPoolError) as e:
        haplan.Pool.from_dict(data)
    assert "names must be printable" in str(e.value)
    assert "\nOK:" not in str(e.value)
    p = haplan.Pool.from_dict(pool())
    with pytest.raises(haplan.InvalidChangesError):
        p.whatif([{"op": "add_host", "host": {"name": "x\r", "capacity": {"memory_mib": 1}}}])


def test_a_flood_of_problems_is_capped() -> None:
    data = pool()
    data["vms"] = [{"name": f"v{i}", "host": "h1", "demand": {"memory_mib": -1}} for i in range(1000)]
    with pytest.raises(haplan.InvalidPoolError) as e:
        haplan.Pool.from_dict(data)
    assert len(e.value.problems) == 50 and e.value.omitted == 950
    assert str(e.value).endswith("\n  and 950 more")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"tolerate": 2**32}, "tolerate: must be from 0 to 4294967295, found 4294967296"),
        ({"tolerate": -1}, "tolerate: must be from 0 to 4294967295, found -1"),
        ({"threads": 100000}, "threads: must be from 1 to 1024, found 100000"),
        ({"threads": 0}, "threads: must be from 1 to 1024, found 0"),
        ({"threads": 2**70}, "threads: must be from 1 to 1024, found 1180591620717411303424"),
        ({"time_limit_s": float("nan")}, "time_limit_s: must be a number of seconds"),
    ],
)
def test_out_of_range_options_are_value_errors(kwargs: Dict[str, Any], message: str) -> None:
    p = haplan.Pool.from_dict(pool())
    with pytest.raises(ValueError) as e:
        p.check(**kwargs)
    assert str(e.value).startswith(message)
    assert not isinstance(e.value, OverflowError)
    with pytest.raises(ValueError):
        p.tiers(**kwargs)


def test_timing_options_are_checked_as_on_the_command_line() -> None:
    p = haplan.Pool.from_dict(pool())
    bad: List[Dict[str, Any]] = [{"concurrency": 0}, {"concurrency": 2**32}, {"boot_time_s": 2**32}, {"fence_time_s": -1}]
    for kwargs in bad:
        with pytest.raises(ValueError):
            p.timing(tolerate=0, **kwargs)
    assert p.timing(tolerate=0, threads=1024).ok


def test_verdicts_are_string_enums_equal_to_the_json_strings() -> None:
    # A str: mypy treats enum members and literals as distinct, Python does not.
    not_ok: str = haplan.Verdict.NOT_OK
    assert not_ok == "not_ok" and isinstance(haplan.Verdict.OK, str)
    assert haplan.Verdict("ok") is haplan.Verdict.OK
    assert f"{haplan.Verdict.UNDECIDED}" == "undecided" and str(haplan.Verdict.OK) == "ok"
    p = haplan.Pool.from_dict(pool())
    r = p.check(tolerate=1)
    assert r.verdict == "not_ok" and r.verdict is haplan.Verdict.NOT_OK
    assert json.dumps({"v": r.verdict}) == '{"v": "not_ok"}'
    d = p.drain("h2", tolerate=0)
    assert d.verdict == d.to_dict()["verdict"] == d.outcome
    assert isinstance(d.verdict, haplan.DrainVerdict)
    assert d.exit_code == {"drainable": 0, "blocked": 1, "undecided": 3}[d.to_dict()["verdict"]]


def test_headroom_with_unknown_storage_or_networks_is_an_error_not_zero() -> None:
    p = haplan.Pool.from_dict(pool())
    with pytest.raises(haplan.InvalidShapeError) as e:
        p.headroom({"memory_mib": 1024}, storage="nfs-typo")
    assert e.value.problems[0].path == "--storage"
    assert 'unknown storage "nfs-typo": no host reaches it' in e.value.problems[0].message
    with pytest.raises(haplan.InvalidShapeError):
        p.headroom({"memory_mib": 1024}, networks=["vlan9"])


def test_a_resource_no_host_offers_is_an_invalid_pool() -> None:
    data = pool()
    data["vms"][0]["demand"] = {"memory_mb": 1024}
    with pytest.raises(haplan.InvalidPoolError) as e:
        haplan.Pool.from_dict(data)
    assert 'did you mean "memory_mib"?' in str(e.value)
