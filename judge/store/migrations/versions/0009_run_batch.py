"""run_batch: the provider batches of runs judged with --batch

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('run_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('judge_model', sa.String(), nullable=False),
    sa.Column('api_base', sa.String(), nullable=True),
    sa.Column('keys', sa.JSON(), nullable=False),
    sa.Column('retry_keys', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('state', sa.String(), nullable=False),
    sa.Column('owner', sa.String(), nullable=False),
    sa.Column('provider_status', sa.String(), nullable=True),
    sa.Column('batch_id', sa.String(), nullable=True),
    sa.Column('input_file_id', sa.String(), nullable=True),
    sa.Column('output_file_id', sa.String(), nullable=True),
    sa.Column('error_file_id', sa.String(), nullable=True),
    sa.Column('n_total', sa.Integer(), nullable=False),
    sa.Column('n_completed', sa.Integer(), nullable=False),
    sa.Column('n_failed', sa.Integer(), nullable=False),
    sa.Column('cost_usd', sa.Float(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('collected_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['run.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('run_batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_batch_run_id'), ['run_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('run_batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_batch_run_id'))
    op.drop_table('run_batch')
