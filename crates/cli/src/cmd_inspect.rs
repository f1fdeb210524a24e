//! `image inspect` in Docker's JSON shape, and the top-level `inspect` that finds a
//! container, image, network or volume by name.

use clap::Args;
use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use berth_image::store::Image;
use berth_image::{Reference, Store};

use crate::template::Template;
use crate::{CmdResult, Fail};

/// `image inspect` flags.
#[derive(Args)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short, long)]
    format: Option<String>,
    /// The images
    #[arg(required = true)]
    images: Vec<String>,
}

/// `berth image inspect`.
pub fn inspect(store: &Store, a: InspectArgs) -> CmdResult {
    let tmpl = match a.format.as_deref() {
        Some("json") | None => None,
        Some(f) => Some(Template::parse(f).map_err(Fail::usage)?),
    };
    let mut docs = Vec::new();
    let mut missing = Vec::new();
    for name in &a.images {
        match store.resolve(name) {
            Ok(id) => docs.push(build(store, &store.image(&id)?)),
            Err(berth_image::Error::NoSuchImage(_)) => missing.push(name.clone()),
            Err(e) => return Err(e.into()),
        }
    }
    match &tmpl {
        None => println!(
            "{}",
            serde_json::to_string_pretty(&docs).expect("inspect document serialises")
        ),
        Some(t) => {
            for d in &docs {
                let v = serde_json::to_value(d).expect("inspect document serialises");
                println!("{}", t.render(&v).map_err(Fail::usage)?);
            }
        }
    }
    match missing.first() {
        None => Ok(()),
        Some(_) => Err(Fail::usage(
            missing
                .iter()
                .map(|m| format!("No such image: {m}"))
                .collect::<Vec<_>>()
                .join("\n"),
        )),
    }
}

/// Docker's `Config` object of an image, in Docker's field order.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DockerConfig {
    hostname: String,
    domainname: String,
    user: String,
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    exposed_ports: Option<BTreeMap<String, Value>>,
    tty: bool,
    open_stdin: bool,
    stdin_once: bool,
    env: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    healthcheck: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    args_escaped: Option<bool>,
    image: String,
    volumes: Option<BTreeMap<String, Value>>,
    working_dir: String,
    entrypoint: Option<Vec<String>>,
    on_build: Option<Vec<String>>,
    labels: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shell: Option<Vec<String>>,
}

/// Docker's image inspect document, in Docker's field order.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Document {
    id: String,
    repo_tags: Vec<String>,
    repo_digests: Vec<String>,
    parent: String,
    comment: String,
    created: String,
    docker_version: String,
    author: String,
    config: DockerConfig,
    architecture: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<String>,
    os: String,
    size: u64,
    graph_driver: Value,
    #[serde(rename = "RootFS")]
    root_fs: Value,
    metadata: Value,
}

/// The inspect document of one image.
fn build(store: &Store, img: &Image) -> Document {
    let c = img.config.config.clone().unwrap_or_default();
    let config = DockerConfig {
        hostname: String::new(),
        domainname: String::new(),
        user: c.user.unwrap_or_default(),
        attach_stdin: false,
        attach_stdout: false,
        attach_stderr: false,
        exposed_ports: c.exposed_ports,
        tty: false,
        open_stdin: false,
        stdin_once: false,
        env: c.env,
        cmd: c.cmd,
        healthcheck: c.healthcheck,
        args_escaped: c.args_escaped,
        image: String::new(),
        volumes: c.volumes,
        working_dir: c.working_dir.unwrap_or_default(),
        entrypoint: c.entrypoint,
        on_build: c.on_build,
        labels: c.labels,
        stop_signal: c.stop_signal,
        shell: c.shell,
    };
    let mut graph = Map::new();
    if let Some(top) = &img.record.top_layer
        && let Ok(stack) = store.layers().stack(top)
    {
        let s = |p: &std::path::PathBuf| p.to_string_lossy().into_owned();
        graph.insert("UpperDir".into(), json!(s(&stack[0])));
        if stack.len() > 1 {
            let lower: Vec<String> = stack[1..].iter().map(s).collect();
            graph.insert("LowerDir".into(), json!(lower.join(":")));
        }
    }
    Document {
        id: img.id().to_string(),
        repo_tags: img.tags().iter().map(|r| r.familiar()).collect(),
        repo_digests: img.repo_digests().iter().map(Reference::familiar).collect(),
        parent: String::new(),
        comment: img.config.comment.clone().unwrap_or_default(),
        created: img.config.created.clone().unwrap_or_default(),
        docker_version: img.config.docker_version.clone().unwrap_or_default(),
        author: img.config.author.clone().unwrap_or_default(),
        config,
        architecture: img.config.architecture.clone(),
        variant: img.config.variant.clone(),
        os: img.config.os.clone(),
        size: img.size,
        graph_driver: json!({"Data": graph, "Name": "overlay"}),
        root_fs: json!({"Type": "layers", "Layers": img.config.rootfs.diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>()}),
        metadata: json!({"LastTagTime": img.record.last_tag_time.clone().unwrap_or_else(|| "0001-01-01T00:00:00Z".into())}),
    }
}

/// The inspect document of image `name`, `None` when there is no such image (or the
/// name cannot be one).
pub fn image_doc(store: &Store, name: &str) -> Result<Option<Value>, Fail> {
    match store.resolve(name) {
        Ok(id) => {
            let d = build(store, &store.image(&id)?);
            Ok(Some(
                serde_json::to_value(&d).expect("inspect document serialises"),
            ))
        }
        Err(berth_image::Error::NoSuchImage(_) | berth_image::Error::InvalidReference(_)) => {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// The top-level `inspect`'s flags.
#[derive(Args)]
pub struct ObjectInspectArgs {
    /// Format output using a custom template
    #[arg(short, long)]
    format: Option<String>,
    /// Only inspect objects of the given type
    #[arg(long = "type")]
    kind: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short, long)]
    size: bool,
    /// Names or IDs of containers, images, networks or volumes
    #[arg(required = true)]
    names: Vec<String>,
}

/// The kinds the top-level `inspect` looks through, in Docker's order.
const KINDS: [&str; 4] = ["container", "image", "network", "volume"];

/// One object of kind `kind` named `name`, `None` when there is none.
fn find_object(
    eng: &berth_engine::Engine,
    kind: &str,
    name: &str,
    size: bool,
) -> Result<Option<Value>, Fail> {
    match kind {
        "container" => match eng.find(name) {
            Ok(c) => {
                let mut d = crate::cmd_container::inspect_doc(eng, &c);
                if size {
                    let (own, all) = crate::cmd_container::sizes(eng, &c);
                    d["SizeRw"] = json!(own);
                    d["SizeRootFs"] = json!(all);
                }
                Ok(Some(d))
            }
            Err(berth_engine::Error::NoSuchContainer(_)) => Ok(None),
            Err(e) => Err(e.into()),
        },
        "image" => image_doc(eng.store(), name),
        "volume" => {
            // A volume's name is one path component.
            if name.contains('/') || name == "." || name == ".." {
                return Ok(None);
            }
            match eng.volume_inspect(name) {
                Ok(v) => Ok(Some(crate::cmd_volume::doc(&v))),
                Err(berth_engine::Error::NoSuchVolume(_)) => Ok(None),
                Err(e) => Err(e.into()),
            }
        }
        "network" => {
            let found = eng
                .resolve_network(name)
                .and_then(|n| Ok(eng.networks()?.network(&n)?));
            match found {
                Ok(n) => Ok(Some(crate::cmd_network::doc(eng, &n))),
                Err(berth_engine::Error::Network(berth_network::Error::NotFound(_))) => Ok(None),
                Err(e) => Err(e.into()),
            }
        }
        _ => Ok(None),
    }
}

/// `berth inspect`: each name looked up as a container, an image, a network, then a
/// volume (or only as `--type`), every document found in one array, in the order
/// of the arguments; the names found nowhere are reported after it (exit 1).
pub fn inspect_any(eng: &berth_engine::Engine, a: ObjectInspectArgs) -> CmdResult {
    let kinds: Vec<&str> = match a.kind.as_deref() {
        None | Some("") => KINDS.to_vec(),
        Some(k) if KINDS.contains(&k) => vec![k],
        Some(k) => {
            return Err(Fail {
                code: 1,
                message: format!(
                    "unknown type: \"{k}\": must be one of \"{}\"",
                    KINDS.join("\", \"")
                ),
            });
        }
    };
    let tmpl = match a.format.as_deref() {
        Some("json") | None => None,
        Some(f) => Some(Template::parse(f).map_err(|e| Fail {
            code: 64,
            message: format!("template parsing error: {e}"),
        })?),
    };
    if a.size && a.kind.as_deref().is_some_and(|k| k != "container") {
        eprintln!(
            "WARNING: --size ignored for {}",
            a.kind.as_deref().unwrap_or_default()
        );
    }
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for name in &a.names {
        let mut found = None;
        for k in &kinds {
            if let Some(d) = find_object(eng, k, name, a.size)? {
                found = Some(d);
                break;
            }
        }
        match found {
            Some(d) => docs.push(d),
            None if kinds.len() == 1 => errors.push(format!("Error: No such {}: {name}", kinds[0])),
            None => errors.push(format!("Error: No such object: {name}")),
        }
    }
    match tmpl {
        None => println!(
            "{}",
            serde_json::to_string_pretty(&docs).expect("inspect document serialises")
        ),
        Some(t) => {
            let mut out = String::new();
            for d in &docs {
                match t.render(d) {
                    Ok(s) => {
                        out.push_str(&s);
                        out.push('\n');
                    }
                    Err(e) => errors.push(format!("template parsing error: {e}")),
                }
            }
            if out.is_empty() {
                out.push('\n');
            }
            print!("{out}");
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Fail {
            code: 1,
            message: errors.join("\n"),
        })
    }
}
