"""The SMS reply routes: which case a caller's reply goes to, by the keyed hash of the number
(activities/messaging/routes.py), instead of a visibility List query.

Idempotent like 0002 and 0003: a database that has the table already is left as it is.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if "sms_routes" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "sms_routes",
        sa.Column("phone_key", sa.String(length=64), nullable=False),
        sa.Column("workflow_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("phone_key", "workflow_id"),
    )
    with op.batch_alter_table("sms_routes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sms_routes_updated_at"), ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sms_routes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_routes_updated_at"))
    op.drop_table("sms_routes")
