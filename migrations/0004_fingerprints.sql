-- Fingerprints move out of `articles` into a narrow table of their own. Added by 0002 as the
-- last column of a row that also holds the body, a fingerprint sat past SQLite's overflow
-- pages: rebuilding the near-duplicate index at start read every article's whole text
-- (0.56 s at 50,000 articles, growing with the store). Here a start reads ~200 bytes per
-- article.
CREATE TABLE article_fingerprints (
    article_id  INTEGER PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
    -- The article's duplicate_of when it was stored (NULL: it starts its own story).
    group_id    INTEGER REFERENCES articles(id) ON DELETE SET NULL,
    fingerprint BLOB NOT NULL
);
CREATE INDEX article_fingerprints_group ON article_fingerprints(group_id);

INSERT INTO article_fingerprints (article_id, group_id, fingerprint)
SELECT id, duplicate_of, fingerprint FROM articles WHERE fingerprint IS NOT NULL;

ALTER TABLE articles DROP COLUMN fingerprint;
