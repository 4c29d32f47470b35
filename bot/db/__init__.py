"""The database: the audit tables (models.py) and their column types, engines and sessions,
migrations applied at start (Alembic's scripts are in migrations/)."""
