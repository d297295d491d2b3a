//! A lenient XML reader for feeds: quick-xml's events into a small element tree, recovering from
//! what real feeds get wrong instead of rejecting the document. A bare `&` stays text; HTML
//! entities (`&nbsp;`) resolve without a DTD; internal DTD entities expand, bounded; mismatched
//! or missing end tags close what is open; a syntax error ends the document where it happened,
//! keeping everything before it. Each such repair is noted in `Doc::problems`, so the feed can be
//! recorded as degraded with the first one.
//!
//! Namespaces are resolved to the few vocabularies feeds use (`Ns`): the RSS 0.90, 1.0 and
//! UserLand namespaces are all plain RSS, Atom 0.3 is Atom, and a prefix nobody declared is read
//! by its usual meaning (`dc:creator` without `xmlns:dc` is still Dublin Core).

use super::decode::c1_to_cp1252;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::collections::HashMap;

/// Longest expansion of one DTD entity, and of all entity uses in one document together: well
/// past any real use, far below what a "billion laughs" document asks for.
const ENTITY_MAX_CHARS: usize = 64 * 1024;
const ENTITY_TOTAL_MAX_CHARS: usize = 4 * 1024 * 1024;

/// Deepest element nesting kept: real feeds stay under 20; the tree is walked recursively.
const MAX_DEPTH: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ns {
    /// No namespace, or RSS 0.90/1.0/UserLand, or an unknown default namespace.
    Rss,
    Atom,
    Rdf,
    Dc,
    DcTerms,
    Content,
    Itunes,
    Media,
    Xhtml,
    Xml,
    Other,
}

impl Ns {
    fn from_uri(uri: &str) -> Ns {
        let u = uri.trim().trim_end_matches(['/', '#']).to_ascii_lowercase();
        match u.as_str() {
            "http://www.w3.org/2005/atom" | "http://purl.org/atom/ns" => Ns::Atom,
            "http://purl.org/rss/1.0"
            | "http://my.netscape.com/rdf/simple/0.9"
            | "http://backend.userland.com/rss2"
            | "http://backend.userland.com/rss"
            | "" => Ns::Rss,
            "http://www.w3.org/1999/02/22-rdf-syntax-ns" => Ns::Rdf,
            "http://purl.org/dc/elements/1.1" => Ns::Dc,
            "http://purl.org/dc/terms" => Ns::DcTerms,
            "http://purl.org/rss/1.0/modules/content" => Ns::Content,
            "http://www.itunes.com/dtds/podcast-1.0.dtd" => Ns::Itunes,
            "http://search.yahoo.com/mrss" => Ns::Media,
            "http://www.w3.org/1999/xhtml" => Ns::Xhtml,
            "http://www.w3.org/xml/1998/namespace" => Ns::Xml,
            _ => Ns::Other,
        }
    }

    /// What an undeclared prefix usually means.
    fn from_prefix(prefix: &str) -> Ns {
        match prefix.to_ascii_lowercase().as_str() {
            "atom" | "atom03" => Ns::Atom,
            "rss" | "rss1" | "rss09" => Ns::Rss,
            "rdf" => Ns::Rdf,
            "dc" => Ns::Dc,
            "dcterms" => Ns::DcTerms,
            "content" => Ns::Content,
            "itunes" => Ns::Itunes,
            "media" => Ns::Media,
            "xhtml" | "html" => Ns::Xhtml,
            "xml" => Ns::Xml,
            _ => Ns::Other,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Node {
    pub ns: Ns,
    /// Local name, lower-cased: feeds in the wild do not agree on case.
    pub name: String,
    /// The local name as written, for re-serialising inline XHTML.
    pub local: String,
    /// Attributes: qualified name as written, value with references resolved.
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Child>,
}

#[derive(Debug, Clone)]
pub enum Child {
    Elem(Node),
    Text(String),
}

impl Node {
    pub fn is(&self, ns: Ns, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    /// An attribute by its qualified name, case-insensitively.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn elems(&self) -> impl Iterator<Item = &Node> {
        self.children.iter().filter_map(|c| match c {
            Child::Elem(n) => Some(n),
            Child::Text(_) => None,
        })
    }

    /// All text inside, markup dropped.
    pub fn text(&self) -> String {
        let mut out = String::new();
        self.collect_text(&mut out);
        out
    }

    fn collect_text(&self, out: &mut String) {
        for c in &self.children {
            match c {
                Child::Text(t) => out.push_str(t),
                Child::Elem(n) => n.collect_text(out),
            }
        }
    }

    /// The children as markup (text escaped, elements by their local names): inline XHTML
    /// content, or HTML a feed put unescaped inside `<description>`.
    pub fn inner_markup(&self) -> String {
        let mut out = String::new();
        for c in &self.children {
            write_markup(c, &mut out);
        }
        out
    }
}

fn write_markup(c: &Child, out: &mut String) {
    match c {
        Child::Text(t) => out.push_str(&html_escape::encode_text(t)),
        Child::Elem(n) => {
            out.push('<');
            out.push_str(&n.local);
            for (k, v) in &n.attrs {
                if k.starts_with("xmlns") {
                    continue;
                }
                let k = k.rsplit(':').next().unwrap_or(k);
                out.push(' ');
                out.push_str(k);
                out.push_str("=\"");
                out.push_str(&html_escape::encode_double_quoted_attribute(v));
                out.push('"');
            }
            out.push('>');
            for c in &n.children {
                write_markup(c, out);
            }
            out.push_str("</");
            out.push_str(&n.local);
            out.push('>');
        }
    }
}

/// A read document: its root element (if one started) and what had to be repaired.
#[derive(Debug, Default)]
pub struct Doc {
    pub root: Option<Node>,
    pub problems: Vec<String>,
}

struct Builder<'a> {
    text: &'a str,
    /// Open elements, each with the length of `scopes` before its own declarations.
    open: Vec<(Node, String, usize)>,
    scopes: Vec<(String, Ns)>,
    entities: Entities,
    doc: Doc,
    /// Where the event being handled starts, for problems found inside it.
    pos: usize,
}

/// Read `text` as leniently as a browser reads a feed.
pub fn read(text: &str) -> Doc {
    let mut reader = Reader::from_str(text);
    let cfg = reader.config_mut();
    cfg.allow_dangling_amp = true;
    cfg.allow_unmatched_ends = true;
    cfg.check_end_names = false;
    cfg.expand_empty_elements = false;
    cfg.trim_markup_names_in_closing_tags = true;
    let mut b = Builder {
        text,
        open: Vec::new(),
        scopes: Vec::new(),
        entities: Entities::default(),
        doc: Doc::default(),
        pos: 0,
    };
    loop {
        let pos = reader.buffer_position() as usize;
        b.pos = pos;
        match reader.read_event() {
            Ok(Event::Start(_) | Event::Empty(_)) if b.open.len() >= MAX_DEPTH => {
                b.problem(
                    pos,
                    &format!("elements nested deeper than {MAX_DEPTH} levels skipped"),
                );
            }
            Ok(Event::Start(e)) => {
                let depth = b.scopes.len();
                let (node, qname) = b.start(&e, pos);
                b.open.push((node, qname, depth));
            }
            Ok(Event::Empty(e)) => {
                let depth = b.scopes.len();
                let (node, _) = b.start(&e, pos);
                b.scopes.truncate(depth);
                b.attach(node);
            }
            Ok(Event::End(e)) => {
                let name = e.name().as_ref().to_string();
                b.end(&name, pos);
            }
            Ok(Event::Text(t)) => {
                let text = t.xml10_content();
                // References come as their own events: an `&` left in text is a bare one.
                if text.contains('&') {
                    b.problem(pos, "bare & (not a reference)");
                }
                b.push_text(&text);
            }
            Ok(Event::CData(t)) => b.push_text(&t.xml10_content()),
            Ok(Event::GeneralRef(r)) => {
                let resolved = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => c1_to_cp1252(c).to_string(),
                        _ => format!("&{};", r.into_inner()),
                    }
                } else {
                    let name = r.into_inner();
                    b.entity(&name, pos)
                };
                b.push_text(&resolved);
            }
            Ok(Event::DocType(d)) => {
                let problems = b.entities.declare(&d.into_inner());
                b.doc.problems.extend(problems);
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => {
                let at = reader.error_position() as usize;
                b.problem(at, &e.to_string());
                break;
            }
        }
    }
    if let Some((_, qname, _)) = b.open.last() {
        let msg = format!("missing end tag </{qname}> at end of file");
        b.doc.problems.push(msg);
    }
    while let Some((node, _, _)) = b.open.pop() {
        b.attach(node);
    }
    b.doc
}

impl Builder<'_> {
    fn line(&self, pos: usize) -> usize {
        let end = pos.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    fn problem(&mut self, pos: usize, what: &str) {
        // Only the first is reported; a few more help a test or a debugger, not thousands.
        if self.doc.problems.len() >= 8 {
            return;
        }
        let msg = format!("line {}: {what}", self.line(pos));
        self.doc.problems.push(msg);
    }

    /// A start tag: its namespace declarations pushed onto `scopes` (the caller truncates them
    /// when the element ends), its name resolved.
    fn start(&mut self, e: &BytesStart, pos: usize) -> (Node, String) {
        let qname = e.name().as_ref().to_string();
        let mut attrs = Vec::new();
        let mut bad_attr = None;
        for a in e.attributes().with_checks(false) {
            let a = match a {
                Ok(a) => a,
                Err(err) => {
                    bad_attr.get_or_insert(err);
                    continue;
                }
            };
            let key = a.key.as_ref().to_string();
            let value = self.unescape_attr(&a.value);
            if key == "xmlns" {
                self.scopes.push((String::new(), Ns::from_uri(&value)));
            } else if let Some(prefix) = key.strip_prefix("xmlns:") {
                self.scopes.push((prefix.to_string(), Ns::from_uri(&value)));
            }
            attrs.push((key, value));
        }
        if let Some(err) = bad_attr {
            self.problem(pos, &format!("<{qname}>: {err}"));
        }
        let (prefix, local) = match qname.split_once(':') {
            Some((p, l)) => (p, l),
            None => ("", qname.as_str()),
        };
        let ns = self
            .scopes
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, ns)| *ns)
            .unwrap_or_else(|| {
                if prefix.is_empty() {
                    Ns::Rss
                } else {
                    Ns::from_prefix(prefix)
                }
            });
        // An unknown default namespace is read as plain RSS: lenient readers ignore it.
        let ns = if prefix.is_empty() && ns == Ns::Other {
            Ns::Rss
        } else {
            ns
        };
        // An Atom feed that forgot its namespace is still Atom.
        let root_feed = self.open.is_empty()
            && self.doc.root.is_none()
            && prefix.is_empty()
            && local.eq_ignore_ascii_case("feed");
        let ns = if root_feed && ns == Ns::Rss {
            self.scopes.push((String::new(), Ns::Atom));
            Ns::Atom
        } else {
            ns
        };
        let node = Node {
            ns,
            name: local.to_ascii_lowercase(),
            local: local.to_string(),
            attrs,
            children: Vec::new(),
        };
        (node, qname)
    }

    fn end(&mut self, qname: &str, pos: usize) {
        let Some(at) = self
            .open
            .iter()
            .rposition(|(_, q, _)| q.eq_ignore_ascii_case(qname))
        else {
            self.problem(pos, &format!("end tag </{qname}> without a start tag"));
            return;
        };
        if at + 1 != self.open.len() {
            let inner = self
                .open
                .last()
                .map(|(_, q, _)| q.clone())
                .unwrap_or_default();
            self.problem(pos, &format!("</{qname}> closes <{inner}>"));
        }
        while self.open.len() > at {
            if let Some((node, _, depth)) = self.open.pop() {
                self.scopes.truncate(depth);
                self.attach(node);
            }
        }
    }

    fn attach(&mut self, node: Node) {
        match self.open.last_mut() {
            Some((parent, _, _)) => parent.children.push(Child::Elem(node)),
            None if self.doc.root.is_none() => self.doc.root = Some(node),
            None => {}
        }
    }

    fn push_text(&mut self, t: &str) {
        let Some((parent, _, _)) = self.open.last_mut() else {
            return;
        };
        if let Some(Child::Text(last)) = parent.children.last_mut() {
            last.push_str(t);
        } else {
            parent.children.push(Child::Text(t.to_string()));
        }
    }

    /// A named reference: XML's five, the document's own entities, then HTML's; anything else
    /// stays as written.
    fn entity(&mut self, name: &str, pos: usize) -> String {
        match name {
            "amp" => return "&".into(),
            "lt" => return "<".into(),
            "gt" => return ">".into(),
            "quot" => return "\"".into(),
            "apos" => return "'".into(),
            _ => {}
        }
        match self.entities.resolve(name) {
            Resolved::Text(t) => return t,
            Resolved::OverBudget => {
                self.problem(
                    pos,
                    &format!("entity &{name}; not expanded: over the size limit"),
                );
                return String::new();
            }
            Resolved::Unknown => {}
        }
        let written = format!("&{name};");
        let html = html_escape::decode_html_entities(&written);
        if html != written {
            self.problem(
                pos,
                &format!("HTML entity &{name}; without a DTD that declares it"),
            );
            return html.into_owned();
        }
        self.problem(pos, &format!("undefined entity &{name};"));
        written
    }

    fn unescape_attr(&mut self, raw: &str) -> String {
        if !raw.contains('&') {
            return raw.to_string();
        }
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(i) = rest.find('&') {
            out.push_str(&rest[..i]);
            rest = &rest[i..];
            let end = rest[1..]
                .find(|c: char| {
                    !(c.is_alphanumeric() || c == '#' || c == '_' || c == '-' || c == '.')
                })
                .map(|e| e + 1);
            match end {
                Some(e) if rest[e..].starts_with(';') && e > 1 => {
                    let name = &rest[1..e];
                    if let Some(num) = name.strip_prefix('#') {
                        let code = match num.strip_prefix(['x', 'X']) {
                            Some(hex) => u32::from_str_radix(hex, 16).ok(),
                            None => num.parse().ok(),
                        };
                        match code.and_then(char::from_u32) {
                            Some(c) => out.push(c1_to_cp1252(c)),
                            None => out.push_str(&rest[..=e]),
                        }
                    } else {
                        out.push_str(&self.entity(name, self.pos));
                    }
                    rest = &rest[e + 1..];
                }
                _ => {
                    self.problem(self.pos, "bare & in an attribute value");
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// The internal DTD subset's general entities. External entities are never read; parameter
/// entities are ignored.
#[derive(Default)]
struct Entities {
    values: HashMap<String, Option<String>>,
    expanded_total: usize,
}

enum Resolved {
    Text(String),
    OverBudget,
    Unknown,
}

impl Entities {
    /// Read `<!ENTITY name "value">` declarations from a DOCTYPE's content. Values are expanded
    /// here, in declaration order, each bounded: an entity over the bound is kept as unusable.
    fn declare(&mut self, doctype: &str) -> Vec<String> {
        let mut problems = Vec::new();
        let mut rest = doctype;
        while let Some(i) = rest.find("<!ENTITY") {
            rest = rest[i + 8..].trim_start();
            if rest.starts_with('%') {
                continue;
            }
            let name_end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
            let name = rest[..name_end].to_string();
            let after = rest[name_end..].trim_start();
            let Some(quote) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                // SYSTEM or PUBLIC: an external entity, never fetched.
                continue;
            };
            let Some(len) = after[1..].find(quote) else {
                break;
            };
            let raw = &after[1..1 + len];
            let value = self.expand(raw, 0);
            if value.is_none() {
                problems.push(format!(
                    "entity &{name}; not expanded: over {ENTITY_MAX_CHARS} characters"
                ));
            }
            self.values.entry(name).or_insert(value);
        }
        problems
    }

    fn expand(&self, raw: &str, depth: usize) -> Option<String> {
        if depth > 8 {
            return None;
        }
        let mut out = String::new();
        let mut rest = raw;
        while let Some(i) = rest.find('&') {
            out.push_str(&rest[..i]);
            rest = &rest[i..];
            let name_end = rest.find(';').filter(|e| *e > 1 && *e < 64);
            match name_end.map(|e| (&rest[1..e], e)) {
                Some((name, e)) if !name.starts_with('#') => {
                    match self.values.get(name) {
                        Some(Some(v)) => out.push_str(v),
                        Some(None) => return None,
                        None => out.push_str(&rest[..=e]),
                    }
                    rest = &rest[e + 1..];
                }
                _ => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
            if out.len() > ENTITY_MAX_CHARS {
                return None;
            }
        }
        out.push_str(rest);
        // Character references in a value are resolved when the value is used as text.
        let out = html_escape::decode_html_entities(&out).into_owned();
        (out.len() <= ENTITY_MAX_CHARS).then_some(out)
    }

    fn resolve(&mut self, name: &str) -> Resolved {
        match self.values.get(name) {
            None => Resolved::Unknown,
            Some(None) => Resolved::OverBudget,
            Some(Some(v)) => {
                self.expanded_total += v.len();
                if self.expanded_total > ENTITY_TOTAL_MAX_CHARS {
                    Resolved::OverBudget
                } else {
                    Resolved::Text(v.clone())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> (Node, Vec<String>) {
        let doc = read(text);
        (doc.root.expect("a root"), doc.problems)
    }

    #[test]
    fn recovers_from_bare_ampersands_html_entities_and_open_tags() {
        let (r, problems) =
            root("<rss><item><title>A & B&nbsp;&eacute;t&eacute;</title><description>x");
        let item = r.elems().next().unwrap();
        assert_eq!(item.elems().next().unwrap().text(), "A & B\u{a0}été");
        assert_eq!(
            problems,
            [
                "line 1: bare & (not a reference)",
                "line 1: HTML entity &nbsp; without a DTD that declares it",
                "line 1: HTML entity &eacute; without a DTD that declares it",
                "line 1: HTML entity &eacute; without a DTD that declares it",
                "missing end tag </description> at end of file"
            ]
        );
        let (r, problems) = root("<rss><a><b>x</a><c>y</c></rss>");
        assert_eq!(r.elems().count(), 2);
        assert_eq!(problems, ["line 1: </a> closes <b>"]);
    }

    #[test]
    fn namespaces_resolve_and_undeclared_prefixes_are_read() {
        let (r, _) = root(
            "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#' xmlns='http://my.netscape.com/rdf/simple/0.9/'><item><dc:creator>x</dc:creator></item></rdf:RDF>",
        );
        assert!(r.is(Ns::Rdf, "rdf"));
        let item = r.elems().next().unwrap();
        assert!(item.is(Ns::Rss, "item"));
        assert!(item.elems().next().unwrap().is(Ns::Dc, "creator"));
    }

    #[test]
    fn dtd_entities_expand_bounded_and_never_external() {
        let (r, problems) = root(
            "<!DOCTYPE rss [<!ENTITY who \"Jos&#233; &amp; co\"><!ENTITY ext SYSTEM \"file:///etc/passwd\">]><rss>&who; &ext;</rss>",
        );
        assert_eq!(r.text(), "José & co &ext;");
        assert_eq!(problems, ["line 1: undefined entity &ext;"]);
        let mut laughs = String::from("<!DOCTYPE rss [<!ENTITY l0 \"lol\">");
        for i in 1..10 {
            let prev = format!("&l{};", i - 1).repeat(10);
            laughs.push_str(&format!("<!ENTITY l{i} \"{prev}\">"));
        }
        laughs.push_str("]><rss>&l9;</rss>");
        let (r, problems) = root(&laughs);
        assert!(r.text().is_empty());
        assert!(
            problems.iter().any(|p| p.contains("not expanded")),
            "{problems:?}"
        );
    }
}
