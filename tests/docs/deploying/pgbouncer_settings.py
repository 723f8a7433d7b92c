# settings.py of the workers (and web servers) whose database is a PgBouncer pool
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "pgbouncer.internal",  # PgBouncer, pool_mode = transaction
        "PORT": 6432,
        "NAME": "shop",
        "USER": "shop",
        # QuerySet.iterator() would DECLARE a cursor that outlives its transaction.
        "DISABLE_SERVER_SIDE_CURSORS": True,
        # No "prepare_threshold" in OPTIONS: Django's None prepares nothing on the server.
    },
}
DJANGO_JOBS = {
    # ... the keys you already have ...
    # LISTEN needs a session of its own: one direct connection per worker process.
    "LISTEN_DATABASE_URL": "postgres://shop@db.internal:5432/shop",
}
