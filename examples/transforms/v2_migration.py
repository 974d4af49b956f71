"""Schema v2 of ELEC.PRICE: sector codes spelled out, price in dollars per kWh.

aurumplan calls migrate() once per stored record; returning None drops the record.
"""

SECTORS = {"RES": "residential", "COM": "commercial", "IND": "industrial"}


def migrate(record: dict) -> dict | None:
    """One v1 record as v2."""
    if record.get("value") is None:
        return None
    attributes = dict(record.get("attributes") or {})
    code = attributes.get("sectorid")
    if code in SECTORS:
        attributes["sector"] = SECTORS[code]
    return {**record, "value": record["value"] / 100.0, "unit": "dollars per kilowatthour",
            "attributes": attributes}
