"""search index for any kind of record, keyed by (kind, subject id)

Revision ID: 0003
Revises: 0002

``search_entries`` loses its foreign keys to the catalogue: each entry is keyed by (kind, subject_id), its
text fields are title, aliases, keywords, abstract, description and owner, its generic sort fields quality,
start_date, end_date and updated_at, and everything else a kind reads goes in ``data``. Existing dataset
entries are kept (kind "dataset", subject id the dataset's UUID as text) and the full-text index is rebuilt
over the renamed fields: FTS5 ``search_fts`` on SQLite (replacing ``dataset_fts``), on PostgreSQL a narrow
table ``search_tsv`` (replacing the generated ``tsv`` column of the entries).
"""

from __future__ import annotations

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

TEXT = "title, aliases, keywords, abstract, description, owner"


def _dashed(col: str) -> str:
    """SQLite keeps a UUID as 32 hex digits; subject ids are its canonical text form."""
    return (f"lower(substr({col}, 1, 8) || '-' || substr({col}, 9, 4) || '-' || substr({col}, 13, 4) || '-' || "
            f"substr({col}, 17, 4) || '-' || substr({col}, 21))")


def _upgrade_sqlite() -> None:
    op.execute("DROP TABLE IF EXISTS dataset_fts")
    op.execute("""
        CREATE TABLE search_entries_new (
            id INTEGER NOT NULL,
            kind VARCHAR(40) NOT NULL,
            subject_id VARCHAR(100) NOT NULL,
            visible BOOLEAN NOT NULL,
            seq BIGINT NOT NULL,
            title TEXT NOT NULL,
            aliases TEXT NOT NULL,
            keywords TEXT NOT NULL,
            abstract TEXT NOT NULL,
            description TEXT NOT NULL,
            owner VARCHAR(300),
            quality FLOAT NOT NULL,
            start_date DATE,
            end_date DATE,
            updated_at DATETIME NOT NULL,
            data JSON NOT NULL,
            CONSTRAINT pk_search_entries PRIMARY KEY (id),
            CONSTRAINT uq_search_entries_kind_subject UNIQUE (kind, subject_id)
        )""")
    op.execute(f"""
        INSERT INTO search_entries_new (id, kind, subject_id, visible, seq, {TEXT}, quality, start_date, end_date,
                                        updated_at, data)
        SELECT id, 'dataset', {_dashed('dataset_id')}, visible, seq, title, aliases, keywords, abstract,
               description, custodian, quality_score, start_date, end_date, updated_at,
               json_patch(coalesce(facets, '{{}}'), json_object(
                   'version_id', {_dashed('version_id')}, 'member_group', member_group,
                   'population_size', population_size, 'medallion', medallion))
        FROM search_entries""")
    op.execute("DROP TABLE search_entries")
    op.execute("ALTER TABLE search_entries_new RENAME TO search_entries")
    op.execute("CREATE INDEX ix_search_entries_seq ON search_entries (seq)")
    op.execute(f"CREATE VIRTUAL TABLE search_fts USING fts5({TEXT}, content='search_entries', content_rowid='id', "
               "tokenize = 'porter unicode61 remove_diacritics 2')")
    op.execute(f"INSERT INTO search_fts(rowid, {TEXT}) SELECT id, {TEXT} FROM search_entries WHERE visible")


WEIGHTED = " || ".join(
    f"setweight(to_tsvector('healthgate_english'::regconfig, coalesce({col}, '')), '{w}')"
    for col, w in [("title", "A"), ("aliases", "B"), ("keywords", "B"), ("abstract", "C"),
                   ("description", "D"), ("owner", "D")]
)


def _upgrade_postgresql() -> None:
    op.execute("DROP INDEX IF EXISTS ix_search_entries_tsv")
    op.execute("ALTER TABLE search_entries DROP COLUMN IF EXISTS tsv")
    op.execute("ALTER TABLE search_entries DROP CONSTRAINT IF EXISTS fk_search_entries_dataset_id_datasets, "
               "DROP CONSTRAINT IF EXISTS fk_search_entries_version_id_dataset_versions, "
               "DROP CONSTRAINT IF EXISTS uq_search_entries_dataset_id")
    op.execute("ALTER TABLE search_entries ADD COLUMN kind VARCHAR(40), ADD COLUMN subject_id VARCHAR(100), "
               "ADD COLUMN data JSONB")
    op.execute("""
        UPDATE search_entries SET kind = 'dataset', subject_id = dataset_id::text,
            data = coalesce(facets::jsonb, '{}'::jsonb) || jsonb_build_object(
                'version_id', version_id::text, 'member_group', member_group,
                'population_size', population_size, 'medallion', medallion)""")
    op.execute("ALTER TABLE search_entries ALTER COLUMN kind SET NOT NULL, ALTER COLUMN subject_id SET NOT NULL, "
               "ALTER COLUMN data SET NOT NULL")
    op.execute("ALTER TABLE search_entries RENAME COLUMN custodian TO owner")
    op.execute("ALTER TABLE search_entries RENAME COLUMN quality_score TO quality")
    op.execute("ALTER TABLE search_entries DROP COLUMN dataset_id, DROP COLUMN version_id, "
               "DROP COLUMN member_group, DROP COLUMN population_size, DROP COLUMN medallion, DROP COLUMN facets")
    op.execute("ALTER TABLE search_entries ADD CONSTRAINT uq_search_entries_kind_subject UNIQUE (kind, subject_id)")
    # The visible entries' weighted tsvectors in a narrow table of their own, kept out of line (TOAST): finding
    # the ids matching a common word then reads a few small pages instead of every wide entry row.
    op.execute("CREATE TABLE search_tsv (id INTEGER NOT NULL, tsv TSVECTOR NOT NULL, "
               "CONSTRAINT pk_search_tsv PRIMARY KEY (id), CONSTRAINT fk_search_tsv_id_search_entries "
               "FOREIGN KEY (id) REFERENCES search_entries (id) ON DELETE CASCADE) WITH (toast_tuple_target = 128)")
    op.execute("ALTER TABLE search_tsv ALTER COLUMN tsv SET STORAGE EXTERNAL")
    op.execute(f"INSERT INTO search_tsv (id, tsv) SELECT id, {WEIGHTED} FROM search_entries WHERE visible")
    op.execute("CREATE INDEX ix_search_tsv_tsv ON search_tsv USING gin (tsv)")


UPGRADES = {"sqlite": _upgrade_sqlite, "postgresql": _upgrade_postgresql}


def upgrade() -> None:
    UPGRADES[op.get_bind().dialect.name]()


def downgrade() -> None:
    raise NotImplementedError("0003 keeps no copy of the dataset-only layout; restore a backup taken before it")
