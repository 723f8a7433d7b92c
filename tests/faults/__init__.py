"""The fault-injection suite: one module per fault family, real workers and real PostgreSQL."""
