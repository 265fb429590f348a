"""A clause an implementation claims always runs: correct but narrower implementations pass every clause
they claim, and none of them is skipped.

Each narrow implementation (``conformance.adapters.narrow``: the reference with a protocol or a
capability taken away) runs the whole suite in its own pytest subprocess (as the report does), and every
test item of every claimed clause must pass. The only items of a claimed clause that may be "not claimed"
are those parametrized by a pickle protocol the implementation does not claim (``[protocol3]``). A clause
that skips inside ``@given`` when it draws something unclaimed fails here: Hypothesis abandons the whole
test at the first such draw, and the clause is reported "not claimed" although it is claimed.
"""

from __future__ import annotations

import ast
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List

import pytest

from conformance.adapters.narrow import NARROW
from conformance.clauses import all_clauses
from conformance.registry import load_implementation
from conformance.report import ImplResult, run_implementation

#: Few examples: this test is about which clauses run, not about finding rare bugs.
MAX_EXAMPLES = 5
_PROTOCOL_ID = re.compile(r"\bprotocol(\d)\b")


@pytest.fixture(scope="module")
def narrow_results(request) -> Dict[str, ImplResult]:
    names = [item.callspec.params["spec"] for item in request.session.items
             if getattr(item, "originalname", "") == "test_claimed_clauses_run"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = pool.map(lambda spec: run_implementation(spec, max_examples=MAX_EXAMPLES,
                                                           extra_args=["--hypothesis-seed", "0"]), names)
        return dict(zip(names, results))


def claimed_clause_problems(spec: str, result: ImplResult) -> List[str]:
    """What is wrong with ``result`` (a run of implementation ``spec``): each claimed clause that did not
    run, and each item of a claimed clause that did not pass (unless its protocol is not claimed)."""
    impl = load_implementation(spec)
    problems = []
    for clause_id, info in all_clauses().items():
        if impl.missing(info.requires):
            continue
        cell = result.clauses.get(clause_id)
        if cell is None or not cell.items:
            problems.append(f"{clause_id}: claimed, but no test of it ran")
            continue
        for nodeid, outcome in sorted(cell.items.items()):
            protocol = _PROTOCOL_ID.search(nodeid.rpartition("::")[2])
            if protocol is not None and int(protocol.group(1)) not in impl.protocols:
                if outcome != "not claimed":
                    problems.append(f"{nodeid}: protocol {protocol.group(1)} is not claimed, yet {outcome}")
                continue
            if outcome != "passed":
                detail = f" ({cell.reason or cell.message})" if nodeid == cell.nodeid else ""
                problems.append(f"{nodeid}: claimed, but {outcome}{detail}")
    return problems


@pytest.mark.meta
@pytest.mark.timeout(1200)  # the first item runs every narrow implementation (the module's fixture)
@pytest.mark.parametrize("spec", sorted(NARROW))
def test_claimed_clauses_run(narrow_results, spec):
    """Every clause a narrow implementation claims runs, and every one of its items passes."""
    result = narrow_results[spec]
    assert not result.broken, f"the run of {spec} broke down (exit status {result.exitstatus}):\n{result.log}"
    problems = claimed_clause_problems(spec, result)
    assert not problems, f"{spec}: claimed clauses skipped, not run or failing:\n" + "\n".join(problems)


def test_narrow_names_load_again():
    """Each narrow implementation is loadable by its own name (clauses reload it in fresh interpreters)."""
    for spec, factory in NARROW.items():
        assert factory().name == spec
        assert load_implementation(spec).name == spec


def _calls(tree: ast.AST) -> List[str]:
    """The dotted names of the functions called in ``tree`` (``pytest.skip``, ``assume``, ...)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                names.append(f"{func.value.id}.{func.attr}")
            elif isinstance(func, ast.Name):
                names.append(func.id)
    return names


def test_no_clause_skips_itself():
    """No clause module skips or assumes away examples itself: claims are the plugin's to check, before a
    test runs (markers ``requires`` and ``protocol``), and strategies draw only what is claimed
    (``st.sampled_from(sorted(impl.protocols))``). A skip or an ``assume`` inside a clause can starve a
    claimed clause without anyone noticing."""
    import importlib
    import inspect

    starving = {"pytest.skip", "skip", "assume", "hypothesis.assume", "pytest.importorskip", "reject"}
    found = []
    for module in sorted({info.module for info in all_clauses().values()}):
        tree = ast.parse(inspect.getsource(importlib.import_module(module)))
        found += [f"{module}: {name}(...)" for name in _calls(tree) if name in starving]
    assert not found, "clause modules that skip or assume by themselves:\n" + "\n".join(found)
