"""TAK interoperability: Cursor on Target listeners, inbound reports, outbound views."""

from .config import CotConfig, CotConfigError, Listener
from .gateway import CotGateway
from .seam import ChangeListener, CotIngestResult, CotService, PartyView, UnitView
from .sink import PictureSink

__all__ = [
    "ChangeListener",
    "CotConfig",
    "CotConfigError",
    "CotGateway",
    "CotIngestResult",
    "CotService",
    "Listener",
    "PartyView",
    "PictureSink",
    "UnitView",
]
