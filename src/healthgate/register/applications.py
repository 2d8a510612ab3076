"""Approved applications feed the register: each custodian that approves its part of an application (approved,
or approved with conditions) gets a *draft* entry with the application's public fields. Nothing from the
application is public until that custodian reviews the draft and publishes it (``register.service.publish``).

The access service calls :func:`application_event` for every event it appends, in the same transaction, so a
draft exists exactly when the approval commits. The same approval never drafts twice: one entry per
(application, custodian team), kept by a unique constraint and checked before drafting.

What the draft takes from the application (question ids of HDR UK's question bank, ``access/data/dar/``):

==========================  ===================================================================================
register field              from
==========================  ===================================================================================
project_id                  the application's reference (DAR-2026-7F3A9C2E)
project_title               the application's title, else ``safeproject.project-details.title-project``
lay_summary                 ``safeproject.project-details.provide-lay-summary-project``
public_benefit              the public-benefit choices and their justification (``...how-demonstrate-use-...``,
                            ``...provide-details-justify-selection-above``)
technical_summary           ``safeproject.project-details.project-aims-objectives-rationale``
organisation (name, ROR,    the applicant's affiliation in the organisation registry, else the answer
sector)                     ``safepeople.primary-applicant.organisation-name``
applicants                  the applicant and the collaborators, with the ORCID iDs of their accounts (else the
                            ORCID answered in ``safepeople.primary-applicant.orcid``)
funders                     the funding organisation and the sponsor named in the form
accredited_researcher       the DEA question, else the applicant's verified accreditation
sublicence                  ``safepeople.primary-applicant.require-ability-sub-licence-data-share``
other_approvals             the REC committee, its reference and any other committee
project_start / end         the anticipated start and end dates
datasets                    this custodian's datasets in the application, linked to the catalogue
legal_basis                 ``safedata.lawful-basis.article-6-lawful-basis`` (by its letter)
lawful_condition            ``safedata.lawful-basis.article-9-conditions`` (by its letter)
confidentiality_duty        ``safedata.confidentiality-avenue.provide-legal-basis-process-confidential-...``
opt_out_applied             ``safedata.national-data-opt-out.applies``
linkage_description         ``safedata.other-datasets-intention-link-data...specify-all-datasets-...``
access_type                 ``safesettings.storage-processing.how-data-accessed``: TRE or Release (when one)
approval_date               the date of this custodian's decision
==========================  ===================================================================================

A value the form answers in a way the register's lookup lists do not allow is left empty for the custodian to
fill in; a required field the form does not answer is left empty too, and publishing refuses the entry until
it is complete.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from healthgate.access.lifecycle import APPROVED, State
from healthgate.access.models import Application
from healthgate.catalogue.models import Dataset, DatasetVersion
from healthgate.context import Context
from healthgate.errors import Invalid
from healthgate.identity import orcid as orcids
from healthgate.identity.models import Organisation, User
from healthgate.register import fields as F
from healthgate.register import service
from healthgate.register.models import RegisterEntry

APPROVAL_EVENTS = frozenset({"approved", "approved_with_conditions"})

# question ids of the bank (stable: answers are keyed by them)
Q_TITLE = "safeproject.project-details.title-project"
Q_LAY = "safeproject.project-details.provide-lay-summary-project"
Q_BENEFIT_CHOICES = "safeproject.project-details.how-demonstrate-use-data-requested-deliver"
Q_BENEFIT_OTHER = "safeproject.project-details.how-demonstrate-use-data-requested-deliver.other-specify"
Q_BENEFIT_DETAILS = "safeproject.project-details.provide-details-justify-selection-above"
Q_AIMS = "safeproject.project-details.project-aims-objectives-rationale"
Q_START = "safeproject.project-details.anticipated-start-date-project"
Q_END = "safeproject.project-details.provide-anticipated-end-date-project"
Q_ORGANISATION = "safepeople.primary-applicant.organisation-name"
Q_FULL_NAME = "safepeople.primary-applicant.full-name"
Q_ORCID = "safepeople.primary-applicant.orcid"
Q_DEA = "safepeople.primary-applicant.accredited-researcher-under-digital-economy-act"
Q_SUBLICENCE = "safepeople.primary-applicant.require-ability-sub-licence-data-share"
Q_HAS_FUNDER = "safeproject.funder-information.project-funder"
Q_FUNDER = "safeproject.funder-information.project-funder.provide-name-funding-organisation"
Q_SPONSOR = "safeproject.sponsor-information.project-sponsor.organisation-name"
Q_REC_NAME = "safedata.ethical-approval.ethical-approval-been-obtained.approval-rec-committee-name"
Q_REC_REF = "safedata.ethical-approval.ethical-approval-been-obtained.approval-rec-reference-number"
Q_OTHER_COMMITTEE = "safedata.ethical-approval.ethical-approval-been-obtained.approval-other-committee"
Q_ARTICLE_6 = "safedata.lawful-basis.article-6-lawful-basis"
Q_ARTICLE_9 = "safedata.lawful-basis.article-9-conditions"
Q_CONFIDENTIAL = "safedata.confidentiality-avenue.provide-legal-basis-process-confidential-information"
Q_OPT_OUT = "safedata.national-data-opt-out.applies"
Q_LINKAGE = ("safedata.other-datasets-intention-link-data.intend-datasets-requested-linked-additional-datasets"
             ".specify-all-datasets-organisations-perform-linkage")
Q_ACCESS = "safesettings.storage-processing.how-data-accessed"

ACCESS_TRE = "Via a Trusted Research Environment"
CONFIDENTIALITY = {"Not applicable": "Not applicable", "Informed consent": "Consent",
                   "Section 251 support": "Section 251 NHS Act 2006", "Other": "Other"}


def application_event(ctx: Context, row: Application, state: State, event_type: str, data: Mapping[str, Any],
                      team_id: uuid.UUID | None) -> None:
    """The access service's hook, called for every event appended to an application's log: an approval of a
    custodian's part drafts that custodian's entry."""
    if event_type in APPROVAL_EVENTS and team_id is not None:
        draft_entry(ctx, row, state, team_id)


def draft_entry(ctx: Context, row: Application, state: State, team_id: uuid.UUID) -> RegisterEntry | None:
    """The draft entry of ``team_id`` for this approved application (the one already drafted, if any; None if
    the team's part is not approved). Permission is the caller's: the custodian's decision was checked by the
    access service, and a draft is never public."""
    part = state.parts.get(team_id)
    if part is None or part.state not in APPROVED:
        return None
    existing = ctx.session.scalar(select(RegisterEntry).where(RegisterEntry.application_id == row.id,
                                                              RegisterEntry.team_id == team_id))
    if existing is not None:
        return existing
    data = entry_data_of(ctx, row, state, team_id)
    if data.project_id and ctx.session.scalar(select(RegisterEntry.id).where(
            RegisterEntry.team_id == team_id, RegisterEntry.project_id == data.project_id)):
        data.project_id = None  # the custodian already uses the reference for another entry
    return service.insert_draft(ctx, team_id, data, origin="application", application_id=row.id, drafting=True)


# -- the fields ------------------------------------------------------------------------------------------------


def _text(answers: Mapping[str, Any], qid: str) -> str | None:
    value = answers.get(qid)
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value if str(v).strip())
    if not isinstance(value, str):
        return None
    return value.strip() or None


def _lookup(name: str, value: str | None) -> str | None:
    """``value`` in the register's spelling of the lookup list of field ``name``, or None. A GDPR answer is
    matched by its letter, since the form and the template spell the articles' text slightly differently."""
    if not value:
        return None
    field = F.BY_NAME[name]
    letter = re.match(r"\s*\(([a-j])\)", value)
    return F.canonical_value(field, f"({letter.group(1)})" if letter else value)


def _date(answers: Mapping[str, Any], qid: str) -> Any:
    from datetime import date

    text = _text(answers, qid)
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _orcid(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return orcids.normalise(value)
    except Invalid:
        return None


def _public_benefit(answers: Mapping[str, Any]) -> str | None:
    choices = answers.get(Q_BENEFIT_CHOICES)
    listed = [str(c) for c in choices if str(c).strip() and str(c) != "Other"] if isinstance(choices, list) else []
    other = _text(answers, Q_BENEFIT_OTHER)
    if other:
        listed.append(other)
    details = _text(answers, Q_BENEFIT_DETAILS)
    parts = ["; ".join(listed)] if listed else []
    if details:
        parts.append(details)
    return "\n\n".join(parts) or None


def _access_type(answers: Mapping[str, Any]) -> str | None:
    chosen = answers.get(Q_ACCESS)
    chosen = [chosen] if isinstance(chosen, str) else chosen if isinstance(chosen, list) else []
    if not chosen:
        return None
    if all(c == ACCESS_TRE for c in chosen):
        return "TRE"
    if all(c != ACCESS_TRE for c in chosen):
        return "Release"
    return None  # both: the custodian says which applies to its data


def _other_approvals(answers: Mapping[str, Any]) -> str | None:
    name, ref, other = _text(answers, Q_REC_NAME), _text(answers, Q_REC_REF), _text(answers, Q_OTHER_COMMITTEE)
    rec = " ".join(p for p in (name, f"({ref})" if ref else None) if p)
    return "; ".join(p for p in (rec, other) if p) or None


def entry_data_of(ctx: Context, row: Application, state: State, team_id: uuid.UUID) -> service.EntryData:
    """The register fields this application gives for ``team_id``'s entry (see the module's table)."""
    s = ctx.session
    answers = state.answers
    applicant = s.get(User, state.applicant_id)
    collaborators = sorted(s.scalars(select(User).where(User.id.in_(list(state.collaborators)))),
                           key=lambda u: (u.name.casefold(), str(u.id))) if state.collaborators else []
    people: list[service.Applicant] = []
    if applicant is not None:
        people.append(service.Applicant(applicant.name or _text(answers, Q_FULL_NAME) or "",
                                        applicant.orcid or _orcid(_text(answers, Q_ORCID))))
    people += [service.Applicant(u.name, u.orcid) for u in collaborators]
    org = s.get(Organisation, applicant.affiliation_id) if applicant and applicant.affiliation_id else None
    while org is not None and org.merged_into_id is not None:
        org = s.get(Organisation, org.merged_into_id)
    decided = state.parts[team_id].decided_at or ctx.now()
    funders = []
    if (_text(answers, Q_HAS_FUNDER) or "Yes") == "Yes" and _text(answers, Q_FUNDER):
        funders.append(_text(answers, Q_FUNDER) or "")
    sponsor = _text(answers, Q_SPONSOR)
    if sponsor and sponsor not in funders:
        funders.append(sponsor)
    dea = _lookup("accredited_researcher", _text(answers, Q_DEA))
    if dea is None and applicant is not None and applicant.accreditation_verified_at is not None and (
            applicant.accreditation_expires_on is None or applicant.accreditation_expires_on >= decided.date()):
        dea = "Yes"
    start, end = _date(answers, Q_START), _date(answers, Q_END)
    if start and end and end < start:
        end = None
    return service.EntryData(
        project_id=row.reference,
        organisation_name=org.name if org else (_text(answers, Q_ORGANISATION) or ""),
        organisation_ror=org.ror_id if org else None,
        organisation_sector=_lookup("organisation_sector", org.sector) if org and org.sector else None,
        project_title=(state.title or _text(answers, Q_TITLE) or row.title or ""),
        lay_summary=_text(answers, Q_LAY) or "",
        public_benefit=_public_benefit(answers) or "",
        technical_summary=_text(answers, Q_AIMS),
        other_approvals=_other_approvals(answers),
        project_start=start, project_end=end,
        approval_date=decided.date(),
        datasets=_datasets(ctx, state, team_id),
        applicants=[p for p in people if p.name.strip()],
        funders=funders,
        accredited_researcher=dea,
        sublicence=_lookup("sublicence", _text(answers, Q_SUBLICENCE)),
        legal_basis=_lookup("legal_basis", _text(answers, Q_ARTICLE_6)),
        lawful_condition=_lookup("lawful_condition", _text(answers, Q_ARTICLE_9)),
        confidentiality_duty=CONFIDENTIALITY.get(_text(answers, Q_CONFIDENTIAL) or ""),
        opt_out_applied=_opt_out(_text(answers, Q_OPT_OUT)),
        linkage_description=_text(answers, Q_LINKAGE),
        access_type=_access_type(answers) or "",
    )


def _opt_out(value: str | None) -> str | None:
    if not value:
        return None
    for word in ("Not applicable", "Yes", "No"):
        if value.startswith(word):
            return word
    return None


def _datasets(ctx: Context, state: State, team_id: uuid.UUID) -> list[service.DatasetRef]:
    ids = [d for d, t in state.datasets if t == team_id]
    latest = (DatasetVersion.dataset_id == Dataset.id) & (DatasetVersion.number == Dataset.latest_version)
    titles = {i: t for i, t in ctx.session.execute(
        select(Dataset.id, DatasetVersion.title).join(DatasetVersion, latest).where(Dataset.id.in_(ids)))}
    return [service.DatasetRef(titles.get(d) or str(d), d) for d in ids]
