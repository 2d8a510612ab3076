"""Response models of the served federation API, as the HDR UK Federated Metadata Catalogue API specifies them
(``shared/data/federation/catalogue.openapi.yaml`` and ``gmi.schema.json``). They document the answers; the
routes send the documents themselves (a metadata document is served exactly as published)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class GmiQuery(BaseModel):
    q: str = Field(description="the query string given (empty: every public dataset)")
    total: int = Field(ge=0, description="how many datasets match")
    limit: int = Field(ge=0, description="the most items this answer holds (the limit asked, capped by the server)")
    offset: int = Field(ge=0, description="the position of the first item among all matches")


class GmiDataset(BaseModel):
    """One dataset of the list (gmi.schema.json ``#/definitions/dataset``)."""

    model_config = ConfigDict(populate_by_name=True)

    schema_: str = Field(alias="@schema", description='"latest": the detail is HDR UK 4.0.0 metadata')
    type: Literal["dataset"]
    persistentId: str = Field(description="the dataset's persistent id (a UUID), the same across versions")
    name: str = Field(max_length=80, description="title, cut at 80 characters")
    description: str = Field(max_length=255, description="abstract, cut at 255 characters")
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$", description="the metadata version")
    self: str = Field(description="the URL of this dataset's full metadata (/federation/datasets/{id})")
    issued: str = Field(description="when the metadata was first issued (date-time)")
    modified: str = Field(description="when the metadata last changed here (date-time)")
    source: str = Field(description="the custodian")


class GmiList(BaseModel):
    query: GmiQuery
    items: list[GmiDataset]


class HdrukDataset(BaseModel):
    """An HDR UK 4.0.0 metadata document, as its custodian published it (``identifier`` names the dataset)."""

    identifier: Any = None
    version: Any = None
    revisions: Any = None
    issued: Any = None
    modified: Any = None
    summary: Any = None
    documentation: Any = None
    coverage: Any = None
    provenance: Any = None
    accessibility: Any = None
    enrichmentAndLinkage: Any = None
    observations: Any = None
    structuralMetadata: Any = None
    demographicFrequency: Any = None
    omics: Any = None


class ExportEntry(HdrukDataset):
    """A changed dataset's HDR UK document; for a dataset archived in the window, only ``identifier``,
    ``status: "archived"``, ``modified`` (when) and ``summary.title``."""

    status: Literal["archived"] | None = Field(default=None, description='"archived": gone from the catalogue')


class GwdmDataset(BaseModel):
    """The same metadata in HDR UK's Gateway Data Model (GWDM 2.0, also valid 2.1): ``?schema=GWDM/2.0``."""

    required: Any = None
    summary: Any = None
    coverage: Any = None
    provenance: Any = None
    accessibility: Any = None
    linkage: Any = None
    observations: Any = None
    structuralMetadata: Any = None
    tissuesSampleCollection: Any = None
    demographicFrequency: Any = None
    omics: Any = None
