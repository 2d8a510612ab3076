"""Property tests of the access-request lifecycle (hypothesis, stateful).

1. ``lifecycle`` alone (pure, fast, many examples): random commands by random relations with random payloads;
   ``decide`` either refuses (NotAllowed exactly when the command is not in ``allowed``; Invalid naming a
   field) or gives an event that ``apply`` folds in; no invalid state is ever reached and folding the events
   again reproduces the state.
2. Through ``service.run`` on SQLite and PostgreSQL: random command sequences by random people (applicant,
   collaborator, stranger, each team's access manager and reviewer, an alliance admin) with random payloads and
   stale versions. Every refusal is a 409 naming the allowed commands (or the stale version), a 422 naming a
   field or a 404, and appends nothing; every success appends exactly one event; the stored log folds into the
   state the service returned and into the projection rows; sequence numbers have no gaps; and no invalid
   state is ever reached (a decided part never goes back, a withdrawn application takes no commands, a draft
   has no parts, ...)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import select

from healthgate.access import lifecycle as lc
from healthgate.access import service as access
from healthgate.access.models import Application, ApplicationDataset, ApplicationEvent, ApplicationPart
from healthgate.errors import Conflict, HealthgateError, Invalid, NotFound
from tests.access.harness import World, build

PS = lc.PartState
# Where a part may go next (itself included: an event for another part, or a review, leaves it as it is).
NEXT: dict[PS, frozenset[PS]] = {
    PS.SUBMITTED: frozenset({PS.SUBMITTED, PS.RETURNED, PS.IN_REVIEW, *lc.DECIDED, PS.CLOSED, PS.WITHDRAWN}),
    PS.IN_REVIEW: frozenset({PS.IN_REVIEW, PS.RETURNED, *lc.DECIDED, PS.CLOSED, PS.WITHDRAWN}),
    PS.RETURNED: frozenset({PS.RETURNED, PS.SUBMITTED, PS.CLOSED, PS.WITHDRAWN}),
    **{d: frozenset({d, PS.CLOSED}) for d in lc.DECIDED},
    PS.CLOSED: frozenset({PS.CLOSED}),
    PS.WITHDRAWN: frozenset({PS.WITHDRAWN}),
}
PEOPLE = ["applicant", "collaborator", "stranger", "manager_A", "reviewer_A", "manager_B", "reviewer_B", "admin"]
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
PAYLOADS = st.fixed_dictionaries({}, optional={
    "reason": st.one_of(st.sampled_from(["", "  ", "Say more about linkage"]), TEXT),
    "reviewers": st.lists(st.sampled_from([*PEOPLE, "nobody"]), max_size=2),
    "phase": st.sampled_from(["review", "committee", ""]),
    "due": st.sampled_from(["2026-03-01", "not a date", None]),
    "recommendation": st.sampled_from(["approve", "approve_with_conditions", "reject", "return", "maybe"]),
    "comment": TEXT,
    "conditions": st.one_of(st.just([]), st.lists(TEXT, min_size=1, max_size=2), st.just("one\ntwo"), st.just(3)),
    "user_id": st.sampled_from([*PEOPLE, "not an id"]),
    "answers": st.one_of(st.dictionaries(st.sampled_from(["q1", "q2", "q3"]), TEXT, max_size=3), st.just("x")),
    "title": st.one_of(TEXT, st.just(7)),
    "dataset_ids": st.one_of(st.lists(st.sampled_from(["A1", "A2", "B1", "none"]), max_size=3), st.just("A1")),
    "purpose": st.sampled_from([{"commercial": False}, {}, "x"]),
})

def good_payload(command: lc.Command, team: str | None) -> dict[str, Any]:
    """A payload the command accepts (by name: _resolve turns names into ids)."""
    return {
        lc.Command.SAVE: {"answers": {"q1": "yes"}, "title": "Heart and genes"},
        lc.Command.CHANGE_DATASETS: {"dataset_ids": ["A1", "B1"]},
        lc.Command.RETURN: {"reason": "Say more about linkage"},
        lc.Command.ASSIGN_REVIEWERS: {"reviewers": [f"reviewer_{team}"], "due": "2026-03-01"},
        lc.Command.REVIEW: {"recommendation": "approve", "comment": "fine"},
        lc.Command.APPROVE_WITH_CONDITIONS: {"conditions": ["Outputs checked before release"]},
        lc.Command.REJECT: {"reason": "Out of scope"},
        lc.Command.INVITE_COLLABORATOR: {"user_id": "collaborator"},
        lc.Command.REMOVE_COLLABORATOR: {"user_id": "collaborator"},
    }.get(command, {})


ENDINGS = frozenset({lc.Command.WITHDRAW, lc.Command.CLOSE, lc.Command.REJECT, lc.Command.AMEND,
                     lc.Command.RENEW, lc.Command.REMOVE_COLLABORATOR})
A, B = uuid.UUID(int=1), uuid.UUID(int=2)
PURE_PEOPLE = {name: uuid.UUID(int=10 + i) for i, name in enumerate(PEOPLE)}


def _resolve(raw: dict[str, Any], people: dict[str, uuid.UUID], datasets: dict[str, uuid.UUID]) -> dict[str, Any]:
    """Payload names -> ids (unknown names stay as they are: bad input on purpose)."""
    out = dict(raw)
    if isinstance(out.get("reviewers"), list):
        out["reviewers"] = [str(people.get(r, r)) for r in out["reviewers"]]
    if "user_id" in out:
        out["user_id"] = str(people.get(out["user_id"], out["user_id"]))
    if isinstance(out.get("dataset_ids"), list):
        out["dataset_ids"] = [str(datasets.get(d, uuid.UUID(int=99))) for d in out["dataset_ids"]]
    return out


def check_state(state: lc.State) -> None:
    """What must hold of every state the lifecycle can reach."""
    status = state.status
    if not state.submitted:
        assert not state.parts, "a draft has no parts"
    else:
        assert set(state.parts) == set(state.teams), "one part per custodian team"
    if state.withdrawn:
        assert status == lc.Status.WITHDRAWN
        assert not any(p.state in lc.OPEN for p in state.parts.values()), "a withdrawn application has no open part"
    for part in state.parts.values():
        if part.state == PS.RETURNED:
            assert part.returned_at is not None, "the clock is paused since the return"
        if part.state in (PS.SUBMITTED, PS.IN_REVIEW):
            assert part.returned_at is None, "the clock runs again after a resubmission"
        assert (part.decided_at is not None) >= (part.state in lc.DECIDED)
        if part.state == PS.APPROVED_WITH_CONDITIONS:
            assert part.conditions
    assert state.applicant_id not in state.collaborators


def check_step(before: lc.State, after: lc.State) -> None:
    """What must hold of every step: nothing goes back."""
    assert after.version == before.version + 1
    if before.submitted:
        assert after.submitted, "a submitted application never becomes a draft again"
        assert set(after.parts) == set(before.parts)
        for team, part in before.parts.items():
            assert after.parts[team].state in NEXT[part.state], (part.state, after.parts[team].state)
    assert not before.withdrawn, "a withdrawn application takes no commands"


# -- 1. the pure lifecycle -------------------------------------------------------------------------------------


class PureLifecycle(RuleBasedStateMachine):
    """One application, folded in memory; its events kept to fold again."""

    def __init__(self) -> None:
        super().__init__()
        self.at = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
        created = lc.Event("created", {"applicant_id": str(PURE_PEOPLE["applicant"]), "datasets": [
            [str(uuid.UUID(int=101)), str(A)], [str(uuid.UUID(int=102)), str(B)]]}, self.at,
            PURE_PEOPLE["applicant"])
        self.app_id = uuid.uuid4()
        self.events = [created]
        self.state = lc.start(self.app_id, created)

    def relation(self, who: str) -> lc.Relation:
        managed = {"manager_A": {A}, "manager_B": {B}, "admin": {A, B}}.get(who, set())
        return lc.relation(self.state, PURE_PEOPLE[who], managed)

    @rule(who=st.sampled_from(PEOPLE), command=st.sampled_from(list(lc.Command)), raw=PAYLOADS,
          team=st.sampled_from([None, A, B]))
    def command(self, who: str, command: lc.Command, raw: dict[str, Any], team: uuid.UUID | None) -> None:
        rel = self.relation(who)
        now = lc.allowed(self.state, rel)
        payload = _resolve(raw, PURE_PEOPLE, {})
        try:
            event_type, data, team_id = lc.decide(self.state, rel, command, payload, team_id=team)
        except lc.NotAllowed as refused:
            assert refused.allowed == now
            assert not any(a.command == command and (team is None or a.team_id == team) for a in now) or (
                team is None and len({a.team_id for a in now if a.command == command}) > 1)
            return
        except Invalid as bad:
            assert bad.errors and all(e.path for e in bad.errors)
            assert any(a.command == command for a in now), "validated only once allowed"
            return
        assert lc.Allowed(command, team_id) in now
        if command in (lc.Command.AMEND, lc.Command.RENEW):
            data = {"application_id": str(uuid.uuid4())}
        elif command == lc.Command.SAVE:
            data = {"answers": {"q1": "yes"}}
        elif command == lc.Command.CHANGE_DATASETS:
            data = {"datasets": [[str(uuid.UUID(int=101)), str(A)]]}
        self.at += timedelta(hours=1)
        event = lc.Event(event_type, data, self.at, rel.user_id, team_id)
        after = lc.apply(self.state, event)
        check_step(self.state, after)
        self.events.append(event)
        self.state = after

    @invariant()
    def consistent(self) -> None:
        check_state(self.state)
        assert lc.fold(self.app_id, self.events) == self.state
        assert self.state.version == len(self.events)
        if self.state.status in lc.TERMINAL_STATUS:  # withdrawn or closed: nobody may run anything
            assert all(lc.allowed(self.state, self.relation(w)) == [] for w in PEOPLE)


def test_lifecycle_alone():
    run_state_machine_as_test(PureLifecycle, settings=settings(
        max_examples=150, stateful_step_count=30, deadline=None, database=None,
        suppress_health_check=list(HealthCheck)))


# -- 2. through the service, on both databases -----------------------------------------------------------------


def _fold_stored(ctx: Any, app_id: uuid.UUID) -> tuple[lc.State, list[int]]:
    rows = access.event_rows(ctx, app_id)
    events = [lc.Event(r.type, r.data, r.at, r.actor_id, r.team_id) for r in rows]
    return lc.fold(app_id, events), [r.seq for r in rows]


class ServiceLifecycle(RuleBasedStateMachine):
    """Applications in a shared world; each run starts applications of its own."""

    world: World
    sessions: Any

    def __init__(self) -> None:
        super().__init__()
        self.apps: list[uuid.UUID] = []
        self.outcomes: dict[str, int] = {}

    def ctx(self, session: Any, who: str) -> Any:
        return self.world.ctx(session, who)

    @initialize(keys=st.lists(st.sampled_from(["A1", "A2", "B1"]), min_size=1, max_size=3, unique=True))
    def create(self, keys: list[str]) -> None:
        with self.sessions.begin() as s:
            row = access.create(self.ctx(s, "applicant"), [self.world.datasets[k] for k in keys], title="Start")
            self.apps.append(row.id)

    @rule(data=st.data(), who=st.sampled_from(PEOPLE), command=st.sampled_from(list(lc.Command)), raw=PAYLOADS,
          team=st.sampled_from([None, "A", "B"]), guided=st.booleans(),
          version=st.sampled_from(["none", "none", "current", "current", "stale"]))
    def command(self, data: st.DataObject, who: str, command: lc.Command, raw: dict[str, Any], team: str | None,
                guided: bool, version: str) -> None:
        """Any command by anyone; ``guided``: one the person may run now, mostly with a payload it accepts."""
        w = self.world
        app_id = data.draw(st.sampled_from(self.apps))
        with self.sessions.begin() as s:
            before, _ = _fold_stored(self.ctx(s, "system"), app_id)
            views: dict[str, access.View | None] = {}
            for person in PEOPLE:
                try:
                    views[person] = access.get(self.ctx(s, person), app_id)
                except NotFound:
                    views[person] = None
        acting = [p for p, v in views.items() if v is not None and v.allowed]
        if guided and acting:
            who = data.draw(st.sampled_from(acting))
        seen = views[who]
        if guided and seen is not None and seen.allowed:
            onward = [a for a in seen.allowed if a.command not in ENDINGS]  # mostly keep the application going
            pool = onward if onward and data.draw(st.integers(0, 9)) > 1 else seen.allowed
            pick = data.draw(st.sampled_from(pool))
            command = pick.command
            team = next((k for k, v in w.teams.items() if v == pick.team_id), None)
            raw = data.draw(st.one_of(st.just(good_payload(command, team or who[-1])), PAYLOADS))
        expected = {"none": None, "current": before.version, "stale": max(1, before.version - 1)}[version]
        team_id = w.teams[team] if team else None
        payload = _resolve(raw, w.people, w.datasets)
        apps_before = len(self.apps)
        try:
            with self.sessions.begin() as s:
                view = access.run(self.ctx(s, who), app_id, command, payload, team_id=team_id,
                                  expected_version=expected)
                returned = view.state
                if command in (lc.Command.AMEND, lc.Command.RENEW):
                    self.apps.append(returned.children[-1])
        except HealthgateError as refused:
            self.refused(refused, seen, before, command, team_id, expected)
            with self.sessions.begin() as s:
                after, _ = _fold_stored(self.ctx(s, "system"), app_id)
            assert after == before, "a refused command appends nothing"
            assert len(self.apps) == apps_before
            return
        self.outcomes[command.value] = self.outcomes.get(command.value, 0) + 1
        assert seen is not None, "a command on an application the person cannot see must be 404"
        assert any(a.command == command for a in seen.allowed), "it ran although it was not allowed"
        assert expected in (None, before.version)
        with self.sessions.begin() as s:
            after, _ = _fold_stored(self.ctx(s, "system"), app_id)
        assert after == returned, "the stored log folds into the state the service returned"
        check_step(before, after)
        check_state(after)

    def refused(self, refused: HealthgateError, seen: access.View | None, before: lc.State, command: lc.Command,
                team_id: uuid.UUID | None, expected: int | None) -> None:
        assert refused.status in (404, 409, 422), f"{refused.status}: {refused.detail}"
        if refused.status == 404:
            assert seen is None
            return
        assert seen is not None
        if refused.status == 409:
            paths = {e.path for e in refused.errors}
            if paths == {"version"}:
                assert expected is not None and expected != before.version
                return
            # the whitelist: the problem names exactly the commands the person may run now
            assert expected in (None, before.version)
            named = [e.message for e in refused.errors]
            assert named == [a.command.value + (f" (part {a.team_id})" if a.team_id else "") for a in seen.allowed]
            assert not any(a.command == command and team_id in (None, a.team_id) for a in seen.allowed) or (
                team_id is None and len({a.team_id for a in seen.allowed if a.command == command}) > 1)
            if before.withdrawn:
                assert seen.allowed == []
            return
        assert isinstance(refused, Invalid) and refused.errors and all(e.path for e in refused.errors)

    @invariant()
    def projections_match_the_logs(self) -> None:
        with self.sessions.begin() as s:
            ctx = self.ctx(s, "system")
            for app_id in self.apps:
                state, seqs = _fold_stored(ctx, app_id)
                assert seqs == list(range(1, len(seqs) + 1)), "sequence numbers without gaps"
                row = s.get(Application, app_id)
                assert row is not None and row.version == state.version == len(seqs)
                assert (row.status, row.title, row.answers) == (state.status.value, state.title, dict(state.answers))
                parts = {p.team_id: p.state for p in s.scalars(select(ApplicationPart)
                                                               .where(ApplicationPart.application_id == app_id))}
                assert parts == {t: p.state.value for t, p in state.parts.items()}
                datasets = {(d.dataset_id, d.team_id) for d in s.scalars(
                    select(ApplicationDataset).where(ApplicationDataset.application_id == app_id))}
                assert datasets == set(state.datasets)
                check_state(state)


def test_lifecycle_through_the_service(db, clock):
    """~15 s per database on an idle machine: a shared world, each run starting applications of its own."""
    ServiceLifecycle.world = build(db.sessions, clock)
    ServiceLifecycle.sessions = db.sessions
    run_state_machine_as_test(ServiceLifecycle, settings=settings(
        max_examples=25 if db.dialect == "sqlite" else 15, stateful_step_count=30, deadline=None,
        database=None, derandomize=True,  # the same runs every time: the check below cannot flake
        suppress_health_check=list(HealthCheck)))
    with db.sessions.begin() as s:  # the runs went far: returns, resubmissions and decisions
        types = set(s.scalars(select(ApplicationEvent.type)))
    assert {"submitted", "returned"} <= types and types & {"approved", "approved_with_conditions", "rejected"}, types


@pytest.mark.parametrize("who", ["stranger", "manager_B"])
def test_outsiders_get_404_whatever_they_run(db, clock, who):
    w = build(db.sessions, clock)
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"]]).id
        access.run(w.ctx(s, "applicant"), app_id, "submit")
    for command in lc.Command:
        with db.sessions.begin() as s, pytest.raises(NotFound):
            access.run(w.ctx(s, who), app_id, command, {"reason": "x"})
    with db.sessions.begin() as s, pytest.raises(Conflict):
        access.run(w.ctx(s, "applicant"), app_id, "submit")
