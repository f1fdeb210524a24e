//! The part of Go's text/template that `--format` uses in practice: `{{.Field}}`,
//! `{{.A.B}}`, `{{json .}}`, `{{json .Field}}`, and Docker's `table` prefix with
//! tab-aligned columns.

use serde_json::Value;

use crate::{CmdResult, Fail};

/// A parsed format.
#[derive(Debug)]
pub struct Template {
    parts: Vec<Part>,
    /// True for `table ...` formats: print a header and align columns.
    pub table: bool,
}

#[derive(Debug)]
enum Part {
    Text(String),
    Field { path: Vec<String>, json: bool },
}

impl Template {
    /// Parses `format` as Docker does: `table` prefix, `\t` and `\n` escapes.
    pub fn parse(format: &str) -> Result<Template, String> {
        let (table, body) = match format.strip_prefix("table") {
            Some(rest) => (true, rest),
            None => (false, format),
        };
        let body = body
            .trim_matches(' ')
            .replace("\\t", "\t")
            .replace("\\n", "\n");
        let mut parts = Vec::new();
        let mut rest = body.as_str();
        while let Some(i) = rest.find("{{") {
            if i > 0 {
                parts.push(Part::Text(rest[..i].to_string()));
            }
            let end = rest[i..]
                .find("}}")
                .ok_or_else(|| format!("template parsing error: unclosed action in {format:?}"))?;
            let action = rest[i + 2..i + end]
                .trim()
                .trim_start_matches('-')
                .trim_end_matches('-')
                .trim();
            let (json, expr) = match action.strip_prefix("json ") {
                Some(e) => (true, e.trim()),
                None => (false, action),
            };
            if !expr.starts_with('.') || expr.contains(' ') {
                return Err(format!(
                    "template parsing error: berth supports {{{{.Field}}}} and {{{{json .Field}}}}, not {{{{{action}}}}}"
                ));
            }
            let path = expr[1..]
                .split('.')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            parts.push(Part::Field { path, json });
            rest = &rest[i + end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts, table })
    }

    /// Renders against `v`.
    pub fn render(&self, v: &Value) -> Result<String, String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Field { path, json } => {
                    let mut cur = v;
                    for k in path {
                        cur = cur.get(k).ok_or_else(|| {
                            format!(
                                "template: executing at <.{}>: can't evaluate field {k}",
                                path.join(".")
                            )
                        })?;
                    }
                    if *json {
                        out.push_str(&serde_json::to_string(cur).expect("value serialises"));
                    } else {
                        go_print(cur, &mut out);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Renders the header line of a table: each field replaced by its name in
    /// `headers`, as Docker's header context does.
    pub fn header(&self, headers: &[(&str, &str)]) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Field { path, .. } => {
                    let key = path.join(".");
                    let h = headers
                        .iter()
                        .find(|(k, _)| *k == key)
                        .map(|(_, h)| h.to_string());
                    out.push_str(&h.unwrap_or_else(|| key.to_uppercase()));
                }
            }
        }
        out
    }
}

/// Prints a listing's `rows` through `--format`: `default` (a `table` format) when
/// none is given or it is `table`, one JSON object a line for `json`; a table gets a
/// header from `headers` and aligned columns.
pub fn print_rows(
    format: Option<&str>,
    default: &str,
    headers: &[(&str, &str)],
    rows: &[Value],
) -> CmdResult {
    let format = match format {
        None | Some("") | Some("table") => default,
        Some("json") => "{{json .}}",
        Some(f) => f,
    };
    let t = Template::parse(format).map_err(Fail::usage)?;
    let mut out = String::new();
    if t.table {
        out.push_str(&t.header(headers));
        out.push('\n');
    }
    for r in rows {
        out.push_str(&t.render(r).map_err(Fail::usage)?);
        out.push('\n');
    }
    print!("{}", if t.table { tabwrite(&out) } else { out });
    Ok(())
}

/// An `inspect --format`: `None` for docker's JSON array (no format, or `json`).
pub fn inspect_template(format: Option<&str>) -> Result<Option<Template>, Fail> {
    match format {
        Some("json") | None => Ok(None),
        Some(f) => Ok(Some(Template::parse(f).map_err(Fail::usage)?)),
    }
}

/// Prints an inspect command's `docs`: one indented JSON array, or each document
/// through `tmpl`, a line each.
pub fn print_docs(tmpl: Option<&Template>, docs: &[Value]) -> CmdResult {
    match tmpl {
        None => println!("{}", serde_json::to_string_pretty(docs).unwrap_or_default()),
        Some(t) => {
            for d in docs {
                println!("{}", t.render(d).map_err(Fail::usage)?);
            }
        }
    }
    Ok(())
}

/// Prints a value as Go's fmt does with %v.
fn go_print(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("<no value>"),
        Value::String(s) => out.push_str(s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                go_print(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push_str("map[");
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                go_print(x, out);
            }
            out.push(']');
        }
    }
}

/// Aligns tab-separated cells as Docker's tabwriter does (min width 20, padding 3):
/// every cell that a tab ends is padded; the last cell of a line is not.
pub fn tabwrite(text: &str) -> String {
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let cols = lines.iter().map(|l| l.len()).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for l in &lines {
        for (i, c) in l.iter().enumerate().take(l.len().saturating_sub(1)) {
            widths[i] = widths[i].max(c.chars().count() + 3).max(20);
        }
    }
    let mut out = String::new();
    for l in &lines {
        for (i, c) in l.iter().enumerate() {
            out.push_str(c);
            if i + 1 < l.len() {
                out.push_str(&" ".repeat(widths[i] - c.chars().count()));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_and_json() {
        let t = Template::parse("{{.Repository}}:{{ .Tag }} {{json .Labels}} {{.A.B}}").unwrap();
        let v = json!({"Repository": "bb", "Tag": "latest", "Labels": {"a": "b"}, "A": {"B": [1, "x"]}});
        assert_eq!(t.render(&v).unwrap(), r#"bb:latest {"a":"b"} [1 x]"#);
        assert!(
            t.render(&json!({}))
                .unwrap_err()
                .contains("can't evaluate field Repository")
        );
        assert!(Template::parse("{{if .X}}").is_err());
    }

    #[test]
    fn tables_align_like_docker() {
        let t = Template::parse(r"table {{.Repository}}\t{{.ID}}").unwrap();
        assert!(t.table);
        let h = t.header(&[("Repository", "REPOSITORY"), ("ID", "IMAGE ID")]);
        assert_eq!(h, "REPOSITORY\tIMAGE ID");
        let out = tabwrite(&format!("{h}\nbb\tabc\n"));
        assert_eq!(
            out,
            format!(
                "REPOSITORY{}IMAGE ID\nbb{}abc\n",
                " ".repeat(10),
                " ".repeat(18)
            )
        );
    }
}
