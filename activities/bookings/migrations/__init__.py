"""Alembic migrations of the service database (bookings, places, audit trail, SMS ledger, call
routes): `encombot db upgrade`, and every process at start (activities/bookings/schema.py
`create_schema`). A new revision: `alembic -c activities/bookings/migrations/alembic.ini
revision --autogenerate -m "…"` against a database at head, then read and test what it wrote."""
