-- Full-text index coverage, chosen by `[store] fts` and recorded here so that every writer
-- (the daemon, `newsdesk ingest`, a script) indexes the same way:
--   full  : title, summary and body (the default, and what 0001 did)
--   title : title and summary only (a smaller index, a faster ingest)
--   off   : no index; `newsdesk search` refuses to run
-- newsdesk rebuilds the index when the mode changes. Do not edit the row by hand: the index
-- would no longer match what the triggers remove from it.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO settings (key, value) VALUES ('fts', 'full');

DROP TRIGGER articles_fts_insert;
DROP TRIGGER articles_fts_delete;
DROP TRIGGER articles_fts_update;

CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles
WHEN (SELECT value FROM settings WHERE key = 'fts') IN ('full', 'title') BEGIN
    INSERT INTO articles_fts(rowid, title, summary, body_text)
    VALUES (new.id, new.title, new.summary,
            iif((SELECT value FROM settings WHERE key = 'fts') = 'full', new.body_text, NULL));
END;

CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles
WHEN (SELECT value FROM settings WHERE key = 'fts') IN ('full', 'title') BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, summary, body_text)
    VALUES ('delete', old.id, old.title, old.summary,
            iif((SELECT value FROM settings WHERE key = 'fts') = 'full', old.body_text, NULL));
END;

CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, summary, body_text ON articles
WHEN (SELECT value FROM settings WHERE key = 'fts') IN ('full', 'title') BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, summary, body_text)
    VALUES ('delete', old.id, old.title, old.summary,
            iif((SELECT value FROM settings WHERE key = 'fts') = 'full', old.body_text, NULL));
    INSERT INTO articles_fts(rowid, title, summary, body_text)
    VALUES (new.id, new.title, new.summary,
            iif((SELECT value FROM settings WHERE key = 'fts') = 'full', new.body_text, NULL));
END;
