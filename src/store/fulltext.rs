//! The store's side of full text (`crate::fulltext`): which article pages are worth fetching.

use super::StoreError;
use rusqlite::{Connection, OptionalExtension};

/// For each canonical URL, true when no stored article has it (its page is worth fetching).
pub fn unknown_urls(conn: &Connection, urls: &[String]) -> Result<Vec<bool>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT 1 FROM articles WHERE canonical_url = ?1 LIMIT 1")?;
    let mut out = Vec::with_capacity(urls.len());
    for u in urls {
        out.push(stmt.query_row([u], |_| Ok(())).optional()?.is_none());
    }
    Ok(out)
}
