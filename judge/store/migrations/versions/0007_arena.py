"""private arena: voter tokens and arena votes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('vote', schema=None) as batch_op:
        batch_op.add_column(sa.Column('presented_order', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('shown_at', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('time_to_vote_s', sa.Float(), nullable=True))

    op.create_table('arena_voter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant', sa.String(), nullable=False),
    sa.Column('set_id', sa.Integer(), nullable=False),
    sa.Column('voter', sa.String(), nullable=False),
    sa.Column('token_hash', sa.String(), nullable=False),
    sa.Column('prefix', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['set_id'], ['prompt_set.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('arena_voter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_arena_voter_tenant'), ['tenant'], unique=False)
        batch_op.create_index(batch_op.f('ix_arena_voter_set_id'), ['set_id'], unique=False)

    op.create_table('arena_config',
    sa.Column('set_id', sa.Integer(), nullable=False),
    sa.Column('selection', sa.String(), nullable=False),
    sa.Column('live_models', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('max_cost_usd', sa.Float(), nullable=True),
    sa.Column('spent_usd', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['set_id'], ['prompt_set.id'], ),
    sa.PrimaryKeyConstraint('set_id')
    )

    op.create_table('arena_unit',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('set_id', sa.Integer(), nullable=False),
    sa.Column('voter_id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('model_a', sa.String(), nullable=False),
    sa.Column('model_b', sa.String(), nullable=False),
    sa.Column('turn', sa.Integer(), nullable=False),
    sa.Column('first', sa.String(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('choice', sa.String(), nullable=True),
    sa.Column('shown_at', sa.Float(), nullable=False),
    sa.Column('voted_at', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['set_id'], ['prompt_set.id'], ),
    sa.ForeignKeyConstraint(['voter_id'], ['arena_voter.id'], ),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompt.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('voter_id', 'prompt_id', 'model_a', 'model_b', 'turn', name='uq_arena_unit_voter_unit')
    )
    with op.batch_alter_table('arena_unit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_arena_unit_set_id'), ['set_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_arena_unit_voter_id'), ['voter_id'], unique=False)

    op.create_table('arena_answer',
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(), nullable=False),
    sa.Column('api_base', sa.String(), nullable=True),
    sa.Column('prompt_tokens', sa.Integer(), nullable=True),
    sa.Column('completion_tokens', sa.Integer(), nullable=True),
    sa.Column('cost_usd', sa.Float(), nullable=True),
    sa.Column('latency_ms', sa.Float(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('finish_reason', sa.String(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['response_id'], ['response.id'], ),
    sa.PrimaryKeyConstraint('response_id')
    )


def downgrade() -> None:
    op.drop_table('arena_answer')
    with op.batch_alter_table('arena_unit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_arena_unit_voter_id'))
        batch_op.drop_index(batch_op.f('ix_arena_unit_set_id'))
    op.drop_table('arena_unit')
    op.drop_table('arena_config')
    with op.batch_alter_table('arena_voter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_arena_voter_set_id'))
        batch_op.drop_index(batch_op.f('ix_arena_voter_tenant'))
    op.drop_table('arena_voter')
    with op.batch_alter_table('vote', schema=None) as batch_op:
        batch_op.drop_column('time_to_vote_s')
        batch_op.drop_column('shown_at')
        batch_op.drop_column('presented_order')
