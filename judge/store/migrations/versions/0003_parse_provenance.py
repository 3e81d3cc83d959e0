"""parse provenance: rule and span of every parsed verdict

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # verdict.parse_rule exists since 0001; the span says where in raw_output the verdict was read.
    # Verdicts stored before this revision keep null spans (and their old rule name, e.g. regex_last).
    with op.batch_alter_table('verdict', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parse_span_start', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('parse_span_end', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('verdict', schema=None) as batch_op:
        batch_op.drop_column('parse_span_end')
        batch_op.drop_column('parse_span_start')
