"""Validate DCAT-AP graphs with pyshacl against the official DCAT-AP 3.0.1 shapes, and say what is missing in
words a custodian can act on.

The shapes ship with the package (``interop/data/dcat-ap-3.0.1-shacl.ttl``, an unmodified copy of
SEMICeu/DCAT-AP ``releases/3.0.1/shacl/dcat-ap-SHACL.ttl``, CC BY 4.0). That file names two property shapes of
``dcat:DataServiceShape`` that it never defines::

    …3.0.1#dcat:DataServiceShape/dc08f4dca4377fade57f89454e3fa06a8389d314   (the "endpoint description" range)
    …3.0.1#dcat:DataServiceShape/eb3ac4e4fdde2e2588a9502c5956060a18c5c99f   (the "endpoint URL" range)

Each is the object of an ``sh:property`` triple and the subject of none: no ``sh:path``, so pyshacl refuses to
validate any graph that holds a ``dcat:DataService`` ("exists but is not a well-formed SHACL PropertyShape").
SEMIC's own Schematron for the same release (DCAT-AP HVD 3.0.0, generated from the same model with the same
shape ids) shows what they were meant to check: that the value of ``dcat:endpointDescription`` and of
``dcat:endpointURL`` is an IRI (the range rdfs:Resource, tested as "matches an IRI"). At load time, and only in
memory, ``load_shapes`` gives each of the two shapes exactly that: ``sh:path`` (dcat:endpointDescription resp.
dcat:endpointURL), ``sh:nodeKind sh:IRI``, ``sh:name`` and ``sh:description``. Nothing else in the file
changes, and data services are validated with every one of their shapes. ``repairs()`` lists what was added.

Next to the official shapes (violations) we check HealthDCAT-AP's recommended properties
(``interop/data/healthgate-recommended-shacl.ttl``, severity sh:Warning): a record can conform to DCAT-AP and
still lack what a health researcher looks for first.

The shapes graph is parsed once per process and never changed afterwards (immutable: safe to share).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources

from pyshacl import validate as _pyshacl_validate
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, RDF, SH

from healthgate.interop.dcat import PREFIXES

DATA = resources.files("healthgate.interop") / "data"
SHAPES_FILE = "dcat-ap-3.0.1-shacl.ttl"
RECOMMENDED_FILE = "healthgate-recommended-shacl.ttl"
_R = "https://semiceu.github.io/DCAT-AP/releases/3.0.1#dcat:DataServiceShape/"

# shape id -> (path, name, description): the property shapes the official file names but does not define
REPAIRS: dict[URIRef, tuple[URIRef, str, str]] = {
    URIRef(_R + "dc08f4dca4377fade57f89454e3fa06a8389d314"): (
        DCAT.endpointDescription, "endpoint description",
        ("A description of the services available via the end-points, including their operations, parameters "
         "etc. (an IRI).")),
    URIRef(_R + "eb3ac4e4fdde2e2588a9502c5956060a18c5c99f"): (
        DCAT.endpointURL, "endpoint URL", "The root location or primary endpoint of the service (an IRI)."),
}


def malformed_property_shapes(shapes: Graph) -> list[URIRef]:
    """Property shapes named by ``sh:property`` that have no ``sh:path`` (which pyshacl cannot use)."""
    found = {o for o in shapes.objects(None, SH.property) if shapes.value(o, SH.path) is None}
    return sorted(o for o in found if isinstance(o, URIRef))


def repair(shapes: Graph) -> list[str]:
    """Define the known malformed DataService property shapes in ``shapes``; what was added, one line each.
    A malformed shape this module does not know stays as it is (pyshacl will then say so, loudly)."""
    done = []
    for shape in malformed_property_shapes(shapes):
        if shape not in REPAIRS:
            continue
        path, name, description = REPAIRS[shape]
        shapes.add((shape, RDF.type, SH.PropertyShape))
        shapes.add((shape, SH.path, path))
        shapes.add((shape, SH.nodeKind, SH.IRI))
        shapes.add((shape, SH.name, Literal(name, lang="en")))
        shapes.add((shape, SH.description, Literal(description, lang="en")))
        done.append(f"{shape}: sh:path {path.n3(shapes.namespace_manager)}; sh:nodeKind sh:IRI")
    return done


@functools.cache
def _loaded() -> tuple[Graph, tuple[str, ...]]:
    shapes = Graph()
    shapes.parse(data=(DATA / SHAPES_FILE).read_bytes(), format="turtle")
    done = repair(shapes)
    shapes.parse(data=(DATA / RECOMMENDED_FILE).read_bytes(), format="turtle")
    return shapes, tuple(done)


def load_shapes() -> Graph:
    """The official DCAT-AP 3.0.1 shapes (repaired) plus the recommended HealthDCAT-AP ones. Do not modify."""
    return _loaded()[0]


def repairs() -> tuple[str, ...]:
    return _loaded()[1]


@dataclass(frozen=True)
class Finding:
    focus: str  # the node that lacks something (the dataset's IRI, or "distribution of <dataset>")
    path: str  # the property, prefixed (dct:title)
    message: str  # the shape's own words
    severity: str  # "violation" | "warning" | "info"
    value: str | None = None


@dataclass
class Report:
    conforms: bool  # no violation (warnings do not make a record non-conformant)
    findings: list[Finding] = field(default_factory=list)

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "violation"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity != "violation"]

    def text(self) -> str:
        if not self.findings:
            return "conforms to DCAT-AP 3.0.1: no violations, nothing recommended missing"
        return "\n".join(f"{f.severity}: {f.focus}: {f.path}: {f.message}" + (f" (value {f.value})" if f.value else "")
                         for f in self.findings)


def _short(g: Graph, node: object) -> str:
    if isinstance(node, URIRef):
        try:
            return node.n3(g.namespace_manager)
        except Exception:  # noqa: BLE001 - any IRI rdflib cannot prefix is shown whole
            return f"<{node}>"
    return str(node)


def _describe(data: Graph, node: object) -> str:
    """A focus node in words: an IRI as it is; a blank node by what points at it."""
    if isinstance(node, URIRef):
        return str(node)
    for s, p in data.subject_predicates(node):  # type: ignore[arg-type]
        return f"{_short(data, p)} of {_describe(data, s)}"
    return "an unnamed node"


_SEVERITY = {SH.Violation: "violation", SH.Warning: "warning", SH.Info: "info"}


def validate(data: Graph) -> Report:
    """Validate ``data`` (not changed) and report each result: which node lacks what, in the shape's words."""
    conforms, results, _ = _pyshacl_validate(data, shacl_graph=load_shapes(), inference="none",
                                             abort_on_first=False, allow_warnings=True, advanced=False)
    findings = []
    nm = Graph()
    for prefix, ns in PREFIXES.items():
        nm.bind(prefix, ns)
    for result in results.subjects(RDF.type, SH.ValidationResult):
        shape = results.value(result, SH.sourceShape)
        path = results.value(result, SH.resultPath)
        message = (results.value(result, SH.resultMessage)
                   or (results.value(shape, SH.description) if shape is not None else None))
        name = results.value(shape, SH.name) if shape is not None else None
        value = results.value(result, SH.value)
        severity = _SEVERITY.get(results.value(result, SH.resultSeverity), "violation")
        text = str(message or "does not conform")
        if name and str(name) not in text:
            text = f"{name}: {text}"
        findings.append(Finding(focus=_describe(data, results.value(result, SH.focusNode)),
                                path=_short(nm, path) if path is not None else "",
                                message=text, severity=severity,
                                value=_short(nm, value) if value is not None else None))
    findings.sort(key=lambda f: (f.severity != "violation", f.focus, f.path, f.message))
    has_violation = any(f.severity == "violation" for f in findings)
    return Report(conforms=bool(conforms) or not has_violation, findings=findings)

