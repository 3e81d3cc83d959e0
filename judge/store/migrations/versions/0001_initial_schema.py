"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-25
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('prompt_set',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant', sa.String(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('description', sa.String(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant', 'name', name='uq_prompt_set_tenant_name')
    )
    with op.batch_alter_table('prompt_set', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prompt_set_tenant'), ['tenant'], unique=False)

    op.create_table('prompt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('set_id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(), nullable=False),
    sa.Column('category', sa.String(), nullable=True),
    sa.Column('turns', sa.JSON(), nullable=False),
    sa.Column('reference_turns', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['set_id'], ['prompt_set.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('set_id', 'external_id', name='uq_prompt_set_external')
    )
    with op.batch_alter_table('prompt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prompt_set_id'), ['set_id'], unique=False)

    op.create_table('run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant', sa.String(), nullable=False),
    sa.Column('set_id', sa.Integer(), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('n_planned', sa.Integer(), nullable=False),
    sa.Column('n_ok', sa.Integer(), nullable=False),
    sa.Column('n_unparseable', sa.Integer(), nullable=False),
    sa.Column('n_error', sa.Integer(), nullable=False),
    sa.Column('n_cached', sa.Integer(), nullable=False),
    sa.Column('cost_usd', sa.Float(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['set_id'], ['prompt_set.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_set_id'), ['set_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_run_tenant'), ['tenant'], unique=False)

    op.create_table('response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(), nullable=False),
    sa.Column('turns', sa.JSON(), nullable=False),
    sa.Column('content_hash', sa.String(), nullable=False),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompt.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('prompt_id', 'model', name='uq_response_prompt_model')
    )
    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_response_model'), ['model'], unique=False)
        batch_op.create_index(batch_op.f('ix_response_prompt_id'), ['prompt_id'], unique=False)

    op.create_table('run_item',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('verdict_key', sa.String(), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['run.id'], ),
    sa.PrimaryKeyConstraint('run_id', 'verdict_key')
    )
    with op.batch_alter_table('run_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_item_verdict_key'), ['verdict_key'], unique=False)

    op.create_table('verdict',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('verdict_key', sa.String(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('judge_model', sa.String(), nullable=False),
    sa.Column('rubric_id', sa.String(), nullable=False),
    sa.Column('rubric_version', sa.String(), nullable=False),
    sa.Column('rubric_hash', sa.String(), nullable=False),
    sa.Column('mode', sa.String(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('turn', sa.Integer(), nullable=False),
    sa.Column('model_a', sa.String(), nullable=False),
    sa.Column('model_b', sa.String(), nullable=True),
    sa.Column('order', sa.String(), nullable=False),
    sa.Column('request_hash', sa.String(), nullable=False),
    sa.Column('sampling', sa.JSON(), nullable=False),
    sa.Column('raw_output', sa.Text(), nullable=True),
    sa.Column('label', sa.String(), nullable=True),
    sa.Column('winner', sa.String(), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('parse_rule', sa.String(), nullable=True),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('structured_output', sa.Boolean(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('prompt_tokens', sa.Integer(), nullable=True),
    sa.Column('completion_tokens', sa.Integer(), nullable=True),
    sa.Column('cost_usd', sa.Float(), nullable=True),
    sa.Column('latency_ms', sa.Float(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompt.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['run.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('verdict_key')
    )
    with op.batch_alter_table('verdict', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verdict_judge_model'), ['judge_model'], unique=False)
        batch_op.create_index('ix_verdict_prompt_models', ['prompt_id', 'model_a', 'model_b'], unique=False)
        batch_op.create_index(batch_op.f('ix_verdict_run_id'), ['run_id'], unique=False)

    op.create_table('vote',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vote_key', sa.String(), nullable=False),
    sa.Column('set_id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('model_a', sa.String(), nullable=False),
    sa.Column('model_b', sa.String(), nullable=False),
    sa.Column('winner', sa.String(), nullable=False),
    sa.Column('voter', sa.String(), nullable=False),
    sa.Column('turn', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(), nullable=False),
    sa.Column('tstamp', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompt.id'], ),
    sa.ForeignKeyConstraint(['set_id'], ['prompt_set.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('vote_key')
    )
    with op.batch_alter_table('vote', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vote_prompt_id'), ['prompt_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vote_set_id'), ['set_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vote_voter'), ['voter'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('vote', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vote_voter'))
        batch_op.drop_index(batch_op.f('ix_vote_set_id'))
        batch_op.drop_index(batch_op.f('ix_vote_prompt_id'))

    op.drop_table('vote')
    with op.batch_alter_table('verdict', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verdict_run_id'))
        batch_op.drop_index('ix_verdict_prompt_models')
        batch_op.drop_index(batch_op.f('ix_verdict_judge_model'))

    op.drop_table('verdict')
    with op.batch_alter_table('run_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_item_verdict_key'))

    op.drop_table('run_item')
    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_response_prompt_id'))
        batch_op.drop_index(batch_op.f('ix_response_model'))

    op.drop_table('response')
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_tenant'))
        batch_op.drop_index(batch_op.f('ix_run_set_id'))

    op.drop_table('run')
    with op.batch_alter_table('prompt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prompt_set_id'))

    op.drop_table('prompt')
    with op.batch_alter_table('prompt_set', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prompt_set_tenant'))

    op.drop_table('prompt_set')
