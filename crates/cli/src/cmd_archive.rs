//! `import`, `save` and `load`.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use clap::Args;

use berth_image::archive::{self, Progress};
use berth_image::store::ImportOptions;
use berth_image::{Reference, Store};

use crate::units::human_size;
use crate::{CmdResult, Fail, is_tty};

/// `import` arguments.
#[derive(Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long = "change")]
    change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short, long)]
    message: Option<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    platform: Option<String>,
    /// file or - for standard input
    source: String,
    /// REPOSITORY[:TAG]
    reference: Option<String>,
}

/// `berth import`.
pub fn import(store: &Store, a: ImportArgs) -> CmdResult {
    if let Some(p) = &a.platform {
        let host = format!("linux/{}", berth_image::store::host_arch());
        if p != &host && p != "linux" {
            return Err(Fail::user(format!(
                "berth imports for {host} only, not {p}"
            )));
        }
    }
    let mut config = berth_image::spec::ContainerConfig::default();
    for c in &a.change {
        berth_image::change::apply(&mut config, c).map_err(Fail::user)?;
    }
    let name = match &a.reference {
        Some(r) => Some(Reference::parse_with_default_tag(r).map_err(Fail::from)?),
        None => None,
    };
    if a.source.contains("://") {
        return Err(Fail::user(format!(
            "importing from a URL ({}) is not supported: download the file and import it",
            a.source
        )));
    }
    let opts = ImportOptions {
        config,
        message: a.message,
        source: a.source.clone(),
        name,
    };
    let id = if a.source == "-" {
        store.import(ProgressReader::new(io::stdin().lock(), "Importing"), &opts)?
    } else {
        let f = File::open(&a.source).map_err(|e| Fail::user(format!("open {}: {e}", a.source)))?;
        store.import(ProgressReader::new(f, "Importing"), &opts)?
    };
    println!("{id}");
    Ok(())
}

/// `save` arguments.
#[derive(Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// The images
    #[arg(required = true)]
    images: Vec<String>,
}

/// `berth save`. The file appears only when complete: written beside its final name,
/// synced, then renamed.
pub fn save(store: &Store, a: SaveArgs) -> CmdResult {
    match &a.output {
        None => {
            if is_tty(1) {
                return Err(Fail::usage(
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect",
                ));
            }
            let out = BufWriter::with_capacity(1 << 20, io::stdout().lock());
            archive::save(store, &a.images, ProgressWriter::new(out, "Saving"))?;
        }
        Some(out) => {
            let dir = out
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let tmp = dir.join(format!(
                ".{}.berth-save-{}",
                out.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                std::process::id()
            ));
            let res = (|| -> Result<(), Fail> {
                let f = File::create(&tmp).map_err(|e| {
                    Fail::usage(format!(
                        "failed to save image: create {}: {e}",
                        tmp.display()
                    ))
                })?;
                let mut w = BufWriter::with_capacity(1 << 20, f);
                archive::save(store, &a.images, ProgressWriter::new(&mut w, "Saving"))?;
                let f = w
                    .into_inner()
                    .map_err(|e| Fail::usage(format!("failed to save image: {}", e.error())))?;
                f.sync_all()
                    .map_err(|e| Fail::usage(format!("failed to save image: {e}")))?;
                std::fs::rename(&tmp, out).map_err(|e| {
                    Fail::usage(format!(
                        "failed to save image: rename to {}: {e}",
                        out.display()
                    ))
                })
            })();
            if res.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            res?;
        }
    }
    Ok(())
}

/// `load` arguments.
#[derive(Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short, long)]
    input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short, long)]
    quiet: bool,
}

/// `berth load`.
pub fn load(store: &Store, a: LoadArgs) -> CmdResult {
    let show = !a.quiet && is_tty(2);
    let mut progress = |p: Progress| {
        if show {
            match p {
                Progress::Blob { digest, size } => {
                    eprintln!("Read blob {}  {}", digest.short(), human_size(size))
                }
                Progress::Layer { diff_id, size } => {
                    eprintln!("Loaded layer {}  {}", diff_id.short(), human_size(size))
                }
            }
        }
    };
    let loaded = match &a.input {
        Some(p) => {
            let f = File::open(p).map_err(|e| Fail::user(format!("open {}: {e}", p.display())))?;
            archive::load(store, f, &mut progress)?
        }
        None => {
            if is_tty(0) {
                return Err(Fail::usage("requested load from stdin, but stdin is empty"));
            }
            archive::load(store, io::stdin().lock(), &mut progress)?
        }
    };
    let all = store.images()?;
    for l in loaded {
        for (name, old) in &l.moved {
            let old_still_named = all.iter().any(|i| i.id() == old && !i.names.is_empty());
            if !old_still_named {
                println!(
                    "The image {} already exists, renaming the old one with ID {old} to empty string",
                    name.familiar()
                );
            }
        }
        if l.names.is_empty() {
            println!("Loaded image ID: {}", l.id);
        }
        for n in &l.names {
            println!("Loaded image: {}", n.familiar());
        }
    }
    Ok(())
}

/// Shows how much of a file was read, on a terminal only.
struct ProgressReader<R> {
    inner: R,
    what: &'static str,
    done: u64,
    shown: u64,
    tty: bool,
}

impl<R: Read> ProgressReader<R> {
    fn new(inner: R, what: &'static str) -> ProgressReader<R> {
        ProgressReader {
            inner,
            what,
            done: 0,
            shown: 0,
            tty: is_tty(2),
        }
    }
}

impl<R: Read> Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        if self.tty && (n == 0 || self.done - self.shown >= 8 << 20) {
            self.shown = self.done;
            let mut e = io::stderr().lock();
            let _ = write!(e, "\r{} {}", self.what, human_size(self.done));
            if n == 0 {
                let _ = writeln!(e);
            }
        }
        Ok(n)
    }
}

/// Shows how much was written, on a terminal only.
struct ProgressWriter<W> {
    inner: W,
    what: &'static str,
    done: u64,
    shown: u64,
    tty: bool,
}

impl<W: Write> ProgressWriter<W> {
    fn new(inner: W, what: &'static str) -> ProgressWriter<W> {
        ProgressWriter {
            inner,
            what,
            done: 0,
            shown: 0,
            tty: is_tty(2),
        }
    }
}

impl<W: Write> Write for ProgressWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.done += n as u64;
        if self.tty && self.done - self.shown >= 8 << 20 {
            self.shown = self.done;
            let _ = write!(
                io::stderr().lock(),
                "\r{} {}",
                self.what,
                human_size(self.done)
            );
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.tty && self.shown > 0 {
            let _ = writeln!(
                io::stderr().lock(),
                "\r{} {}",
                self.what,
                human_size(self.done)
            );
            self.shown = 0;
        }
        self.inner.flush()
    }
}
