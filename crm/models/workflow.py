"""Low-code configuration stored as data: appeal catalogue, multi-step forms, workflows (B7).

Definitions are versioned: an appeal keeps the form and workflow version it was created with,
so admins may edit a definition without changing appeals already in flight.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask_appbuilder.models.sqla import Model
from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.models.base import IdMixin
from crm.models.types import UTCDateTime


class WorkflowDefinition(IdMixin, Model):
    __tablename__ = "workflow_definition"
    __table_args__ = (UniqueConstraint("code", "version", name="uq_workflow_definition_version"),)

    code: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)

    states = relationship("WorkflowState", back_populates="workflow", cascade="all, delete-orphan",
                          order_by="WorkflowState.position")
    transitions = relationship("WorkflowTransition", back_populates="workflow", cascade="all, delete-orphan")

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class WorkflowState(IdMixin, Model):
    __tablename__ = "workflow_state"
    __table_args__ = (UniqueConstraint("workflow_id", "code", name="uq_workflow_state_code"),)

    workflow_id: Mapped[int] = mapped_column(
        ForeignKey("workflow_definition.id", ondelete="CASCADE"), nullable=False
    )
    code: Mapped[str] = mapped_column(String(64), nullable=False)
    staff_label: Mapped[str] = mapped_column(String(255), nullable=False)
    customer_label: Mapped[str] = mapped_column(String(255), nullable=False)
    position: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    is_initial: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    is_closing: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    dialogue_allowed: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    sla_hours: Mapped[Optional[int]] = mapped_column(Integer)
    # The SLA clock stops while the appeal is in this state (e.g. waiting for the customer).
    sla_paused: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)

    workflow = relationship("WorkflowDefinition", back_populates="states")

    def __str__(self) -> str:
        return self.staff_label


class WorkflowTransition(IdMixin, Model):
    __tablename__ = "workflow_transition"
    __table_args__ = (
        UniqueConstraint("workflow_id", "from_state_id", "to_state_id", name="uq_workflow_transition"),
    )

    workflow_id: Mapped[int] = mapped_column(
        ForeignKey("workflow_definition.id", ondelete="CASCADE"), nullable=False
    )
    from_state_id: Mapped[int] = mapped_column(ForeignKey("workflow_state.id", ondelete="CASCADE"), nullable=False)
    to_state_id: Mapped[int] = mapped_column(ForeignKey("workflow_state.id", ondelete="CASCADE"), nullable=False)
    label: Mapped[str] = mapped_column(String(255), nullable=False)
    # FAB role name allowed to perform it; "customer" for customer-side transitions (e.g. withdraw).
    allowed_role: Mapped[str] = mapped_column(String(64), nullable=False)

    workflow = relationship("WorkflowDefinition", back_populates="transitions")
    from_state = relationship("WorkflowState", foreign_keys=[from_state_id])
    to_state = relationship("WorkflowState", foreign_keys=[to_state_id])


class FormDefinition(IdMixin, Model):
    """A multi-step form of an appeal section; fields as data."""

    __tablename__ = "form_definition"
    __table_args__ = (UniqueConstraint("code", "version", name="uq_form_definition_version"),)

    code: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)

    steps = relationship("FormStep", back_populates="form", cascade="all, delete-orphan",
                         order_by="FormStep.position")

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class FormStep(IdMixin, Model):
    __tablename__ = "form_step"

    form_id: Mapped[int] = mapped_column(ForeignKey("form_definition.id", ondelete="CASCADE"), nullable=False,
                                         index=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    title: Mapped[str] = mapped_column(String(255), nullable=False)

    form = relationship("FormDefinition", back_populates="steps")
    fields = relationship("FormField", back_populates="step", cascade="all, delete-orphan",
                          order_by="FormField.position")


class FormField(IdMixin, Model):
    __tablename__ = "form_field"
    __table_args__ = (UniqueConstraint("step_id", "name", name="uq_form_field_name"),)

    step_id: Mapped[int] = mapped_column(ForeignKey("form_step.id", ondelete="CASCADE"), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    label: Mapped[str] = mapped_column(String(255), nullable=False)
    # text, long_text, number, date, select, checkbox, file
    field_type: Mapped[str] = mapped_column(String(16), nullable=False)
    required: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    options: Mapped[Optional[list]] = mapped_column(JSON)
    regex: Mapped[Optional[str]] = mapped_column(String(255))
    help_text: Mapped[Optional[str]] = mapped_column(Text)
    prefill: Mapped[Optional[str]] = mapped_column(String(64))  # e.g. "profile.phone", "contract.number"

    step = relationship("FormStep", back_populates="fields")


class AppealTopic(IdMixin, Model):
    """Topic → section → subsection tree of the appeal catalogue."""

    __tablename__ = "appeal_topic"

    parent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("appeal_topic.id", ondelete="CASCADE"), index=True)
    level: Mapped[str] = mapped_column(String(16), nullable=False)  # topic / section / subsection
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    position: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    form_code: Mapped[Optional[str]] = mapped_column(String(64))
    workflow_code: Mapped[Optional[str]] = mapped_column(String(64))
    requires_contract: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)

    parent = relationship("AppealTopic", remote_side="AppealTopic.id", backref="children")

    def __str__(self) -> str:
        return self.name


class EventTemplate(IdMixin, Model):
    """Event → notification template (sandboxed Jinja) in one language, e.g. appeal.state_changed / ru."""

    __tablename__ = "event_template"
    __table_args__ = (UniqueConstraint("event", "locale", name="uq_event_template_locale"),)

    event: Mapped[str] = mapped_column(String(64), nullable=False)
    locale: Mapped[str] = mapped_column(String(8), default="ru", nullable=False)
    updated_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime(), onupdate=clock.now)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    send_email: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    send_bell: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
