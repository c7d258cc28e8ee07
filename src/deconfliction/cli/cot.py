"""`deconfliction cot`: certificates for the TLS listener, and replaying CoT to a server."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from ..tak.config import CotConfig, Listener

app = typer.Typer(
    name="cot",
    help="TAK interoperability: Cursor on Target certificates and replay.",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)


def _client(value: str) -> tuple[str, str]:
    name, sep, party = value.partition(":")
    if not sep or not name or not party:
        raise typer.BadParameter(f"'{value}': give NAME:PARTY, e.g. coalition-tak-1:coalition")
    return name, party


@app.command()
def certs(
    out: Path = typer.Option(Path("cot-certs"), "--out", help="Directory to write into."),
    client: list[str] = typer.Option(
        ..., "--client", help="NAME:PARTY, once per TAK device (the party it reports for)."
    ),
    host: list[str] = typer.Option(
        ["localhost", "127.0.0.1"], "--host", help="Names and addresses of the server."
    ),
    password: str = typer.Option(
        "atakatak", "--password", help="Password of the PKCS#12 files for the devices."
    ),
) -> None:
    """Create a CA, a server certificate and client certificates, and a cot.yaml for serve."""
    from ..tak.certs import quick_start

    clients = [_client(c) for c in client]
    names = [name for name, _ in clients]
    if len(set(names)) != len(names):
        raise typer.BadParameter("each --client NAME must be different")
    if (out / "ca.key").exists():
        errors.print(f"{out}/ca.key exists: refusing to replace a CA; choose another --out")
        raise typer.Exit(2)
    result = quick_start(out, clients, host, password)
    console.print(f"CA             {result.ca}")
    console.print(f"server         {result.server_cert}, {result.server_key}")
    for name, (cert, key, p12) in result.clients.items():
        console.print(f"client {name}: {cert}, {key}, {p12}")
    console.print(
        f"configuration  {result.config}  (deconfliction serve --cot-config {result.config})"
    )


@app.command()
def send(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A file of CoT events."),
    to: str = typer.Option(..., "--to", help="tcp://host:port or tls://host:port"),
    cafile: Path | None = typer.Option(None, "--ca", help="CA of the server (tls)."),
    certfile: Path | None = typer.Option(None, "--cert", help="Client certificate (tls)."),
    keyfile: Path | None = typer.Option(None, "--key", help="Client key (tls)."),
    rate: float = typer.Option(0.0, "--rate", min=0.0, help="Events per second; 0: at once."),
    linger: float = typer.Option(1.0, "--linger", min=0.0, help="Seconds to wait for replies."),
) -> None:
    """Replay a file of CoT events (XML, as recorded) to a server."""
    # The gateway's modules load only for the commands that use them: every other command
    # starts without them.
    from ..tak.config import CotConfigError, Listener
    from ..tak.framing import Framer

    try:
        listener = Listener.parse(to)
    except CotConfigError as exc:
        raise typer.BadParameter(str(exc)) from None
    context = None
    if listener.scheme == "tls":
        if cafile is None or certfile is None or keyfile is None:
            raise typer.BadParameter("tls:// needs --ca, --cert and --key")
        context = ssl.create_default_context(cafile=str(cafile))
        context.load_cert_chain(str(certfile), str(keyfile))
    framer = Framer(max_bytes=1 << 20)
    frames = framer.feed(file.read_bytes())
    if framer.pending:
        errors.print(f"{file}: {framer.pending} bytes after the last </event> are not an event")
    events = frames.xml
    sent, received = asyncio.run(_send(listener, context, events, rate, linger))
    console.print(f"sent {sent} events to {listener.url()}, received {received} bytes")


async def _send(
    listener: Listener,
    context: ssl.SSLContext | None,
    events: list[bytes],
    rate: float,
    linger: float,
) -> tuple[int, int]:
    reader, writer = await asyncio.open_connection(listener.host, listener.port, ssl=context)
    received = 0

    async def drain_replies() -> None:
        nonlocal received
        while data := await reader.read(65536):
            received += len(data)

    replies = asyncio.create_task(drain_replies())
    start = time.perf_counter()
    for i, event in enumerate(events):
        writer.write(event)
        if rate:
            delay = start + (i + 1) / rate - time.perf_counter()
            await writer.drain()
            if delay > 0:
                await asyncio.sleep(delay)
        elif i % 500 == 499:
            await writer.drain()
    await writer.drain()
    await asyncio.sleep(linger)
    replies.cancel()
    with contextlib.suppress(asyncio.CancelledError, ConnectionError):
        await replies
    writer.close()
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        await writer.wait_closed()
    return len(events), received


def gateway_config(urls: list[str], config_file: Path | None) -> CotConfig | None:
    """The TAK gateway's configuration from `serve --cot/--cot-config`; exits 2 naming
    what is wrong."""
    from ..tak.config import CotConfigError
    from ..tak.serve import load_config

    if config_file is not None and not config_file.is_file():
        errors.print(f"error: --cot-config: {config_file} is not a file")
        raise typer.Exit(2)
    try:
        return load_config(urls, config_file)
    except CotConfigError as exc:
        errors.print(f"error: {exc}", soft_wrap=True, markup=False)
        raise typer.Exit(2) from None
