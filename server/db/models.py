"""Imports every table so Base.metadata is complete (Alembic and tests use it)."""

from server.agreements.models import (
    Agreement,
    AgreementComment,
    AgreementPerformance,
    AgreementSignature,
    AgreementVersion,
)
from server.cases.models import (  # noqa: F401  (case tables for Alembic metadata)
    Case,
    CaseAccess,
    CaseAssignee,
    CaseCounter,
    CaseDocument,
    CaseObligation,
    CaseParty,
    CaseTransfer,
    CaseUnit,
    Consultation,
    DVResponse,
    FollowUp,
    Notice,
    Notification,
    Petition,
    SupervisionOrder,
)
from server.checkpoints import LedgerCheckpoint
from server.councils.models import (  # noqa: F401  (council tables for Alembic metadata)
    AgendaItem,
    Attendance,
    Ballot,
    Comment,
    Council,
    CouncilMember,
    Meeting,
    MemberCode,
    Support,
    Task,
    TaskNote,
    TaskPhoto,
    Topic,
    View,
    Vote,
    VoteMark,
)
from server.dashboard.models import CaseRollup  # noqa: F401  (dashboard rollup)
from server.db.base import Base
from server.directory.models import Staff, Unit
from server.ledger_store import LedgerEvent, LedgerLeaf
from server.recording.models import MinutesVersion, PlaybackJob, Recording, RecordingRun
from server.sessions.models import Invitation, Session

__all__ = ["Agreement", "AgreementComment", "AgreementPerformance", "AgreementSignature", "AgreementVersion",
           "Base", "Invitation", "LedgerCheckpoint", "LedgerEvent", "LedgerLeaf", "MinutesVersion", "PlaybackJob", "Recording", "RecordingRun",
           "Session", "Staff", "Unit"]
