//! Terminal output: aligned columns, cut to the terminal's width on a terminal only.

use std::io::IsTerminal;

/// Width to fit tables into: None when stdout is not a terminal (a pipe or a file wants whole
/// lines: `search | grep` must see the snippet); else $COLUMNS, else 100.
pub fn width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let w = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|&w: &usize| w >= 40)
        .unwrap_or(100);
    Some(w)
}

/// Cut `s` to `max` characters, marking the cut.
pub fn cut(s: &str, max: usize) -> String {
    let s = s.replace(['\n', '\t'], " ");
    if s.chars().count() <= max {
        return s;
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Print rows as left-aligned columns; the last column takes what width is left.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let cols = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(cols.saturating_sub(1)) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let fixed: usize = widths[..cols - 1].iter().map(|w| w + 2).sum();
    let last = width().map(|w| w.saturating_sub(fixed).max(20));
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cols {
                match last {
                    Some(last) => out.push_str(&cut(cell, last)),
                    None => out.push_str(&cell.replace(['\n', '\t'], " ")),
                }
            } else {
                out.push_str(&format!("{:<w$}  ", cell, w = widths[i]));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
}

/// A count redrawn in place on stderr while a long command works: on a terminal only, so
/// logs and pipes never see the escape codes.
#[derive(Debug, Default)]
pub struct Progress {
    on: bool,
    shown: bool,
}

impl Progress {
    pub fn on_terminal() -> Progress {
        Progress {
            on: std::io::stderr().is_terminal(),
            shown: false,
        }
    }

    pub fn show(&mut self, text: &str) {
        if self.on {
            eprint!("\r\x1b[K{text}");
            self.shown = true;
        }
    }

    /// Erase the line before anything else is printed.
    pub fn clear(&mut self) {
        if self.shown {
            eprint!("\r\x1b[K");
            self.shown = false;
        }
    }
}
