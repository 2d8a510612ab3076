"""Every action the audit log may record, declared once: ``audit.record`` refuses any other.

A new state change adds one line here (``"noun.past_tense": "what happened"``) in the same change that
records it; ``tests/audit/test_actions.py`` finds every action the code records and fails on one that is
not declared, so a missing line shows in CI, never at run time."""

from __future__ import annotations

ACTIONS: dict[str, str] = {
    # audit log itself
    "audit.rechained": "The whole log was re-chained under a new key (after verifying it under the old one)",
    # people and sign-in
    "user.created": "An account was created",
    "user.registered": "A person registered an account themselves",
    "user.updated": "An account's details were changed",
    "user.profile_updated": "A person changed their profile or what it shows publicly",
    "user.email_verified": "A person verified their email address",
    "user.password_set": "A password was set or changed",
    "user.password_changed": "A person changed their password (giving the current one)",
    "user.password_reset_requested": "A password reset email was asked for",
    "user.password_reset": "A password was reset with an emailed token",
    "user.locked": "An account was locked after too many failed sign-ins",
    "user.unlocked": "A locked account was unlocked",
    "user.disabled": "An account was disabled",
    "user.enabled": "A disabled account was enabled again",
    "user.admin_granted": "A person became an alliance admin",
    "user.admin_revoked": "A person stopped being an alliance admin",
    "user.affiliation_set": "A person's affiliation to an organisation was set or cleared",
    "user.orcid_set": "A person's ORCID iD was set or cleared",
    "user.accreditation_submitted": "A person submitted evidence of accredited-researcher status",
    "user.accreditation_verified": "An admin verified a person's accredited-researcher status",
    "user.accreditation_refused": "An admin refused a person's accredited-researcher evidence",
    "user.accreditation_revoked": "An admin revoked a person's accredited-researcher status",
    "user.oidc_linked": "An OpenID Connect identity was linked to an account",
    "user.oidc_unlinked": "An OpenID Connect identity was unlinked from an account",
    "session.started": "A person signed in",
    "session.ended": "A person signed out",
    "session.ended_all": "A person was signed out everywhere",
    "email_token.issued": "A single-use email token (verification, reset, invitation) was issued",
    "email_token.used": "A single-use email token was used",
    # API tokens
    "token.created": "An API token was created",
    "token.revoked": "An API token was revoked",
    # organisations and teams
    "organisation.created": "An organisation was created",
    "organisation.updated": "An organisation's details were changed",
    "organisation.merged": "A duplicate organisation was merged into another",
    "organisation.absorbed": "An organisation took over the links of a duplicate merged into it",
    "team.created": "A custodian team was created",
    "team.updated": "A team's details were changed",
    "team.organisation_set": "A team was placed in an organisation",
    "team.member_added": "A person was given a role in a team",
    "team.member_removed": "A person's role in a team was removed",
    "team.member_invited": "A person was invited by email to a role in a team",
    "team.invitation_accepted": "An invitation to a team was accepted",
    "team.invitation_revoked": "An invitation to a team was withdrawn before it was accepted",
    # catalogue
    "dataset.created": "A dataset was created with a draft",
    "dataset.draft_updated": "A dataset's draft was changed",
    "dataset.draft_discarded": "A dataset's draft was discarded",
    "dataset.published": "A draft became a new published version",
    "dataset.imported": "A bulk import published a version",
    "dataset.archived": "A dataset was withdrawn from public view",
    "dataset.unarchived": "An archived dataset was made public again",
    "dataset.data_use_set": "A dataset's GA4GH DUO data-use conditions were set or changed by its custodian",
    "dataset.data_use_cleared": "A dataset's GA4GH DUO data-use conditions were removed by its custodian",
    # access requests (application.<event>: one per event appended to an application's log)
    "application.created": "A data access application was started (draft, amendment or renewal)",
    "application.saved": "An application's answers, purpose or title were saved",
    "application.datasets_changed": "The datasets a draft application asks for were changed",
    "application.collaborator_invited": "The applicant invited a collaborator who may edit the application",
    "application.collaborator_removed": "The applicant removed a collaborator",
    "application.submitted": "An application was submitted to its custodians",
    "application.resubmitted": "An application returned for changes was submitted again",
    "application.withdrawn": "The applicant withdrew an application",
    "application.amended": "An amendment of an approved application was started",
    "application.renewed": "A renewal of an approved application was started",
    "application.returned": "A custodian returned its part of an application to the applicant",
    "application.reviewers_assigned": "A custodian assigned reviewers to its part (a review phase began)",
    "application.reviewed": "A reviewer gave a recommendation on a custodian's part",
    "application.approved": "A custodian approved its part of an application",
    "application.approved_with_conditions": "A custodian approved its part of an application with conditions",
    "application.rejected": "A custodian rejected its part of an application",
    "application.closed": "A custodian closed its part of an application",
    "enquiry.opened": "A researcher asked custodians a question about their datasets",
    "enquiry.converted": "An enquiry became a draft application",
    "access.message_posted": "A message was sent between an applicant and a custodian",
    "access.note_added": "An internal note was added by one side of an enquiry or application",
    "basket.item_added": "A researcher put a dataset in their basket (to apply for several together)",
    "basket.item_removed": "A researcher took a dataset out of their basket",
    "basket.cleared": "A researcher's basket was emptied (by hand, or by applying for its datasets)",
    "webhook.created": "A custodian team registered a webhook (a URL of its own system told of its applications)",
    "webhook.enabled": "A custodian team enabled a webhook again",
    "webhook.disabled": "A custodian team disabled a webhook",
    "webhook.secret_rotated": "A custodian team gave a webhook a new signing secret",
    "webhook.deleted": "A custodian team deleted a webhook",
    "webhook.delivery_retried": "A custodian team queued a dead webhook delivery again",
    "passport.key_created": "A key to sign GA4GH Passport visas was created",
    "passport.key_retired": "A key that signs GA4GH Passport visas was retired (a newer key signs from now on)",
    "passport.visas_issued": "GA4GH Passport visas were minted for a person's approved datasets",
    "access.clock_standard_set": "An alliance admin changed a waiting-time standard (working days per step)",
    "access.team_nation_set": "A custodian team set the UK nation whose bank holidays its clocks skip",
    "access.reminder_sent": "A reminder was sent about a review phase or a waiting-time standard",
    # access forms: the question bank, custodian templates, attachments
    "question_bank.question_added": "An alliance admin added a question to the access question bank (a new version)",
    "question_bank.question_edited": "An alliance admin changed a question of the access question bank (a new version)",
    "question_bank.question_retired": "An alliance admin retired a question of the access question bank (a new version)",
    "access_template.draft_saved": "A custodian team saved the draft of its access application form",
    "access_template.published": "A custodian team published a new version of its access application form",
    "attachment.added": "A file was attached to an access application",
    "attachment.downloaded": "A file attached to an access application was downloaded",
    "attachment.deleted": "A file attached to an access application was removed",
    # data use register
    "register_entry.created": "A custodian added an entry to its data use register (a draft until published)",
    "register_entry.updated": "A custodian changed an entry of its data use register",
    "register_entry.published": "A custodian published a data use register entry",
    "register_entry.withdrawn": "A custodian took a data use register entry off the public register",
    "register_upload.applied": "A custodian uploaded its data use register as a file (CSV or XLSX) and applied it",
    # alliance
    "alliance_member.created": "An alliance admin added a member of the alliance",
    "alliance_member.updated": "An alliance admin changed a member of the alliance",
    "alliance_member.left": "An alliance admin recorded that a member left the alliance",
    "alliance_letter.added": "An alliance admin recorded a member's signed letter of intent",
    "alliance_letter.downloaded": "An alliance admin downloaded a member's signed letter of intent",
    "alliance_letter.deleted": "An alliance admin removed a member's letter of intent",
    "alliance.reminder_sent": "A reminder about a member's obligation was queued to its team admins",
    # outbox
    "outbox.queued": "A message was queued for delivery",
    "outbox.dead": "A message could not be delivered after every retry",
    "outbox.retried": "A dead message was queued to be sent again",
    # harvest sources and jobs
    "harvest_source.created": "A harvest source (a custodian's own catalogue) was added",
    "harvest_source.updated": "A harvest source's settings, schedule or credentials were changed",
    "harvest_source.deleted": "A harvest source was removed (its datasets stay)",
    "harvest_job.queued": "A harvest of a source was queued (by hand, the CLI or the schedule)",
    "harvest_job.finished": "A harvest job ended (succeeded or failed), with its counts",
    "harvest_job.failed": "A harvest job was marked failed because its worker stopped (no heartbeat)",
}


class UndeclaredAction(ValueError):
    """A programming error: the code tried to record an action that ``ACTIONS`` does not declare."""


def check(action: str) -> str:
    if action not in ACTIONS:
        raise UndeclaredAction(f"audit action {action!r} is not declared in healthgate.audit.actions.ACTIONS")
    return action


def describe(action: str) -> str:
    return ACTIONS.get(action, action)
