-- newsdesk schema, version 1. The schema is a public interface (docs/schema.md): add columns
-- and tables in new numbered migrations, never edit this file once released.

-- Every place articles come from: a polled feed, or a pseudo-feed for local files and spool
-- drops (kind = 'local', url = 'local:<name>'), so every article has at least one sighting.
CREATE TABLE feeds (
    id                  INTEGER PRIMARY KEY,
    url                 TEXT NOT NULL UNIQUE,
    kind                TEXT NOT NULL DEFAULT 'feed' CHECK (kind IN ('feed', 'local')),
    title               TEXT,
    site_url            TEXT,
    -- Where the feed was declared: 'config', 'cli', 'opml' or 'local'.
    origin              TEXT NOT NULL DEFAULT 'cli',
    enabled             INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    disabled_reason     TEXT,
    -- Per-feed poll interval override in seconds (NULL: adaptive).
    interval_secs       INTEGER,
    full_text           INTEGER NOT NULL DEFAULT 0 CHECK (full_text IN (0, 1)),
    -- JSON array of user labels from the config's [[feeds]] tags.
    labels              TEXT NOT NULL DEFAULT '[]',
    etag                TEXT,
    last_modified       TEXT,
    next_poll_at        TEXT,
    last_polled_at      TEXT,
    last_success_at     TEXT,
    last_status         INTEGER,
    last_error          TEXT,
    consecutive_errors  INTEGER NOT NULL DEFAULT 0,
    -- The adaptive interval currently in force, in seconds.
    current_interval_secs INTEGER,
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

-- Permanent redirects (301/308) rewrite feeds.url; the old URL is kept here.
CREATE TABLE feed_url_history (
    id          INTEGER PRIMARY KEY,
    feed_id     INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    old_url     TEXT NOT NULL,
    new_url     TEXT NOT NULL,
    http_status INTEGER,
    changed_at  TEXT NOT NULL
);
CREATE INDEX feed_url_history_feed ON feed_url_history(feed_id);

CREATE TABLE articles (
    id                   INTEGER PRIMARY KEY,
    title                TEXT NOT NULL,
    -- 1 when the source had no headline and the title is the body's first sentence.
    title_derived        INTEGER NOT NULL DEFAULT 0 CHECK (title_derived IN (0, 1)),
    url                  TEXT,
    canonical_url        TEXT,
    author               TEXT,
    published_at         TEXT,
    updated_at           TEXT,
    first_seen_at        TEXT NOT NULL,
    last_seen_at         TEXT NOT NULL,
    -- Set when a later version replaced the text (the old one is in article_revisions).
    revised_at           TEXT,
    lang                 TEXT,
    summary              TEXT,
    body_text            TEXT NOT NULL,
    body_html            TEXT,
    content_hash         TEXT NOT NULL,
    -- Near-duplicate grouping: the earliest article of the story, how it was found, how close.
    duplicate_of         INTEGER REFERENCES articles(id) ON DELETE SET NULL,
    duplicate_detector   TEXT,
    duplicate_similarity REAL,
    duplicate_evidence   TEXT,
    foreign_policy       INTEGER CHECK (foreign_policy IN (0, 1)),
    foreign_policy_score REAL,
    foreign_policy_evidence TEXT,
    tagged_at            TEXT
);
CREATE INDEX articles_canonical_url ON articles(canonical_url) WHERE canonical_url IS NOT NULL;
CREATE INDEX articles_content_hash ON articles(content_hash);
CREATE INDEX articles_published_at ON articles(published_at);
CREATE INDEX articles_first_seen_at ON articles(first_seen_at);
CREATE INDEX articles_duplicate_of ON articles(duplicate_of) WHERE duplicate_of IS NOT NULL;
CREATE INDEX articles_foreign_policy ON articles(foreign_policy, published_at);

-- Every place an article was seen: one row per (article, feed, guid); repeats bump last_seen_at.
CREATE TABLE sightings (
    id            INTEGER PRIMARY KEY,
    article_id    INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    feed_id       INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    -- The item's identity in that feed: its guid, else its link, else title and date; for
    -- local files the file path or record id.
    guid          TEXT NOT NULL,
    url           TEXT,
    seen_at       TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    UNIQUE (article_id, feed_id, guid)
);
CREATE INDEX sightings_feed_guid ON sightings(feed_id, guid);
CREATE INDEX sightings_url ON sightings(url);

-- Earlier versions of an article's text, kept when a correction replaced them.
CREATE TABLE article_revisions (
    id            INTEGER PRIMARY KEY,
    article_id    INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    title         TEXT NOT NULL,
    summary       TEXT,
    body_text     TEXT NOT NULL,
    body_html     TEXT,
    content_hash  TEXT NOT NULL,
    -- When this version was replaced by the next one.
    replaced_at   TEXT NOT NULL
);
CREATE INDEX article_revisions_article ON article_revisions(article_id);

CREATE TABLE tags (
    id     INTEGER PRIMARY KEY,
    kind   TEXT NOT NULL CHECK (kind IN ('topic', 'country', 'org')),
    -- Topic slug, upper-case ISO 3166-1 alpha-2 code, or the organisation's short name.
    slug   TEXT NOT NULL,
    label  TEXT NOT NULL,
    -- IPTC Media Topics code (topics) where one exists.
    code   TEXT,
    UNIQUE (kind, slug)
);

CREATE TABLE article_tags (
    article_id  INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    tag_id      INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    score       REAL NOT NULL,
    -- JSON: matched terms, counts and where they matched.
    evidence    TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (article_id, tag_id)
) WITHOUT ROWID;
CREATE INDEX article_tags_tag ON article_tags(tag_id, article_id);

-- One row per poll of a feed.
CREATE TABLE fetches (
    id           INTEGER PRIMARY KEY,
    feed_id      INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    started_at   TEXT NOT NULL,
    duration_ms  INTEGER NOT NULL,
    -- HTTP status, NULL when no response arrived (DNS, connect, timeout).
    status       INTEGER,
    -- 'ok', 'not_modified' or 'error'.
    outcome      TEXT NOT NULL CHECK (outcome IN ('ok', 'not_modified', 'error')),
    bytes        INTEGER NOT NULL DEFAULT 0,
    items        INTEGER NOT NULL DEFAULT 0,
    new_items    INTEGER NOT NULL DEFAULT 0,
    error_kind   TEXT,
    error        TEXT
);
CREATE INDEX fetches_feed_started ON fetches(feed_id, started_at);
CREATE INDEX fetches_started ON fetches(started_at);

-- Full-text index over title, summary and body, kept in step with articles by triggers.
CREATE VIRTUAL TABLE articles_fts USING fts5(
    title, summary, body_text,
    content = 'articles', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts(rowid, title, summary, body_text)
    VALUES (new.id, new.title, new.summary, new.body_text);
END;
CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, summary, body_text)
    VALUES ('delete', old.id, old.title, old.summary, old.body_text);
END;
CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, summary, body_text ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, summary, body_text)
    VALUES ('delete', old.id, old.title, old.summary, old.body_text);
    INSERT INTO articles_fts(rowid, title, summary, body_text)
    VALUES (new.id, new.title, new.summary, new.body_text);
END;

-- The newest articles with where they were first seen and how many places carried them.
CREATE VIEW latest_articles AS
SELECT a.id,
       a.title,
       coalesce(a.published_at, a.first_seen_at) AS published_at,
       a.url,
       (SELECT coalesce(f.title, f.url) FROM sightings s JOIN feeds f ON f.id = s.feed_id
         WHERE s.article_id = a.id ORDER BY s.seen_at, s.id LIMIT 1) AS source,
       (SELECT count(*) FROM sightings s WHERE s.article_id = a.id) AS sightings,
       a.foreign_policy,
       a.duplicate_of
  FROM articles a
 ORDER BY coalesce(a.published_at, a.first_seen_at) DESC, a.id DESC;

-- Foreign-policy articles, one row per article, with their tags as comma-separated lists.
CREATE VIEW foreign_policy_articles AS
SELECT a.id,
       a.title,
       coalesce(a.published_at, a.first_seen_at) AS published_at,
       a.url,
       a.foreign_policy_score,
       (SELECT group_concat(t.slug, ',') FROM article_tags at JOIN tags t ON t.id = at.tag_id
         WHERE at.article_id = a.id AND t.kind = 'topic') AS topics,
       (SELECT group_concat(t.slug, ',') FROM article_tags at JOIN tags t ON t.id = at.tag_id
         WHERE at.article_id = a.id AND t.kind = 'country') AS countries,
       (SELECT group_concat(t.slug, ',') FROM article_tags at JOIN tags t ON t.id = at.tag_id
         WHERE at.article_id = a.id AND t.kind = 'org') AS orgs,
       a.duplicate_of
  FROM articles a
 WHERE a.foreign_policy = 1;
