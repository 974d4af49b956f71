"""The EIA v2 routes the fake serves: facets, data columns, period formats (sources/README §1)."""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
from dataclasses import dataclass, field

_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class Freq:
    """A frequency: period labels <-> a dense integer index, and each period's UTC start."""

    name: str
    date_format: str
    description: str
    query: str

    def label(self, idx: int) -> str:
        if self.name == "hourly":
            return _day_label(idx // 24) + _HOURS[idx % 24]
        y, m = divmod(idx, 12)
        return f"{y:04d}-{m + 1:02d}"

    def start_ts(self, idx: int) -> int:
        """UTC start of the period; hourly labels are hour-ENDING, so label T01 starts at 00:00."""
        if self.name == "hourly":
            return (idx - 1) * 3600
        y, m = divmod(idx, 12)
        return calendar.timegm((y, m + 1, 1, 0, 0, 0))

    def floor(self, text: str) -> int | None:
        """Index of the label a (possibly partial) bound like `2024`, `2024-01-31` or `2024-01-01T05` names."""
        parts = [int(p) for p in _DIGITS.findall(text)[:4]]
        if not parts:
            return None
        y, mo, d, h = parts + [1, 1, 0][len(parts) - 1:]
        try:
            dt.datetime(y, mo, d, h)
        except (ValueError, OverflowError):
            return None
        if self.name == "hourly":
            return calendar.timegm((y, mo, d, h, 0, 0)) // 3600
        return y * 12 + mo - 1

    def index_of_ts(self, ts: int) -> int:
        """Index of the last period that has fully ended at `ts`."""
        if self.name == "hourly":
            return ts // 3600
        d = dt.datetime.fromtimestamp(ts, dt.UTC)
        return d.year * 12 + d.month - 2


_HOURS = [f"T{h:02d}" for h in range(24)]


@functools.lru_cache(maxsize=4096)
def _day_label(day: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()


HOURLY = Freq("hourly", 'YYYY-MM-DD"T"HH24', "One data point for each hour in UTC time.", "H")
MONTHLY = Freq("monthly", "YYYY-MM", "One data point for each month.", "M")


@dataclass(frozen=True)
class Facet:
    """A facet id, the row key carrying its name, and the values that have data."""

    id: str
    name_key: str
    description: str
    values: dict[str, str]


@dataclass(frozen=True)
class Route:
    route: str
    name: str
    description: str
    frequencies: dict[str, Freq]
    facets: tuple[Facet, ...]
    columns: dict[str, str]
    first: str
    units_suffix: str = "-units"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def primary(self) -> str:
        return next(iter(self.columns))

    def facet(self, fid: str) -> Facet | None:
        return next((f for f in self.facets if f.id == fid), None)


RESPONDENTS = {
    "AEC": "PowerSouth Energy Cooperative", "BPAT": "Bonneville Power Administration",
    "CISO": "California Independent System Operator", "DUK": "Duke Energy Carolinas",
    "ERCO": "Electric Reliability Council of Texas, Inc.", "FPL": "Florida Power & Light Co.",
    "ISNE": "ISO New England", "MISO": "Midcontinent Independent System Operator, Inc.",
    "NYIS": "New York Independent System Operator", "PJM": "PJM Interconnection, LLC",
    "SOCO": "Southern Company Services, Inc. - Trans", "SWPP": "Southwest Power Pool",
    "TVA": "Tennessee Valley Authority", "US48": "United States Lower 48",
}
_EIA930 = "\n    Source: Form EIA-930\n    Product: Hourly Electric Grid Monitor"

ROUTES: dict[str, Route] = {r.route: r for r in (
    Route("electricity/rto/region-data", "Daily and Hourly Demand, Net Generation, and Interchange",
          "Hourly demand, day-ahead demand forecast, net generation, and interchange by balancing "
          "authority.  " + _EIA930,
          {"hourly": HOURLY},
          (Facet("respondent", "respondent-name", "Balancing Authority / Region", RESPONDENTS),
           Facet("type", "type-name", "Type", {"D": "Demand", "DF": "Day-ahead demand forecast",
                                                "NG": "Net generation", "TI": "Total interchange"})),
          {"value": "megawatthours"}, "2015-07-01T05"),
    Route("electricity/rto/fuel-type-data", "Hourly Net Generation by Energy Source",
          "Hourly net generation by balancing authority and energy source.  " + _EIA930,
          {"hourly": HOURLY},
          (Facet("respondent", "respondent-name", "Balancing Authority / Region", RESPONDENTS),
           Facet("fueltype", "type-name", "Energy Source", {
               "COL": "Coal", "NG": "Natural Gas", "NUC": "Nuclear", "OIL": "Petroleum", "OTH": "Other",
               "SUN": "Solar", "WAT": "Hydro", "WND": "Wind"})),
          {"value": "megawatthours"}, "2018-07-01T05"),
    Route("electricity/retail-sales", "Electricity Sales to Ultimate Customers",
          "Electricity sales to ultimate customer by state and sector (number of customers, average "
          "price, revenue, and megawatthours of sales).  Sources: Forms EIA-826, EIA-861, EIA-861M",
          {"monthly": MONTHLY},
          (Facet("stateid", "stateDescription", "State / Census Region", {
              "CA": "California", "FL": "Florida", "IL": "Illinois", "MA": "Massachusetts", "NY": "New York",
              "OH": "Ohio", "PA": "Pennsylvania", "TX": "Texas", "US": "U.S. Total", "VA": "Virginia",
              "WA": "Washington"}),
           Facet("sectorid", "sectorName", "Sector", {
               "ALL": "all sectors", "COM": "commercial", "IND": "industrial", "OTH": "other",
               "RES": "residential", "TRA": "transportation"})),
          {"price": "cents per kilowatt-hour", "revenue": "million dollars",
           "sales": "million kilowatt hours", "customers": "number of customers"}, "2001-01"),
)}


def oxford(items: list[str]) -> str:
    """'a', 'b', and 'c' as EIA's error messages list valid choices."""
    quoted = [f"'{i}'" for i in items]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]
