"""The ingress's call index: which workflow holds each call it accepted (GET /calls/{call_id}
without a visibility query).

Idempotent like 0002: a database that has the table already is left as it is.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if "ingress_calls" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "ingress_calls",
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("workflow_id", sa.String(length=255), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("call_id"),
    )
    with op.batch_alter_table("ingress_calls", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ingress_calls_recorded_at"), ["recorded_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ingress_calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingress_calls_recorded_at"))
    op.drop_table("ingress_calls")
