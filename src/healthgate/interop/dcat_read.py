"""A DCAT-AP graph -> HDR UK 4.0.0 documents: the reverse of ``interop.dcat``, tolerant of what real catalogues
publish (DCAT-AP 2 and 3, HealthDCAT-AP, titles in several languages, e-mail addresses as literals or
``mailto:`` IRIs, agents named by ``foaf:name``, ``vcard:fn``, ``skos:prefLabel`` or ``rdfs:label``, periods
of time as ``dcat:startDate`` or ``schema:startDate`` or ``time:hasBeginning``).

What it does not know it leaves out: the catalogue checks each document against the HDR UK schema and scores
it, so a gap is reported to the custodian, never invented here. The only defaults are HDR UK's own
conventions for "unknown": ``populationSize`` -1 and ``version`` 1.0.0. Field by field: docs/federation-dcat.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pycountry
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, PROV, RDF, RDFS, SKOS
from rdflib.term import Node

from healthgate.interop.dcat import (
    ADMS,
    CODING_SYSTEMS,
    DCAT_AP_301,
    DPV,
    EU,
    FREQUENCIES,
    HDRUK_400,
    HEALTHDCATAP,
    LOCN,
    SDO,
    VCARD,
    WIKIDATA,
    is_url,
)

SDO_HTTP = Namespace("http://schema.org/")
TIME = Namespace("http://www.w3.org/2006/time#")
DCAT3 = Namespace(str(DCAT))
ACCESS_CATEGORIES = ("TRE/SDE", "Direct access", "Open access", "Varies based on project")
_FREQUENCY_NAMES = {code: name for name, code in FREQUENCIES.items()}
_CODING_NAMES = {pid: name for name, pid in CODING_SYSTEMS.items()}
_LABELS = (SKOS.prefLabel, RDFS.label, DCTERMS.title, FOAF.name, VCARD.fn, LOCN.geographicName, SKOS.altLabel)
_DOI = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)?(10\.\d{4,9}/\S+)$", re.IGNORECASE)


@dataclass
class Read:
    iri: str  # the dataset's IRI (or blank node id)
    title: str | None
    document: dict[str, Any]


def _texts(g: Graph, s: Node, p: URIRef) -> list[str]:
    """Literal values of ``p``, English (or untagged) first, then the rest; stripped, unique."""
    values = [o for o in g.objects(s, p) if isinstance(o, Literal) and str(o).strip()]

    def rank(lit: Literal) -> int:
        lang = (lit.language or "").lower()
        return 0 if lang.startswith("en") else 1 if not lang else 2

    return list(dict.fromkeys(str(v).strip() for v in sorted(values, key=rank)))


def _text(g: Graph, s: Node, *props: URIRef) -> str | None:
    for p in props:
        found = _texts(g, s, p)
        if found:
            return found[0]
    return None


def _label(g: Graph, node: Node) -> str | None:
    """What to call a node: its label, or for an IRI without one, the IRI's last segment."""
    if isinstance(node, Literal):
        return str(node).strip() or None
    found = _text(g, node, *_LABELS)
    if found:
        return found
    if isinstance(node, URIRef):
        tail = re.split(r"[/#]", str(node).rstrip("/#"))[-1]
        return tail or str(node)
    return None


def _email(node: Node) -> str | None:
    value = str(node).strip().removeprefix("mailto:").removeprefix("MAILTO:")
    return value if re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value) else None


def _emails(g: Graph, node: Node, *props: URIRef) -> list[str]:
    out = []
    for p in props:
        for o in g.objects(node, p):
            if isinstance(o, BNode):  # vcard:hasEmail [ vcard:value <mailto:...> ]
                o = g.value(o, VCARD.value) or o
            e = _email(o)
            if e:
                out.append(e)
    return sorted(set(out))


def _int(g: Graph, s: Node, p: URIRef) -> int | None:
    for o in g.objects(s, p):
        try:
            n = int(str(o).strip())
        except ValueError:
            continue
        if n >= 0:
            return n
    return None


def _when(node: Node | None) -> str | None:
    if node is None:
        return None
    text = str(node).strip()
    if text.endswith("+00:00") and "T" in text:
        text = text[:-6] + "Z"
    return text if re.match(r"^\d{4}-\d{2}-\d{2}", text) else None


def _semver(value: str | None) -> str:
    if not value:
        return "1.0.0"
    parts = re.findall(r"\d+", value)
    if re.match(r"^\d+(\.\d+){0,2}$", value.strip()) and parts:
        return ".".join((parts + ["0", "0"])[:3])
    return "1.0.0"


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    return (head[:space] if space > limit // 2 else head).rstrip(" ,;:") + "…"


def _language(g: Graph, node: Node) -> str | None:
    code = _text(g, node, DCTERMS.identifier)
    if code and len(code) == 2:
        return code.lower()
    if isinstance(node, Literal):
        code = str(node).strip()
    elif isinstance(node, URIRef):
        code = re.split(r"[/#]", str(node).rstrip("/"))[-1]
    else:
        return None
    if len(code) == 2:
        return code.lower()
    found = pycountry.languages.get(alpha_3=code.lower()) if len(code) == 3 else None
    alpha_2 = getattr(found, "alpha_2", None)
    return alpha_2.lower() if alpha_2 else None


def dataset_nodes(g: Graph) -> list[Node]:
    """Every dataset the graph describes (typed dcat:Dataset, or listed by a catalogue's dcat:dataset), in a
    stable order. Dataset series are not datasets here."""
    found = set(g.subjects(RDF.type, DCAT.Dataset)) | set(g.objects(None, DCAT.dataset))
    series = set(g.subjects(RDF.type, DCAT3.DatasetSeries))
    return sorted((n for n in found if n not in series and (n, None, None) in g), key=str)


def read_graph(g: Graph) -> Iterator[Read]:
    for node in dataset_nodes(g):
        doc = read_dataset(g, node)
        yield Read(iri=str(node), title=doc["summary"].get("title"), document=doc)


def _agent_name(g: Graph, agent: Node | None) -> str | None:
    if agent is None:
        return None
    if isinstance(agent, Literal):
        return str(agent).strip() or None
    return _text(g, agent, FOAF.name, VCARD.fn, VCARD["organization-name"], SKOS.prefLabel, RDFS.label)


def read_dataset(g: Graph, ds: Node) -> dict[str, Any]:
    """One dcat:Dataset as an HDR UK 4.0.0 document."""
    summary: dict[str, Any] = {}
    doc: dict[str, Any] = {}
    identifier = _text(g, ds, DCTERMS.identifier)
    doc["identifier"] = identifier or str(ds)
    doc["version"] = _semver(_text(g, ds, DCAT3.version, OWL.versionInfo, ADMS.version))
    doc["revisions"] = []
    issued, modified = _when(g.value(ds, DCTERMS.issued)), _when(g.value(ds, DCTERMS.modified))
    if issued or modified:
        doc["issued"] = issued or modified
        doc["modified"] = modified or issued
    doc["summary"] = summary

    title = _text(g, ds, DCTERMS.title, RDFS.label)
    if title:
        summary["title"] = _cut(title, 150)
    description = _text(g, ds, DCTERMS.description)
    abstract = _text(g, ds, DCTERMS.abstract) or description
    if abstract:
        summary["abstract"] = _cut(abstract, 500)

    publisher = g.value(ds, DCTERMS.publisher)
    contact = g.value(ds, DCAT.contactPoint)
    contact_emails = _emails(g, contact, VCARD.hasEmail, FOAF.mbox) if contact is not None else []
    name = _agent_name(g, publisher) or (_agent_name(g, contact) if contact is not None else None)
    if name:
        custodian: dict[str, Any] = {"name": _cut(name, 150)}
        pub_id = _text(g, publisher, DCTERMS.identifier) if publisher is not None else None
        custodian["identifier"] = pub_id or (str(publisher) if isinstance(publisher, URIRef) else name)
        emails = (_emails(g, publisher, FOAF.mbox, VCARD.hasEmail) if publisher is not None else []) or contact_emails
        custodian["contactPoint"] = emails
        logo = g.value(publisher, FOAF.logo) if publisher is not None else None
        if isinstance(logo, URIRef):
            custodian["logo"] = str(logo)
        note = _text(g, ds, HEALTHDCATAP.publisherNote)
        if note:
            custodian["description"] = note
        summary["dataCustodian"] = custodian
    population = _int(g, ds, HEALTHDCATAP.numberOfUniqueIndividuals)
    summary["populationSize"] = population if population is not None else -1
    keywords = _texts(g, ds, DCAT.keyword)
    doi = None
    for ident in g.objects(ds, ADMS.identifier):
        notation = _text(g, ident, SKOS.notation) if not isinstance(ident, Literal) else str(ident)
        m = _DOI.match(notation or (str(ident) if isinstance(ident, URIRef) else ""))
        if m:
            doi = m.group(1)
            break
    if doi is None and identifier and _DOI.match(identifier):
        doi = _DOI.match(identifier).group(1)  # type: ignore[union-attr]
    if doi:
        summary["doiName"] = doi
    if contact_emails:
        summary["contactPoint"] = contact_emails[0]
    elif name and summary.get("dataCustodian", {}).get("contactPoint"):
        summary["contactPoint"] = summary["dataCustodian"]["contactPoint"][0]
    aliases = sorted(_texts(g, ds, DCTERMS.alternative))
    if aliases:
        summary["datasetAliases"] = aliases

    if description:
        doc["documentation"] = {"description": description}
    pages = sorted(str(o) for o in g.objects(ds, FOAF.page) if isinstance(o, URIRef))
    if pages:
        doc.setdefault("documentation", {"description": description or abstract or title or ""})
        doc["documentation"]["associatedMedia"] = pages

    coverage: dict[str, Any] = {}
    places = []
    for loc in g.objects(ds, DCTERMS.spatial):
        label = _text(g, loc, LOCN.geographicName, SKOS.prefLabel, RDFS.label, DCTERMS.title)
        if label:
            places.append(label)
        elif isinstance(loc, URIRef):
            places.append(str(loc))
        elif isinstance(loc, Literal) and str(loc).strip():
            places.append(str(loc).strip())
    if places:
        places = sorted(set(places))
        coverage["spatial"] = places if all(is_url(p) for p in places) else ", ".join(places)
    for key, prop in (("typicalAgeRangeMin", HEALTHDCATAP.minTypicalAge),
                      ("typicalAgeRangeMax", HEALTHDCATAP.maxTypicalAge)):
        age = _int(g, ds, prop)
        if age is not None:
            coverage[key] = age
    if coverage:
        doc["coverage"] = coverage

    provenance: dict[str, Any] = {}
    types: dict[str, list[str]] = {}
    for theme in g.objects(ds, HEALTHDCATAP.healthTheme):
        label = _label(g, theme)
        if not label:
            continue
        scheme = g.value(theme, SKOS.inScheme)
        broader = g.value(theme, SKOS.broader)
        if scheme is not None and str(scheme).endswith("/vocab/dataset-type"):
            if broader is not None:
                types.setdefault(_label(g, broader) or "Other", []).append(label)
            else:
                types.setdefault(label, [])
        else:
            keywords.append(label)  # another catalogue's health theme (a Wikidata disease, say) is a keyword
    if types:
        provenance["origin"] = {"datasetType": [{"name": n, "subTypes": sorted(set(s)) or None}
                                                for n, s in sorted(types.items())]}
    temporal: dict[str, Any] = {}
    for period in g.objects(ds, DCTERMS.temporal):
        start = (g.value(period, DCAT.startDate) or g.value(period, SDO.startDate)
                 or g.value(period, SDO_HTTP.startDate)
                 or g.value(g.value(period, TIME.hasBeginning), TIME.inXSDDate))
        end = (g.value(period, DCAT.endDate) or g.value(period, SDO.endDate) or g.value(period, SDO_HTTP.endDate)
               or g.value(g.value(period, TIME.hasEnd), TIME.inXSDDate))
        if _when(start):
            temporal["startDate"] = _when(start)
        if _when(end):
            temporal["endDate"] = _when(end)
        if temporal:
            break
    frequency = g.value(ds, DCTERMS.accrualPeriodicity)
    if frequency is not None:
        code = re.split(r"[/#]", str(frequency).rstrip("/"))[-1].upper()
        temporal["publishingFrequency"] = _FREQUENCY_NAMES.get(code, "Other")
    distributions = sorted(g.objects(ds, DCAT.distribution), key=str)
    release = next((_when(g.value(d, DCTERMS.issued)) for d in distributions if _when(g.value(d, DCTERMS.issued))),
                   None)
    if release:
        temporal["distributionReleaseDate"] = release
    if temporal:
        provenance["temporal"] = temporal
    if provenance:
        doc["provenance"] = provenance

    if keywords:
        summary["keywords"] = sorted(set(keywords))  # RDF keeps no order: sorted, so a record always reads the same

    doc["accessibility"] = _accessibility(g, ds, distributions)
    linkage = _linkage(g, ds)
    if linkage:
        doc["enrichmentAndLinkage"] = linkage
    doc["observations"] = _observations(g, ds, doc)
    return doc


def _accessibility(g: Graph, ds: Node, distributions: list[Node]) -> dict[str, Any]:
    access: dict[str, Any] = {}
    rights_node = g.value(ds, DCTERMS.accessRights)
    rights = next((t for d in distributions for r in g.objects(d, DCTERMS.rights)
                   for t in [_text(g, r, RDFS.label, DCTERMS.description, SKOS.prefLabel)] if t), None)
    if rights is None and rights_node is not None and not str(rights_node).startswith(EU):
        rights = _text(g, rights_node, RDFS.label, DCTERMS.description, SKOS.prefLabel) or (
            str(rights_node) if isinstance(rights_node, (URIRef, Literal)) else None)
    if rights is None:
        urls = [str(u) for d in distributions for u in g.objects(d, DCAT.accessURL) if isinstance(u, URIRef)]
        landing = g.value(ds, DCAT.landingPage)
        rights = urls[0] if urls else str(landing) if isinstance(landing, URIRef) else None
    if rights is None and rights_node is not None:
        rights = _label(g, rights_node)
    if rights:
        access["accessRights"] = rights
    category = next((t for d in distributions for t in _texts(g, d, DCTERMS.title) if t in ACCESS_CATEGORIES), None)
    if category is None and rights_node is not None and str(rights_node) == EU + "access-right/PUBLIC":
        category = "Open access"
    if category:
        access["accessServiceCategory"] = category
        service = next((t for d in distributions if category in _texts(g, d, DCTERMS.title)
                        for t in _texts(g, d, DCTERMS.description)), None)
        if service:
            access["accessService"] = service
    controller = _agent_name(g, g.value(ds, HEALTHDCATAP.hdab))
    if controller:
        access["dataController"] = controller
    processor = _agent_name(g, g.value(ds, DPV.hasDataProcessor))
    if processor:
        access["dataProcessor"] = processor
    out: dict[str, Any] = {"access": access}
    creator = _agent_name(g, g.value(ds, DCTERMS.creator))
    if creator:
        out["usage"] = {"resourceCreator": creator}

    systems = []
    for node in g.objects(ds, HEALTHDCATAP.hasCodingSystem):
        pid = str(node).removeprefix(WIKIDATA) if str(node).startswith(WIKIDATA) else None
        systems.append(_CODING_NAMES.get(pid or "") or _label(g, node) or "OTHER")
    standards = [lbl for node in g.objects(ds, DCTERMS.conformsTo) if node not in (HDRUK_400, DCAT_AP_301)
                 for lbl in [_label(g, node)] if lbl]
    languages = [code for node in g.objects(ds, DCTERMS.language) for code in [_language(g, node)] if code]
    formats = [f for d in distributions for f in _texts(g, d, SDO.encodingFormat)]
    if not formats:
        formats = [lbl for d in distributions for p in (DCTERMS.format, DCAT.mediaType)
                   for node in g.objects(d, p) for lbl in [_label(g, node)] if lbl]
    if systems or standards or languages or formats:
        out["formatAndStandards"] = {
            "vocabularyEncodingScheme": sorted(set(systems)), "conformsTo": sorted(set(standards)),
            "language": sorted(set(languages)), "format": list(dict.fromkeys(formats)),
        }
    return out


def _linkage(g: Graph, ds: Node) -> dict[str, Any]:
    out: dict[str, Any] = {}
    pubs = []
    for ref in g.objects(ds, DCTERMS.isReferencedBy):
        m = _DOI.match(str(ref))
        pubs.append(m.group(1) if m else str(ref))
    if pubs:
        out["publicationAboutDataset"] = sorted(set(pubs))
    derived = [{"url": u} for u in sorted(str(o) for o in g.objects(ds, PROV.wasDerivedFrom) if isinstance(o, URIRef))]
    if derived:
        out["derivedFrom"] = derived
    return out


def _observations(g: Graph, ds: Node, doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for node in list(g.objects(ds, SDO.observation)) + list(g.objects(ds, SDO_HTTP.observation)):
        about = _text(g, node, SDO.observationAbout, SDO_HTTP.observationAbout)
        value = _int(g, node, SDO.value) if g.value(node, SDO.value) is not None else _int(g, node, SDO_HTTP.value)
        if not about or value is None:
            continue
        obs: dict[str, Any] = {"observedNode": about, "measuredValue": value,
                               "measuredProperty": _text(g, node, SDO.measuredProperty) or "Count"}
        when = _when(g.value(node, SDO.observationDate))
        if when:
            obs["observationDate"] = when
        note = _text(g, node, SDO.disambiguatingDescription)
        if note:
            obs["disambiguatingDescription"] = note
        out.append(obs)
    out.sort(key=lambda o: (str(o.get("observationDate", "")), o["observedNode"], o["measuredValue"]))
    if out:
        return out
    when = (doc.get("modified") or doc.get("issued") or "")[:10] or None
    for node_name, prop in (("Persons", HEALTHDCATAP.numberOfUniqueIndividuals),
                            ("Events", HEALTHDCATAP.numberOfRecords)):
        n = _int(g, ds, prop)
        if n is not None:
            obs = {"observedNode": node_name, "measuredValue": n, "measuredProperty": "Count"}
            if when:
                obs["observationDate"] = when
            out.append(obs)
    return out
