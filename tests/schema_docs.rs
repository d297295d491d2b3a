//! Every example query in docs/schema.md runs against a database built by the test suite, and
//! every table and view of the schema is documented there.

mod common;
use common::{seeds, Sandbox};

fn doc() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schema.md")).unwrap()
}

fn sql_blocks(md: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in md.lines() {
        match (&mut current, line.trim()) {
            (None, "```sql") => current = Some(String::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(buf), _) => {
                buf.push_str(line);
                buf.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

#[test]
fn example_queries_run_and_find_rows() {
    let sb = Sandbox::new();
    let files = seeds();
    let mut args = vec!["ingest"];
    args.extend(files.iter().map(|p| p.to_str().unwrap()));
    sb.run_ok(&args);
    sb.run_ok(&args);
    let conn = sb.sql();

    let blocks = sql_blocks(&doc());
    assert!(
        blocks.len() >= 8,
        "docs/schema.md should carry its example queries"
    );
    for sql in &blocks {
        let mut stmt = conn
            .prepare(sql)
            .unwrap_or_else(|e| panic!("example query does not prepare: {e}\n{sql}"));
        let cols = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        let mut n = 0;
        while let Some(row) = rows
            .next()
            .unwrap_or_else(|e| panic!("example query fails: {e}\n{sql}"))
        {
            for i in 0..cols {
                let _: rusqlite::types::Value = row.get(i).unwrap();
            }
            n += 1;
        }
        // Queries about content the seeds provide must find it.
        if sql.contains("latest_articles")
            || sql.contains("safe havens")
            || sql.contains("GROUP BY f.id ORDER BY articles")
            || sql.contains("FROM settings")
        {
            assert!(n > 0, "example query found nothing:\n{sql}");
        }
    }
}

#[test]
fn every_table_and_view_is_documented() {
    let sb = Sandbox::new();
    sb.run_ok(&["db", "migrate"]);
    let doc = doc();
    let conn = sb.sql();
    let mut stmt = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')
               AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'articles_fts_%' AND name != 'schema_migrations'",
        )
        .unwrap();
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(names.len() >= 10);
    for name in names {
        assert!(
            doc.contains(&format!("`{name}`")),
            "docs/schema.md does not document `{name}`"
        );
        let cols: Vec<String> = conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{name}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for col in cols {
            assert!(
                doc.contains(&format!("`{col}`")),
                "docs/schema.md does not document column `{col}` of `{name}`"
            );
        }
    }
}
