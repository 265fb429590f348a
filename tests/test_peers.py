"""The peer adapters' helpers that need no peer: Ray's frame envelope, inspect paths, registry listing.

Everything here runs without Ray or pyarrow installed; ``test_peers_ray.py`` and ``test_peers_plasma.py``
check the adapters against the real peers and skip, with the reason, where they are missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conformance import registry
from conformance.adapters.frames import FrameError
from conformance.adapters.ray import RayFrame, RayInspectFailure, read_ray_frame

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # benchmarks/ is not part of the installed distribution


def _laid_out(frame: RayFrame) -> bytearray:
    out = bytearray(frame.frame_size)
    assert frame.write_to(out) == frame.frame_size
    return out


@pytest.mark.parametrize("metadata,data", [(b"PYTHON", b"\x01" * 100), (b"RAW", b""), (b"", b"xyz"),
                                           (b"M" * 70, bytes(range(256)))])
def test_ray_frame_roundtrip(metadata: bytes, data: bytes) -> None:
    laid = _laid_out(RayFrame(metadata, data))
    meta, view = read_ray_frame(memoryview(laid).toreadonly())
    assert meta == metadata and bytes(view) == data
    assert view.readonly, "a read-only frame must give a read-only data view"


def test_ray_frame_data_is_aligned() -> None:
    frame = RayFrame(b"PYTHON", b"d" * 10)
    laid = _laid_out(frame)
    offset = frame.frame_size - 10
    assert offset % 64 == 0 and bytes(laid[offset:]) == b"d" * 10


@pytest.mark.parametrize("bad,match", [
    (b"", "shorter than"),
    (b"XXXX" + bytes(12), "bad magic"),
    ("not bytes", "bytes-like"),
])
def test_read_ray_frame_refuses_foreign_input(bad: object, match: str) -> None:
    with pytest.raises(FrameError, match=match):
        read_ray_frame(bad)


def test_read_ray_frame_refuses_truncation() -> None:
    laid = _laid_out(RayFrame(b"PYTHON", b"x" * 50))
    for cut in (16, len(laid) - 1):
        with pytest.raises(FrameError):
            read_ray_frame(bytes(laid[:cut]))


def test_ray_frame_write_to_a_short_buffer_raises() -> None:
    frame = RayFrame(b"PYTHON", b"x" * 50)
    with pytest.raises(ValueError, match="needs"):
        frame.write_to(bytearray(frame.frame_size - 1))


def test_ray_inspect_path_joins_ray_names() -> None:
    assert RayInspectFailure(1, ("value", "cache", "_lock"), None).path == "value.cache._lock"
    assert RayInspectFailure(1, ("value", None), None).path == "value.unknown"


def test_peers_are_listed_only_where_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_entry_points", lambda: {"plasma": object(), "ray": object(),
                                                            "vineyard": object(), "vineyard-native": object(),
                                                            "thirdparty": object()})
    monkeypatch.setattr(registry.importlib.util, "find_spec", lambda name: None)
    names = registry.available()
    assert "thirdparty" in names and "ray" not in names and "plasma" not in names
    assert "vineyard" not in names and "vineyard-native" not in names


def test_missing_peer_error_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    for module, name, fix in (("ray", "ray", "objstore-conformance[ray]"),
                              ("pyarrow", "plasma", "pyarrow==11.0.0"),
                              ("vineyard", "vineyard", "objstore-conformance[vineyard]"),
                              ("vineyard", "vineyard-native", "objstore-conformance[vineyard]")):
        monkeypatch.setitem(sys.modules, module, None)  # importing it raises ImportError
        if module == "pyarrow":
            monkeypatch.setitem(sys.modules, "pyarrow.plasma", None)
        with pytest.raises(ImportError, match=fix.replace("[", r"\[").replace("]", r"\]")):
            registry.load_implementation(name)


def test_peer_ratios_render_without_results() -> None:
    from benchmarks import summary
    from benchmarks.peer_figures import peer_ratios

    text = peer_ratios(summary._time, summary._ratio, summary._table, sources={})
    assert "ref/ray" in text and "ref/plasma" in text and "n/a" in text
    assert "objstore-conformance bench --impl ray" in text


@pytest.mark.parametrize("peer", ["ray", "plasma"])
def test_peer_xfails_name_existing_clauses(peer: str) -> None:
    from conformance.clauses import all_clauses
    from conformance.xfails_file import load_xfails

    path = ROOT / "conformance" / "xfails" / f"{peer}.txt"
    entries = load_xfails(str(path))
    assert entries, f"{path} lists nothing"
    unknown = [(n, e) for n, e in entries if e not in all_clauses()]
    assert not unknown, f"{path}: entries that name no clause (renamed or removed?): {unknown}"
