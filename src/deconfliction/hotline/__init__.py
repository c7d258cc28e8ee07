"""The hotline: signed, hash-chained, timed messages between the parties' desks."""

from .chain import Chain, ChainEntry, Fault, Problem, Verification, genesis, verify_transcript
from .conflicts import Conflict, Fix, OwnForces, UnitMotion, find_conflicts
from .desk import Hotline
from .drafts import Draft, concern_from_alert, concern_party, draft_response
from .forces import PictureSource, ReportForces
from .keys import DeskKey, KeyFormatError, load_public_key, read_public_key
from .messages import HotlineMessage, HotlineSettings, Polygon, Window, canonical_bytes, pair_of
from .records import (
    Delivery,
    HotlineError,
    Journal,
    MessageState,
    NotFound,
    Record,
    Refused,
)
from .replay import ScriptedHotline, entry_event, scripted_events

__all__ = [
    "Chain",
    "ChainEntry",
    "Conflict",
    "Delivery",
    "DeskKey",
    "Draft",
    "Fault",
    "Fix",
    "Hotline",
    "HotlineError",
    "HotlineMessage",
    "HotlineSettings",
    "Journal",
    "KeyFormatError",
    "MessageState",
    "NotFound",
    "OwnForces",
    "PictureSource",
    "Polygon",
    "Problem",
    "Record",
    "Refused",
    "ReportForces",
    "ScriptedHotline",
    "UnitMotion",
    "Verification",
    "Window",
    "canonical_bytes",
    "concern_from_alert",
    "concern_party",
    "draft_response",
    "entry_event",
    "find_conflicts",
    "genesis",
    "load_public_key",
    "pair_of",
    "read_public_key",
    "scripted_events",
    "verify_transcript",
]
