"""Schema v2 of ELEC.PRICE: the sector spelled out, the state named, the price in dollars per kilowatt-hour.

aurumplan calls migrate() once per stored record (source, dataset, series_id, period, value, unit,
attributes, schema_version) and stores what it returns at the Replay's schemaVersion; returning
None drops the record. v1 series ids are "<stateid>.<sectorid>" (e.g. "CA.RES").
"""

SECTORS = {"RES": "residential", "COM": "commercial", "IND": "industrial", "TRA": "transportation",
           "OTH": "other", "ALL": "all sectors"}


def migrate(record: dict) -> dict | None:
    """One v1 record as v2."""
    attributes = dict(record.get("attributes") or {})
    state, _, code = record["series_id"].partition(".")
    code = attributes.pop("sectorid", code)  # v1 code -> v2 name
    attributes["sector"] = SECTORS.get(code, code)
    attributes["state"] = state
    value = record["value"]
    return {**record, "value": None if value is None else round(value / 100.0, 6),
            "unit": "dollars per kilowatt-hour", "attributes": attributes}
