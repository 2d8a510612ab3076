"""schema.org ``ResearchProject`` JSON-LD for a published data use register entry, as embedded in its page.

| register field | schema.org |
|---|---|
| entry page | ``@id``, ``url`` |
| Project ID (else the entry id) | ``identifier`` (plus ``urn:uuid:`` of the entry) |
| Project title | ``name`` |
| Lay summary | ``description`` |
| Public benefit statement | ``disambiguatingDescription`` |
| Organisation name / ID (ROR) | ``parentOrganization`` (``Organization``, ``sameAs`` its ROR URL) |
| Funders / sponsors | ``funder`` (``Organization`` by name) |
| Applicants (name, ORCID) | ``member`` (``Person``, ``sameAs`` the ORCID URL) |
| Project start / end date | ``startDate`` / ``endDate`` |
| Dataset(s) name | ``mentions`` (``Dataset``; ``url`` its catalogue page when matched) |
| Link to research outputs | ``subjectOf`` (``ScholarlyArticle`` with the DOI, ``SoftwareSourceCode``, ``SoftwareApplication`` or ``CreativeWork``) |
| the custodian reporting it | ``provider`` (``Organization``) |
"""

from __future__ import annotations

from typing import Any

_OUTPUT_TYPES = {"paper": "ScholarlyArticle", "code": "SoftwareSourceCode", "tool": "SoftwareApplication"}


def entry_jsonld(found: Any, base_url: str) -> dict[str, Any]:
    """``found``: a ``register.activity_reads.PublicEntry``; ``base_url``: this site's public address."""
    base = base_url.rstrip("/")
    entry = found.entry
    page = f"{base}/data-uses/{entry.id}"
    org: dict[str, Any] = {"@type": "Organization", "name": entry.organisation_name}
    if found.organisation_ror:
        org["sameAs"] = f"https://ror.org/{found.organisation_ror}"
        org["url"] = f"{base}/organisations/{found.organisation_ror}"
    elif found.organisation is not None:
        org["url"] = f"{base}/organisations/{found.organisation.slug}"
    identifiers = [f"urn:uuid:{entry.id}"]
    if entry.project_id:
        identifiers.insert(0, entry.project_id)
    out: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "ResearchProject",
        "@id": page,
        "url": page,
        "identifier": identifiers if len(identifiers) > 1 else identifiers[0],
        "name": entry.project_title,
        "description": entry.lay_summary,
        "disambiguatingDescription": entry.public_benefit,
        "parentOrganization": org,
        "provider": {"@type": "Organization", "name": found.custodian.name},
    }
    if entry.funders:
        out["funder"] = [{"@type": "Organization", "name": f} for f in entry.funders]
    members = []
    for a in found.applicants:
        person: dict[str, Any] = {"@type": "Person", "name": a["name"]}
        if a.get("orcid"):
            person["sameAs"] = f"https://orcid.org/{a['orcid']}"
            person["identifier"] = f"https://orcid.org/{a['orcid']}"
        members.append(person)
    if members:
        out["member"] = members
    datasets = []
    for d in found.datasets:
        item: dict[str, Any] = {"@type": "Dataset", "name": d.title or d.name}
        if d.dataset_id:
            item["url"] = f"{base}/datasets/{d.dataset_id}"
        datasets.append(item)
    if datasets:
        out["mentions"] = datasets
    works = []
    for o in found.outputs:
        work: dict[str, Any] = {"@type": _OUTPUT_TYPES.get(o["kind"], "CreativeWork"), "url": o["url"]}
        if o.get("doi"):
            work["identifier"] = f"https://doi.org/{o['doi']}"
        if o.get("title"):
            work["name"] = o["title"]
        works.append(work)
    if works:
        out["subjectOf"] = works
    if entry.project_start:
        out["startDate"] = entry.project_start.isoformat()
    if entry.project_end:
        out["endDate"] = entry.project_end.isoformat()
    return out
