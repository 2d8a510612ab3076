"""HDR UK 4.0.0 metadata -> DCAT-AP 3.0.1 with HealthDCAT-AP properties (an rdflib graph).

One published version becomes one ``dcat:Dataset`` (IRI: the dataset's public page, which also answers with
this graph by content negotiation) with its publisher (``foaf:Agent``), contact point (``vcard:Kind``),
temporal and spatial coverage, keywords, themes, one distribution (how access is obtained), access rights,
version, dates, landing page and standards; plus the HealthDCAT-AP properties the metadata has: number of
records, number of unique individuals, typical age range, health themes, coding systems and the health data
access body. A catalogue page (``catalog_graph``) is a ``dcat:Catalog`` with its ``dcat:DataService`` and a
Hydra ``PartialCollectionView``. The mapping is documented field by field in docs/federation-dcat.md and read
back by ``interop.dcat_read``; what is written here, that module reads.

Total on messy input: a field of the wrong type is left out, never an exception.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, BinaryIO
from urllib.parse import quote

import pycountry
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, PROV, RDF, RDFS, SKOS, XSD

VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
DCAT3 = Namespace(str(DCAT))  # DCAT 3 terms rdflib's closed DCAT namespace lacks (dcat:version)
ADMS = Namespace("http://www.w3.org/ns/adms#")
DCATAP = Namespace("http://data.europa.eu/r5r/")
HEALTHDCATAP = Namespace("http://healthdataportal.eu/ns/health#")  # HealthDCAT-AP (EHDS)
LOCN = Namespace("http://www.w3.org/ns/locn#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
DPV = Namespace("https://w3id.org/dpv#")
SDO = Namespace("https://schema.org/")

EU = "http://publications.europa.eu/resource/authority/"
DATA_THEME_HEALTH = URIRef(EU + "data-theme/HEAL")
ACCESS_PUBLIC = URIRef(EU + "access-right/PUBLIC")
ACCESS_RESTRICTED = URIRef(EU + "access-right/RESTRICTED")
ACCESS_NON_PUBLIC = URIRef(EU + "access-right/NON_PUBLIC")
LEGISLATION_EHDS = URIRef("http://data.europa.eu/eli/reg/2025/327/oj")  # the European Health Data Space
DCAT_AP_301 = URIRef("https://semiceu.github.io/DCAT-AP/releases/3.0.1")
HDRUK_400 = URIRef("https://hdruk.github.io/schemata/schema/dataset/4.0.0/dataset.schema.json")

PREFIXES: dict[str, Any] = {  # prefix -> namespace (rdflib Namespace or DefinedNamespace)
    "dcat": DCAT, "dct": DCTERMS, "foaf": FOAF, "vcard": VCARD, "skos": SKOS, "adms": ADMS, "dcatap": DCATAP,
    "healthdcatap": HEALTHDCATAP, "locn": LOCN, "hydra": HYDRA, "prov": PROV, "dpv": DPV, "xsd": XSD,
    "rdfs": RDFS, "sdo": SDO,
}

# HDR UK publishingFrequency <-> EU frequency authority table
FREQUENCIES: dict[str, str] = {
    "Static": "NEVER", "Irregular": "IRREG", "Continuous": "CONT", "Biennial": "BIENNIAL", "Annual": "ANNUAL",
    "Biannual": "ANNUAL_2", "Quarterly": "QUARTERLY", "Bimonthly": "BIMONTHLY", "Monthly": "MONTHLY",
    "Biweekly": "BIWEEKLY", "Weekly": "WEEKLY", "Twice a week": "WEEKLY_2", "Daily": "DAILY", "Other": "OTHER",
}
FREQUENCY_BASE = EU + "frequency/"

# HDR UK vocabularyEncodingScheme -> the Wikidata property of that coding system (HealthDCAT-AP hasCodingSystem)
CODING_SYSTEMS: dict[str, str] = {
    "ICD10": "P494", "ICD9": "P493", "SNOMED CT": "P5806", "LOINC": "P4338", "ATC": "P267", "HPO": "P3841",
    "ICDO3": "P563", "RXNORM": "P3345", "ICD10CM": "P4229", "ICD9CM": "P1692", "ICD10PCS": "P1690",
}
WIKIDATA = "http://www.wikidata.org/entity/"

OBSERVED_NODES = ("Persons", "Events", "Findings", "Number of scans per modality")


def _dict(v: object) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _text(v: object) -> str | None:
    if isinstance(v, str) and v.strip():
        return v.strip()
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    return None


def _texts(v: object) -> list[str]:
    items = v if isinstance(v, list) else (v.split(",") if isinstance(v, str) else [])
    return list(dict.fromkeys(t for t in map(_text, items) if t))


def _int(v: object) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


def is_url(v: str) -> bool:
    return bool(re.match(r"^https?://[^\s<>\"{}|\\^`]+$", v))


def _slug(text: str) -> str:
    return quote(re.sub(r"\s+", "-", text.strip()), safe="-._~+")


def _when(v: object) -> Literal | None:
    """An ISO date or date-time as xsd:date / xsd:dateTime (kept as written, so it reads back the same)."""
    t = _text(v)
    if not t:
        return None
    try:
        if len(t) == 10:
            return Literal(date.fromisoformat(t).isoformat(), datatype=XSD.date)
        datetime.fromisoformat(t)
        return Literal(t, datatype=XSD.dateTime)
    except ValueError:
        return None


def _mail(address: str) -> URIRef:
    return URIRef("mailto:" + address.removeprefix("mailto:"))


@functools.cache
def language_iri(code: str) -> URIRef:
    """ISO 639-1 code -> the EU language authority IRI (ISO 639-3 based); unknown codes -> LoC ISO 639-1."""
    found = pycountry.languages.get(alpha_2=code.lower()) if len(code) == 2 else None
    alpha_3 = getattr(found, "alpha_3", None)
    if alpha_3:
        return URIRef(f"{EU}language/{alpha_3.upper()}")
    return URIRef(f"http://id.loc.gov/vocabulary/iso639-1/{quote(code.lower())}")


def _concept(g: Graph, iri: URIRef, label: str, scheme: URIRef | None = None,
             broader: URIRef | None = None) -> URIRef:
    g.add((iri, RDF.type, SKOS.Concept))
    g.add((iri, SKOS.prefLabel, Literal(label, lang="en")))
    if scheme is not None:
        g.add((iri, SKOS.inScheme, scheme))
    if broader is not None:
        g.add((iri, SKOS.broader, broader))
    return iri


class _Blank:
    """Blank nodes named from their dataset, so the same record always serialises to the same bytes (stable
    ETags and caches; labels never clash between datasets of one catalogue)."""

    def __init__(self, owner: object) -> None:
        self.prefix = re.sub(r"[^A-Za-z0-9]", "", str(owner))[-40:] or "n"
        self.n = 0

    def __call__(self) -> BNode:
        self.n += 1
        return BNode(f"b{self.prefix}n{self.n}")


def _agent(g: Graph, name: str, *, blank: _Blank, identifier: str | None = None, email: str | None = None,
           homepage: str | None = None) -> BNode:
    node = blank()
    g.add((node, RDF.type, FOAF.Agent))
    g.add((node, RDF.type, FOAF.Organization))
    g.add((node, FOAF.name, Literal(name)))
    if identifier:
        g.add((node, DCTERMS.identifier, Literal(identifier)))
    if email:
        g.add((node, FOAF.mbox, _mail(email)))
    if homepage and is_url(homepage):
        g.add((node, FOAF.homepage, URIRef(homepage)))
        g.add((URIRef(homepage), RDF.type, FOAF.Document))
    return node


def bind(g: Graph, site: Site | None = None) -> Graph:
    for prefix, ns in PREFIXES.items():
        g.bind(prefix, ns, override=True)
    if site is not None:  # shorter Turtle, and rdflib's Turtle writer is much faster with them bound
        g.bind("dataset", Namespace(f"{site.base}/datasets/"), override=True)
        g.bind("datasettype", Namespace(f"{site.base}/vocab/dataset-type/"), override=True)
    return g


@dataclass(frozen=True)
class Site:
    """Who serves the catalogue: its public address and name."""

    base_url: str
    name: str = "healthgate"

    @property
    def base(self) -> str:
        return self.base_url.rstrip("/")

    def dataset_iri(self, dataset_id: uuid.UUID | str) -> URIRef:
        return URIRef(f"{self.base}/datasets/{dataset_id}")

    def vocab(self, scheme: str, label: str) -> URIRef:
        return URIRef(f"{self.base}/vocab/{scheme}/{_slug(label)}")

    @property
    def catalog_iri(self) -> URIRef:
        return URIRef(f"{self.base}/catalog")

    @property
    def service_iri(self) -> URIRef:
        return URIRef(f"{self.base}/catalog#federation-api")


def add_dataset(g: Graph, doc: Mapping[str, Any], site: Site, dataset_id: uuid.UUID | str, *,
                service: URIRef | None = None) -> URIRef:
    """Write one HDR UK 4.0.0 document as a dcat:Dataset into ``g``; its IRI."""
    ds = site.dataset_iri(dataset_id)
    blank = _Blank(dataset_id)
    page = ds  # the public page is the landing page
    summary = _dict(doc.get("summary"))
    documentation = _dict(doc.get("documentation"))
    coverage = _dict(doc.get("coverage"))
    provenance = _dict(doc.get("provenance"))
    origin = _dict(provenance.get("origin"))
    temporal = _dict(provenance.get("temporal"))
    accessibility = _dict(doc.get("accessibility"))
    access = _dict(accessibility.get("access"))
    usage = _dict(accessibility.get("usage"))
    standards = _dict(accessibility.get("formatAndStandards"))
    linkage = _dict(doc.get("enrichmentAndLinkage"))
    custodian = _dict(summary.get("dataCustodian"))

    g.add((ds, RDF.type, DCAT.Dataset))
    g.add((ds, DCTERMS.identifier, Literal(_text(doc.get("identifier")) or str(dataset_id))))
    title = _text(summary.get("title"))
    if title:
        g.add((ds, DCTERMS.title, Literal(title, lang="en")))
    abstract = _text(summary.get("abstract"))
    description = _text(documentation.get("description")) or abstract
    if description:
        g.add((ds, DCTERMS.description, Literal(description, lang="en")))
    if abstract:
        g.add((ds, DCTERMS.abstract, Literal(abstract, lang="en")))
    for alias in _texts(summary.get("datasetAliases")):
        g.add((ds, DCTERMS.alternative, Literal(alias, lang="en")))
    for kw in _texts(summary.get("keywords")):
        g.add((ds, DCAT.keyword, Literal(kw, lang="en")))
    version = _text(doc.get("version"))
    if version:
        g.add((ds, DCAT3.version, Literal(version)))
    for prop, key in ((DCTERMS.issued, "issued"), (DCTERMS.modified, "modified")):
        when = _when(doc.get(key))
        if when is not None:
            g.add((ds, prop, when))
    g.add((ds, DCAT.landingPage, page))
    g.add((page, RDF.type, FOAF.Document))
    g.add((ds, DCTERMS.conformsTo, HDRUK_400))
    g.add((HDRUK_400, RDF.type, DCTERMS.Standard))
    g.add((HDRUK_400, RDFS.label, Literal("HDR UK dataset metadata 4.0.0", lang="en")))

    doi = _text(summary.get("doiName"))
    if doi:
        ident = blank()
        g.add((ds, ADMS.identifier, ident))
        g.add((ident, RDF.type, ADMS.Identifier))
        g.add((ident, SKOS.notation, Literal(doi.removeprefix("https://doi.org/"))))
        g.add((ident, DCTERMS.creator, Literal("DOI")))

    # publisher: the data custodian
    name = _text(custodian.get("name"))
    if name:
        emails = _texts(custodian.get("contactPoint"))
        homepage = _text(custodian.get("description"))
        agent = _agent(g, name, blank=blank, identifier=_text(custodian.get("identifier")),
                       email=emails[0] if emails else None)
        g.add((ds, DCTERMS.publisher, agent))
        for extra in emails[1:]:
            g.add((agent, FOAF.mbox, _mail(extra)))
        logo = _text(custodian.get("logo"))
        if logo and is_url(logo):
            g.add((agent, FOAF.logo, URIRef(logo)))
        if homepage:  # HDR UK: a description (often a link to one)
            g.add((ds, HEALTHDCATAP.publisherNote, Literal(homepage, lang="en")))

    contact = _text(summary.get("contactPoint"))
    if contact:
        kind = blank()
        g.add((ds, DCAT.contactPoint, kind))
        g.add((kind, RDF.type, VCARD.Kind))
        g.add((kind, VCARD.fn, Literal(name or title or contact)))
        g.add((kind, VCARD.hasEmail, _mail(contact)))

    creator = _text(usage.get("resourceCreator")) or (", ".join(_texts(usage.get("resourceCreator"))) or None)
    if creator:
        g.add((ds, DCTERMS.creator, _agent(g, creator, blank=blank)))

    # coverage
    for place in _texts(coverage.get("spatial")):
        if is_url(place):
            loc: URIRef | BNode = URIRef(place)
        else:
            loc = blank()
            g.add((loc, LOCN.geographicName, Literal(place, lang="en")))
            g.add((loc, SKOS.prefLabel, Literal(place, lang="en")))
        g.add((loc, RDF.type, DCTERMS.Location))
        g.add((ds, DCTERMS.spatial, loc))
    age_min, age_max = _int(coverage.get("typicalAgeRangeMin")), _int(coverage.get("typicalAgeRangeMax"))
    if age_min is not None:
        g.add((ds, HEALTHDCATAP.minTypicalAge, Literal(age_min, datatype=XSD.nonNegativeInteger)))
    if age_max is not None:
        g.add((ds, HEALTHDCATAP.maxTypicalAge, Literal(age_max, datatype=XSD.nonNegativeInteger)))
    start, end = _when(temporal.get("startDate")), _when(temporal.get("endDate"))
    if start is not None or end is not None:
        period = blank()
        g.add((ds, DCTERMS.temporal, period))
        g.add((period, RDF.type, DCTERMS.PeriodOfTime))
        if start is not None:
            g.add((period, DCAT.startDate, start))
        if end is not None:
            g.add((period, DCAT.endDate, end))
    frequency = _text(temporal.get("publishingFrequency"))
    if frequency in FREQUENCIES:
        freq = URIRef(FREQUENCY_BASE + FREQUENCIES[frequency])
        g.add((ds, DCTERMS.accrualPeriodicity, freq))
        g.add((freq, RDF.type, DCTERMS.Frequency))

    # themes: the EU data theme "health", and HDR UK's dataset types / sub-types as health themes
    g.add((ds, DCAT.theme, _concept(g, DATA_THEME_HEALTH, "Health", URIRef(EU + "data-theme"))))
    type_scheme = URIRef(f"{site.base}/vocab/dataset-type")
    types = origin.get("datasetType")
    for entry in types if isinstance(types, list) else []:
        type_name = _text(entry.get("name")) if isinstance(entry, dict) else _text(entry)
        if not type_name:
            continue
        parent = _concept(g, site.vocab("dataset-type", type_name), type_name, type_scheme)
        g.add((ds, HEALTHDCATAP.healthTheme, parent))
        subs = _texts(entry.get("subTypes")) if isinstance(entry, dict) else []
        for sub in subs:
            child = _concept(g, site.vocab("dataset-type", f"{type_name}/{sub}"), sub, type_scheme, parent)
            g.add((ds, HEALTHDCATAP.healthTheme, child))

    # HealthDCAT-AP counts
    population = _int(summary.get("populationSize"))
    if population is not None:
        g.add((ds, HEALTHDCATAP.numberOfUniqueIndividuals, Literal(population, datatype=XSD.nonNegativeInteger)))
    observations = doc.get("observations")
    events = [o for o in observations if isinstance(o, dict) and o.get("observedNode") == "Events"
              and _int(o.get("measuredValue")) is not None] if isinstance(observations, list) else []
    if events:
        latest = max(events, key=lambda o: str(o.get("observationDate") or ""))
        g.add((ds, HEALTHDCATAP.numberOfRecords, Literal(latest["measuredValue"], datatype=XSD.nonNegativeInteger)))
    for obs in observations if isinstance(observations, list) else []:
        _add_observation(g, ds, obs, blank)

    # standards, languages, coding systems
    for std in _texts(standards.get("conformsTo")):
        node = site.vocab("standard", std)
        g.add((node, RDF.type, DCTERMS.Standard))
        g.add((node, RDFS.label, Literal(std)))
        g.add((ds, DCTERMS.conformsTo, node))
    for lang in _texts(standards.get("language")):
        iri = language_iri(lang)
        g.add((iri, RDF.type, DCTERMS.LinguisticSystem))
        g.add((iri, DCTERMS.identifier, Literal(lang.lower())))
        g.add((ds, DCTERMS.language, iri))
    coding_scheme = URIRef(f"{site.base}/vocab/coding-system")
    for system in _texts(standards.get("vocabularyEncodingScheme")):
        wikidata = CODING_SYSTEMS.get(system.upper())
        iri = URIRef(WIKIDATA + wikidata) if wikidata else site.vocab("coding-system", system)
        g.add((ds, HEALTHDCATAP.hasCodingSystem, _concept(g, iri, system, coding_scheme)))

    # access: the HDAB (data controller), access rights and the distribution that tells how to get the data
    controller = _text(access.get("dataController"))
    if controller:
        g.add((ds, HEALTHDCATAP.hdab, _agent(g, controller, blank=blank)))
    processor = _text(access.get("dataProcessor"))
    if processor:
        g.add((ds, DPV.hasDataProcessor, _agent(g, processor, blank=blank)))
    category = _text(access.get("accessServiceCategory"))
    rights_iri = ACCESS_PUBLIC if category == "Open access" else ACCESS_RESTRICTED
    g.add((ds, DCTERMS.accessRights, rights_iri))
    g.add((rights_iri, RDF.type, DCTERMS.RightsStatement))
    rights_text = _text(access.get("accessRights"))
    dist = URIRef(f"{ds}#distribution")
    g.add((ds, DCAT.distribution, dist))
    g.add((dist, RDF.type, DCAT.Distribution))
    access_url = rights_text.split(",")[0].strip() if rights_text and is_url(rights_text.split(",")[0].strip()) \
        else str(page)
    g.add((dist, DCAT.accessURL, URIRef(access_url)))
    g.add((dist, DCTERMS.title, Literal(category or "Access on request", lang="en")))
    if rights_text:
        statement = blank()
        g.add((dist, DCTERMS.rights, statement))
        g.add((statement, RDF.type, DCTERMS.RightsStatement))
        g.add((statement, RDFS.label, Literal(rights_text, lang="en")))
    service_text = _text(access.get("accessService"))
    if service_text:
        g.add((dist, DCTERMS.description, Literal(service_text, lang="en")))
    formats = _texts(standards.get("format"))
    if formats:  # DCAT-AP allows one format per distribution: the first; all as media type labels
        fmt = formats[0]
        fmt_iri = URIRef(EU + "file-type/" + re.sub(r"[^A-Z0-9_]", "_", fmt.upper()))
        g.add((dist, DCTERMS.format, fmt_iri))
        g.add((fmt_iri, RDF.type, DCTERMS.MediaTypeOrExtent))
        for f in formats:
            g.add((dist, SDO.encodingFormat, Literal(f)))
    release = _when(temporal.get("distributionReleaseDate"))
    if release is not None:
        g.add((dist, DCTERMS.issued, release))
    if service is not None:
        g.add((dist, DCAT.accessService, service))

    # documentation and linkage
    for media in _texts(documentation.get("associatedMedia")):
        if is_url(media):
            g.add((ds, FOAF.page, URIRef(media)))
            g.add((URIRef(media), RDF.type, FOAF.Document))
    for key in ("publicationAboutDataset", "publicationUsingDataset"):
        for pub in _texts(linkage.get(key)):
            ref = URIRef(pub) if is_url(pub) else URIRef("https://doi.org/" + pub) if pub.startswith("10.") else None
            if ref is not None:
                g.add((ds, DCTERMS.isReferencedBy, ref))
    for derived in linkage.get("derivedFrom") or [] if isinstance(linkage.get("derivedFrom"), list) else []:
        url = _text(_dict(derived).get("url"))
        if url and is_url(url):
            g.add((ds, PROV.wasDerivedFrom, URIRef(url)))
    return ds


def _add_observation(g: Graph, ds: URIRef, obs: object, blank: _Blank) -> None:
    """An HDR UK observation (a schema.org Observation in origin) as an sdo:Observation of the dataset."""
    o = _dict(obs)
    value = _int(o.get("measuredValue"))
    node_name = _text(o.get("observedNode"))
    if value is None or not node_name:
        return
    node = blank()
    g.add((ds, SDO.observation, node))
    g.add((node, RDF.type, SDO.Observation))
    g.add((node, SDO.observationAbout, Literal(node_name)))
    g.add((node, SDO.value, Literal(value, datatype=XSD.nonNegativeInteger)))
    prop = _text(o.get("measuredProperty"))
    if prop:
        g.add((node, SDO.measuredProperty, Literal(prop)))
    when = _when(o.get("observationDate"))
    if when is not None:
        g.add((node, SDO.observationDate, when))
    note = _text(o.get("disambiguatingDescription"))
    if note:
        g.add((node, SDO.disambiguatingDescription, Literal(note, lang="en")))


def dataset_graph(doc: Mapping[str, Any], site: Site, dataset_id: uuid.UUID | str) -> Graph:
    """One dataset version on its own (per-dataset Turtle / JSON-LD)."""
    g = bind(Graph(), site)
    add_dataset(g, doc, site, dataset_id)
    return g


def add_catalog(g: Graph, site: Site, dataset_iris: Iterable[URIRef], *, modified: datetime | None = None) -> URIRef:
    """The catalogue node with its data service (the federation API), listing ``dataset_iris``."""
    cat, svc = site.catalog_iri, site.service_iri
    g.add((cat, RDF.type, DCAT.Catalog))
    g.add((cat, DCTERMS.title, Literal(f"{site.name} dataset catalogue", lang="en")))
    g.add((cat, DCTERMS.description, Literal(
        f"Health datasets published by the data custodians of {site.name}, in DCAT-AP 3.0.1 with HealthDCAT-AP "
        "properties.", lang="en")))
    publisher = _agent(g, site.name, blank=_Blank("catalog"), homepage=site.base + "/")
    g.add((cat, DCTERMS.publisher, publisher))
    g.add((cat, FOAF.homepage, URIRef(site.base + "/")))
    g.add((cat, DCTERMS.conformsTo, DCAT_AP_301))
    g.add((DCAT_AP_301, RDF.type, DCTERMS.Standard))
    g.add((cat, DCTERMS.language, language_iri("en")))
    g.add((language_iri("en"), RDF.type, DCTERMS.LinguisticSystem))
    if modified is not None:
        g.add((cat, DCTERMS.modified, Literal(modified.isoformat(), datatype=XSD.dateTime)))
    g.add((cat, DCAT.service, svc))
    g.add((svc, RDF.type, DCAT.DataService))
    g.add((svc, DCTERMS.title, Literal(f"{site.name} federation API (HDR UK federated metadata catalogue)",
                                       lang="en")))
    g.add((svc, DCTERMS.description, Literal(
        "Lists datasets and serves each in HDR UK 4.0.0 metadata; this catalogue also serves DCAT-AP.", lang="en")))
    g.add((svc, DCAT.endpointURL, URIRef(site.base + "/federation")))
    g.add((svc, DCAT.endpointDescription, URIRef(site.base + "/api/v1/openapi.json")))
    g.add((svc, DCAT.landingPage, URIRef(site.base + "/")))
    g.add((URIRef(site.base + "/"), RDF.type, FOAF.Document))
    g.add((svc, DCTERMS.publisher, publisher))
    for iri in dataset_iris:
        g.add((cat, DCAT.dataset, iri))
        g.add((svc, DCAT.servesDataset, iri))
    return cat


@dataclass(frozen=True)
class Page:
    """Where a catalogue page sits in the whole (Hydra paging: 1-based page numbers)."""

    number: int
    size: int
    total: int

    @property
    def last(self) -> int:
        return max(1, -(-self.total // self.size))


def add_paging(g: Graph, collection: URIRef, page: Page, url_of: Any) -> None:
    """Hydra PartialCollectionView: ``url_of(n)`` is the address of page n."""
    view = URIRef(url_of(page.number))
    g.add((collection, HYDRA.totalItems, Literal(page.total, datatype=XSD.nonNegativeInteger)))
    g.add((collection, HYDRA.view, view))
    g.add((view, RDF.type, HYDRA.PartialCollectionView))
    g.add((view, HYDRA.first, URIRef(url_of(1))))
    g.add((view, HYDRA.last, URIRef(url_of(page.last))))
    if page.number > 1:
        g.add((view, HYDRA.previous, URIRef(url_of(min(page.number - 1, page.last)))))
    if page.number < page.last:
        g.add((view, HYDRA.next, URIRef(url_of(page.number + 1))))


def catalog_graph(docs: Iterable[tuple[uuid.UUID, Mapping[str, Any]] | tuple[str, Mapping[str, Any]]], site: Site, *,
                  page: Page | None = None, url_of: Any = None, modified: datetime | None = None) -> Graph:
    """A catalogue (or one page of it) holding ``docs`` as (dataset id, HDR UK 4.0.0 document) pairs."""
    g = bind(Graph(), site)
    iris = [add_dataset(g, doc, site, dataset_id, service=site.service_iri) for dataset_id, doc in docs]
    cat = add_catalog(g, site, iris, modified=modified)
    if page is not None and url_of is not None:
        add_paging(g, cat, page, url_of)
    return g


FORMATS: dict[str, tuple[str, str]] = {  # name -> (rdflib format, media type)
    "ttl": ("turtle", "text/turtle"),
    "jsonld": ("json-ld", "application/ld+json"),
    "rdf": ("xml", "application/rdf+xml"),  # plain RDF/XML: pretty-xml is five times slower
}


def serialize(g: Graph, fmt: str) -> bytes:
    rdflib_format, _ = FORMATS[fmt]
    if rdflib_format == "json-ld":
        context = {prefix: str(ns) for prefix, ns in PREFIXES.items()}
        return g.serialize(format="json-ld", context=context, auto_compact=True).encode()
    return g.serialize(format=rdflib_format, encoding="utf-8")


def write_catalog(chunks: Iterable[Sequence[tuple[uuid.UUID, Mapping[str, Any]]]], site: Site, fmt: str,
                  out: BinaryIO, *, modified: datetime | None = None) -> int:
    """The whole catalogue as one document, written a chunk of datasets at a time (memory stays flat however
    large the catalogue): Turtle as consecutive Turtle blocks (prefixes repeated, which Turtle allows), JSON-LD
    as one ``@graph`` array. How many datasets were written."""
    if fmt not in ("ttl", "jsonld"):
        raise ValueError(f"cannot stream {fmt!r}: ttl or jsonld")
    n = 0
    first = True
    if fmt == "jsonld":
        context = {prefix: str(ns) for prefix, ns in PREFIXES.items()}
        out.write(b'{"@context": ' + json.dumps(context).encode() + b',\n"@graph": [\n')
    for rows in itertools.chain([[]], chunks):  # the first (empty) chunk carries the catalogue itself
        g = bind(Graph(), site)
        iris = [add_dataset(g, doc, site, dataset_id, service=site.service_iri) for dataset_id, doc in rows]
        n += len(iris)
        if first:
            add_catalog(g, site, iris, modified=modified)
        else:
            for iri in iris:
                g.add((site.catalog_iri, DCAT.dataset, iri))
                g.add((site.service_iri, DCAT.servesDataset, iri))
        if fmt == "ttl":
            out.write(g.serialize(format="turtle", encoding="utf-8"))
        else:
            compact = json.loads(g.serialize(format="json-ld", context=context, auto_compact=True))
            nodes = compact.get("@graph", [compact]) if isinstance(compact, dict) else compact
            for node in nodes:
                if isinstance(node, dict):
                    node.pop("@context", None)
                out.write((b"" if first and node is nodes[0] else b",\n") + json.dumps(node, ensure_ascii=False).encode())
        first = False
    if fmt == "jsonld":
        out.write(b"\n]}\n")
    return n
