//! `newsdesk db copy --to postgres://...`: a SQLite store's rows into a PostgreSQL store, table
//! by table in id order, a chunk per transaction. Resumable: each table continues after the
//! last key the target holds (a chunk is committed whole or not at all), so a copy stopped at
//! any point and run again finishes without duplicating a row; run again later, it adds the
//! rows stored since. It copies rows, not later changes to rows it already copied (a revised
//! article, a feed's new state): stop the daemon on SQLite before the final run.

use super::super::StoreError;
use postgres::types::ToSql;
use postgres::Client;
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use serde::Serialize;

/// A column's PostgreSQL type, to convert SQLite's dynamically typed values.
#[derive(Clone, Copy)]
enum Ty {
    Int,
    /// A 0/1 flag (smallint on PostgreSQL).
    Flag,
    Real,
    Text,
    Blob,
}

struct Table {
    name: &'static str,
    /// The columns copied, the key first. Keys: one integer column, or two (article_tags).
    columns: &'static [(&'static str, Ty)],
    key_len: usize,
    /// Has an identity column whose sequence must move past the copied ids.
    identity: bool,
}

use Ty::*;

/// In an order that respects the foreign keys (articles' forward `duplicate_of` aside).
const TABLES: &[Table] = &[
    Table {
        name: "feeds",
        columns: &[
            ("id", Int),
            ("url", Text),
            ("kind", Text),
            ("title", Text),
            ("site_url", Text),
            ("origin", Text),
            ("enabled", Flag),
            ("disabled_reason", Text),
            ("interval_secs", Int),
            ("full_text", Flag),
            ("labels", Text),
            ("etag", Text),
            ("last_modified", Text),
            ("next_poll_at", Text),
            ("last_polled_at", Text),
            ("last_success_at", Text),
            ("last_status", Int),
            ("last_error", Text),
            ("consecutive_errors", Int),
            ("current_interval_secs", Int),
            ("created_at", Text),
            ("updated_at", Text),
        ],
        key_len: 1,
        identity: true,
    },
    Table {
        name: "feed_url_history",
        columns: &[
            ("id", Int),
            ("feed_id", Int),
            ("old_url", Text),
            ("new_url", Text),
            ("http_status", Int),
            ("changed_at", Text),
        ],
        key_len: 1,
        identity: true,
    },
    Table {
        name: "tags",
        columns: &[
            ("id", Int),
            ("kind", Text),
            ("slug", Text),
            ("label", Text),
            ("code", Text),
        ],
        key_len: 1,
        identity: true,
    },
    Table {
        name: "articles",
        columns: &[
            ("id", Int),
            ("title", Text),
            ("title_derived", Flag),
            ("url", Text),
            ("canonical_url", Text),
            ("author", Text),
            ("published_at", Text),
            ("updated_at", Text),
            ("first_seen_at", Text),
            ("last_seen_at", Text),
            ("revised_at", Text),
            ("lang", Text),
            ("summary", Text),
            ("body_text", Text),
            ("body_html", Text),
            ("content_hash", Text),
            ("duplicate_of", Int),
            ("duplicate_detector", Text),
            ("duplicate_similarity", Real),
            ("duplicate_evidence", Text),
            ("foreign_policy", Flag),
            ("foreign_policy_score", Real),
            ("foreign_policy_evidence", Text),
            ("tagged_at", Text),
        ],
        key_len: 1,
        identity: true,
    },
    Table {
        name: "article_fingerprints",
        columns: &[
            ("article_id", Int),
            ("group_id", Int),
            ("fingerprint", Blob),
        ],
        key_len: 1,
        identity: false,
    },
    Table {
        name: "article_revisions",
        columns: &[
            ("id", Int),
            ("article_id", Int),
            ("title", Text),
            ("summary", Text),
            ("body_text", Text),
            ("body_html", Text),
            ("content_hash", Text),
            ("replaced_at", Text),
        ],
        key_len: 1,
        identity: true,
    },
    Table {
        name: "sightings",
        columns: &[
            ("id", Int),
            ("article_id", Int),
            ("feed_id", Int),
            ("guid", Text),
            ("url", Text),
            ("seen_at", Text),
            ("last_seen_at", Text),
            ("item_hash", Text),
        ],
        key_len: 1,
        identity: true,
    },
    Table {
        name: "article_tags",
        columns: &[
            ("article_id", Int),
            ("tag_id", Int),
            ("score", Real),
            ("evidence", Text),
        ],
        key_len: 2,
        identity: false,
    },
    Table {
        name: "fetches",
        columns: &[
            ("id", Int),
            ("feed_id", Int),
            ("started_at", Text),
            ("duration_ms", Int),
            ("status", Int),
            ("outcome", Text),
            ("bytes", Int),
            ("items", Int),
            ("new_items", Int),
            ("error_kind", Text),
            ("error", Text),
            ("queue_ms", Int),
        ],
        key_len: 1,
        identity: true,
    },
];

/// The names of the tables `db copy` moves, in order (for tests and docs).
pub fn table_names() -> Vec<&'static str> {
    TABLES.iter().map(|t| t.name).collect()
}

/// Rows per INSERT (and per transaction): big enough that round trips do not dominate, small
/// enough to stay far below PostgreSQL's 65,535 parameters for the widest table (24 columns).
const CHUNK: usize = 500;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TableCopy {
    pub table: &'static str,
    /// Rows in the SQLite store.
    pub source_rows: i64,
    /// Rows copied by this run (the rest were there from an earlier run).
    pub copied: i64,
    /// Rows the target holds after the copy.
    pub target_rows: i64,
}

/// Progress for the caller to show: table, rows done (earlier runs included), rows in all.
pub type Progress<'a> = &'a mut dyn FnMut(&str, i64, i64);

fn pg(e: postgres::Error) -> StoreError {
    StoreError::Pg(super::cause(&e))
}

/// Copy every table. The target must be a newsdesk PostgreSQL store (migrated here if new)
/// that holds nothing but earlier copies of this source.
pub fn copy(
    source: &Connection,
    target: &mut Client,
    progress: Progress,
) -> Result<Vec<TableCopy>, StoreError> {
    copy_settings(source, target)?;
    let mut report = Vec::new();
    for table in TABLES {
        report.push(copy_table(source, target, table, progress)?);
        if table.name == "articles" {
            link_forward_duplicates(source, target)?;
        }
    }
    for table in TABLES.iter().filter(|t| t.identity) {
        // Ids the daemon gives later continue after the copied ones.
        target
            .execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{0}', 'id'),
                                   coalesce((SELECT max(id) FROM {0}), 0) + 1, false)",
                    table.name
                ),
                &[],
            )
            .map_err(pg)?;
    }
    Ok(report)
}

/// The full-text mode first, so the target indexes the copied articles the same way.
fn copy_settings(source: &Connection, target: &mut Client) -> Result<(), StoreError> {
    let mode: String = source.query_row(
        "SELECT coalesce(value, 'full') FROM settings WHERE key = 'fts'",
        [],
        |r| r.get(0),
    )?;
    target
        .execute(
            "INSERT INTO settings (key, value) VALUES ('fts', $1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&mode],
        )
        .map_err(pg)?;
    Ok(())
}

/// The last key the target holds, to continue after it.
fn resume_key(target: &mut Client, table: &Table) -> Result<Vec<i64>, StoreError> {
    let keys: Vec<&str> = table.columns[..table.key_len].iter().map(|c| c.0).collect();
    let order = keys
        .iter()
        .map(|k| format!("{k} DESC"))
        .collect::<Vec<_>>()
        .join(", ");
    let row = target
        .query_opt(
            &format!(
                "SELECT {} FROM {} ORDER BY {order} LIMIT 1",
                keys.join(", "),
                table.name
            ),
            &[],
        )
        .map_err(pg)?;
    match row {
        None => Ok(vec![i64::MIN; table.key_len]),
        Some(r) => (0..table.key_len)
            .map(|i| r.try_get(i).map_err(pg))
            .collect(),
    }
}

fn count_pg(target: &mut Client, table: &str) -> Result<i64, StoreError> {
    target
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .and_then(|r| r.try_get(0))
        .map_err(pg)
}

fn copy_table(
    source: &Connection,
    target: &mut Client,
    table: &Table,
    progress: Progress,
) -> Result<TableCopy, StoreError> {
    let columns: Vec<&str> = table.columns.iter().map(|c| c.0).collect();
    let keys = &columns[..table.key_len];
    let source_rows: i64 =
        source.query_row(&format!("SELECT count(*) FROM {}", table.name), [], |r| {
            r.get(0)
        })?;
    let mut after = resume_key(target, table)?;
    let mut done = count_pg(target, table.name)?;
    let before = done;
    // Keyset order: (k1, k2) > (a, b) as SQLite's row values.
    let select = format!(
        "SELECT {} FROM {} WHERE ({}) > ({}) ORDER BY {} LIMIT {CHUNK}",
        columns.join(", "),
        table.name,
        keys.join(", "),
        keys.iter().map(|_| "?").collect::<Vec<_>>().join(", "),
        keys.join(", "),
    );
    let mut stmt = source.prepare(&select)?;
    progress(table.name, done, source_rows);
    loop {
        let mut rows: Vec<Vec<Box<dyn ToSql + Sync>>> = Vec::with_capacity(CHUNK);
        let mut last = after.clone();
        let mut query = stmt.query(rusqlite::params_from_iter(after.iter()))?;
        while let Some(r) = query.next()? {
            let mut values: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(columns.len());
            for (i, (column, ty)) in table.columns.iter().enumerate() {
                let value = r.get_ref(i)?;
                values.push(convert(table.name, column, *ty, value)?);
            }
            for (k, slot) in last.iter_mut().enumerate() {
                *slot = r.get(k)?;
            }
            if table.name == "articles" {
                // A group pointing at a later article (regrouped by `dedupe --rebuild`) cannot
                // be linked before that article exists; `link_forward_duplicates` does it.
                let id: i64 = r.get(0)?;
                if let ValueRef::Integer(d) = r.get_ref(16)? {
                    if d > id {
                        values[16] = Box::new(None::<i64>);
                    }
                }
            }
            rows.push(values);
        }
        if rows.is_empty() {
            break;
        }
        let n = rows.len();
        insert_chunk(target, table, &columns, rows)?;
        done += n as i64;
        after = last;
        progress(table.name, done, source_rows);
        if n < CHUNK {
            break;
        }
    }
    Ok(TableCopy {
        table: table.name,
        source_rows,
        copied: done - before,
        target_rows: count_pg(target, table.name)?,
    })
}

fn insert_chunk(
    target: &mut Client,
    table: &Table,
    columns: &[&str],
    rows: Vec<Vec<Box<dyn ToSql + Sync>>>,
) -> Result<(), StoreError> {
    let width = columns.len();
    let placeholders: Vec<String> = (0..rows.len())
        .map(|r| {
            let cells: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", cells.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES {}",
        table.name,
        columns.join(", "),
        placeholders.join(", ")
    );
    let params: Vec<&(dyn ToSql + Sync)> = rows.iter().flatten().map(|v| v.as_ref()).collect();
    // One statement is one transaction: the chunk is stored whole or not at all.
    target
        .execute(&sql, &params)
        .map_err(|e| StoreError::Pg(format!("copying {}: {}", table.name, super::cause(&e))))?;
    Ok(())
}

/// Articles whose `duplicate_of` points at a later id were copied without it; link them now.
fn link_forward_duplicates(source: &Connection, target: &mut Client) -> Result<(), StoreError> {
    let mut stmt =
        source.prepare("SELECT id, duplicate_of FROM articles WHERE duplicate_of > id")?;
    let pairs = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    for (id, dup) in pairs {
        target
            .execute(
                "UPDATE articles SET duplicate_of = $2 WHERE id = $1",
                &[&id, &dup],
            )
            .map_err(pg)?;
    }
    Ok(())
}

/// One SQLite value as the PostgreSQL column's type; a value that does not fit is an error
/// naming the table and column, not a silent NULL.
fn convert(
    table: &str,
    column: &str,
    ty: Ty,
    value: ValueRef,
) -> Result<Box<dyn ToSql + Sync>, StoreError> {
    let wrong = || {
        StoreError::Pg(format!(
            "{table}.{column}: a {:?} value where the column holds {}",
            value.data_type(),
            match ty {
                Int => "integers",
                Flag => "0 or 1",
                Real => "numbers",
                Text => "text",
                Blob => "bytes",
            }
        ))
    };
    Ok(match (ty, value) {
        (Int, ValueRef::Null) => Box::new(None::<i64>),
        (Flag, ValueRef::Null) => Box::new(None::<i16>),
        (Real, ValueRef::Null) => Box::new(None::<f64>),
        (Text, ValueRef::Null) => Box::new(None::<String>),
        (Blob, ValueRef::Null) => Box::new(None::<Vec<u8>>),
        (Int, ValueRef::Integer(i)) => Box::new(i),
        (Flag, ValueRef::Integer(i @ (0 | 1))) => Box::new(i as i16),
        (Real, ValueRef::Integer(i)) => Box::new(i as f64),
        (Real, ValueRef::Real(f)) => Box::new(f),
        (Text, ValueRef::Text(t)) => Box::new(String::from_utf8(t.to_vec()).map_err(|_| wrong())?),
        (Blob, ValueRef::Blob(b)) => Box::new(b.to_vec()),
        _ => return Err(wrong()),
    })
}
