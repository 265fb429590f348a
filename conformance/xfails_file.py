"""The xfails file: the test ids an implementation is known to fail, one a line, ``#`` starts a comment.

An entry is a clause id (``store.put_get.roundtrip``), a clause's test function name, or a pytest node id
(or its tail). The pytest plugin marks the tests an entry matches as expected failures (:func:`matches`);
``objstore-conformance report`` and the plugin refuse a file with an entry that names nothing
(:func:`xfails_problems`).
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

__all__ = ["load_xfails", "matches", "xfails_problem", "xfails_problems"]


def load_xfails(path: str) -> List[Tuple[int, str]]:
    """The (line number, test id) entries of an xfails file: one id a line, ``#`` starts a comment."""
    entries = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            text = line.split("#", 1)[0].strip()
            if text:
                entries.append((n, text))
    return entries


def _known_entry(entry: str, ids: Any, functions: Any) -> bool:
    if entry in ids:
        return True
    test = entry.rsplit("::", 1)[-1].split("[", 1)[0]
    return test in functions


def xfails_problems(path: str) -> List[str]:
    """What is wrong with the xfails file at ``path``, one line each: a missing file, or an entry that
    names neither a clause id nor a clause's test (by its function name, or a node id ending in it).

    An entry that is known but matches no collected test (its clause was deselected) is not a problem.
    """
    from conformance.clauses import all_clauses

    try:
        entries = load_xfails(path)
    except OSError as exc:
        return [f"cannot read the xfails file {path!r} ({exc.strerror or exc}); give the path of a file of "
                f"clause ids or node ids, one a line"]
    except UnicodeDecodeError:
        return [f"the xfails file {path!r} is not UTF-8 text; give a file of clause ids or node ids, one a line"]
    infos = all_clauses()
    functions = {info.function for info in infos.values()}
    return [f"the xfails file {path}, line {lineno}, names {entry!r}, which is no clause id and no clause's "
            f"test; fix the id (`objstore-conformance list` prints every clause) or delete the line"
            for lineno, entry in entries if not _known_entry(entry, infos, functions)]


def xfails_problem(path: str) -> Optional[str]:
    """The first of :func:`xfails_problems` as one line, with how many more there are; ``None`` when the
    file is fine."""
    problems = xfails_problems(path)
    if not problems:
        return None
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return problems[0] + more


def matches(entry: str, nodeid: str, clause_id: Optional[str]) -> bool:
    """True when the xfails entry ``entry`` names the test ``nodeid`` (of clause ``clause_id``, if any):
    by clause id, by the whole node id, or by its tail after a ``/`` or ``::``."""
    return (entry == clause_id or nodeid == entry or nodeid.endswith("/" + entry)
            or nodeid.endswith("::" + entry) or nodeid.split("::", 1)[-1] == entry)
