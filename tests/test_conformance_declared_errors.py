"""Declared errors are exact: an implementation declares the exception types each of its claims needs, no
field defaults to a catch-all, and ``Exception`` / ``BaseException`` are refused (a clause that accepts
any exception checks nothing). See ``conformance.api.DECLARED_ERRORS``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conformance.api import DECLARED_ERRORS, ContractError, Implementation

SERIALIZER_ERRORS = ("serialization_error", "deserialization_error")
STORE_ERRORS = ("object_exists_error", "store_full_error", "timeout_error", "not_found_error")


class _Serializer:
    def serialize(self, obj, *, protocol):
        raise RuntimeError("not a serialization error at all")

    def deserialize(self, frame):
        return None


class _Factory:
    def create(self, *, capacity):
        raise NotImplementedError

    def attach(self, name):
        raise NotImplementedError

    def destroy(self, store):
        pass


def _build(*, store: bool, leave_out: str = "", **fields):
    needed = SERIALIZER_ERRORS + (STORE_ERRORS if store else ())
    declared = {f: (LookupError,) for f in needed if f != leave_out}
    declared.update(fields)
    return Implementation(name="x", serializer=_Serializer(), store_factory=_Factory() if store else None,
                          capabilities=frozenset({"store"} if store else set()), **declared)


def test_every_error_field_is_known():
    assert set(DECLARED_ERRORS) == set(SERIALIZER_ERRORS + STORE_ERRORS)
    assert {f.name for f in Implementation.__dataclass_fields__.values() if f.name.endswith("_error")} == set(
        DECLARED_ERRORS)


def test_no_field_defaults_to_a_catch_all():
    """No ``*_error`` field has a default that would catch an error nobody declared."""
    for name in DECLARED_ERRORS:
        assert Implementation.__dataclass_fields__[name].default == (), name


def test_declaring_nothing_is_refused():
    """The suite's old default, (Exception,), let 'raises the declared error' pass on any exception: a
    serializer raising RuntimeError for a lock passed serializer.errors.unserializable. Now an implementation
    that declares nothing is refused when it is built."""
    with pytest.raises(ContractError) as info:
        Implementation(name="x", serializer=_Serializer())
    message = str(info.value)
    assert "implementation 'x' declares no serialization_error" in message
    assert "serialization_error=(...)" in message and "exact exception type" in message


@pytest.mark.parametrize("field", SERIALIZER_ERRORS)
def test_every_implementation_declares_its_serializer_errors(field):
    with pytest.raises(ContractError, match=f"declares no {field} \\(every implementation needs it\\); "
                                            f"pass {field}=\\(\\.\\.\\.\\)"):
        _build(store=False, leave_out=field)


@pytest.mark.parametrize("field", STORE_ERRORS)
def test_claiming_a_store_needs_its_errors(field):
    with pytest.raises(ContractError, match=f"declares no {field} \\(it claims 'store'\\); pass {field}="):
        _build(store=True, leave_out=field)


@pytest.mark.parametrize("field", STORE_ERRORS)
def test_store_errors_are_not_needed_without_a_store(field):
    impl = _build(store=False)
    assert getattr(impl, field) == ()


@pytest.mark.parametrize("field", SERIALIZER_ERRORS + STORE_ERRORS)
@pytest.mark.parametrize("catch_all", [(Exception,), (BaseException,), (KeyError, Exception)],
                         ids=["Exception", "BaseException", "mixed"])
def test_a_catch_all_is_refused(field, catch_all):
    with pytest.raises(ContractError) as info:
        _build(store=True, **{field: catch_all})
    message = str(info.value)
    assert f"declares {field}=" in message and "catches every error" in message
    assert "declare the exact type(s)" in message and DECLARED_ERRORS[field][1] in message


def test_an_exact_declaration_is_accepted():
    impl = _build(store=True, timeout_error=(TimeoutError,), not_found_error=(KeyError,))
    assert impl.timeout_error == (TimeoutError,) and impl.serialization_error == (LookupError,)


def test_an_adapter_declaring_nothing_is_a_usage_error(tmp_path):
    """Through pytest, an adapter that declares no errors is one line and exit status 2."""
    (tmp_path / "undeclared.py").write_text(
        "from conformance.adapters import pickle_implementation\n"
        "from conformance.api import Implementation\n\n"
        "def implementation():\n"
        "    return Implementation(name='undeclared:implementation', serializer=pickle_implementation(5).serializer)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    env.pop("CONFORMANCE_IMPL", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs", "conformance",
                           "--impl", "undeclared:implementation"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("ERROR: "), proc.stderr
    assert "declares no serialization_error" in lines[0], lines[0]
