"""Who handles an appeal: manual assignment, round-robin assignment rules (SPEC B4) and the
escalation of appeals whose SLA is breached to the branch lead."""
from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from crm import clock
from crm.extensions import db
from crm.models import Appeal, AppealEvent, AssignmentRule, CrmUser
from workflows import appeal_notices as notices
from workflows import engine
from workflows.appeal_base import AppealError, fail, is_staff

ESCALATION_BATCH = 500


def _staff_user(user_id) -> CrmUser | None:
    user = db.session.get(CrmUser, int(user_id)) if user_id else None
    return user if user is not None and user.active and user.is_staff else None


def assign(appeal: Appeal, actor, assignee_id: int | None) -> AppealEvent:
    """Assign the appeal to a staff user (None: unassign); event "assigned"; commits."""
    try:
        if not is_staff(actor):
            raise AppealError(_("Only staff may assign appeals."), status=403)
        assignee = None
        if assignee_id:
            assignee = _staff_user(assignee_id)
            if assignee is None:
                raise AppealError(_("Choose an active staff member."), errors={"assignee_id": _("Choose a person.")})
        event = record_assignment(appeal, assignee, actor)
        db.session.commit()
    except Exception:
        fail()
        raise
    return event


def record_assignment(appeal: Appeal, assignee, actor, **detail) -> AppealEvent:
    previous = appeal.assignee_id
    appeal.assignee_id = assignee.id if assignee is not None else None
    event = AppealEvent(appeal_id=appeal.id, actor_id=getattr(actor, "id", None), kind="assigned",
                        detail={"from": previous, "to": appeal.assignee_id, **detail}, created_at=clock.now())
    db.session.add(event)
    return event


def matching_rule(appeal: Appeal) -> AssignmentRule | None:
    """The most specific active rule for the appeal: branch+section, section, branch, then neither."""
    rules = db.session.scalars(select(AssignmentRule).where(AssignmentRule.active.is_(True))
                               .order_by(AssignmentRule.id)).all()
    ranked = []
    for rule in rules:
        if rule.branch_id is not None and rule.branch_id != appeal.branch_id:
            continue
        if rule.section_id is not None and rule.section_id != appeal.section_id:
            continue
        ranked.append(((rule.section_id is not None) * 2 + (rule.branch_id is not None), rule))
    candidates = [rule for _rank, rule in sorted(ranked, key=lambda pair: -pair[0])
                  if any(user.active for user in rule.users)]
    return candidates[0] if candidates else None


def assign_by_rules(appeal: Appeal) -> CrmUser | None:
    rule = matching_rule(appeal)
    if rule is None:
        return None
    rule = db.session.scalars(select(AssignmentRule).where(AssignmentRule.id == rule.id)
                              .with_for_update()).one()  # concurrent submissions take turns
    users = [user for user in rule.users if user.active]
    after = [user for user in users if rule.last_user_id is not None and user.id > rule.last_user_id]
    chosen = (after or users)[0]
    rule.last_user_id = chosen.id
    record_assignment(appeal, chosen, None, rule=rule.id)
    return chosen


def auto_assign(appeal: Appeal) -> CrmUser | None:
    """Assign the appeal round-robin by the most specific matching rule (None when no rule); commits."""
    try:
        chosen = assign_by_rules(appeal)
        db.session.commit()
    except Exception:
        fail()
        raise
    return chosen


def escalate_overdue(now=None) -> int:
    """Escalate appeals whose SLA passed: e-mail the branch lead, event "escalated", optionally
    reassign to the lead (APPEAL_ESCALATION_REASSIGN); each appeal once per clock; commits."""
    now = now or clock.now()
    reassign = bool(current_app.config.get("APPEAL_ESCALATION_REASSIGN"))
    total = 0
    while True:
        # SKIP LOCKED: two workers running the job at once split the appeals instead of both e-mailing.
        overdue = db.session.scalars(
            select(Appeal).where(Appeal.sla_due_at <= now, Appeal.escalated_at.is_(None),
                                 Appeal.closed_at.is_(None), Appeal.sla_paused_at.is_(None))
            .order_by(Appeal.sla_due_at, Appeal.id).limit(ESCALATION_BATCH).with_for_update(skip_locked=True)).all()
        try:
            for appeal in overdue:
                _escalate(appeal, now, reassign)
            db.session.commit()
        except Exception:
            fail()
            raise
        total += len(overdue)
        if len(overdue) < ESCALATION_BATCH:
            return total


def _escalate(appeal: Appeal, now, reassign: bool) -> None:
    lead = appeal.branch.lead_user if appeal.branch is not None else None
    notified = notices.queue_escalation_notice(appeal, lead, engine.state_of(appeal))
    appeal.escalated_at = now
    db.session.add(AppealEvent(appeal_id=appeal.id, kind="escalated", created_at=now,
                               detail={"lead_id": lead.id if lead else None, "notified": notified,
                                       "due_at": appeal.sla_due_at.isoformat()}))
    if reassign and lead is not None and lead.active and appeal.assignee_id != lead.id:
        record_assignment(appeal, lead, None, escalation=True)
    appeal.staff_unread = True
