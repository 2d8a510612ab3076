"""DCAT-AP 3.0.1 / HealthDCAT-AP: the export validates against the official shapes (repaired), incomplete
records are reported field by field, every serialisation parses back, and ours -> DCAT -> ours keeps every
HealthDCAT-AP field."""

from __future__ import annotations

import copy

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF, SH

from healthgate.interop import dcat, dcat_read, shacl
from tests.conftest import load_fixture, shared_file

SITE = dcat.Site("https://gateway.example.org", "Example gateway")
ID = "7c1f4b2e-93a5-4d8e-b6f1-2a9c0e5d7f31"
H = dcat.HEALTHDCATAP


def _full() -> dict:
    doc = load_fixture("hdruk-4.0.0-full.json")
    doc["observations"].append({"observedNode": "Events", "measuredValue": 412233, "observationDate": "2024-09-30",
                                "measuredProperty": "Count"})
    return doc


def test_shipped_shapes_are_the_official_file_unchanged():
    shipped = (shacl.DATA / shacl.SHAPES_FILE).read_bytes()
    assert shipped == shared_file("dcat-ap-3.0.1-shacl.ttl").read_bytes()


def test_official_shapes_are_malformed_exactly_where_the_repair_says():
    raw = Graph().parse(data=(shacl.DATA / shacl.SHAPES_FILE).read_bytes(), format="turtle")
    assert set(shacl.malformed_property_shapes(raw)) == set(shacl.REPAIRS)
    service = Graph().parse(data="""@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
        <https://x.test/s> a dcat:DataService ; dct:title "s"@en ; dcat:endpointURL <https://x.test/api> .""",
                            format="turtle")
    from pyshacl import validate
    from pyshacl.errors import ReportableRuntimeError
    with pytest.raises(ReportableRuntimeError, match="not a well-formed SHACL PropertyShape"):
        validate(service, shacl_graph=raw)  # what the official file does unrepaired
    repaired = shacl.load_shapes()
    assert shacl.malformed_property_shapes(repaired) == []
    assert len(shacl.repairs()) == 2 and all("sh:nodeKind sh:IRI" in r for r in shacl.repairs())
    assert shacl.validate(service).conforms


def test_data_services_are_validated_not_skipped():
    bad = Graph().parse(data="""@prefix dcat: <http://www.w3.org/ns/dcat#> .
        <https://x.test/s> a dcat:DataService ; dcat:endpointURL "not an IRI" ; dcat:endpointDescription "nor this" .""",
                        format="turtle")
    report = shacl.validate(bad)
    assert not report.conforms
    paths = {(f.path, f.severity) for f in report.violations}
    assert ("dct:title", "violation") in paths  # the official mandatory title
    assert ("dcat:endpointURL", "violation") in paths  # the repaired shape: must be an IRI
    assert ("dcat:endpointDescription", "violation") in paths


def test_complete_record_in_a_catalogue_has_zero_violations():
    g = dcat.catalog_graph([(ID, _full())], SITE)
    assert (None, RDF.type, DCAT.DataService) in g  # the catalogue's service is validated too
    report = shacl.validate(g)
    assert report.conforms and report.violations == [], report.text()
    assert report.warnings == [], report.text()  # nothing recommended is missing either


def test_incomplete_record_is_reported_field_by_field():
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    doc["summary"]["abstract"] = " "
    doc["summary"]["title"] = ""
    report = shacl.validate(dcat.dataset_graph(doc, SITE, ID))
    assert not report.conforms
    lacking = {f.path for f in report.violations}
    assert lacking == {"dct:title", "dct:description"}
    assert all(f.focus == str(SITE.dataset_iri(ID)) for f in report.violations)
    warned = {f.path for f in report.warnings}
    assert {"dcat:keyword", "dct:spatial", "healthdcatap:minTypicalAge", "healthdcatap:healthTheme"} <= warned
    assert "minimum typical age" in report.text() and "coverage.typicalAgeRangeMin" in report.text()


def test_class_violations_name_the_node():
    g = dcat.dataset_graph(load_fixture("hdruk-4.0.0-minimal.json"), SITE, ID)
    ds = SITE.dataset_iri(ID)
    g.add((ds, DCTERMS.publisher, URIRef("https://x.test/untyped-agent")))  # second publisher, no foaf:Agent type
    report = shacl.validate(g)
    found = [f for f in report.violations if f.path == "dct:publisher"]
    assert found and all(f.focus == str(ds) for f in found)
    assert any("https://x.test/untyped-agent" in (f.value or "") for f in found)


@pytest.mark.parametrize("fmt", ["ttl", "jsonld", "rdf"])
def test_every_serialisation_parses_back_to_the_same_graph(fmt):
    g = dcat.catalog_graph([(ID, _full())], SITE)
    data = dcat.serialize(g, fmt)
    back = Graph().parse(data=data, format={"ttl": "turtle", "jsonld": "json-ld", "rdf": "xml"}[fmt])
    assert len(back) == len(g)
    from rdflib.compare import isomorphic
    assert isomorphic(back, g)


HEALTH_PROPS = (H.numberOfRecords, H.numberOfUniqueIndividuals, H.minTypicalAge, H.maxTypicalAge, H.healthTheme,
                H.hdab, H.hasCodingSystem, H.publisherNote)


def _health_fields(g: Graph, ds: URIRef) -> dict[str, object]:
    out: dict[str, object] = {}
    for p in HEALTH_PROPS:
        values = set()
        for o in g.objects(ds, p):
            if isinstance(o, Literal):
                values.add(str(o))
            else:  # a concept or an agent: what it is called
                values.add(dcat_read._label(g, o) or "")
        out[str(p)] = values
    return out


def test_round_trip_keeps_every_healthdcat_field():
    doc = _full()
    g1 = dcat.dataset_graph(doc, SITE, ID)
    ds = SITE.dataset_iri(ID)
    before = _health_fields(g1, ds)
    assert all(before.values()), {k: v for k, v in before.items() if not v}  # the fixture has every one
    parsed = Graph().parse(data=dcat.serialize(g1, "ttl"), format="turtle")
    (read,) = list(dcat_read.read_graph(parsed))
    other = dcat.Site("https://other.example.org")  # re-published by another gateway
    g2 = dcat.dataset_graph(read.document, other, "another-id")
    assert _health_fields(g2, other.dataset_iri("another-id")) == before
    # and the HDR UK fields behind them came back as they were
    back = read.document
    assert back["summary"]["populationSize"] == doc["summary"]["populationSize"]
    assert back["coverage"]["typicalAgeRangeMin"] == 18 and back["coverage"]["typicalAgeRangeMax"] == 98
    assert back["provenance"]["origin"]["datasetType"] == sorted(doc["provenance"]["origin"]["datasetType"],
                                                                 key=lambda t: t["name"])
    assert back["accessibility"]["access"]["dataController"] == "University of Wessex"
    assert sorted(back["accessibility"]["formatAndStandards"]["vocabularyEncodingScheme"]) == ["ICD10", "SNOMED CT"]
    assert {o["observedNode"]: o["measuredValue"] for o in back["observations"]} == {"Persons": 12418,
                                                                                     "Events": 412233}


def test_round_trip_keeps_the_dcat_fields():
    doc = _full()
    (read,) = list(dcat_read.read_graph(dcat.dataset_graph(doc, SITE, ID)))
    back = read.document
    s, d = back["summary"], doc["summary"]
    for key in ("title", "abstract", "doiName", "contactPoint", "datasetAliases"):
        assert s[key] == d[key], key
    assert sorted(s["keywords"]) == sorted(d["keywords"])
    assert s["dataCustodian"]["name"] == d["dataCustodian"]["name"]
    assert s["dataCustodian"]["identifier"] == d["dataCustodian"]["identifier"]
    assert s["dataCustodian"]["contactPoint"] == d["dataCustodian"]["contactPoint"]
    assert back["identifier"] == doc["identifier"] and back["version"] == doc["version"]
    assert back["issued"] == doc["issued"] and back["modified"] == doc["modified"]
    assert back["documentation"]["description"] == doc["documentation"]["description"]
    assert back["coverage"]["spatial"] == doc["coverage"]["spatial"]
    t = back["provenance"]["temporal"]
    assert t["startDate"] == doc["provenance"]["temporal"]["startDate"] and t["publishingFrequency"] == "Annual"
    access = back["accessibility"]["access"]
    for key in ("accessRights", "accessServiceCategory", "accessService", "dataProcessor"):
        assert access[key] == doc["accessibility"]["access"][key], key
    fs = back["accessibility"]["formatAndStandards"]
    assert fs["language"] == ["en"] and fs["conformsTo"] == ["OMOP"] and fs["format"] == ["Parquet"]


def test_reader_tolerates_what_real_catalogues_publish():
    ttl = """
    @prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
    @prefix foaf: <http://xmlns.com/foaf/0.1/> . @prefix vcard: <http://www.w3.org/2006/vcard/ns#> .
    @prefix healthdcatap: <http://healthdataportal.eu/ns/health#> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
    @prefix skos: <http://www.w3.org/2004/02/skos/core#> . @prefix schema: <http://schema.org/> .
    <https://r.test/cat> a dcat:Catalog ; dcat:dataset <https://r.test/ds/1> .
    <https://r.test/ds/1> dct:title "Registre"@fr , "Registry"@en ; dct:description "A registry of strokes."@en ;
      dct:identifier "https://doi.org/10.1234/abc.5" ; dcat:version "2" ;
      dct:issued "2021-05-01"^^xsd:date ;
      dct:publisher [ a foaf:Organization ; skos:prefLabel "Stroke Registry Board"@en ] ;
      dcat:contactPoint [ a vcard:Organization ; vcard:fn "Helpdesk" ; vcard:hasEmail "help@r.test" ] ;
      dct:spatial <http://publications.europa.eu/resource/authority/country/BEL> ;
      dct:temporal [ schema:startDate "2010-01-01"^^xsd:date ; schema:endDate "2020-12-31"^^xsd:date ] ;
      dct:language <http://publications.europa.eu/resource/authority/language/FRA> ;
      dct:accrualPeriodicity <http://publications.europa.eu/resource/authority/frequency/IRREG> ;
      dct:accessRights <http://publications.europa.eu/resource/authority/access-right/NON_PUBLIC> ;
      healthdcatap:healthTheme <http://www.wikidata.org/entity/Q12202> ;
      healthdcatap:numberOfRecords "123"^^xsd:nonNegativeInteger ;
      healthdcatap:numberOfUniqueIndividuals "not a number" ;
      dcat:distribution [ dcat:accessURL <https://r.test/request> ] .
    <http://www.wikidata.org/entity/Q12202> skos:prefLabel "stroke"@en .
    """
    (read,) = list(dcat_read.read_graph(Graph().parse(data=ttl, format="turtle")))
    d = read.document
    assert read.iri == "https://r.test/ds/1" and d["summary"]["title"] == "Registry"
    assert d["summary"]["doiName"] == "10.1234/abc.5" and d["version"] == "2.0.0"
    assert d["summary"]["dataCustodian"]["name"] == "Stroke Registry Board"
    assert d["summary"]["contactPoint"] == "help@r.test"
    assert d["summary"]["populationSize"] == -1  # HDR UK's "unknown"
    assert d["summary"]["keywords"] == ["stroke"]
    assert d["coverage"]["spatial"] == ["http://publications.europa.eu/resource/authority/country/BEL"]
    t = d["provenance"]["temporal"]
    assert (t["startDate"], t["endDate"], t["publishingFrequency"]) == ("2010-01-01", "2020-12-31", "Irregular")
    assert d["accessibility"]["formatAndStandards"]["language"] == ["fr"]
    assert d["accessibility"]["access"]["accessRights"] == "https://r.test/request"
    assert d["observations"] == [{"observedNode": "Events", "measuredValue": 123, "measuredProperty": "Count",
                                  "observationDate": "2021-05-01"}]


def test_incomplete_graph_reads_without_raising():
    g = Graph()
    ds = URIRef("https://r.test/empty")
    g.add((ds, RDF.type, DCAT.Dataset))
    g.add((ds, DCTERMS.publisher, BNode()))
    (read,) = list(dcat_read.read_graph(g))
    assert read.document["summary"] == {"populationSize": -1}
    assert read.document["accessibility"] == {"access": {}}


def test_paging_links():
    g = dcat.catalog_graph([], SITE, page=dcat.Page(number=2, size=10, total=35),
                           url_of=lambda n: f"https://gateway.example.org/catalog.ttl?page={n}")
    view = URIRef("https://gateway.example.org/catalog.ttl?page=2")
    assert (view, RDF.type, dcat.HYDRA.PartialCollectionView) in g
    got = {str(p).split("#")[-1]: str(o) for p, o in g.predicate_objects(view) if p != RDF.type}
    assert got == {"first": "https://gateway.example.org/catalog.ttl?page=1",
                   "previous": "https://gateway.example.org/catalog.ttl?page=1",
                   "next": "https://gateway.example.org/catalog.ttl?page=3",
                   "last": "https://gateway.example.org/catalog.ttl?page=4"}
    assert shacl.validate(g).conforms  # an empty page is still a valid catalogue


def test_hostile_values_do_not_break_the_export():
    doc = copy.deepcopy(_full())
    doc["summary"]["keywords"] = "a,  ,b"
    doc["coverage"]["typicalAgeRangeMin"] = True
    doc["coverage"]["spatial"] = ["https://www.geonames.org/2635167", "javascript:alert(1)"]
    doc["summary"]["contactPoint"] = None
    doc["provenance"]["origin"]["datasetType"] = "Health and disease"
    doc["accessibility"]["access"]["accessRights"] = 'https://x.test/"><script>'
    g = dcat.dataset_graph(doc, SITE, ID)
    for fmt in ("ttl", "jsonld", "rdf"):
        assert dcat.serialize(g, fmt)
    report = shacl.validate(g)
    assert report.conforms, report.text()
    assert SH  # namespace import used by the shapes
