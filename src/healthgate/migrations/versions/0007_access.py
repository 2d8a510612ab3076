"""access requests: the application event log and its projections, enquiries, messages, forms, DUO terms,
clock standards, webhooks and visa signing keys

Revision ID: 0007_access
Revises: 0006_accounts
Create Date: 2026-11-24 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0007_access'
down_revision = '0006_accounts'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('access_clock_standards',
    sa.Column('step', sa.String(length=40), nullable=False),
    sa.Column('working_days', sa.Integer(), nullable=False),
    sa.Column('due_soon_days', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('step', name=op.f('pk_access_clock_standards'))
    )
    op.create_table('access_question_bank',
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('questions', sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=300), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_access_question_bank'))
    )
    op.create_table('access_signing_keys',
    sa.Column('kid', sa.String(length=80), nullable=False),
    sa.Column('private_jwk', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('kid', name=op.f('pk_access_signing_keys'))
    )
    op.create_table('access_messages',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('thread_type', sa.String(length=20), nullable=False),
    sa.Column('thread_id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.Column('question_id', sa.String(length=200), nullable=True),
    sa.Column('audience', sa.String(length=20), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=True),
    sa.Column('author_side', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_access_messages_author_id_users')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_access_messages_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_messages'))
    )
    with op.batch_alter_table('access_messages', schema=None) as batch_op:
        batch_op.create_index('ix_access_messages_thread', ['thread_type', 'thread_id', 'created_at'], unique=False)

    op.create_table('access_team_settings',
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('nation', sa.String(length=3), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_access_team_settings_team_id_teams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('team_id', name=op.f('pk_access_team_settings'))
    )
    op.create_table('access_templates',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('bank_version', sa.Integer(), nullable=False),
    sa.Column('items', sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['bank_version'], ['access_question_bank.version'], name=op.f('fk_access_templates_bank_version_access_question_bank')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_access_templates_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_templates')),
    sa.UniqueConstraint('team_id', 'version', name='uq_access_templates_version')
    )
    with op.batch_alter_table('access_templates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_templates_team_id'), ['team_id'], unique=False)

    op.create_table('access_webhooks',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('url', sa.String(length=1000), nullable=False),
    sa.Column('secret', sa.String(length=200), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_access_webhooks_team_id_teams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_webhooks'))
    )
    with op.batch_alter_table('access_webhooks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_webhooks_team_id'), ['team_id'], unique=False)

    op.create_table('enquiries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('application_id', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_enquiries_author_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enquiries')),
    sa.UniqueConstraint('reference', name=op.f('uq_enquiries_reference'))
    )
    with op.batch_alter_table('enquiries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enquiries_author_id'), ['author_id'], unique=False)

    op.create_table('access_basket_items',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('dataset_id', sa.Uuid(), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_access_basket_items_dataset_id_datasets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_access_basket_items_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'dataset_id', name=op.f('pk_access_basket_items'))
    )
    op.create_table('access_dataset_data_use',
    sa.Column('dataset_id', sa.Uuid(), nullable=False),
    sa.Column('permission', sa.String(length=20), nullable=True),
    sa.Column('diseases', sa.JSON(), nullable=False),
    sa.Column('modifiers', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_access_dataset_data_use_dataset_id_datasets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dataset_id', name=op.f('pk_access_dataset_data_use'))
    )
    op.create_table('applications',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('applicant_id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('parent_id', sa.Uuid(), nullable=True),
    sa.Column('enquiry_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('answers', sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('purpose', sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('templates', sa.JSON(), nullable=False),
    sa.Column('collaborators', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['applicant_id'], ['users.id'], name=op.f('fk_applications_applicant_id_users')),
    sa.ForeignKeyConstraint(['enquiry_id'], ['enquiries.id'], name=op.f('fk_applications_enquiry_id_enquiries')),
    sa.ForeignKeyConstraint(['parent_id'], ['applications.id'], name=op.f('fk_applications_parent_id_applications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_applications')),
    sa.UniqueConstraint('reference', name=op.f('uq_applications_reference'))
    )
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.create_index('ix_applications_applicant_status', ['applicant_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_applications_enquiry_id'), ['enquiry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_applications_parent_id'), ['parent_id'], unique=False)

    op.create_table('enquiry_datasets',
    sa.Column('enquiry_id', sa.Uuid(), nullable=False),
    sa.Column('dataset_id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_enquiry_datasets_dataset_id_datasets')),
    sa.ForeignKeyConstraint(['enquiry_id'], ['enquiries.id'], name=op.f('fk_enquiry_datasets_enquiry_id_enquiries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_enquiry_datasets_team_id_teams')),
    sa.PrimaryKeyConstraint('enquiry_id', 'dataset_id', name=op.f('pk_enquiry_datasets'))
    )
    with op.batch_alter_table('enquiry_datasets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enquiry_datasets_team_id'), ['team_id'], unique=False)

    op.create_table('access_attachments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('application_id', sa.Uuid(), nullable=False),
    sa.Column('question_id', sa.String(length=200), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=120), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=300), nullable=False),
    sa.Column('uploaded_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_access_attachments_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by'], ['users.id'], name=op.f('fk_access_attachments_uploaded_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_attachments'))
    )
    with op.batch_alter_table('access_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_attachments_application_id'), ['application_id'], unique=False)

    op.create_table('access_reminders',
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('application_id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_access_reminders_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_access_reminders_team_id_teams')),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_access_reminders'))
    )
    op.create_table('access_webhook_deliveries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('webhook_id', sa.Uuid(), nullable=False),
    sa.Column('outbox_id', sa.BigInteger(), nullable=False),
    sa.Column('event_type', sa.String(length=40), nullable=False),
    sa.Column('application_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_access_webhook_deliveries_application_id_applications'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['webhook_id'], ['access_webhooks.id'], name=op.f('fk_access_webhook_deliveries_webhook_id_access_webhooks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_webhook_deliveries'))
    )
    with op.batch_alter_table('access_webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_webhook_deliveries_webhook_id'), ['webhook_id'], unique=False)

    op.create_table('application_datasets',
    sa.Column('application_id', sa.Uuid(), nullable=False),
    sa.Column('dataset_id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_application_datasets_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_application_datasets_dataset_id_datasets')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_application_datasets_team_id_teams')),
    sa.PrimaryKeyConstraint('application_id', 'dataset_id', name=op.f('pk_application_datasets'))
    )
    with op.batch_alter_table('application_datasets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_application_datasets_dataset_id'), ['dataset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_application_datasets_team_id'), ['team_id'], unique=False)

    op.create_table('application_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('application_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('actor_name', sa.String(length=300), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('data', sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_application_events_actor_id_users')),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_application_events_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_application_events_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_application_events')),
    sa.UniqueConstraint('application_id', 'seq', name='uq_application_events_seq')
    )
    op.create_table('application_parts',
    sa.Column('application_id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=False),
    sa.Column('state', sa.String(length=30), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('returned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reviewers', sa.JSON(), nullable=False),
    sa.Column('phase', sa.String(length=80), nullable=True),
    sa.Column('phase_due', sa.Date(), nullable=True),
    sa.Column('conditions', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_application_parts_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_application_parts_team_id_teams')),
    sa.PrimaryKeyConstraint('application_id', 'team_id', name=op.f('pk_application_parts'))
    )
    with op.batch_alter_table('application_parts', schema=None) as batch_op:
        batch_op.create_index('ix_application_parts_team_state', ['team_id', 'state'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('application_parts', schema=None) as batch_op:
        batch_op.drop_index('ix_application_parts_team_state')

    op.drop_table('application_parts')
    op.drop_table('application_events')
    with op.batch_alter_table('application_datasets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_application_datasets_team_id'))
        batch_op.drop_index(batch_op.f('ix_application_datasets_dataset_id'))

    op.drop_table('application_datasets')
    with op.batch_alter_table('access_webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_webhook_deliveries_webhook_id'))

    op.drop_table('access_webhook_deliveries')
    op.drop_table('access_reminders')
    with op.batch_alter_table('access_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_attachments_application_id'))

    op.drop_table('access_attachments')
    with op.batch_alter_table('enquiry_datasets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enquiry_datasets_team_id'))

    op.drop_table('enquiry_datasets')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_applications_parent_id'))
        batch_op.drop_index(batch_op.f('ix_applications_enquiry_id'))
        batch_op.drop_index('ix_applications_applicant_status')

    op.drop_table('applications')
    op.drop_table('access_dataset_data_use')
    op.drop_table('access_basket_items')
    with op.batch_alter_table('enquiries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enquiries_author_id'))

    op.drop_table('enquiries')
    with op.batch_alter_table('access_webhooks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_webhooks_team_id'))

    op.drop_table('access_webhooks')
    with op.batch_alter_table('access_templates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_templates_team_id'))

    op.drop_table('access_templates')
    op.drop_table('access_team_settings')
    with op.batch_alter_table('access_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_access_messages_thread')

    op.drop_table('access_messages')
    op.drop_table('access_signing_keys')
    op.drop_table('access_question_bank')
    op.drop_table('access_clock_standards')

