"""What the benchmarks, the screenshot script and the tests share to run real things."""

from __future__ import annotations

import socket

CHROMIUM = "/usr/bin/chromium"
"""Debian's chromium: no browser is downloaded at run time."""

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    # Without these, chromium tries the network at start, and this machine refuses it.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
