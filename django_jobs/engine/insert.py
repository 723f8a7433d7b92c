"""INSERT new jobs: one (with its idempotency savepoint) or many in one statement.

The only SQL that creates ``Job`` rows. Callers validate first (``django_jobs.enqueue``); these
functions trust the values they are given. Both join the caller's transaction, if any.

The statements are built once per database (``_statement``) from the model's fields, not
compiled by the ORM per call, and run through ``sql.execute_returning``: on PostgreSQL the
values travel bound on the server side, and the new id comes back in the same round trip. The
``Job`` returned is built from the values sent and the id (``Model.from_db``), as a ``SELECT``
of the row would build it: its fields equal the stored row's.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction

from ..exceptions import InvalidJobOptionsError
from . import sql

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

    from ..models import Job

#: Settle attempts for an idempotency key whose holder keeps finishing between INSERT and look-up.
KEY_SETTLE_ATTEMPTS = 3

#: The run of the one-job INSERT on a connection from which it is prepared (planned once): as
#: psycopg's own ``prepare_threshold`` default, so a connection that enqueues a job or two pays
#: no extra round trip for it (``sql.execute_returning``).
PREPARE_FROM_RUN = 5

#: The fields a caller always gives (the call); the others take their model default when absent.
CALL_FIELDS = ("args", "kwargs")
OPTION_FIELDS = (
    "task_path",
    "queue",
    "priority",
    "max_attempts",
    "timeout_seconds",
    "backoff_base_seconds",
    "backoff_max_seconds",
    "concurrency_key",
    "concurrency_limit",
)


def insert_job(job: Job) -> tuple[Job, bool]:
    """INSERT unsaved ``job``; return ``(saved_job, True)``, or ``(live_job, False)`` if held.

    ``job``'s field values are stored as they are (JSON fields encoded as ``JSONField`` does);
    the job returned is a new instance holding the same values and the row's id.
    """
    values = {f.attname: getattr(job, f.attname) for f in _statement().fields}
    encoded = {name: json.dumps(values[name]) for name in CALL_FIELDS}
    return insert_call(values, encoded)


def insert_call(values: Mapping[str, Any], encoded: Mapping[str, str]) -> tuple[Job, bool]:
    """INSERT one job; return ``(job, True)``, or ``(live_job, False)`` for a held key.

    ``values`` maps ``Job`` field names to the values to store (fields left out take their
    model default); ``encoded`` gives the JSON text of ``args`` and ``kwargs``, already checked
    by ``validation.encode_call``, and sent as it is. One statement and one round trip: the
    INSERT returns the new id. Without an idempotency key there is no savepoint. With one, the
    INSERT runs in a savepoint, so a conflict does not poison the caller's transaction; the
    partial unique index decides, so concurrent callers agree on one job, and the live job
    holding the key is returned instead. Raises ``InvalidJobOptionsError`` if the key kept
    changing hands, database errors otherwise.
    """
    statement = _statement()
    params, row = statement.bind(values, encoded)
    if values.get("idempotency_key") is None:
        (job_id,) = sql.execute_returning(statement.sql, params, prepare=PREPARE_FROM_RUN)[0]
        return statement.job(job_id, row), True
    return _insert_or_get_live(statement, params, row, values["idempotency_key"])


def _insert_or_get_live(
    statement: _Statement, params: list[Any], row: list[Any], key: str
) -> tuple[Job, bool]:
    # The INSERT waits on the unique index while another transaction holds the same key
    # uncommitted, then fails or succeeds by that transaction's outcome: no check-then-insert race.
    from ..models import Job

    for _ in range(KEY_SETTLE_ATTEMPTS):
        try:
            with transaction.atomic(using=sql.alias()):
                (job_id,) = sql.execute_returning(statement.sql, params)[0]
            return statement.job(job_id, row), True
        except IntegrityError:
            existing = Job.objects.live().filter(idempotency_key=key).first()
            if existing is not None:
                return existing, False
            # the holder finished in between: the key is free again
    raise InvalidJobOptionsError(
        f"Could not settle idempotency key {key!r}: it kept changing hands."
    )


def insert_jobs(
    template: Mapping[str, Any],
    calls: Sequence[tuple[str, str]],
    *,
    first_position: int | None = None,
) -> list[int]:
    """INSERT one row per ``(args_json, kwargs_json)`` with ``template``'s other fields; return ids.

    ``template`` maps field names to values shared by every row (as ``insert_call``'s
    ``values``; its ``args``, ``kwargs`` and any idempotency key are ignored). On PostgreSQL
    the shared values are bound once and the arguments travel as two ``jsonb[]`` arrays
    expanded by ``unnest``, bound on the server: one statement, one round trip, and no
    per-row quoting or model preparation. Elsewhere one multi-row ``INSERT ... RETURNING``.
    Ids come back in the order of ``calls``. Needs a transaction only if the caller wants
    several batches to commit together. With ``first_position`` (workflow members: ``template``
    then holds their ``workflow_id``), row n gets ``workflow_position = first_position + n``.
    """
    if not calls:
        return []
    statement = _statement()
    shared = {**template, "idempotency_key": None}
    params, _ = statement.bind(shared, {"args": "[]", "kwargs": "{}"})
    names = [f.attname for f in statement.fields]
    at_position = names.index("workflow_position")
    if sql.postgresql():
        if first_position is not None:  # the statement adds the row's ordinal (from 1) to it
            params[at_position] = first_position - 1
        constant = [p for name, p in zip(names, params, strict=True) if name not in CALL_FIELDS]
        arrays = [[a for a, _ in calls], [k for _, k in calls]]
        # Rows are inserted in ``calls`` order (WITH ORDINALITY ... ORDER BY), each taking the
        # sequence's next id as it is inserted: ascending ids are that order, whatever order
        # RETURNING gives them back in (which PostgreSQL does not promise).
        text = statement.unnest_sql if first_position is None else statement.members_sql
        rows = sql.execute_returning(text, [*constant, *arrays])
        return sorted(job_id for (job_id,) in rows)
    ids: list[int] = []
    at = names.index("args"), names.index("kwargs")
    limit = sql.wrapper().features.max_query_params or 999
    per_statement = max(1, limit // len(names))
    for start in range(0, len(calls), per_statement):
        chunk = calls[start : start + per_statement]
        values: list[Any] = []
        for n, (args, kwargs) in enumerate(chunk, start=start):
            row = list(params)
            row[at[0]], row[at[1]] = args, kwargs
            if first_position is not None:
                row[at_position] = first_position + n
            values += row
        rows = sql.execute_returning(statement.many_sql(len(chunk)), values)
        ids += [job_id for (job_id,) in rows]
    return ids


@dataclasses.dataclass(frozen=True, eq=False)  # hashed by identity, for prepared()'s cache
class _Statement:
    """The INSERT of one job for one database: SQL, fields in model order, prepared defaults."""

    fields: tuple[Any, ...]  # Job's concrete fields but the primary key, in model order
    field_names: tuple[str, ...]  # "id", then the fields' names: a row of Job.from_db
    positions: dict[str, int]  # field name -> its place in ``fields`` (and the parameters)
    kinds: tuple[object, ...]  # per field: how a given value is prepared (_OPTION, _JSON ...)
    default_params: tuple[Any, ...]  # prepared parameter of each field's default
    default_row: tuple[Any, ...]  # each field's default, or _MAKE where it is called per job
    default_factories: tuple[tuple[int, Any], ...]  # (place, callable) of the called defaults
    sql: str
    unnest_sql: str
    members_sql: str  # unnest_sql numbering workflow_position from a bound offset
    row_sql: str
    columns: str
    table: str

    def bind(
        self, values: Mapping[str, Any], encoded: Mapping[str, str]
    ) -> tuple[list[Any], list[Any]]:
        """Return the statement's parameters, and the field values in ``Job`` field order.

        A field in ``values`` is prepared for the database (JSON fields as JSON text); one left
        out takes its default, whose prepared form was computed once (a callable default is
        called per job: a default ``list`` must not be shared by two instances). Names that
        are not fields of the statement are ignored.
        """
        connection = sql.wrapper()
        params = list(self.default_params)
        row = list(self.default_row)
        positions = self.positions
        for name, value in values.items():
            at = positions.get(name)
            if at is None:
                continue
            row[at] = value
            kind = self.kinds[at]
            if kind is _OPTION:
                params[at] = self.prepared(name, value)
            elif kind is _JSON:
                params[at] = None if value is None else json.dumps(value)
            elif kind is _DATETIME:
                # What DateTimeField prepares an aware datetime into, without its checks.
                params[at] = connection.ops.adapt_datetimefield_value(value)
            else:
                params[at] = self.fields[at].get_db_prep_save(value, connection)
        for name, text in encoded.items():
            at = positions[name]
            params[at] = text
            row[at] = json.loads(text)
        for at, make in self.default_factories:
            if row[at] is _MAKE:
                row[at] = make()
        return params, row

    @functools.lru_cache(maxsize=1024, typed=True)  # noqa: B019 (statements live as long as the process)
    def prepared(self, name: str, value: Any) -> Any:
        """Return ``value`` of option field ``name`` prepared for the database (cached).

        The options of a task repeat from job to job; each distinct value is prepared once.
        """
        field = next(f for f in self.fields if f.attname == name)
        return field.get_db_prep_save(value, sql.wrapper())

    def job(self, job_id: int, row: list[Any]) -> Job:
        """Return the saved ``Job`` of ``row`` (``bind``'s field values) with id ``job_id``."""
        from ..models import Job

        return Job.from_db(sql.alias(), self.field_names, [job_id, *row])

    def many_sql(self, count: int) -> str:
        """Return a multi-row INSERT of ``count`` rows returning their ids (not PostgreSQL)."""
        rows = ", ".join([self.row_sql] * count)
        return f"INSERT INTO {self.table} ({self.columns}) VALUES {rows} RETURNING id"


#: How ``bind`` prepares a given value of a field, and the mark of a default called per job.
_OPTION, _JSON, _DATETIME, _OTHER, _MAKE = (object() for _ in range(5))

_statements: dict[tuple[str, str], _Statement] = {}


def _statement() -> _Statement:
    """Return the INSERT for the job table's database, built on first use per alias."""
    connection = sql.wrapper()
    cache_key = (connection.alias, connection.vendor)
    found = _statements.get(cache_key)
    if found is None:
        found = _statements[cache_key] = _build(connection)
    return found


def _build(connection: BaseDatabaseWrapper) -> _Statement:
    from ..models import Job

    fields = tuple(f for f in Job._meta.concrete_fields if not f.primary_key)
    json_fields = frozenset(f.attname for f in fields if f.get_internal_type() == "JSONField")
    defaults = {
        f.attname: (
            json.dumps(f.get_default())
            if f.attname in json_fields and f.get_default() is not None
            else None
            if f.attname in json_fields
            else f.get_db_prep_save(f.get_default(), connection)
        )
        for f in fields
    }
    kinds = tuple(
        _OPTION
        if f.attname in OPTION_FIELDS
        else _JSON
        if f.attname in json_fields
        else _DATETIME
        if f.get_internal_type() == "DateTimeField"
        else _OTHER
        for f in fields
    )
    called = [f.has_default() and callable(f.default) for f in fields]
    quote = connection.ops.quote_name
    table = quote(str(Job._meta.db_table))
    columns = ", ".join(quote(str(f.column)) for f in fields)
    # JSON travels as text; PostgreSQL is told it is jsonb (a server-bound str is "unknown").
    jsonb = connection.vendor == "postgresql"
    marks = ["%s::jsonb" if jsonb and f.attname in json_fields else "%s" for f in fields]
    row_sql = f"({', '.join(marks)})"
    select = ", ".join(
        f"c.{f.attname}" if f.attname in CALL_FIELDS else mark
        for f, mark in zip(fields, marks, strict=True)
    )
    # %b: the arrays travel in binary, length-prefixed, instead of quoted text.
    source = (
        "FROM unnest(%b::jsonb[], %b::jsonb[]) WITH ORDINALITY AS c(args, kwargs, n) "
        "ORDER BY c.n RETURNING id"
    )
    unnest_sql = f"INSERT INTO {table} ({columns}) SELECT {select} {source}"
    numbered = ", ".join(
        f"c.{f.attname}"
        if f.attname in CALL_FIELDS
        else "(%s::integer + c.n)::integer"
        if f.attname == "workflow_position"
        else mark
        for f, mark in zip(fields, marks, strict=True)
    )
    members_sql = f"INSERT INTO {table} ({columns}) SELECT {numbered} {source}"
    return _Statement(
        fields=fields,
        field_names=("id", *(f.attname for f in fields)),
        positions={f.attname: at for at, f in enumerate(fields)},
        kinds=kinds,
        default_params=tuple(defaults[f.attname] for f in fields),
        default_row=tuple(
            _MAKE if call else f.get_default() for f, call in zip(fields, called, strict=True)
        ),
        default_factories=tuple(
            (at, f.default) for at, (f, call) in enumerate(zip(fields, called, strict=True)) if call
        ),
        sql=f"INSERT INTO {table} ({columns}) VALUES {row_sql} RETURNING id",
        unnest_sql=unnest_sql,
        members_sql=members_sql,
        row_sql=row_sql,
        columns=columns,
        table=table,
    )
