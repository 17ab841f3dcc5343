"""The database: engine, ORM tables and Alembic migrations."""
