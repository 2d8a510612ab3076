"""The alliance's waiting-time standards (working days per step, editable by an alliance admin) and each
custodian team's UK nation (whose bank holidays its clocks skip, editable by the team's access managers)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from healthgate.access.models import ClockStandard, TeamAccessSettings
from healthgate.audit import service as audit
from healthgate.context import Context
from healthgate.errors import FieldError, Invalid
from healthgate.identity.permissions import Permission, require

# The steps a part's clock is measured against, in the order a part meets them.
STEPS: tuple[str, ...] = ("first_response", "decision")
STEP_LABELS: dict[str, str] = {
    "first_response": "First response (returned, reviewers assigned or decided)",
    "decision": "Decision",
}
MAX_WORKING_DAYS = 1000  # about four years: anything longer is a typing slip


@dataclass(frozen=True)
class Standard:
    step: str
    working_days: int  # the standard: this many working days from submission, pauses excluded
    due_soon_days: int  # "due soon" once this few working days (or fewer) are left

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "label": STEP_LABELS[self.step], "working_days": self.working_days,
                "due_soon_days": self.due_soon_days}


DEFAULTS: dict[str, Standard] = {
    "first_response": Standard("first_response", 10, 3),
    "decision": Standard("decision", 60, 10),
}

NATIONS: dict[str, str] = {"ENG": "England", "WLS": "Wales", "SCT": "Scotland", "NIR": "Northern Ireland"}
DEFAULT_NATION = "ENG"


def standards(ctx: Context) -> dict[str, Standard]:
    """Every step's standard: the stored one, else the default. Public to anyone (no permission)."""
    rows = {r.step: r for r in ctx.session.scalars(select(ClockStandard))}
    out = {}
    for step, default in DEFAULTS.items():
        row = rows.get(step)
        out[step] = Standard(step, row.working_days, row.due_soon_days) if row is not None else default
    return out


def _int(raw: Any, path: str, low: int, high: int) -> int:
    if isinstance(raw, bool):
        raw = None
    try:
        value = int(str(raw).strip()) if raw is not None and str(raw).strip() else None
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise Invalid(f"{path} must be a whole number from {low} to {high}",
                      [FieldError(path, f"a whole number from {low} to {high}")])
    return value


def _checked(step: str, working_days: Any, due_soon_days: Any, prefix: str = "") -> Standard:
    if step not in DEFAULTS:
        raise Invalid(f"unknown step {step!r}", [FieldError(prefix + "step", f"one of {', '.join(STEPS)}")])
    days = _int(working_days, prefix + "working_days", 1, MAX_WORKING_DAYS)
    soon = _int(due_soon_days, prefix + "due_soon_days", 0, MAX_WORKING_DAYS)
    if soon >= days:
        raise Invalid("due_soon_days must be fewer than working_days",
                      [FieldError(prefix + "due_soon_days", f"fewer than the standard ({days})")])
    return Standard(step, days, soon)


def set_standards(ctx: Context, changes: dict[str, tuple[Any, Any]]) -> dict[str, Standard]:
    """Change several steps' standards at once (alliance admin, ``access:configure``): every one is checked
    before any is written (422 naming each bad field as ``<step>/<field>``); each change is audited."""
    require(ctx.actor, Permission.ACCESS_CONFIGURE)
    checked, errors = [], []
    for step, (days, soon) in changes.items():
        try:
            checked.append(_checked(step, days, soon, f"{step}/"))
        except Invalid as exc:
            errors.extend(exc.errors)
    if errors:
        raise Invalid("some standards are not valid", errors)
    before = standards(ctx)
    for new in checked:
        row = ctx.session.get(ClockStandard, new.step)
        if row is None:
            row = ClockStandard(step=new.step)
            ctx.session.add(row)
        row.working_days, row.due_soon_days, row.updated_at = new.working_days, new.due_soon_days, ctx.now()
        was = before[new.step]
        audit.record(ctx, "access.clock_standard_set", "clock_standard", new.step,
                     {"working_days": new.working_days, "due_soon_days": new.due_soon_days,
                      "was": [was.working_days, was.due_soon_days]})
    ctx.session.flush()
    return standards(ctx)


def set_standard(ctx: Context, step: str, working_days: Any, due_soon_days: Any) -> Standard:
    """Change one step's standard (alliance admin, ``access:configure``); audited."""
    require(ctx.actor, Permission.ACCESS_CONFIGURE)
    new = _checked(step, working_days, due_soon_days)
    return set_standards(ctx, {step: (new.working_days, new.due_soon_days)})[step]


def nation(ctx: Context, team_id: uuid.UUID) -> str:
    row = ctx.session.get(TeamAccessSettings, team_id)
    return row.nation if row is not None and row.nation in NATIONS else DEFAULT_NATION


def nations(ctx: Context, team_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Each team's nation in one query (the default for teams that never set one)."""
    found = {r.team_id: r.nation for r in ctx.session.scalars(
        select(TeamAccessSettings).where(TeamAccessSettings.team_id.in_(team_ids)))} if team_ids else {}
    return {t: found.get(t) if found.get(t) in NATIONS else DEFAULT_NATION for t in team_ids}  # type: ignore[misc]


def set_nation(ctx: Context, team_id: uuid.UUID, value: Any) -> str:
    """Set the UK nation whose bank holidays the team's clocks skip (``application:manage``); audited."""
    require(ctx.actor, Permission.APPLICATION_MANAGE, on=team_id)
    code = str(value or "").strip().upper()
    if code not in NATIONS:
        raise Invalid("nation must be one of the UK nations",
                      [FieldError("nation", f"one of {', '.join(NATIONS)}")])
    row = ctx.session.get(TeamAccessSettings, team_id)
    was = row.nation if row is not None else DEFAULT_NATION
    if row is None:
        row = TeamAccessSettings(team_id=team_id)
        ctx.session.add(row)
    row.nation, row.updated_at = code, ctx.now()
    ctx.session.flush()
    audit.record(ctx, "access.team_nation_set", "team", team_id, {"nation": code, "was": was})
    return code
