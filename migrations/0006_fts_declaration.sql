-- The full-text index, declared the way Datasette and sqlite-utils recognise an FTS table of
-- `articles`: they match the text `content="articles"` (or `content=[articles]`) in its
-- CREATE statement, and 0001 wrote `content = 'articles'`, so neither offered search. The
-- columns, tokenizer and triggers are unchanged (the triggers of 0003 name the table, and are
-- kept); the index is rebuilt with what `[store] fts` indexes, which costs about as long as
-- ingesting the titles and texts once more.
DROP TABLE articles_fts;

CREATE VIRTUAL TABLE articles_fts USING fts5(
    title, summary, body_text,
    content="articles", content_rowid="id",
    tokenize = 'unicode61 remove_diacritics 2'
);

INSERT INTO articles_fts(rowid, title, summary, body_text)
SELECT a.id, a.title, a.summary, iif(m.value = 'full', a.body_text, NULL)
  FROM articles a, settings m
 WHERE m.key = 'fts' AND m.value IN ('full', 'title');

-- The index-building settings of 0003 lived in the dropped table's config.
INSERT INTO articles_fts(articles_fts, rank) VALUES ('hashsize', 16777216);
INSERT INTO articles_fts(articles_fts, rank) VALUES ('automerge', 8);
