"""The TLS listener: a pytak client with a certificate from `cot certs` reports for the
party its certificate maps to; clients without a valid certificate are refused."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from cot_support import TakClient, atom, cot_config, host_port, running, theatre
from deconfliction.tak import CotConfig, CotConfigError, PictureSink
from deconfliction.tak.certs import issue, make_ca, quick_start, write_pem


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    quick_start(
        directory,
        [("coalition-tak-1", "coalition"), ("russia-tak-1", "russia")],
        ["localhost", "127.0.0.1"],
    )
    return directory


def tls_config(pki: Path) -> CotConfig:
    loaded = CotConfig.load(pki / "cot.yaml")
    return cot_config(
        party=None,
        certfile=loaded.certfile,
        keyfile=loaded.keyfile,
        cafile=loaded.cafile,
        clients=loaded.clients,
    )


def client_settings(pki: Path, name: str) -> dict[str, str]:
    return {
        "PYTAK_TLS_CLIENT_CERT": str(pki / f"{name}.pem"),
        "PYTAK_TLS_CLIENT_KEY": str(pki / f"{name}.key"),
        "PYTAK_TLS_CLIENT_CAFILE": str(pki / "ca.pem"),
    }


@pytest.mark.asyncio
async def test_a_client_certificate_reports_for_its_party(pki: Path) -> None:
    sink = PictureSink(theatre())
    async with running(sink, tls_config(pki), ["tls://127.0.0.1:0"]) as gateway:
        url = gateway.urls()[0]
        async with TakClient(url, **client_settings(pki, "russia-tak-1")) as device:
            await device.send(
                atom(
                    "pr-battalion",
                    "a-f-G-U-C-I",
                    40.0,
                    35.2,
                    callsign="Battalion",
                    extension='<__deconfliction strength="400"/>',
                )
            )
            got = await device.wait_for(lambda r: "deconfliction.line.euphrates" in r.uids())
            assert "deconfliction.site.conoco-hq" not in got.uids()
            for _ in range(100):
                if sink.engine.picture("russia").unit("pr-battalion") is not None:
                    break
                await asyncio.sleep(0.02)
        unit = sink.engine.picture("russia").unit("pr-battalion")
        assert unit is not None and unit.actor == "pro-regime" and unit.strength == 400
        assert sink.engine.picture("coalition").units() == []
        async with TakClient(url, **client_settings(pki, "coalition-tak-1")) as device:
            got = await device.wait_for(lambda r: "deconfliction.site.conoco-hq" in r.uids())
            assert "pr-battalion" not in got.uids()


async def _refused(url: str, context: ssl.SSLContext) -> bool:
    """Whether the server ends the connection instead of taking events on it."""
    host, port = host_port(url)
    try:
        reader, writer = await asyncio.open_connection(host, port, ssl=context)
    except (ssl.SSLError, ConnectionError):
        return True
    try:
        writer.write(atom("intruder", "a-f-G-U-C-I", 40.0, 35.0))
        await writer.drain()
        data = await asyncio.wait_for(reader.read(65536), 5)
        return data == b""
    except (ssl.SSLError, ConnectionError):
        return True
    finally:
        writer.close()


@pytest.mark.asyncio
async def test_clients_without_a_valid_certificate_are_refused(pki: Path, tmp_path: Path) -> None:
    sink = PictureSink(theatre())
    async with running(sink, tls_config(pki), ["tls://127.0.0.1:0"]) as gateway:
        url = gateway.urls()[0]
        no_cert = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        assert await _refused(url, no_cert)

        rogue_ca = make_ca("Rogue CA")
        rogue = issue(rogue_ca, "coalition-tak-1", organization="coalition")
        write_pem(rogue, tmp_path / "rogue.pem", tmp_path / "rogue.key")
        forged = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        forged.load_cert_chain(str(tmp_path / "rogue.pem"), str(tmp_path / "rogue.key"))
        assert await _refused(url, forged)

        # Signed by the right CA, but no party is mapped to its subject.
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        ca = type(rogue)(
            serialization.load_pem_private_key((pki / "ca.key").read_bytes(), None),  # type: ignore[arg-type]
            x509.load_pem_x509_certificate((pki / "ca.pem").read_bytes()),
        )
        stray = issue(ca, "stray-device")
        write_pem(stray, tmp_path / "stray.pem", tmp_path / "stray.key")
        unmapped = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        unmapped.load_cert_chain(str(tmp_path / "stray.pem"), str(tmp_path / "stray.key"))
        assert await _refused(url, unmapped)

        # The listener is still serving the devices that belong.
        async with TakClient(url, **client_settings(pki, "coalition-tak-1")) as device:
            await device.wait_for(lambda r: "deconfliction.line.euphrates" in r.uids())
    assert sink.engine.roster.unit_index.get("intruder") is None


def test_a_tls_listener_without_its_files_does_not_start(pki: Path) -> None:
    with pytest.raises(CotConfigError, match="certfile"):
        cot_config(party=None, clients={"x": "coalition"}).with_urls(["tls://127.0.0.1:0"]).check()
    with pytest.raises(CotConfigError, match="needs a party"):
        cot_config(party=None).with_urls(["tcp://127.0.0.1:0"]).check()
    config = tls_config(pki).model_copy(update={"clients": {}}).with_urls(["tls://127.0.0.1:0"])
    with pytest.raises(CotConfigError, match="maps no certificate"):
        config.check()


def test_the_quick_start_maps_each_client_to_its_party(pki: Path) -> None:
    loaded = CotConfig.load(pki / "cot.yaml")
    assert sorted(loaded.clients.values()) == ["coalition", "russia"]
    assert any("CN=coalition-tak-1" in subject for subject in loaded.clients)
    assert (pki / "coalition-tak-1.p12").stat().st_size > 0
    assert (pki / "ca.key").stat().st_mode & 0o077 == 0
