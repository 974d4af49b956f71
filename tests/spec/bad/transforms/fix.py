"""A valid migration used by bad specs whose problem lies elsewhere."""


def migrate(record: dict) -> dict | None:
    return record


def transform(record: dict) -> dict | None:
    return record
