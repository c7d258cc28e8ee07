"""The fast path for a valid JSON scenario: reports decoded straight into typed structs.

Decoding a million reports into dicts and reading them back field by field costs more
than validating them. msgspec decodes each report into a slotted struct of the report's
fields in one pass (unknown fields and wrong JSON types are refused on the way), and
the columns are read off the structs. Only a document that passes every check takes
this path; anything else is loaded again the general way, which words the errors.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..model import Scenario
from .columns import ReportColumns, first_party_id, no_gc, struct_columns


class _ReportRow(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    # the fields of model.Report, as the JSON types that can be valid for them
    time: str
    unit: str
    lon: float
    lat: float
    id: str | None = None
    observer: str | None = None
    strength: int | None = None
    equipment: dict[str, int] | None = None
    source: str | None = None
    rating: str | None = None


_OTHER_FIELDS = tuple(name for name in Scenario.model_fields if name != "reports")

_Document = msgspec.defstruct(
    "_Document",
    [
        ("reports", list[_ReportRow] | msgspec.UnsetType, msgspec.UNSET),
        *((name, Any, msgspec.UNSET) for name in _OTHER_FIELDS),
    ],
    forbid_unknown_fields=True,
)

_DECODER = msgspec.json.Decoder(_Document)


def fast_json(data: bytes) -> tuple[dict[str, Any], ReportColumns] | None:
    """The document without its reports, and the report columns, of a JSON scenario
    whose reports are all valid; None to take the general path."""
    try:
        with no_gc():
            document = _DECODER.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    rest = {
        name: value
        for name in _OTHER_FIELDS
        if (value := getattr(document, name)) is not msgspec.UNSET
    }
    reports = getattr(document, "reports")  # noqa: B009 - a struct made at run time
    rows = [] if reports is msgspec.UNSET else reports
    with no_gc():
        columns = struct_columns(rows, first_party_id(rest))
    if columns is None:
        return None
    return rest, columns
