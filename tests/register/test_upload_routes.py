"""The upload API and pages, the template downloads and the exports over HTTP: 422 by row and column, 413, 415,
dry run then apply, fuzzy matches confirmed in the page, and upload -> export -> upload again -> identical."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

import openpyxl
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from healthgate.app import create_app
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.identity import tokens, users
from healthgate.identity.models import User
from healthgate.identity.permissions import SYSTEM
from healthgate.interop import register_csv
from healthgate.interop import register_table as T
from healthgate.register import export
from healthgate.register import fields as F
from healthgate.register import service as register
from healthgate.register.models import RegisterEntry
from tests.access.harness import World, build
from tests.register.upload_files import csv_bytes, filled_template, row

PASSWORD = "correct horse battery staple"


@dataclass
class Site:
    client: TestClient
    w: World
    auth: dict[str, str]
    app: object

    def upload(self, data: bytes, name: str = "register.csv", **form) -> object:
        return self.client.post("/api/v1/teams/alpha-health-data/data-uses/upload", headers=self.auth,
                                files={"file": (name, data)}, data=form)

    def entries(self) -> list[tuple]:
        with self.app.state.sessions() as s:  # type: ignore[attr-defined]
            out = []
            for e in s.scalars(select(RegisterEntry).order_by(RegisterEntry.project_id)):
                d = register.entry_data(s, e)
                out.append((e.id, e.status, e.row_version, d.comparable()))
            return out


@pytest.fixture
def site(db, clock, tmp_path) -> Iterator[Site]:
    settings = Settings(data_dir=tmp_path, database_url=db.url, rate_limit_anonymous="off",
                        rate_limit_expensive="off", rate_limit_failed_auth="off", register_upload_max_bytes=200_000)
    app = create_app(settings, clock=clock)
    w = build(app.state.sessions, clock, templates=False)
    with app.state.sessions.begin() as s:
        ctx = Context(s, SYSTEM, clock)
        user = s.get(User, w.people["manager_A"])
        token = tokens.create_token(ctx, user, "upload", scope="write", teams=[w.teams["A"]])
        users.set_password(ctx, user, PASSWORD)
    with TestClient(app, follow_redirects=False) as c:
        yield Site(c, w, {"Authorization": f"Bearer {token}"}, app)


def test_api_dry_run_then_apply(site):
    r = site.upload(csv_bytes([row(1), row(2)]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["applied"] is False and body["counts"]["created"] == 2 and [x["row"] for x in body["rows"]] == [2, 3]
    assert site.entries() == []
    r = site.upload(csv_bytes([row(1), row(2)]), dry_run="false")
    assert r.status_code == 200 and r.json()["applied"] is True and r.json()["upload_id"]
    assert len(site.entries()) == 2


def test_api_errors(site):
    r = site.upload(csv_bytes([row(1, approval_date="31/02/2024")]), dry_run="false")
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert {"path": "row 2, column 'Latest approval date*'",
            "message": "'31/02/2024' is not a date (write YYYY-MM-DD, e.g. 2024-03-31)"} in r.json()["errors"]
    assert site.upload(csv_bytes([row(i) for i in range(400)])).status_code == 413  # over 200,000 bytes
    assert site.upload(b"%PDF-1.4 not a register", "register.pdf").status_code == 415
    assert site.upload(csv_bytes([row(1)]), "register.xlsx").status_code == 415  # posing as XLSX
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b"0" * 50_000_000)  # 50 MB of zeros: about 50 KB packed
    assert len(bomb.getvalue()) < 200_000
    r = site.upload(bomb.getvalue(), "register.xlsx")
    assert r.status_code == 413 and "zip bomb" in r.json()["errors"][0]["message"]
    other = site.client.post("/api/v1/teams/beta-biobank/data-uses/upload", headers=site.auth,
                             files={"file": ("r.csv", csv_bytes([row(1)]))})
    assert other.status_code == 403
    anonymous = site.client.post("/api/v1/teams/alpha-health-data/data-uses/upload",
                                 files={"file": ("r.csv", csv_bytes([row(1)]))})
    assert anonymous.status_code == 401


def test_templates_download_and_parse_empty(site):
    x = site.client.get("/data-uses/template.xlsx")
    assert x.status_code == 200 and x.content == F.template_bytes()
    r = site.upload(x.content, "template.xlsx")
    assert r.status_code == 422 and r.json()["errors"] == [{"path": "file", "message": "the file has a header row "
                                                                                        "but no entries"}]
    c = site.client.get("/data-uses/template.csv")
    assert c.status_code == 200 and c.text.lstrip("\ufeff").startswith("Project ID,Organisation name*,")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_upload_export_upload_again_is_identical(site, fmt):
    rows = [row(1), row(2, datasets="Alpha renal registry; Unlisted study, wave 2", funders="",
                    applicants="Grace Hopper; Alan Turing; Ada Lovelace",
                    applicant_ids="; 0000-0002-1825-0097", project_title="=1+1 cohort",
                    lay_summary="-ve results\nover two lines", outputs=""),
            row(3, project_id="", technical_summary="@mention", privacy_enhancements="'=kept")]
    assert site.upload(filled_template(rows), "register.xlsx", dry_run="false").status_code == 200
    before = site.entries()
    exported = site.client.get(f"/data-uses/export.{fmt}?team=alpha-health-data")
    assert exported.status_code == 200
    if fmt == "csv":
        text = exported.content.decode("utf-8-sig")
        assert "'=1+1 cohort" in text and "'-ve results" in text and "'@mention" in text and "'=kept" in text
    again = site.upload(exported.content, f"export.{fmt}", dry_run="false")
    assert again.status_code == 200, again.text
    assert again.json()["counts"] == {**again.json()["counts"], "created": 0, "updated": 0, "unchanged": 3}
    assert site.entries() == before
    d2 = next(c for _, _, _, c in before if c["project_id"] == "P-2")
    assert [d["name"] for d in d2["datasets"]] == ["Alpha renal registry", "Unlisted study, wave 2"]
    assert [(a["name"], a["orcid"]) for a in d2["applicants"]] == [
        ("Grace Hopper", None), ("Alan Turing", "0000-0002-1825-0097"), ("Ada Lovelace", None)]


def test_exports_are_public_and_published_only(site):
    site.upload(csv_bytes([row(1)]), dry_run="false")
    site.upload(csv_bytes([row(2)]), dry_run="false", publish="false")
    data = site.client.get("/data-uses/export.json").json()
    assert data["count"] == 1 and data["entries"][0]["project_id"] == "P-1"
    entry = data["entries"][0]
    assert entry["custodian"]["name"] == "Alpha Health Data"
    assert entry["datasets"][0]["dataset_id"] == str(site.w.datasets["A1"])
    assert entry["approval_date"] == "2023-12-01"
    assert site.client.get("/data-uses/export.json?team=beta-biobank").json()["count"] == 0
    assert site.client.get("/data-uses/export.csv?team=nobody").status_code == 404
    wb = openpyxl.load_workbook(io.BytesIO(site.client.get("/data-uses/export.xlsx").content), read_only=True)
    sheet = wb[F.TEMPLATE_SHEET]
    cells = list(sheet.iter_rows(values_only=True))
    assert cells[0][1] == "Safe People" and cells[1][:2] == ("Project ID", "Organisation name*")
    assert cells[1][-2:] == ("Data custodian", "Register entry ID") and cells[2][0] == "P-1"
    assert len(cells) == 3


def test_the_upload_page_previews_confirms_and_applies(site):
    c = site.client
    r = c.post("/login", data={"email": "manager_a@example.org", "password": PASSWORD})
    assert r.status_code == 303, r.text[:300]
    page = c.get("/workspace/teams/alpha-health-data/data-uses/upload")
    assert page.status_code == 200 and 'href="/data-uses/template.xlsx"' in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    bad = c.post("/workspace/teams/alpha-health-data/data-uses/upload", data={"csrf_token": token, "publish": "on"},
                 files={"file": ("r.csv", csv_bytes([row(1, access_type="Download")]))})
    assert bad.status_code == 422 and "row 2, column &#39;Access type*&#39;" in bad.text
    data = csv_bytes([row(1, datasets="Alpha cardiovascular cohort study")])
    preview = c.post("/workspace/teams/alpha-health-data/data-uses/upload",
                     data={"csrf_token": token, "publish": "on"}, files={"file": ("r.csv", data)})
    assert preview.status_code == 200 and "Dry run of r.csv" in preview.text
    assert site.entries() == []
    confirm = re.search(r'name="confirm" value="([^"]+)"', preview.text).group(1)
    sha = re.search(r'name="sha256" value="([0-9a-f]{64})"', preview.text).group(1)
    applied = c.post("/workspace/teams/alpha-health-data/data-uses/upload/apply",
                     data={"csrf_token": token, "sha256": sha, "filename": "r.csv", "publish": "on",
                           "confirm": confirm.replace("&#34;", '"')})
    assert applied.status_code == 200 and "Applied r.csv" in applied.text
    [(_, status, _, data_)] = site.entries()
    assert status == "published" and data_["datasets"][0]["dataset_id"] == site.w.datasets["A1"]
    again = c.post("/workspace/teams/alpha-health-data/data-uses/upload/apply",
                   data={"csrf_token": token, "sha256": sha, "filename": "r.csv"})
    assert again.status_code == 409  # the kept file was used up
    history = c.get("/workspace/teams/alpha-health-data/data-uses/upload")
    assert "Recent uploads" in history.text and "r.csv" in history.text
    assert c.get("/workspace/teams/beta-biobank/data-uses/upload").status_code == 403


def test_json_export_lists_the_template_fields(site):
    body = json.loads(site.client.get("/data-uses/export.json").content)
    assert [f["header"] for f in body["fields"]] == [f.header for f in F.FIELDS] and body["entries"] == []


def _as_before(fmt: str, items: list, clock, base_url: str) -> bytes:
    """The export as it was made before it was streamed: the whole body built in memory at once."""
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([f.header for f in F.FIELDS] + list(T.EXPORT_ONLY))
        for r in items:
            writer.writerow([register_csv._cell(v) for v in [*T.cells_of(r.data), r.custodian, str(r.entry_id)]])
        return ("\ufeff" + out.getvalue()).encode("utf-8")
    return orjson.dumps({
        "generated_at": clock.now().isoformat(), "custodian": None, "count": len(items),
        "fields": [{"name": f.name, "header": f.header, "required": f.required, "group": f.group,
                    "lookup": list(F.allowed(f)) or None} for f in F.FIELDS],
        "entries": [export.entry_json(r, base_url) for r in items]})


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_streamed_export_is_the_body_it_was_before(site, clock, fmt, monkeypatch):
    monkeypatch.setattr(export, "CHUNK", 2)  # five entries: three reads
    rows = [row(1), row(2, project_title="=1+1 cohort", lay_summary="-ve results\nover two lines", funders=""),
            row(3, applicants="Grace Hopper; Alan Turing", applicant_ids="; 0000-0002-1825-0097"),
            row(4, technical_summary="@mention", approval_date="2021-05-04"), row(5, project_title="Ünïcödé, \"quoted\"")]
    assert site.upload(csv_bytes(rows), dry_run="false").status_code == 200
    with site.app.state.sessions() as s:  # type: ignore[attr-defined]
        items = export.rows(Context(s, SYSTEM, clock))
    assert len(items) == 5
    got = site.client.get(f"/data-uses/export.{fmt}")
    assert got.status_code == 200 and "content-length" not in got.headers  # streamed
    assert got.headers["content-type"] == export.FORMATS[fmt] + "; charset=utf-8"
    assert got.headers["content-disposition"] == f'attachment; filename="data-uses-alliance-2026-01-15.{fmt}"'
    assert got.content == _as_before(fmt, items, clock, "http://testserver")
    one = site.client.get(f"/data-uses/export.{fmt}?team=alpha-health-data")
    assert one.status_code == 200 and one.headers["content-disposition"].endswith(f'-2026-01-15.{fmt}"')
    if fmt == "csv":
        assert one.content == got.content  # every entry is team A's
    else:
        assert json.loads(one.content)["custodian"]["slug"] == "alpha-health-data"
        assert json.loads(one.content)["entries"] == json.loads(got.content)["entries"]
