"""drop the dead run.n_cached column (results are never served from a cache count)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.drop_column('n_cached')


def downgrade() -> None:
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('n_cached', sa.Integer(), nullable=False, server_default='0')
        )
