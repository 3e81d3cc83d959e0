"""verdict leases: a key is claimed before its call

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('verdict_lease',
    sa.Column('verdict_key', sa.String(), nullable=False),
    sa.Column('owner', sa.String(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('verdict_key')
    )
    with op.batch_alter_table('verdict_lease', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verdict_lease_owner'), ['owner'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('verdict_lease', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verdict_lease_owner'))

    op.drop_table('verdict_lease')
