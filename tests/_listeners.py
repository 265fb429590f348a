"""What a process tree listens on: the check that every daemon a test starts is reachable from this machine
only (an unauthenticated Ray API on a network is remote code execution, CVE-2023-48022)."""

from __future__ import annotations

import ipaddress
from typing import Iterable, List, Set, Tuple

__all__ = ["listening", "not_loopback", "process_tree"]


def process_tree(roots: Iterable[int]) -> Set[int]:
    """The pids of ``roots`` and of all their live descendants."""
    import psutil

    pids: Set[int] = set()
    for root in roots:
        try:
            proc = psutil.Process(root)
            pids.add(root)
            pids.update(child.pid for child in proc.children(recursive=True))
        except psutil.NoSuchProcess:
            continue
    return pids


def listening(pids: Set[int]) -> List[Tuple[int, str, int]]:
    """(pid, address, port) of every listening TCP socket of ``pids`` (IPv4-mapped IPv6 shown as IPv4)."""
    import psutil

    found = []
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.pid in pids:
            address = conn.laddr.ip
            mapped = ipaddress.ip_address(address.split("%", 1)[0])
            if isinstance(mapped, ipaddress.IPv6Address) and mapped.ipv4_mapped is not None:
                address = str(mapped.ipv4_mapped)
            found.append((conn.pid, address, conn.laddr.port))
    return found


def not_loopback(pids: Set[int]) -> List[Tuple[int, str, int]]:
    """The listening sockets of ``pids`` that are reachable from outside this machine."""
    return [(pid, address, port) for pid, address, port in listening(pids)
            if not ipaddress.ip_address(address.split("%", 1)[0]).is_loopback]
