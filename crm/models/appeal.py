"""Customer appeals: the appeal, its dialogue, attachments, events and drafts."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask_appbuilder.models.sqla import Model
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.models.base import IdMixin
from crm.models.types import UTCDateTime


class Appeal(IdMixin, Model):
    __tablename__ = "appeal"
    __table_args__ = (
        Index("ix_appeal_author_closed", "author_id", "closed_at"),
        Index("ix_appeal_desk", "state_code", "branch_id", "assignee_id"),
        Index("ix_appeal_sla_due", "sla_due_at"),
        Index("ix_appeal_last_message", "last_message_at"),
        # The curator desk's queue: branch, open/closed, SLA sort; "created" sort; number prefix search.
        Index("ix_appeal_queue", "branch_id", "closed_at", "sla_due_at", "id"),
        Index("ix_appeal_created", "created_at"),
        Index("ix_appeal_number_prefix", "number", postgresql_ops={"number": "text_pattern_ops"}),
    )

    number: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    sequence: Mapped[int] = mapped_column(Integer, nullable=False)
    author_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="RESTRICT"), nullable=False)
    contract_id: Mapped[Optional[int]] = mapped_column(ForeignKey("contract.id", ondelete="SET NULL"), index=True)
    energy_object_id: Mapped[Optional[int]] = mapped_column(ForeignKey("energy_object.id", ondelete="SET NULL"))
    branch_id: Mapped[Optional[int]] = mapped_column(ForeignKey("branch.id", ondelete="SET NULL"))
    topic_id: Mapped[int] = mapped_column(ForeignKey("appeal_topic.id", ondelete="RESTRICT"), nullable=False)
    section_id: Mapped[int] = mapped_column(ForeignKey("appeal_topic.id", ondelete="RESTRICT"), nullable=False,
                                            index=True)
    subsection_id: Mapped[Optional[int]] = mapped_column(ForeignKey("appeal_topic.id", ondelete="RESTRICT"))
    form_id: Mapped[Optional[int]] = mapped_column(ForeignKey("form_definition.id", ondelete="RESTRICT"))
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflow_definition.id", ondelete="RESTRICT"),
                                             nullable=False)
    state_code: Mapped[str] = mapped_column(String(64), nullable=False)
    channel: Mapped[str] = mapped_column(String(16), default="portal", nullable=False)
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    form_data: Mapped[Optional[dict]] = mapped_column(JSON)
    assignee_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)
    state_entered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)
    sla_due_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    escalated_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    closed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    customer_unread: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    staff_unread: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    # SLA clock (workflows/engine.py): while the state pauses the clock, `sla_due_at` is NULL and the
    # seconds left are kept in `sla_remaining_seconds`; resuming sets a new due time from them.
    sla_paused_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    sla_remaining_seconds: Mapped[Optional[int]] = mapped_column(Integer)
    first_response_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    # Person type letters of the number ("Ю-Л"), kept for reports by customer kind.
    person_type: Mapped[Optional[str]] = mapped_column(String(20))
    # Satisfaction after closing (C13): 1–5 with a comment; a low rating reopens the appeal.
    rating: Mapped[Optional[int]] = mapped_column(SmallInteger)
    rating_comment: Mapped[Optional[str]] = mapped_column(Text)
    rated_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    author = relationship("CrmUser", foreign_keys=[author_id])
    assignee = relationship("CrmUser", foreign_keys=[assignee_id])
    contract = relationship("Contract")
    energy_object = relationship("EnergyObject")
    branch = relationship("Branch")
    topic = relationship("AppealTopic", foreign_keys=[topic_id])
    section = relationship("AppealTopic", foreign_keys=[section_id])
    subsection = relationship("AppealTopic", foreign_keys=[subsection_id])
    workflow = relationship("WorkflowDefinition")
    form = relationship("FormDefinition")
    messages = relationship("AppealMessage", back_populates="appeal", order_by="AppealMessage.created_at",
                            cascade="all, delete-orphan")
    events = relationship("AppealEvent", back_populates="appeal", order_by="AppealEvent.created_at",
                          cascade="all, delete-orphan")

    def __str__(self) -> str:
        return self.number


class AppealMessage(IdMixin, Model):
    """A public reply (either side) or an internal staff note the customer never sees."""

    __tablename__ = "appeal_message"
    __table_args__ = (Index("ix_appeal_message_appeal", "appeal_id", "created_at"),)

    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeal.id", ondelete="CASCADE"), nullable=False)
    author_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))
    from_staff: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    internal: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    # Documents sent by staff that the customer accepts or rejects (C13).
    needs_decision: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    decision: Mapped[Optional[str]] = mapped_column(String(16))
    decision_comment: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)

    appeal = relationship("Appeal", back_populates="messages")
    author = relationship("CrmUser")
    attachments = relationship("AppealAttachment", back_populates="message")


class AppealAttachment(IdMixin, Model):
    """A file of an appeal (form field or message) or of a draft; moved to the appeal when it is sent."""

    __tablename__ = "appeal_attachment"
    __table_args__ = (
        CheckConstraint("appeal_id IS NOT NULL OR draft_id IS NOT NULL", name="ck_appeal_attachment_owner"),
    )

    appeal_id: Mapped[Optional[int]] = mapped_column(ForeignKey("appeal.id", ondelete="CASCADE"), index=True)
    draft_id: Mapped[Optional[int]] = mapped_column(ForeignKey("appeal_draft.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[Optional[int]] = mapped_column(ForeignKey("appeal_message.id", ondelete="CASCADE"),
                                                      index=True)
    # The form field the file answers (None for files of a message).
    field_name: Mapped[Optional[str]] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    content_type: Mapped[str] = mapped_column(String(128), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    storage_key: Mapped[str] = mapped_column(String(500), nullable=False)
    uploaded_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)

    message = relationship("AppealMessage", back_populates="attachments")


class AppealEvent(IdMixin, Model):
    """Every state change, assignment and escalation, written by the one transition function."""

    __tablename__ = "appeal_event"

    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeal.id", ondelete="CASCADE"), nullable=False, index=True)
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    from_state: Mapped[Optional[str]] = mapped_column(String(64))
    to_state: Mapped[Optional[str]] = mapped_column(String(64))
    detail: Mapped[Optional[dict]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)

    appeal = relationship("Appeal", back_populates="events")


class AppealDraft(IdMixin, Model):
    """An unsent appeal: the steps completed so far; it expires a month after its last save."""

    __tablename__ = "appeal_draft"
    __table_args__ = (Index("ix_appeal_draft_author", "author_id", "expires_at"),)

    author_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False)
    contract_id: Mapped[Optional[int]] = mapped_column(ForeignKey("contract.id", ondelete="CASCADE"))
    energy_object_id: Mapped[Optional[int]] = mapped_column(ForeignKey("energy_object.id", ondelete="SET NULL"))
    topic_id: Mapped[Optional[int]] = mapped_column(ForeignKey("appeal_topic.id", ondelete="CASCADE"))
    section_id: Mapped[int] = mapped_column(ForeignKey("appeal_topic.id", ondelete="CASCADE"), nullable=False)
    subsection_id: Mapped[Optional[int]] = mapped_column(ForeignKey("appeal_topic.id", ondelete="CASCADE"))
    form_id: Mapped[Optional[int]] = mapped_column(ForeignKey("form_definition.id", ondelete="CASCADE"))
    steps_completed: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    form_data: Mapped[Optional[dict]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)

    contract = relationship("Contract")
    form = relationship("FormDefinition")
    topic = relationship("AppealTopic", foreign_keys=[topic_id])
    section = relationship("AppealTopic", foreign_keys=[section_id])
    subsection = relationship("AppealTopic", foreign_keys=[subsection_id])
    attachments = relationship("AppealAttachment", cascade="all, delete-orphan",
                               primaryjoin="AppealDraft.id == AppealAttachment.draft_id")


class CannedReply(IdMixin, Model):
    """A reply template for curators; placeholders like {{ customer_name }} are filled when used."""

    __tablename__ = "canned_reply"

    title: Mapped[str] = mapped_column(String(255), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    # Offered first for appeals of this section (None = for every section).
    section_id: Mapped[Optional[int]] = mapped_column(ForeignKey("appeal_topic.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    section = relationship("AppealTopic")

    def __str__(self) -> str:
        return self.title


assignment_rule_user = Table(
    "assignment_rule_user",
    Model.metadata,
    Column("rule_id", ForeignKey("assignment_rule.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class AssignmentRule(IdMixin, Model):
    """Round-robin assignment of new appeals of a branch and/or section to a set of staff users (B4).

    The most specific active rule wins (branch and section, then section, then branch, then neither);
    `last_user_id` remembers whose turn was last.
    """

    __tablename__ = "assignment_rule"

    name: Mapped[str] = mapped_column(String(255), nullable=False)
    branch_id: Mapped[Optional[int]] = mapped_column(ForeignKey("branch.id", ondelete="CASCADE"), index=True)
    section_id: Mapped[Optional[int]] = mapped_column(ForeignKey("appeal_topic.id", ondelete="CASCADE"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    last_user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))

    branch = relationship("Branch")
    section = relationship("AppealTopic")
    users = relationship("CrmUser", secondary=assignment_rule_user, order_by="CrmUser.id")

    def __str__(self) -> str:
        return self.name
