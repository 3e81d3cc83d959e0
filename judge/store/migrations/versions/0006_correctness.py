"""verifiable correctness: gold answers and imported correctness labels

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('gold_answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('turn', sa.Integer(), nullable=False),
    sa.Column('answer_type', sa.String(), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('content_hash', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompt.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('prompt_id', 'turn', name='uq_gold_answer_prompt_turn')
    )
    with op.batch_alter_table('gold_answer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gold_answer_prompt_id'), ['prompt_id'], unique=False)

    op.create_table('correctness_label',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('set_id', sa.Integer(), nullable=False),
    sa.Column('prompt_id', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(), nullable=False),
    sa.Column('turn', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(), nullable=False),
    sa.Column('label', sa.String(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['prompt_id'], ['prompt.id'], ),
    sa.ForeignKeyConstraint(['set_id'], ['prompt_set.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('prompt_id', 'model', 'turn', 'source', name='uq_correctness_label_response_source')
    )
    with op.batch_alter_table('correctness_label', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_correctness_label_set_id'), ['set_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_correctness_label_source'), ['source'], unique=False)

    with op.batch_alter_table('verdict', schema=None) as batch_op:
        batch_op.add_column(sa.Column('extracted_answer', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('extraction_rule', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('answer_span_start', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('answer_span_end', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('verdict', schema=None) as batch_op:
        batch_op.drop_column('answer_span_end')
        batch_op.drop_column('answer_span_start')
        batch_op.drop_column('extraction_rule')
        batch_op.drop_column('extracted_answer')

    with op.batch_alter_table('correctness_label', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_correctness_label_source'))
        batch_op.drop_index(batch_op.f('ix_correctness_label_set_id'))

    op.drop_table('correctness_label')
    with op.batch_alter_table('gold_answer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gold_answer_prompt_id'))

    op.drop_table('gold_answer')
