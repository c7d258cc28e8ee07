"""Starting the TAK gateway with `deconfliction serve --cot URL [--cot-config FILE]`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .adapter import ServiceSeam
from .config import CotConfig
from .gateway import CotGateway

if TYPE_CHECKING:
    from ..service.core import Service


def load_config(urls: Sequence[str], config_file: Path | None) -> CotConfig | None:
    """The gateway's configuration from `--cot` URLs and a file; None when neither is given.

    Raises CotConfigError naming the option or setting that is wrong.
    """
    if not urls and config_file is None:
        return None
    config = CotConfig.load(config_file) if config_file is not None else CotConfig()
    config = config.with_urls(list(urls))
    config.check()
    return config


def attach(app: Any, service: Service, config: CotConfig) -> None:
    """Run the gateway in the ASGI server's event loop for as long as `app` is served."""
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        gateway = await CotGateway(ServiceSeam(service), config).start()
        app.state.cot = gateway
        try:
            async with inner(application) as state:
                yield state
        finally:
            await gateway.stop()

    app.router.lifespan_context = lifespan
