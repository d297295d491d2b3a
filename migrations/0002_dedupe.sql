-- Near-duplicate detection keeps each article's fingerprint so the in-memory index can be
-- rebuilt at start, and a view collapses each story to one row.

-- Compact fingerprint (SimHash and title/lede word hashes) of the article's text; internal
-- format, read by newsdesk only.
ALTER TABLE articles ADD COLUMN fingerprint BLOB;

-- One row per story: an article and its near duplicates (articles whose duplicate_of points
-- at it) collapsed, with how many articles and outlets carried it and the outlets' names.
CREATE VIEW stories AS
SELECT s.id,
       s.title,
       coalesce(s.published_at, s.first_seen_at) AS published_at,
       s.url,
       s.foreign_policy,
       (SELECT count(*) FROM articles d WHERE d.id = s.id OR d.duplicate_of = s.id) AS articles,
       (SELECT count(DISTINCT x.feed_id) FROM sightings x JOIN articles d ON d.id = x.article_id
         WHERE d.id = s.id OR d.duplicate_of = s.id) AS outlets,
       (SELECT group_concat(name, ' | ') FROM (
            SELECT DISTINCT coalesce(f.title, f.url) AS name
              FROM sightings x JOIN articles d ON d.id = x.article_id JOIN feeds f ON f.id = x.feed_id
             WHERE d.id = s.id OR d.duplicate_of = s.id)) AS outlet_names
  FROM articles s
 WHERE s.duplicate_of IS NULL;
