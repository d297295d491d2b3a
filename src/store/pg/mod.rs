//! The PostgreSQL store (`[store] url`): the SQLite schema on a server that many readers and
//! tools can share. The client is the synchronous `postgres` crate, used the way the SQLite
//! code uses rusqlite: a blocking connection per command (and, for writes, per writer
//! thread), never inside the async runtime.
//!
//! Every command that uses a store runs on PostgreSQL: `run` and `poll --once` share the
//! feeds through leases; `db copy --to` moves a SQLite store up.

pub mod copy;
pub mod dedupe;
pub mod feeds;
pub mod hosts;
pub mod migrate;
pub mod read;
pub mod write;
pub mod writer;

use super::StoreError;
use std::str::FromStr;

/// Whether `url` is a PostgreSQL connection URL this client can use; the reason if not.
pub fn check_url(url: &str) -> Result<(), String> {
    let url = url.trim();
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(format!(
            "{}: expected a postgres:// or postgresql:// URL (for SQLite, set `path` instead)",
            redact(url)
        ));
    }
    let config = postgres::Config::from_str(url).map_err(|e| format!("{}: {e}", redact(url)))?;
    if config.get_ssl_mode() == postgres::config::SslMode::Require {
        return Err(format!(
            "{}: sslmode=require is not supported yet; connect over a Unix socket, 127.0.0.1 or a TLS-terminating proxy",
            redact(url)
        ));
    }
    Ok(())
}

/// The URL as it may be shown in logs and errors: any password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    // The userinfo ends at the last '@' before the path (a password may hold '@' only
    // percent-encoded, but be safe).
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let user = match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:***"),
                None => userinfo.to_string(),
            };
            format!("{scheme}://{user}{}", &rest[at..])
        }
        None => url.to_string(),
    }
}

/// Connect to the server. TLS is not offered (`NoTls`): the server is expected on a Unix
/// socket, on this host or on a trusted network.
pub fn connect(url: &str) -> Result<postgres::Client, StoreError> {
    let fail = |cause: String| StoreError::PgConnect {
        url: redact(url),
        cause,
    };
    check_url(url).map_err(&fail)?;
    postgres::Client::connect(url.trim(), postgres::NoTls).map_err(|e| fail(cause(&e)))
}

/// A PostgreSQL error in the server's words: `postgres::Error`'s own text is often only "db
/// error" with the message in its source.
pub fn cause(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = db.message().to_string();
        if let Some(detail) = db.detail() {
            text.push_str(&format!(" ({detail})"));
        }
        return text;
    }
    match std::error::Error::source(e) {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    }
}

/// An ISO-8601 UTC time as the schema keeps it, computed by the server (`now() - ago`).
pub(crate) fn iso_ago(ago: &str) -> String {
    format!(
        "to_char((now() - interval '{ago}') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_folders_and_passwords() {
        for ok in [
            "postgres://newsdesk@%2Frun%2Fpostgresql/newsdesk",
            "postgres://newsdesk@/newsdesk?host=/run/postgresql",
            "postgresql://u:secret@127.0.0.1:5433/db",
        ] {
            assert_eq!(check_url(ok), Ok(()), "{ok}");
        }
        let e = check_url("mysql://u:pw@h/db").unwrap_err();
        assert!(e.contains("postgres://") && !e.contains("pw"), "{e}");
        let e = check_url("postgres://u:pw@h/db?sslmode=require").unwrap_err();
        assert!(e.contains("sslmode") && !e.contains("pw@"), "{e}");
        assert_eq!(
            redact("postgres://u:p%40ss@h:5432/db?x=1"),
            "postgres://u:***@h:5432/db?x=1"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        // The socket folder is taken from the percent-encoded host.
        let c = postgres::Config::from_str("postgres://n@%2Frun%2Fpostgresql/db").unwrap();
        assert!(matches!(
            c.get_hosts(),
            [postgres::config::Host::Unix(p)] if p == std::path::Path::new("/run/postgresql")
        ));
    }
}
