//! The floor for `bench/run`: the least a feed ingester can do with SQLite. Fetches every URL in
//! a file (16 at a time), parses each feed with feed-rs, and inserts title and body rows, one
//! transaction per feed, into a table with an FTS5 index over both (`--no-fts`: plain table).
//! No normalising, dedupe, tagging, scheduling or error handling beyond reporting.
//!
//! ```text
//! cargo run --release --example sqlite_floor -- URLS.txt DB [--no-fts]
//! ```

use futures_util::StreamExt;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(urls), Some(db)) = (args.first(), args.get(1)) else {
        anyhow::bail!("usage: sqlite_floor URLS.txt DB [--no-fts]");
    };
    let fts = !args.iter().any(|a| a == "--no-fts");
    let urls: Vec<String> = std::fs::read_to_string(urls)?
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect();

    let conn = rusqlite::Connection::open(db)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
         CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, title TEXT, body TEXT);",
    )?;
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
        .map(|url| {
            let client = client.clone();
            async move {
                let body = client.get(&url).send().await?.bytes().await?;
                let feed = feed_rs::parser::parse(&body[..])?;
                let rows: Vec<(String, String)> = feed
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
                    .collect();
                anyhow::Ok(rows)
            }
        })
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
