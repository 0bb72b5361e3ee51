"""The ``server.history`` block of the plant file.

```yaml
server:
  history:
    enabled: true
    url: duckdb:///var/lib/twinbridge/history.duckdb   # default: <data>/history/history.duckdb
    flush_interval_s: 1        # a kill -9 loses at most this much
    retention:
      raw_days: 7
      rollup_days: 365
      elements:                # overrides, e.g. vibration raw for 1 day only
        - submodel: https://example.com/sm/Press1/OperationalData
          path: Segments.LiveValues.Records.Current.Vibration
          raw_days: 1
    internal_records: 3        # Time Series submodels: records kept in the InternalSegment,
    internal_record_interval_s: 1   # at most one per second
```
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ElementRetention(BaseModel):
    """Raw retention of the elements under one path of one submodel (a binding's target, a whole
    record, or the whole submodel with ``path: ""``); the first matching entry wins."""

    model_config = ConfigDict(extra="forbid")
    submodel: str = Field(description="the submodel's identifier")
    path: str = Field("", description="idShortPath prefix ('' = every element of the submodel)")
    raw_days: float = Field(gt=0)


class RetentionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    raw_days: float = Field(7.0, gt=0, description="raw points are kept this many days")
    rollup_days: float = Field(365.0, gt=0, description="one-minute aggregates are kept this many days")
    elements: list[ElementRetention] = Field(default_factory=list, description="per-element raw retention")


class HistorySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(True, description="record every live value and every model change")
    url: str | None = Field(None, description="history store URL (duckdb:///path); default in the data directory")
    flush_interval_s: float = Field(1.0, gt=0, le=60, description="how often recorded values are made durable")
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    journal: bool = Field(True, description="keep the hash-chained journal of model changes and client writes")
    internal_records: int = Field(3, ge=1, le=1000,
                                  description="records a Time Series submodel's InternalSegment keeps")
    internal_record_interval_s: float = Field(
        1.0, ge=0, description="at most one InternalSegment record per this interval (0: one per record clock tick)")
