"""Send Microsoft's hostnames to the local stand-in, inside a child Python process.

Why this file exists: the packaged modular input must be run unmodified, and it must
be *proven* to call Microsoft's documented hostnames. Python imports a module named
``sitecustomize`` at start-up from anywhere on ``sys.path``; putting this directory on
the child's ``PYTHONPATH`` makes it run before the add-on. It reads
``MDE_STANDIN_HOSTMAP`` (JSON ``{"login.microsoftonline.com": "127.0.0.1:40123", ...}``)
and wraps ``socket.getaddrinfo`` so that those names, whatever port is asked (443),
resolve to 127.0.0.1 and the stand-in's port. TLS is untouched: the client still sends
the real name in SNI and verifies it against the stand-in's certificate, so a typo in a
hostname fails exactly as it would in production.

While a hostmap is active, every *other* name except loopback fails to resolve (as
``socket.gaierror``) so that nothing in a test can reach the internet; the refused
names are appended to the file named by ``MDE_STANDIN_DNS_LOG`` (one per line) so a
test can show which undocumented host the add-on tried. Set
``MDE_STANDIN_HOSTMAP_STRICT=0`` to let other names resolve normally.

With ``MDE_STANDIN_HOSTMAP`` unset, importing this module changes nothing. It does
not chain to another ``sitecustomize`` further down ``sys.path``.

Standard library only, Python 3.9 compatible (it runs inside Splunk's Python too).
"""

from __future__ import annotations

import json
import os
import socket
import threading
from typing import Any, Callable

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "127.0.0.1", "::1", "ip6-localhost"})
_lock = threading.Lock()
_original_getaddrinfo = socket.getaddrinfo
_original_gethostbyname = socket.gethostbyname


def _norm(host: Any) -> str:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return str(host or "").strip().rstrip(".").lower()


def _parse_target(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if host not in ("127.0.0.1", "localhost"):
        raise ValueError(f"hostmap targets must be loopback, got {value!r}")
    return "127.0.0.1", int(port)


def install(hostmap: dict[str, str], *, strict: bool = True, dns_log: str | None = None) -> Callable[[], None]:
    """Patch name resolution in this process; return a function that undoes it."""
    table = {_norm(k): _parse_target(v) for k, v in hostmap.items()}

    def _refuse(name: str) -> None:
        if dns_log:
            with _lock, open(dns_log, "a", encoding="utf-8") as fh:
                fh.write(name + "\n")
        raise socket.gaierror(socket.EAI_NONAME, f"stand-in hostmap: {name} is not mapped (no internet in tests)")

    def getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> Any:  # noqa: A002
        name = _norm(host)
        target = table.get(name)
        if target is not None:
            fam = family if family in (0, socket.AF_INET) else socket.AF_INET
            return _original_getaddrinfo(target[0], target[1], fam, type, proto, flags)
        if strict and name and name not in _LOOPBACK_NAMES and not name.startswith("127."):
            _refuse(name)
        return _original_getaddrinfo(host, port, family, type, proto, flags)

    def gethostbyname(host: str) -> str:
        name = _norm(host)
        if name in table:
            return table[name][0]
        if strict and name and name not in _LOOPBACK_NAMES and not name.startswith("127."):
            _refuse(name)
        return _original_gethostbyname(host)

    socket.getaddrinfo = getaddrinfo
    socket.gethostbyname = gethostbyname

    def uninstall() -> None:
        socket.getaddrinfo = _original_getaddrinfo
        socket.gethostbyname = _original_gethostbyname

    return uninstall


def _install_from_env() -> None:
    raw = os.environ.get("MDE_STANDIN_HOSTMAP")
    if not raw:
        return
    install(
        json.loads(raw),
        strict=os.environ.get("MDE_STANDIN_HOSTMAP_STRICT", "1") != "0",
        dns_log=os.environ.get("MDE_STANDIN_DNS_LOG") or None,
    )


_install_from_env()
