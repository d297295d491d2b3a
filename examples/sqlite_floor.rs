//! The floor for `bench/run`: the least a feed ingester can do with SQLite. Fetches every URL in
//! a file (16 at a time), parses each feed with feed-rs, and inserts title and body rows, one
//! transaction per feed, into a table with an FTS5 index over both (`--no-fts`: plain table).
//! No normalising, dedupe, tagging, scheduling or error handling beyond reporting.
//!
//! `--insert-only` is the writer's floor alone, the issue's definition of it: every feed is
//! fetched and parsed first (not timed), then the rows are inserted and FTS5-indexed the way
//! newsdesk's writer does it (1,000 rows per transaction, the batch indexed by one
//! `INSERT ... SELECT` at its end, a 16 MiB term table, automerge 8), and that phase's wall
//! and CPU time are printed (`insert: WALL s wall, CPU s CPU`).
//!
//! ```text
//! cargo run --release --example sqlite_floor -- URLS.txt DB [--no-fts] [--insert-only]
//! ```

use futures_util::StreamExt;

/// The database and its plain `items` table, as both floors start.
fn open_items(db: &str) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(db)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
         CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, title TEXT, body TEXT);",
    )?;
    Ok(conn)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(urls), Some(db)) = (args.first(), args.get(1)) else {
        anyhow::bail!("usage: sqlite_floor URLS.txt DB [--no-fts] [--insert-only]");
    };
    let fts = !args.iter().any(|a| a == "--no-fts");
    let insert_only = args.iter().any(|a| a == "--insert-only");
    let urls: Vec<String> = std::fs::read_to_string(urls)?
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect();

    if insert_only {
        return insert_phase(&urls, db, fts).await;
    }
    let conn = open_items(db)?;
    if fts {
        conn.execute_batch(
            "CREATE VIRTUAL TABLE IF NOT EXISTS items_fts USING fts5(title, body, content = 'items', content_rowid = 'id');
             CREATE TRIGGER IF NOT EXISTS items_ai AFTER INSERT ON items BEGIN
                 INSERT INTO items_fts(rowid, title, body) VALUES (new.id, new.title, new.body);
             END;",
        )?;
    }

    // Parsing happens on the fetch tasks; the inserts on a writer thread, as any SQLite program
    // with concurrent fetches must do.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<(String, String)>>(64);
    let writer = std::thread::spawn(move || -> anyhow::Result<usize> {
        let mut conn = conn;
        let mut rows = 0;
        for feed in rx {
            let t = conn.transaction()?;
            {
                let mut stmt =
                    t.prepare_cached("INSERT INTO items (title, body) VALUES (?1, ?2)")?;
                for (title, body) in &feed {
                    stmt.execute([title, body])?;
                    rows += 1;
                }
            }
            t.commit()?;
        }
        Ok(rows)
    });

    let client = reqwest::Client::new();
    let mut fetches = futures_util::stream::iter(urls)
        .map(|url| fetch_rows(client.clone(), url))
        .buffer_unordered(16);
    let mut failed = 0;
    while let Some(result) = fetches.next().await {
        match result {
            Ok(rows) => {
                if tx.send(rows).is_err() {
                    break;
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("sqlite_floor: {e}");
            }
        }
    }
    drop(tx);
    let rows = writer
        .join()
        .map_err(|_| anyhow::anyhow!("writer thread panicked"))??;
    println!("{rows} rows stored, {failed} feeds failed");
    Ok(())
}

type Rows = Vec<(String, String)>;

/// One feed fetched and parsed into (title, body) rows.
async fn fetch_rows(client: reqwest::Client, url: String) -> anyhow::Result<Rows> {
    let body = client.get(&url).send().await?.bytes().await?;
    let feed = feed_rs::parser::parse(&body[..])?;
    Ok(feed
        .entries
        .into_iter()
        .map(|e| {
            let title = e.title.map(|t| t.content).unwrap_or_default();
            let body = e
                .content
                .and_then(|c| c.body)
                .or(e.summary.map(|s| s.content))
                .unwrap_or_default();
            (title, body)
        })
        .collect())
}

/// Rows per transaction in the insert phase: newsdesk's writer groups up to 1,000 articles.
const BATCH: usize = 1_000;

/// `--insert-only`: fetch everything first, then time only the inserts and the index.
async fn insert_phase(urls: &[String], db: &str, fts: bool) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let mut fetches = futures_util::stream::iter(urls.iter().cloned())
        .map(|url| fetch_rows(client.clone(), url))
        .buffer_unordered(16);
    let mut rows: Rows = Vec::new();
    let mut failed = 0;
    while let Some(result) = fetches.next().await {
        match result {
            Ok(r) => rows.extend(r),
            Err(e) => {
                failed += 1;
                eprintln!("sqlite_floor: {e}");
            }
        }
    }
    let mut conn = open_items(db)?;
    if fts {
        conn.execute_batch(
            "CREATE VIRTUAL TABLE IF NOT EXISTS items_fts USING fts5(title, body, content = 'items', content_rowid = 'id');
             INSERT INTO items_fts(items_fts, rank) VALUES ('hashsize', 16777216);
             INSERT INTO items_fts(items_fts, rank) VALUES ('automerge', 8);",
        )?;
    }
    let (wall, cpu) = (std::time::Instant::now(), cpu_seconds());
    for batch in rows.chunks(BATCH) {
        let t = conn.transaction()?;
        let after: i64 = t.query_row("SELECT coalesce(max(id), 0) FROM items", [], |r| r.get(0))?;
        {
            let mut stmt = t.prepare_cached("INSERT INTO items (title, body) VALUES (?1, ?2)")?;
            for (title, body) in batch {
                stmt.execute([title, body])?;
            }
        }
        if fts {
            t.execute(
                "INSERT INTO items_fts(rowid, title, body) SELECT id, title, body FROM items WHERE id > ?1",
                [after],
            )?;
        }
        t.commit()?;
    }
    // The WAL is part of the write: newsdesk's checkpoints run during its pass.
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    let (wall, cpu) = (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    println!(
        "{} rows inserted, {failed} feeds failed; insert: {wall:.2} s wall, {cpu:.2} s CPU",
        rows.len()
    );
    Ok(())
}

/// CPU seconds (user + system) this process has used so far.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return 0.0;
    }
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}
