"""`deconfliction cot certs` and `deconfliction cot send`."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from typer.testing import CliRunner

from cot_support import atom, cot_config, theatre, write_file
from deconfliction.cli import app
from deconfliction.tak import CotConfig, CotGateway, PictureSink
from deconfliction.tak.certs import quick_start

runner = CliRunner()


def flat(output: str) -> str:
    """Output without the line breaks and borders of rich's error box."""
    return re.sub(r"[\s│╭╮╰╯─]+", " ", output)


@contextmanager
def gateway_thread(sink: PictureSink, config: CotConfig) -> Iterator[list[str]]:
    """A gateway on its own event loop in a thread, as a server process would run it."""
    urls: list[str] = []
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        gateway = await CotGateway(sink, config).start()
        urls.extend(gateway.urls())
        ready.set()
        await stop.wait()
        await gateway.stop()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),))
    thread.start()
    try:
        assert ready.wait(10)
        yield urls
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def test_certs_creates_a_ca_a_server_and_mapped_clients(tmp_path: Path) -> None:
    out = tmp_path / "pki"
    result = runner.invoke(
        app,
        [
            "cot",
            "certs",
            "--out",
            str(out),
            "--client",
            "west-1:coalition",
            "--client",
            "east-1:russia",
            "--host",
            "tak.example.org",
        ],
    )
    assert result.exit_code == 0, result.output
    config = CotConfig.load(out / "cot.yaml")
    assert sorted(config.clients.values()) == ["coalition", "russia"]
    server = x509.load_pem_x509_certificate((out / "server.pem").read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["tak.example.org"]
    client = x509.load_pem_x509_certificate((out / "west-1.pem").read_bytes())
    ca = x509.load_pem_x509_certificate((out / "ca.pem").read_bytes())
    client.verify_directly_issued_by(ca)
    # A second run does not overwrite the CA the devices already trust.
    again = runner.invoke(app, ["cot", "certs", "--out", str(out), "--client", "x:coalition"])
    assert again.exit_code == 2 and "refusing to replace a CA" in again.output


def test_certs_refuses_a_client_without_a_party(tmp_path: Path) -> None:
    result = runner.invoke(app, ["cot", "certs", "--out", str(tmp_path), "--client", "lonely"])
    assert result.exit_code == 2
    assert "NAME:PARTY" in flat(result.output)


def test_send_replays_a_recorded_session(tmp_path: Path) -> None:
    sink = PictureSink(theatre())
    start = datetime.now(UTC) - timedelta(minutes=10)
    events = [
        atom(f"sdf-{i}", "a-f-G-U-C-I", 40.6 + i / 1000, 35.6, time=start + timedelta(seconds=i))
        for i in range(200)
    ]
    recording = write_file(tmp_path / "session.cot", events)
    with gateway_thread(sink, cot_config().with_urls(["tcp://127.0.0.1:0"])) as urls:
        result = runner.invoke(
            app, ["cot", "send", str(recording), "--to", urls[0], "--linger", "0.5"]
        )
        assert result.exit_code == 0, result.output
        assert "sent 200 events" in result.output
        for _ in range(100):
            if len(sink.report_ids) == 200:
                break
            threading.Event().wait(0.02)
    assert len(sink.engine.picture("coalition").units()) == 200


def test_send_names_a_bad_address(tmp_path: Path) -> None:
    recording = write_file(tmp_path / "session.cot", [atom("x", "a-f-G", 40, 35)])
    result = runner.invoke(app, ["cot", "send", str(recording), "--to", "http://somewhere:80"])
    assert result.exit_code == 2 and "tcp:// or tls://" in flat(result.output)


def test_send_replays_over_tls_with_a_client_certificate(tmp_path: Path) -> None:
    pki = quick_start(tmp_path / "pki", [("west-1", "coalition")], ["localhost", "127.0.0.1"])
    loaded = CotConfig.load(pki.config)
    config = cot_config(
        party=None,
        certfile=loaded.certfile,
        keyfile=loaded.keyfile,
        cafile=loaded.cafile,
        clients=loaded.clients,
    ).with_urls(["tls://127.0.0.1:0"])
    sink = PictureSink(theatre())
    recording = write_file(tmp_path / "session.cot", [atom("sdf-tls", "a-f-G-U-C-I", 40.6, 35.6)])
    cert, key, _ = pki.clients["west-1"]
    with gateway_thread(sink, config) as urls:
        result = runner.invoke(
            app,
            [
                "cot",
                "send",
                str(recording),
                "--to",
                urls[0],
                "--ca",
                str(pki.ca),
                "--cert",
                str(cert),
                "--key",
                str(key),
                "--linger",
                "0.5",
            ],
        )
        assert result.exit_code == 0, result.output
        for _ in range(100):
            if sink.report_ids:
                break
            threading.Event().wait(0.02)
    unit = sink.engine.picture("coalition").unit("sdf-tls")
    assert unit is not None and unit.actor == "sdf"
