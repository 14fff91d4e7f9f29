"""Many rows of one table inserted (or upserted by primary key) at once, each backend its
fastest way, every value converted by its column's own type as SQLAlchemy would.

SQLAlchemy's executemany prepares each row's parameters in Python, and psycopg then sends a
statement a row: for a 100,000-item ingest on PostgreSQL that was a fifth of the client's CPU.
Here PostgreSQL gets the rows by COPY into a temporary table of the same columns, then one
INSERT … SELECT (… ON CONFLICT) from it; SQLite gets one executemany of the driver's own
statement, which sqlite3 runs in C.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Connection, Table
from sqlalchemy.exc import StatementError

Processor = Callable[[Any], Any] | None


class BulkWriter:
    """Writes rows of tables on one connection, in the transaction it is in."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect
        self.postgresql = self.dialect.name == "postgresql"
        self._staged: set[str] = set()  # PostgreSQL: the temporary tables made so far

    def insert(
        self,
        table: Table,
        rows: Sequence[Mapping[str, Any]],
        *,
        upsert: bool = False,
        keep: tuple[str, ...] = (),
    ) -> None:
        """Insert `rows` (all with the same keys, the table's column names); `upsert`: a row
        whose primary key is stored already replaces every other column of it but those named
        in `keep` (such as created_at) instead."""
        if not rows:
            return
        columns = [table.c[name] for name in rows[0]]
        names = ", ".join(self._quote(column.name) for column in columns)
        conflict = ""
        if upsert:
            (key,) = table.primary_key.columns
            updates = ", ".join(
                f"{self._quote(c.name)} = excluded.{self._quote(c.name)}"
                for c in columns
                if c is not key and c.name not in keep
            )
            conflict = f" ON CONFLICT ({self._quote(key.name)}) DO UPDATE SET {updates}"
        into = f"INSERT INTO {self._quote(table.name)} ({names}) "
        values = self._values(columns, rows, into)
        if self.postgresql:
            self._copy_insert(table, names, values, into, conflict)
        else:
            marks = ", ".join("?" for _ in columns)
            self.connection.exec_driver_sql(f"{into}VALUES ({marks}){conflict}", values)

    def _copy_insert(
        self, table: Table, names: str, values: list[tuple[Any, ...]], into: str, conflict: str
    ) -> None:
        # The staging table has the columns' types but none of the constraints: the INSERT
        # from it is what checks them, and its errors name the real table.
        stage = self._quote(f"bulk_{table.name}")
        if stage not in self._staged:
            self.connection.exec_driver_sql(
                f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS "
                f"SELECT {names} FROM {self._quote(table.name)} WITH NO DATA"
            )
            self._staged.add(stage)
        cursor = self.connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor, cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
        self.connection.exec_driver_sql(f"{into}SELECT {names} FROM {stage}{conflict}")
        # Created in this transaction, the table is emptied in place: no new file, no dead rows.
        self.connection.exec_driver_sql(f"TRUNCATE {stage}")

    def _values(
        self, columns: list[Column[Any]], rows: Sequence[Mapping[str, Any]], into: str
    ) -> list[tuple[Any, ...]]:
        """Each row's values as the driver takes them (as SQLAlchemy would give them)."""
        pairs = [(column.name, self._processor(column)) for column in columns]
        try:
            return [
                tuple(row[name] if p is None else p(row[name]) for name, p in pairs) for row in rows
            ]
        except (ValueError, TypeError) as error:
            # What SQLAlchemy raises for a value its type refuses (a naive datetime).
            raise StatementError(str(error), into, None, error) from error

    def _processor(self, column: Column[Any]) -> Processor:
        return column.type.dialect_impl(self.dialect).bind_processor(self.dialect)

    def _quote(self, name: str) -> str:
        return self.dialect.identifier_preparer.quote(name)
