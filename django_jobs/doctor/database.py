"""The first check: can the database be reached at all (every other check needs it)."""

from __future__ import annotations

from .context import Context
from .findings import Finding, ok, problem

NAME = "database"
TITLE = "Database reachable"
POSTGRES_ONLY = False


def check(context: Context) -> list[Finding]:
    """Connect and ask the server's version; a problem finding when that fails."""
    wrapper = context.wrapper()
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
        if context.postgresql:
            version = f"PostgreSQL {context.setting('server_version')}"
        else:
            database = getattr(wrapper, "Database", None)
            version = f"{wrapper.display_name} {getattr(database, 'sqlite_version', '')}".strip()
    except Exception as exc:
        return [
            problem(
                NAME,
                "Cannot reach the database",
                f"{type(exc).__name__}: {exc}".strip(),
                "Check DATABASES (host, port, name, user, password) and that the server is "
                "running and accepts connections from this host; the other checks need it.",
            )
        ]
    return [ok(NAME, TITLE, f"{version}, alias {wrapper.alias!r}")]
