-- Full-text index coverage, chosen by `[store] fts` and recorded here so that every writer
-- (the daemon, `newsdesk ingest`, a script) indexes the same way:
--   full  : title, summary and body (the default, and what 0001 did)
--   title : title and summary only (a smaller index, a faster ingest)
--   off   : no index; `newsdesk search` refuses to run
-- newsdesk rebuilds the index when the mode changes. Do not edit these rows by hand: the index
-- would no longer match what the triggers remove from it.
--
-- fts_pending_after: set only inside a newsdesk write transaction. Articles with a larger id
-- are indexed in one statement when the batch ends, not row by row: FTS5 writes its pending
-- terms out as a new segment at every statement of a transaction, so row-by-row indexing made
-- one segment per article and spent most of an ingest merging them. Outside newsdesk's
-- transactions it is NULL and the triggers index every change as it happens.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT
) WITHOUT ROWID;
INSERT INTO settings (key, value) VALUES ('fts', 'full'), ('fts_pending_after', NULL);

DROP TRIGGER articles_fts_insert;
DROP TRIGGER articles_fts_delete;
DROP TRIGGER articles_fts_update;

CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles
WHEN (SELECT value FROM settings WHERE key = 'fts') IN ('full', 'title')
 AND new.id <= coalesce((SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'fts_pending_after'), new.id)
BEGIN
    INSERT INTO articles_fts(rowid, title, summary, body_text)
    VALUES (new.id, new.title, new.summary,
            iif((SELECT value FROM settings WHERE key = 'fts') = 'full', new.body_text, NULL));
END;

CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles
WHEN (SELECT value FROM settings WHERE key = 'fts') IN ('full', 'title')
 AND old.id <= coalesce((SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'fts_pending_after'), old.id)
BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, summary, body_text)
    VALUES ('delete', old.id, old.title, old.summary,
            iif((SELECT value FROM settings WHERE key = 'fts') = 'full', old.body_text, NULL));
END;

CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, summary, body_text ON articles
WHEN (SELECT value FROM settings WHERE key = 'fts') IN ('full', 'title')
 AND old.id <= coalesce((SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'fts_pending_after'), old.id)
BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, summary, body_text)
    VALUES ('delete', old.id, old.title, old.summary,
            iif((SELECT value FROM settings WHERE key = 'fts') = 'full', old.body_text, NULL));
    INSERT INTO articles_fts(rowid, title, summary, body_text)
    VALUES (new.id, new.title, new.summary,
            iif((SELECT value FROM settings WHERE key = 'fts') = 'full', new.body_text, NULL));
END;

-- Index-building costs, measured on a 50,000-article ingest (27.6 s -> 21.6 s): a 16 MiB
-- in-memory term table (FTS5's default is 1 MiB) writes one segment per batch instead of
-- several, and merging 8 segments of a level at a time (default 4) halves the merge work. The
-- price is a little memory while a batch is written and slightly more segments per query.
INSERT INTO articles_fts(articles_fts, rank) VALUES ('hashsize', 16777216);
INSERT INTO articles_fts(articles_fts, rank) VALUES ('automerge', 8);
