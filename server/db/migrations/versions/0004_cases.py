"""cases: case files, parties, assignees, access, transfers, documents, supervision, notifications,
notices, consultations, petitions, obligations, follow-ups, domestic-violence responses

Revision ID: 0004_cases
Revises: 0002_sessions
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_cases"
down_revision = "0002_sessions"
branch_labels = None
depends_on = None

# Unit paths are compared byte-wise (prefix ranges); PostgreSQL must not use a locale collation for them.
PATH = sa.String(length=400).with_variant(sa.String(length=400, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table('case_counters',
    sa.Column('scope', sa.String(length=32), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False, server_default=sa.text('0')),
    sa.PrimaryKeyConstraint('scope', 'year', name=op.f('pk_case_counters'))
    )
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=24), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=True),
    sa.Column('item', sa.String(length=32), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('grade', sa.String(length=8), nullable=True),
    sa.Column('risk_grade', sa.String(length=8), nullable=True),
    sa.Column('domestic_violence', sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column('restricted', sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('unit_path', PATH, nullable=False),
    sa.Column('unit_tier', sa.String(length=16), nullable=False),
    sa.Column('origin_unit_id', sa.Integer(), nullable=False),
    sa.Column('registered_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('triaged_at', sa.DateTime(), nullable=True),
    sa.Column('due_at', sa.DateTime(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('archived_at', sa.DateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('on_time', sa.Boolean(), nullable=True),
    sa.Column('days_to_close', sa.Float(), nullable=True),
    sa.Column('satisfaction', sa.Float(), nullable=True),
    sa.Column('warn_level', sa.Integer(), nullable=False, server_default=sa.text('0')),
    sa.Column('intake', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False, server_default=sa.text('1')),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['origin_unit_id'], ['units.id'], name=op.f('fk_cases_origin_unit_id_units')),
    sa.ForeignKeyConstraint(['registered_by'], ['staff.id'], name=op.f('fk_cases_registered_by_staff')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_cases_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('code', name=op.f('uq_cases_code'))
    )
    op.create_index('ix_cases_category_item', 'cases', ['category', 'item'], unique=False)
    op.create_index('ix_cases_created_at', 'cases', ['created_at'], unique=False)
    op.create_index('ix_cases_grade', 'cases', ['grade'], unique=False)
    op.create_index('ix_cases_opened_on', 'cases', ['opened_on'], unique=False)
    op.create_index(op.f('ix_cases_outcome'), 'cases', ['outcome'], unique=False)
    op.create_index(op.f('ix_cases_restricted'), 'cases', ['restricted'], unique=False)
    op.create_index('ix_cases_status_due_at', 'cases', ['status', 'due_at'], unique=False)
    op.create_index(op.f('ix_cases_unit_id'), 'cases', ['unit_id'], unique=False)
    op.create_index('ix_cases_unit_path_status', 'cases', ['unit_path', 'status'], unique=False)
    op.create_index('ix_cases_unit_tier', 'cases', ['unit_tier'], unique=False)
    op.create_table('notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('unit_path', PATH, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['staff.id'], name=op.f('fk_notices_created_by_staff')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_notices_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices'))
    )
    op.create_index(op.f('ix_notices_created_at'), 'notices', ['created_at'], unique=False)
    op.create_index(op.f('ix_notices_unit_path'), 'notices', ['unit_path'], unique=False)
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('link', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('read_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_notifications_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    op.create_index(op.f('ix_notifications_case_id'), 'notifications', ['case_id'], unique=False)
    op.create_index('ix_notifications_staff_read', 'notifications', ['staff_id', 'read_at'], unique=False)
    op.create_table('case_access',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('granted_by', sa.Integer(), nullable=True),
    sa.Column('granted_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_access_case_id_cases')),
    sa.ForeignKeyConstraint(['granted_by'], ['staff.id'], name=op.f('fk_case_access_granted_by_staff')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_case_access_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_access'))
    )
    op.create_index(op.f('ix_case_access_case_id'), 'case_access', ['case_id'], unique=False)
    op.create_index('ix_case_access_staff_case', 'case_access', ['staff_id', 'case_id'], unique=False)
    op.create_table('case_assignees',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('lead', sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column('assigned_by', sa.Integer(), nullable=True),
    sa.Column('assigned_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['assigned_by'], ['staff.id'], name=op.f('fk_case_assignees_assigned_by_staff')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_assignees_case_id_cases')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_case_assignees_staff_id_staff')),
    sa.PrimaryKeyConstraint('case_id', 'staff_id', name=op.f('pk_case_assignees'))
    )
    op.create_index(op.f('ix_case_assignees_staff_id'), 'case_assignees', ['staff_id'], unique=False)
    op.create_table('case_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=64), nullable=False),
    sa.Column('bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('path', sa.String(length=400), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('uploaded_by', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_documents_case_id_cases')),
    sa.ForeignKeyConstraint(['uploaded_by'], ['staff.id'], name=op.f('fk_case_documents_uploaded_by_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_documents'))
    )
    op.create_index(op.f('ix_case_documents_case_id'), 'case_documents', ['case_id'], unique=False)
    op.create_table('case_obligations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('agreement_id', sa.Integer(), nullable=True),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('obligor', sa.String(length=100), nullable=False),
    sa.Column('obligee', sa.String(length=100), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('last_followup_at', sa.DateTime(), nullable=True),
    sa.Column('reminded_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_obligations_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_obligations'))
    )
    op.create_index(op.f('ix_case_obligations_agreement_id'), 'case_obligations', ['agreement_id'], unique=False)
    op.create_index(op.f('ix_case_obligations_case_id'), 'case_obligations', ['case_id'], unique=False)
    op.create_index('ix_case_obligations_status_due', 'case_obligations', ['status', 'due_at'], unique=False)
    op.create_table('case_parties',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('side', sa.String(length=1), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('id_number', sa.String(length=32), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('phone_confidential', sa.Boolean(), nullable=False),
    sa.Column('address_confidential', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_parties_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_parties'))
    )
    op.create_index(op.f('ix_case_parties_case_id'), 'case_parties', ['case_id'], unique=False)
    op.create_table('case_transfers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('from_unit_id', sa.Integer(), nullable=False),
    sa.Column('to_unit_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('by_staff_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['by_staff_id'], ['staff.id'], name=op.f('fk_case_transfers_by_staff_id_staff')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_transfers_case_id_cases')),
    sa.ForeignKeyConstraint(['from_unit_id'], ['units.id'], name=op.f('fk_case_transfers_from_unit_id_units')),
    sa.ForeignKeyConstraint(['to_unit_id'], ['units.id'], name=op.f('fk_case_transfers_to_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_transfers'))
    )
    op.create_index(op.f('ix_case_transfers_case_id'), 'case_transfers', ['case_id'], unique=False)
    op.create_index('ix_case_transfers_kind_at', 'case_transfers', ['kind', 'at'], unique=False)
    op.create_index(op.f('ix_case_transfers_to_unit_id'), 'case_transfers', ['to_unit_id'], unique=False)
    op.create_table('case_units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('unit_path', PATH, nullable=False),
    sa.Column('relation', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_units_case_id_cases')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_case_units_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_units')),
    sa.UniqueConstraint('case_id', 'unit_id', name='uq_case_units_case_unit')
    )
    op.create_index(op.f('ix_case_units_case_id'), 'case_units', ['case_id'], unique=False)
    op.create_index(op.f('ix_case_units_unit_path'), 'case_units', ['unit_path'], unique=False)
    op.create_table('consultations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('requested_by', sa.Integer(), nullable=False),
    sa.Column('specialty', sa.String(length=32), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('target_expert_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('expert_id', sa.Integer(), nullable=True),
    sa.Column('grant_hours', sa.Integer(), nullable=False),
    sa.Column('grant_expires_at', sa.DateTime(), nullable=True),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('scheduled_at', sa.DateTime(), nullable=True),
    sa.Column('opinion', sa.Text(), nullable=True),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('responded_at', sa.DateTime(), nullable=True),
    sa.Column('completed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_consultations_case_id_cases')),
    sa.ForeignKeyConstraint(['expert_id'], ['staff.id'], name=op.f('fk_consultations_expert_id_staff')),
    sa.ForeignKeyConstraint(['requested_by'], ['staff.id'], name=op.f('fk_consultations_requested_by_staff')),
    sa.ForeignKeyConstraint(['target_expert_id'], ['staff.id'], name=op.f('fk_consultations_target_expert_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consultations'))
    )
    op.create_index(op.f('ix_consultations_case_id'), 'consultations', ['case_id'], unique=False)
    op.create_index(op.f('ix_consultations_specialty'), 'consultations', ['specialty'], unique=False)
    op.create_index(op.f('ix_consultations_status'), 'consultations', ['status'], unique=False)
    op.create_table('dv_responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('authority', sa.String(length=100), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('recorded_by', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_dv_responses_case_id_cases')),
    sa.ForeignKeyConstraint(['recorded_by'], ['staff.id'], name=op.f('fk_dv_responses_recorded_by_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dv_responses'))
    )
    op.create_index(op.f('ix_dv_responses_case_id'), 'dv_responses', ['case_id'], unique=False)
    op.create_table('follow_ups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('satisfaction', sa.Integer(), nullable=False),
    sa.Column('recurrence_risk', sa.String(length=8), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('performance', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_follow_ups_case_id_cases')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_follow_ups_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_ups'))
    )
    op.create_index(op.f('ix_follow_ups_case_id'), 'follow_ups', ['case_id'], unique=False)
    op.create_table('petitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('petitioners', sa.Integer(), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('hearing_session_id', sa.Integer(), nullable=True),
    sa.Column('hearing_at', sa.DateTime(), nullable=True),
    sa.Column('panel', sa.Text(), nullable=False),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.Column('reply_due_at', sa.DateTime(), nullable=True),
    sa.Column('replied_at', sa.DateTime(), nullable=True),
    sa.Column('reply_warned', sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_petitions_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_petitions')),
    sa.UniqueConstraint('case_id', name=op.f('uq_petitions_case_id'))
    )
    op.create_index(op.f('ix_petitions_reply_due_at'), 'petitions', ['reply_due_at'], unique=False)
    op.create_table('supervision_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('issuer_unit_id', sa.Integer(), nullable=False),
    sa.Column('issuer_unit_path', PATH, nullable=False),
    sa.Column('target_unit_id', sa.Integer(), nullable=False),
    sa.Column('issued_by', sa.Integer(), nullable=False),
    sa.Column('instruction', sa.Text(), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('response', sa.Text(), nullable=True),
    sa.Column('responded_by', sa.Integer(), nullable=True),
    sa.Column('responded_at', sa.DateTime(), nullable=True),
    sa.Column('overdue_warned', sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_supervision_orders_case_id_cases')),
    sa.ForeignKeyConstraint(['issued_by'], ['staff.id'], name=op.f('fk_supervision_orders_issued_by_staff')),
    sa.ForeignKeyConstraint(['issuer_unit_id'], ['units.id'], name=op.f('fk_supervision_orders_issuer_unit_id_units')),
    sa.ForeignKeyConstraint(['responded_by'], ['staff.id'], name=op.f('fk_supervision_orders_responded_by_staff')),
    sa.ForeignKeyConstraint(['target_unit_id'], ['units.id'], name=op.f('fk_supervision_orders_target_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_orders'))
    )
    op.create_index(op.f('ix_supervision_orders_case_id'), 'supervision_orders', ['case_id'], unique=False)
    op.create_index(op.f('ix_supervision_orders_issuer_unit_path'), 'supervision_orders', ['issuer_unit_path'], unique=False)
    op.create_index('ix_supervision_orders_status_due', 'supervision_orders', ['status', 'due_at'], unique=False)
    op.create_index(op.f('ix_supervision_orders_target_unit_id'), 'supervision_orders', ['target_unit_id'], unique=False)


def downgrade() -> None:
    op.drop_table('supervision_orders')
    op.drop_table('petitions')
    op.drop_table('follow_ups')
    op.drop_table('dv_responses')
    op.drop_table('consultations')
    op.drop_table('case_units')
    op.drop_table('case_transfers')
    op.drop_table('case_parties')
    op.drop_table('case_obligations')
    op.drop_table('case_documents')
    op.drop_table('case_assignees')
    op.drop_table('case_access')
    op.drop_table('notifications')
    op.drop_table('notices')
    op.drop_table('cases')
    op.drop_table('case_counters')
