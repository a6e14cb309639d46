"""The ingress's replay cache: the signatures it accepted, by SHA-256, until they expire.

Idempotent like the baseline: an ingress of the version that made this table with
`create_all` (before it was a migration) has it already.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if "ingress_seen_signatures" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "ingress_seen_signatures",
        sa.Column("signature_sha256", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("signature_sha256"),
    )
    with op.batch_alter_table("ingress_seen_signatures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ingress_seen_signatures_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ingress_seen_signatures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingress_seen_signatures_expires_at"))
    op.drop_table("ingress_seen_signatures")
