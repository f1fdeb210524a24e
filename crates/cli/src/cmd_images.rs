//! `images`, `history` and `system df`.

use clap::Args;
use serde_json::{Value, json};

use berth_image::store::Image;
use berth_image::{Reference, Store};

use crate::template;
use crate::units::{go_time, human_size, since};
use crate::{CmdResult, Fail};

/// `images` flags.
#[derive(Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    all: bool,
    /// Only show image IDs
    #[arg(short, long)]
    quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Show digests
    #[arg(long)]
    digests: bool,
    /// Filter output based on conditions provided (dangling, reference, label)
    #[arg(short, long = "filter")]
    filter: Vec<String>,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', or a Go template)
    #[arg(long)]
    format: Option<String>,
    /// Only images of this repository (and tag)
    repository: Option<String>,
}

const HEADERS: &[(&str, &str)] = &[
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("ID", "IMAGE ID"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("Containers", "CONTAINERS"),
    ("CreatedBy", "CREATED BY"),
    ("Comment", "COMMENT"),
    ("Type", "TYPE"),
    ("TotalCount", "TOTAL"),
    ("Active", "ACTIVE"),
    ("Reclaimable", "RECLAIMABLE"),
];

enum Filter {
    Dangling(bool),
    Reference(String),
    Label(String, Option<String>),
    /// Images created before this image (`before=`) or after it (`since=`).
    Before(String),
    Since(String),
}

fn parse_filters(raw: &[String]) -> Result<Vec<Filter>, Fail> {
    raw.iter()
        .map(|f| {
            let (k, v) = f.split_once('=').ok_or_else(|| {
                Fail::usage(format!("bad format of filter (expected name=value): {f}"))
            })?;
            match k {
                "dangling" => match v {
                    "true" | "1" => Ok(Filter::Dangling(true)),
                    "false" | "0" => Ok(Filter::Dangling(false)),
                    _ => Err(Fail::user(format!("invalid filter 'dangling={v}'"))),
                },
                "reference" => Ok(Filter::Reference(v.to_string())),
                "before" => Ok(Filter::Before(v.to_string())),
                "since" => Ok(Filter::Since(v.to_string())),
                "label" => Ok(match v.split_once('=') {
                    Some((a, b)) => Filter::Label(a.to_string(), Some(b.to_string())),
                    None => Filter::Label(v.to_string(), None),
                }),
                _ => Err(Fail::user(format!("invalid filter '{k}'"))),
            }
        })
        .collect()
}

/// `path.Match`-style glob: `*` and `?` do not cross `/`.
fn glob(pat: &str, s: &str) -> bool {
    fn m(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => m(&p[1..], s) || (!s.is_empty() && s[0] != b'/' && m(p, &s[1..])),
            (Some(b'?'), Some(c)) if *c != b'/' => m(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => m(&p[1..], &s[1..]),
            _ => false,
        }
    }
    m(pat.as_bytes(), s.as_bytes())
}

fn reference_matches(pat: &str, r: &Reference) -> bool {
    let name = r.familiar_name();
    let with_tag = r.tag().map(|t| format!("{name}:{t}"));
    glob(pat, &name) || with_tag.is_some_and(|t| glob(pat, &t)) || glob(pat, &r.name())
}

/// When `img` was created, in Unix nanoseconds (0 when its config does not say).
fn created_nanos(img: &Image) -> i128 {
    img.config
        .created
        .as_deref()
        .and_then(berth_image::time::parse_rfc3339_nanos)
        .unwrap_or(0)
}

/// One row of `images`: an image under one of its tags (or `<none>`).
fn row(img: &Image, tag: Option<&Reference>, no_trunc: bool) -> Value {
    let id = if no_trunc {
        img.id().to_string()
    } else {
        img.id().short().to_string()
    };
    let (repo, t) = match tag {
        Some(r) => (r.familiar_name(), r.tag().unwrap_or("<none>").to_string()),
        None => ("<none>".into(), "<none>".into()),
    };
    let digest = match tag {
        Some(_) => img.record.manifest.to_string(),
        None => "<none>".into(),
    };
    let created = img.config.created.as_deref();
    json!({
        "Repository": repo,
        "Tag": t,
        "Digest": digest,
        "ID": id,
        "CreatedSince": since(created),
        "CreatedAt": go_time(created),
        "Size": human_size(img.size),
        "VirtualSize": human_size(img.size),
        "SharedSize": "N/A",
        "UniqueSize": "N/A",
        "Containers": "N/A",
    })
}

/// `berth images`.
pub fn images(store: &Store, a: ImagesArgs) -> CmdResult {
    let _ = a.all; // berth keeps no intermediate images: -a shows the same list.
    let filters = parse_filters(&a.filter)?;
    let only = match &a.repository {
        Some(r) => Some(Reference::parse(r).map_err(Fail::from)?),
        None => None,
    };
    // before= and since= name an image; its creation time is the bound.
    let mut bounds = Vec::new();
    for f in &filters {
        bounds.push(match f {
            Filter::Before(n) | Filter::Since(n) => {
                let id = store.resolve(n).map_err(Fail::from)?;
                Some(created_nanos(&store.image(&id)?))
            }
            _ => None,
        });
    }
    let mut rows = Vec::new();
    for img in store.images()? {
        let tags: Vec<&Reference> = img.tags();
        let labels = img
            .config
            .config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default();
        let created = created_nanos(&img);
        let keep_image = filters.iter().zip(&bounds).all(|(f, bound)| match f {
            Filter::Dangling(d) => tags.is_empty() == *d,
            Filter::Label(k, v) => labels
                .get(k)
                .is_some_and(|x| v.as_ref().is_none_or(|v| v == x)),
            Filter::Reference(_) => true,
            Filter::Before(_) => bound.is_some_and(|b| created < b),
            Filter::Since(_) => bound.is_some_and(|b| created > b),
        });
        if !keep_image {
            continue;
        }
        let refs: Vec<Option<&Reference>> = if tags.is_empty() {
            vec![None]
        } else {
            tags.into_iter().map(Some).collect()
        };
        for r in refs {
            // Several reference filters match when any of them does, as Docker's do.
            let patterns: Vec<&String> = filters
                .iter()
                .filter_map(|f| match f {
                    Filter::Reference(p) => Some(p),
                    _ => None,
                })
                .collect();
            let keep = (patterns.is_empty()
                || r.is_some_and(|r| patterns.iter().any(|p| reference_matches(p, r))))
                && only.as_ref().is_none_or(|o| {
                    r.is_some_and(|r| {
                        r.name() == o.name() && o.tag().is_none_or(|t| r.tag() == Some(t))
                    })
                });
            if keep {
                rows.push(row(&img, r, a.no_trunc));
            }
        }
    }
    if a.quiet {
        let mut seen = std::collections::HashSet::new();
        for r in &rows {
            let id = r["ID"].as_str().unwrap_or_default().to_string();
            if seen.insert(id.clone()) {
                println!("{id}");
            }
        }
        return Ok(());
    }
    let default = if a.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    print_rows(a.format.as_deref(), default, &rows)
}

/// Prints `rows` through `--format` (or the default table).
fn print_rows(format: Option<&str>, default: &str, rows: &[Value]) -> CmdResult {
    template::print_rows(format, default, HEADERS, rows)
}

/// `history` flags.
#[derive(Args)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    human: bool,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    quiet: bool,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
    /// The image
    image: String,
}

/// `berth history`.
pub fn history(store: &Store, a: HistoryArgs) -> CmdResult {
    let id = store.resolve(&a.image)?;
    let img = store.image(&id)?;
    // Sizes of the layers, in the order of the non-empty history entries.
    let mut sizes = Vec::new();
    let mut parent = None;
    for d in &img.config.rootfs.diff_ids {
        let c = berth_image::digest::chain_id(parent.as_ref(), d);
        sizes.push(store.layers().info(&c)?.size);
        parent = Some(c);
    }
    let mut sizes = sizes.into_iter();
    let mut rows = Vec::new();
    let n = img.config.history.len();
    for (i, h) in img.config.history.iter().enumerate() {
        let size = if h.empty_layer {
            0
        } else {
            sizes.next().unwrap_or(0)
        };
        let top = i + 1 == n;
        let shown_id = match (top, a.no_trunc) {
            (true, true) => img.id().to_string(),
            (true, false) => img.id().short().to_string(),
            _ => "<missing>".into(),
        };
        let mut by = h.created_by.clone().unwrap_or_default().replace('\t', " ");
        if !a.no_trunc && by.chars().count() > 45 {
            by = by.chars().take(44).collect::<String>() + "…";
        }
        let created = h.created.as_deref();
        rows.push(json!({
            "ID": shown_id,
            "CreatedSince": if a.human { since(created) } else { created.unwrap_or_default().to_string() },
            "CreatedAt": created.unwrap_or_default(),
            "CreatedBy": by,
            "Size": if a.human { human_size(size) } else { size.to_string() },
            "Comment": h.comment.clone().unwrap_or_default(),
        }));
    }
    rows.reverse();
    if a.quiet {
        for r in &rows {
            println!("{}", r["ID"].as_str().unwrap_or_default());
        }
        return Ok(());
    }
    print_rows(
        a.format.as_deref(),
        "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
        &rows,
    )
}

/// `berth system df`: berth keeps images only so far, so that is the one row.
pub fn df(store: &Store, verbose: bool) -> CmdResult {
    let du = store.disk_usage()?;
    let pct = (du.reclaimable * 100).checked_div(du.size).unwrap_or(0);
    let rows = vec![json!({
        "Type": "Images",
        "TotalCount": du.images.to_string(),
        "Active": du.active.to_string(),
        "Size": human_size(du.size),
        "Reclaimable": format!("{} ({pct}%)", human_size(du.reclaimable)),
    })];
    print_rows(
        None,
        "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
        &rows,
    )?;
    if verbose {
        println!("\nImages space usage:\n");
        let mut imgs = Vec::new();
        for img in store.images()? {
            let tags = img.tags();
            let r = tags.first().copied();
            imgs.push(row(&img, r, false));
        }
        print_rows(
            None,
            "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
            &imgs,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_filter_globs_like_docker() {
        let r = Reference::parse_with_default_tag("me/app:v1").unwrap();
        assert!(reference_matches("me/*", &r));
        assert!(reference_matches("me/app:v?", &r));
        assert!(!reference_matches("*", &r), "* does not cross /");
        assert!(reference_matches("*/*", &r));
        let bb = Reference::parse_with_default_tag("bb").unwrap();
        assert!(reference_matches("bb", &bb));
        assert!(reference_matches("b*:latest", &bb));
    }
}
