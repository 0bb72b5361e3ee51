"""IDTA 02008-1-1 Time Series Data, used as the asset's ``OperationalData``.

The live values sit in one internal segment holding a single record, ``Current``; its
properties are what bindings feed and roll-ups write. ``Metadata.Record`` declares the
variables (without values) as the template asks.
"""

from __future__ import annotations

from basyx.aas import model

from twinbridge.submodels.templates.elements import collection, semantic, submodel, text

SUBMODEL = "https://admin-shell.io/idta/TimeSeries/1/1"
METADATA = "https://admin-shell.io/idta/TimeSeries/Metadata/1/1"
RECORD = "https://admin-shell.io/idta/TimeSeries/Record/1/1"
RECORDS = "https://admin-shell.io/idta/TimeSeries/Records/1/1"
SEGMENTS = "https://admin-shell.io/idta/TimeSeries/Segments/1/1"
INTERNAL_SEGMENT = "https://admin-shell.io/idta/TimeSeries/Segments/InternalSegment/1/1"
UTC_TIME = "https://admin-shell.io/idta/TimeSeries/UtcTime/1/1"
ID_SHORT = "OperationalData"
LIVE_RECORD = "Segments.LiveValues.Records.Current"


def signal_path(id_short: str) -> str:
    """Where the live value ``id_short`` of an asset lives inside its OperationalData submodel."""
    return f"{LIVE_RECORD}.{id_short}"


def _time() -> model.Property:
    return model.Property("Time", model.datatypes.DateTime, None, semantic_id=semantic(UTC_TIME))


def build(identifier: str, asset_name: str, variables: list[model.Property]) -> model.Submodel:
    """``variables`` are the live properties (with initial values); a value-less copy goes to Metadata."""
    declared = [model.Property(v.id_short, v.value_type, None, semantic_id=v.semantic_id) for v in variables]
    metadata = collection("Metadata", METADATA, [
        text("Name", f"Operational data of {asset_name}", "https://admin-shell.io/idta/TimeSeries/Metadata/Name/1/1"),
        collection("Record", RECORD, [_time(), *declared]),
    ])
    segment = collection("LiveValues", INTERNAL_SEGMENT, [
        text("Name", "Live values", "https://admin-shell.io/idta/TimeSeries/Segment/Name/1/1"),
        model.Property("RecordCount", model.datatypes.Long, model.datatypes.Long(1),
                       semantic_id=semantic("https://admin-shell.io/idta/TimeSeries/Segment/RecordCount/1/1")),
        collection("Records", RECORDS, [collection("Current", RECORD, [_time(), *variables])]),
    ])
    return submodel(identifier, ID_SHORT, SUBMODEL, [metadata, collection("Segments", SEGMENTS, [segment])],
                    ("1", "1"))
