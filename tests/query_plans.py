"""What PostgreSQL's plan of a statement read, for tests that a query's cost stays flat."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine


def rows_read(engine: Engine, sql: str, parameters: Any, table: str) -> tuple[int, Any]:
    """The rows the statement's scans of `table` handed on or filtered out, over every loop,
    as EXPLAIN ANALYZE counts them (rolled back), and the plan."""
    with engine.connect() as connection:
        explained = connection.exec_driver_sql(
            f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", parameters
        ).scalar_one()
        connection.rollback()
    plan = (explained if isinstance(explained, list) else json.loads(explained))[0]["Plan"]
    return _read(plan, table), plan


def _read(node: dict[str, Any], table: str) -> int:
    read = 0
    if node.get("Relation Name") == table and node["Node Type"].endswith("Scan"):
        kept = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
        read += kept * node["Actual Loops"]
    return read + sum(_read(child, table) for child in node.get("Plans", []))
