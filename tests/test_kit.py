"""The adapter kit (conformance.kit): the frame helper, the pickle error tuples, the id directory, and the
report's marks for adapter-tested clauses."""

from __future__ import annotations

import multiprocessing
import os
import pickle

import numpy as np
import pytest

from conformance import kit
from conformance.api import Implementation
from conformance.report.results import ADAPTER_MARK, ClauseResult, ImplResult, Report


def _frame_bytes(frame, *, readonly: bool = False):
    buf = bytearray(frame.frame_size)
    assert frame.write_to(buf) == frame.frame_size
    return memoryview(bytes(buf)) if readonly else memoryview(buf)


def test_frame_helper_out_of_band_buffers_are_views_of_the_frame():
    ser = kit.PickleLikeSerializer(pickle.dumps)
    array = np.arange(10_000.0)
    frame = ser.serialize({"a": array}, protocol=5)
    assert len(frame.buffers) == 1 and len(frame.inband) < 200
    # stdlib-loadable: the in-band part with its buffers is a plain pickle 5 stream
    assert np.array_equal(pickle.loads(frame.inband, buffers=frame.buffers)["a"], array)
    view = _frame_bytes(frame, readonly=True)
    out = ser.deserialize(view)["a"]
    assert np.array_equal(out, array) and not out.flags.writeable
    assert np.shares_memory(out, np.frombuffer(view, dtype=np.uint8))


def test_frame_helper_in_band_pair_gets_no_buffer_callback_and_no_buffers():
    calls = []

    def dumps(obj, protocol):  # a dumps without buffer_callback (srsly's, torch's ForkingPickler's)
        calls.append(protocol)
        return memoryview(pickle.dumps(obj, protocol=protocol))

    def loads(data):
        return pickle.loads(data)

    ser = kit.PickleLikeSerializer(dumps, loads, out_of_band=False)
    frame = ser.serialize(np.arange(5), protocol=5)
    assert len(frame.buffers) == 0 and calls == [5]
    assert np.array_equal(ser.deserialize(_frame_bytes(frame)), np.arange(5))


def test_frame_helper_refuses_a_damaged_frame_with_a_frame_error():
    ser = kit.PickleLikeSerializer(pickle.dumps)
    with pytest.raises(kit.FrameError):
        ser.deserialize(b"not a frame at all, too short")
    assert issubclass(kit.FrameError, kit.PICKLE_LOAD_ERRORS)


def test_pickle_load_errors_cover_an_overflowing_length():
    # The type a first guess at the tuple missed: a BINBYTES8 length beyond Py_ssize_t.
    stream = b"\x80\x05\x8e" + (2**63 + 5).to_bytes(8, "little")
    with pytest.raises(kit.PICKLE_LOAD_ERRORS) as info:
        pickle.loads(stream)
    assert type(info.value) is OverflowError


def test_pickle_dump_errors_cover_a_lock():
    import threading

    with pytest.raises(kit.PICKLE_DUMP_ERRORS):
        pickle.dumps(threading.Lock())


def test_pickle_like_implementation_claims_out_of_band_only_when_asked():
    oob = kit.pickle_like_implementation("x", pickle.dumps)
    assert kit.OUT_OF_BAND <= oob.capabilities and oob.deserialization_error == kit.PICKLE_LOAD_ERRORS
    inband = kit.pickle_like_implementation("y", pickle.dumps, out_of_band=False, capabilities={"numpy"})
    assert inband.capabilities == frozenset({"numpy"})


def test_shipped_adapters_use_the_kit_tuples():
    from conformance.adapters import pickling

    assert pickling.PICKLE_LOAD_ERRORS is kit.PICKLE_LOAD_ERRORS
    assert isinstance(pickling.PicklerSerializer(pickle.dumps), kit.PickleLikeSerializer)


# -- the id directory -------------------------------------------------------------------------------------

def test_id_directory_publish_is_exclusive_and_lookup_sees_it(tmp_path):
    d = kit.IdDirectory(str(tmp_path))
    oid = b"a" * 20
    assert d.lookup(oid) is None and d.ids() == []
    assert d.publish(oid, b"native-1")
    assert not d.publish(oid, b"native-2"), "a second publish of one id must fail"
    assert d.lookup(oid) == b"native-1" and d.ids() == [oid] and d.items() == [(oid, b"native-1")]
    assert d.remove(oid) == b"native-1" and d.remove(oid) is None and d.ids() == []


def test_id_directory_reservation_is_invisible_and_exclusive(tmp_path):
    d = kit.IdDirectory(str(tmp_path))
    oid = b"r" * 20
    assert d.reserve(oid)
    assert not d.reserve(oid), "a reserved id is taken"
    assert d.lookup(oid) is None and d.ids() == [], "a reserved id is not visible"
    assert d.publish(oid, b"n")
    assert not d.reserve(oid), "a published id is taken"
    assert os.listdir(str(tmp_path)) == [oid.hex()], "the reservation outlived its publish"
    other = b"s" * 20
    assert d.reserve(other)
    d.release(other)
    assert d.reserve(other), "a released id is free again"


def test_id_directory_refuses_bad_ids_and_missing_folders(tmp_path):
    with pytest.raises(kit.IdDirectoryError, match="does not exist"):
        kit.IdDirectory(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="20 bytes"):
        kit.IdDirectory(str(tmp_path)).lookup(b"short")


def _publish_in_child(path, oid, native, results):
    results.put(kit.IdDirectory(path).publish(oid, native))


def test_id_directory_is_shared_between_processes_and_exactly_one_publish_wins(tmp_path):
    d = kit.IdDirectory.create(str(tmp_path))
    oid = b"p" * 20
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=_publish_in_child, args=(d.path, oid, b"n%d" % i, results)) for i in range(4)]
    for p in procs:
        p.start()
    wins = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert wins.count(True) == 1, wins
    assert d.wait(oid, 0) in {b"n0", b"n1", b"n2", b"n3"}
    d.destroy()
    assert not os.path.exists(d.path)


def test_id_directory_wait_times_out_and_sees_a_later_publish(tmp_path):
    import threading

    d = kit.IdDirectory(str(tmp_path))
    oid = b"w" * 20
    assert d.wait(oid, 0) is None and d.wait(oid, 0.05) is None
    timer = threading.Timer(0.2, d.publish, (oid, b"late"))
    timer.start()
    try:
        assert d.wait(oid, 60) == b"late"
    finally:
        timer.join()


# -- adapter-tested clauses in the report -----------------------------------------------------------------

def test_implementation_refuses_an_adapter_tested_that_is_not_a_mapping_of_strings():
    with pytest.raises(TypeError, match="adapter_tested"):
        kit.pickle_like_implementation("x", pickle.dumps, adapter_tested={"store.immutability.exists": 1})
    impl = kit.pickle_like_implementation("x", pickle.dumps, adapter_tested=kit.ID_DIRECTORY_CLAUSES)
    assert isinstance(impl, Implementation) and hash(impl) is not None


def test_report_marks_adapter_tested_cells_and_explains_them():
    from conformance.report import html_page, load_schema, markdown, terminal, to_json

    marked = "store.immutability.exists"
    impl = ImplResult("vine", {marked: ClauseResult("pass"), "store.put_get.roundtrip": ClauseResult("pass"),
                               "store.visibility.unsealed": ClauseResult("not claimed")}, 1.0, 0,
                      adapter_tested=dict(kit.ID_DIRECTORY_CLAUSES))
    settings = {"max_examples": None, "profile": "ci", "python": "3.11"}
    report = Report([impl], [marked, "store.put_get.roundtrip", "store.visibility.unsealed"], {}, 1.0, settings)
    assert report.symbol(impl, marked) == "pass" + ADAPTER_MARK
    assert report.symbol(impl, "store.put_get.roundtrip") == "pass"
    assert report.symbol(impl, "store.visibility.unsealed") == "-", "an unclaimed cell is not marked"
    text = terminal(report)
    assert f"pass{ADAPTER_MARK}" in text and kit.ID_DIRECTORY_CLAUSES[marked] in text
    md = markdown(report)
    assert "## Adapter-tested cells" in md and f"pass\\{ADAPTER_MARK}" in md
    assert "adapter-tested" in html_page(report)
    data = to_json(report)
    assert data["implementations"][0]["adapter_tested"][marked] == kit.ID_DIRECTORY_CLAUSES[marked]
    import jsonschema

    jsonschema.validate(data, load_schema())
    # without adapter-tested clauses nothing changes
    plain = Report([ImplResult("p", {marked: ClauseResult("pass")}, 1.0, 0)], [marked], {}, 1.0, {})
    assert ADAPTER_MARK not in terminal(plain).split("\n")[2] and "Adapter-tested" not in markdown(plain)


def test_id_directory_clauses_are_clause_ids():
    from conformance.clauses import all_clauses

    assert set(kit.ID_DIRECTORY_CLAUSES) <= set(all_clauses())


def test_frame_helper_takes_an_empty_buffer_of_any_shape():
    # Dask's serialize gives an array of shape (0, 0) as a 2-d memoryview, which cannot be cast to bytes.
    empty = memoryview(np.zeros((0, 0), dtype=bool))
    frame = kit.PickleFrame(b"x", [empty, pickle.PickleBuffer(np.zeros((0, 3)))])
    inband, buffers = kit.read_frame(_frame_bytes(frame))
    assert bytes(inband) == b"x" and [b.nbytes for b in buffers] == [0, 0]
