"""Baseline: the tables as `create_all` made them before migrations (December 2026).

A database made then (tables, no `alembic_version`) is stamped at this revision by
`create_schema`, not created again.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Idempotent: a database that `create_all` made before migrations has some or all of
    # these tables already (and no alembic_version); only the missing ones are created.
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "bookings" not in existing:
        op.create_table(
            "bookings",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("reference", sa.String(length=16), nullable=False),
            sa.Column("call_id", sa.String(length=255), nullable=False),
            sa.Column("sector", sa.String(length=32), nullable=False),
            sa.Column("pickup_date", sa.Date(), nullable=False),
            sa.Column("housenumber", sa.String(length=32), nullable=False),
            sa.Column("street", sa.String(length=255), nullable=False),
            sa.Column("postcode", sa.String(length=10), nullable=False),
            sa.Column("citycode", sa.String(length=10), nullable=False),
            sa.Column("city", sa.String(length=255), nullable=False),
            sa.Column("lon", sa.Float(), nullable=True),
            sa.Column("lat", sa.Float(), nullable=True),
            sa.Column("address_key", sa.String(length=400), nullable=False),
            sa.Column("items", sa.JSON(), nullable=False),
            sa.Column("caller_number", sa.String(length=32), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.CheckConstraint(
                "status IN ('booked', 'cancelled', 'collected')", name="ck_booking_status"
            ),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("call_id"),
            sa.UniqueConstraint("reference"),
        )
        with op.batch_alter_table("bookings", schema=None) as batch_op:
            batch_op.create_index("ix_bookings_address_key", ["address_key"], unique=False)
            batch_op.create_index(
                "ix_bookings_sector_date", ["sector", "pickup_date"], unique=False
            )
    if "call_routes" not in existing:
        op.create_table(
            "call_routes",
            sa.Column("call_id", sa.String(length=64), nullable=False),
            sa.Column("route", sa.String(length=16), nullable=False),
            sa.Column("set_at", sa.Float(), nullable=False),
            sa.CheckConstraint("route IN ('transfer', 'done', 'agents')", name="ck_call_route"),
            sa.PrimaryKeyConstraint("call_id"),
        )
        with op.batch_alter_table("call_routes", schema=None) as batch_op:
            batch_op.create_index("ix_call_routes_set_at", ["set_at"], unique=False)
    if "slot_usage" not in existing:
        op.create_table(
            "slot_usage",
            sa.Column("sector", sa.String(length=32), nullable=False),
            sa.Column("pickup_date", sa.Date(), nullable=False),
            sa.Column("capacity", sa.Integer(), nullable=False),
            sa.Column("used", sa.Integer(), nullable=False),
            sa.CheckConstraint("used >= 0", name="ck_slot_used"),
            sa.PrimaryKeyConstraint("sector", "pickup_date"),
        )
    if "sms_ledger" not in existing:
        op.create_table(
            "sms_ledger",
            sa.Column("key", sa.String(length=255), nullable=False),
            sa.Column("state", sa.String(length=16), nullable=False),
            sa.Column("backend", sa.String(length=32), nullable=False),
            sa.Column("message_id", sa.String(length=64), nullable=True),
            sa.Column("text_sha256", sa.String(length=64), nullable=False),
            sa.Column("attempts", sa.Integer(), nullable=False),
            sa.Column("created_at", sa.Float(), nullable=False),
            sa.Column("updated_at", sa.Float(), nullable=False),
            sa.Column("last_error", sa.String(length=500), nullable=True),
            sa.CheckConstraint(
                "state IN ('sending', 'sent', 'failed', 'unknown')", name="ck_sms_ledger_state"
            ),
            sa.PrimaryKeyConstraint("key"),
        )
    if "booking_events" not in existing:
        op.create_table(
            "booking_events",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("booking_id", sa.Integer(), nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("actor", sa.String(length=80), nullable=False),
            sa.Column("action", sa.String(length=32), nullable=False),
            sa.Column("detail", sa.JSON(), nullable=False),
            sa.ForeignKeyConstraint(
                ["booking_id"],
                ["bookings.id"],
            ),
            sa.PrimaryKeyConstraint("id"),
        )
        with op.batch_alter_table("booking_events", schema=None) as batch_op:
            batch_op.create_index(
                batch_op.f("ix_booking_events_booking_id"), ["booking_id"], unique=False
            )


def downgrade() -> None:
    with op.batch_alter_table("booking_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booking_events_booking_id"))

    op.drop_table("booking_events")
    op.drop_table("sms_ledger")
    op.drop_table("slot_usage")
    with op.batch_alter_table("call_routes", schema=None) as batch_op:
        batch_op.drop_index("ix_call_routes_set_at")

    op.drop_table("call_routes")
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index("ix_bookings_sector_date")
        batch_op.drop_index("ix_bookings_address_key")

    op.drop_table("bookings")
