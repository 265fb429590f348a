"""Find every object inside a value that cannot be serialized, with its path from the top.

:func:`inspect_serializability` has Ray's call and result shape (``ray.util.inspect_serializability``):
``(ok, failures)``. It does better where Ray's users ask for more (ray-project/ray#48759, #24863): it walks
closures (globals and nonlocals), default arguments, attributes (``__dict__`` and ``__slots__``), container
items and, when none of those explain a failure, the object's own reduction; it reports every culprit
rather than the first of each group; and each culprit carries its full path as a Python expression
(``value.__globals__['state']['model'].cache._lock``) that evaluates to the culprit from the top object.

The search itself is :mod:`reference.culprits` (how it decides, what it costs); this module adds the
default serializer and the printed tree.
"""

from __future__ import annotations

import os
import sys
from typing import Any, List, Optional, Set, TextIO, Tuple

from reference.culprits import FIND_DEPTH, Failure, Probe, _Node, _search, _type_name
from reference.serializer import default_serializer

__all__ = ["Failure", "find_failures", "inspect_serializability"]


def _or_default(serializer: Optional[Probe]) -> Probe:
    return default_serializer() if serializer is None else serializer


def find_failures(obj: Any, *, serializer: Optional[Probe] = None, protocol: Optional[int] = None,
                  depth: int = FIND_DEPTH, root: str = "value") -> List[Failure]:
    """Every culprit inside ``obj``, in the order met, without printing; empty if ``obj`` serializes.

    ``serializer`` (default: the process-wide reference serializer) decides what serializes, so custom
    serializers registered on it count. Raises ``ValueError`` for a negative ``depth``.
    """
    return _search(obj, serializer=_or_default(serializer), protocol=protocol, depth=depth, root=root)[1]


def _use_colour(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False


def _render(tree: _Node, failures: List[Failure], colour: bool) -> str:
    red, bold, reset = ("\x1b[31m", "\x1b[1m", "\x1b[0m") if colour else ("", "", "")
    lines: List[str] = []

    def emit(node: _Node, prefix: str, branch: str) -> None:
        if node.failure is not None:
            tail = f"{red}{bold}culprit{reset}{red}: {node.failure.reason}{reset}"
            if node.failure.depth_limited:
                tail += " (depth limit reached: look deeper with a larger depth)"
        else:
            tail = "fails to serialize"
        lines.append(f"{prefix}{branch}{node.label}: {node.type_name}  {tail}")
        child_prefix = prefix + ("" if not branch else ("    " if branch == "└── " else "│   "))
        for i, child in enumerate(node.children):
            emit(child, child_prefix, "└── " if i == len(node.children) - 1 else "├── ")

    emit(tree, "", "")
    count = len(failures)
    lines.append(f"{count} culprit{'s' if count != 1 else ''} found:")
    for failure in failures:
        lines.append(f"  {red}{failure.path}{reset}: {failure.type_name}")
    return "\n".join(lines)


def inspect_serializability(base_obj: Any, name: Optional[str] = None, depth: int = 3,
                            print_file: Optional[TextIO] = None, *, serializer: Optional[Probe] = None,
                            protocol: Optional[int] = None) -> Tuple[bool, Set[Failure]]:
    """Tell whether ``base_obj`` serializes and, if not, which objects inside it are to blame.

    Returns ``(ok, failures)`` as Ray does: ``ok`` is true when ``base_obj`` serializes, and ``failures`` is
    the set of every :class:`Failure` found within ``depth`` steps of the top (a culprit deeper than that
    is reported at the depth limit, with ``depth_limited`` set). Paths start with ``name`` (default
    ``"value"``). A tree of the search and the list of culprits are printed to ``print_file`` (default:
    standard output), in colour only when it is a terminal.

    Raises ``ValueError`` for a negative ``depth``.
    """
    root = name or "value"
    stream = sys.stdout if print_file is None else print_file
    tree, failures = _search(base_obj, serializer=_or_default(serializer), protocol=protocol, depth=depth,
                             root=root)
    if tree is None:
        print(f"{root}: {_type_name(base_obj)} serializes", file=stream)
        return True, set()
    print(_render(tree, failures, _use_colour(stream)), file=stream)
    return False, set(failures)
