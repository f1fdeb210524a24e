//! Hostile layers: the classic tar escapes never create, change or link anything
//! outside the layer directory, whether the layer comes through `import` or `load`.

#[path = "images_support.rs"]
mod images_support;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use images_support::*;

/// A directory outside the berth root that a hostile layer aims at, with one file.
struct Outside {
    dir: PathBuf,
}

impl Outside {
    fn new(b: &Berth) -> Outside {
        let dir = b.path("outside");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("secret"), "host secret").unwrap();
        Outside { dir }
    }

    /// Asserts the directory holds exactly its secret, unchanged and unlinked.
    fn assert_untouched(&self) {
        let names: Vec<String> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["secret"], "something was written outside the root");
        assert_eq!(
            std::fs::read_to_string(self.dir.join("secret")).unwrap(),
            "host secret"
        );
        assert_eq!(
            std::fs::metadata(self.dir.join("secret")).unwrap().nlink(),
            1,
            "the host file was hardlinked"
        );
    }
}

/// `../` repeated enough to climb from any layer directory to `/`.
fn up() -> String {
    "../".repeat(30)
}

fn rel(p: &Path) -> String {
    p.to_str().unwrap().trim_start_matches('/').to_string()
}

/// Imports a layer holding one file `name` aimed at `out`'s directory, and asserts the
/// file landed at that path inside the layer, `out` untouched.
fn assert_lands_inside(b: &Berth, out: &Outside, name: &str) {
    let layer = import(b, &raw_tar(&[Entry::File(name, b"pwned")])).unwrap();
    out.assert_untouched();
    assert_eq!(
        std::fs::read(layer.join(rel(&out.dir)).join("evil")).unwrap(),
        b"pwned"
    );
}

/// Imports `tar`; returns the layer directory when the import succeeded.
fn import(b: &Berth, tar: &[u8]) -> Result<PathBuf, String> {
    let r = b.run_stdin(&["import", "-", "hostile:1"], tar);
    if r.code() != 0 {
        assert_eq!(
            r.code(),
            1,
            "a refused layer is the user's mistake: {}",
            r.stderr()
        );
        return Err(r.stderr());
    }
    let store = b.store();
    let img = store.resolve_image("hostile:1").unwrap();
    Ok(store
        .layers()
        .diff_dir(img.record.top_layer.as_ref().unwrap()))
}

#[test]
fn dot_dot_traversal_stays_inside() {
    let b = Berth::new("hostile-dotdot");
    let out = Outside::new(&b);
    let name = format!("{}{}/evil", up(), rel(&out.dir));
    // Clamped at the layer root, as a kernel resolving `..` at `/` would.
    assert_lands_inside(&b, &out, &name);
}

#[test]
fn absolute_names_stay_inside() {
    let b = Berth::new("hostile-abs");
    let out = Outside::new(&b);
    let name = format!("{}/evil", out.dir.display());
    assert!(name.starts_with('/'));
    assert_lands_inside(&b, &out, &name);
}

#[test]
fn writing_through_a_symlinked_directory_stays_inside() {
    let b = Berth::new("hostile-symlink");
    let out = Outside::new(&b);
    let abs = out.dir.to_str().unwrap().to_string();
    let relative = format!("{}{}", up(), rel(&out.dir));
    let tar = raw_tar(&[
        Entry::Symlink("abs", &abs),
        Entry::Symlink("relative", &relative),
        Entry::File("abs/evil", b"pwned"),
        Entry::File("relative/evil2", b"pwned"),
        Entry::File("abs/secret", b"overwritten"),
    ]);
    // The symlinks point at a path that does not exist inside the layer: refused,
    // never followed out.
    let err = import(&b, &tar).unwrap_err();
    out.assert_untouched();
    assert!(err.contains("symlink to a missing directory"), "{err}");
    assert_eq!(
        b.run(&["images", "-q"]).ok(),
        "",
        "a refused layer leaves no image"
    );
    // When the target exists inside the layer, the write lands there.
    let b2 = Berth::new("hostile-symlink2");
    let out2 = Outside::new(&b2);
    let abs2 = out2.dir.to_str().unwrap().to_string();
    let mut entries = Vec::new();
    let parents: Vec<String> = {
        let mut v = Vec::new();
        let mut cur = PathBuf::new();
        for c in Path::new(&rel(&out2.dir)).iter() {
            cur.push(c);
            v.push(format!("{}/", cur.display()));
        }
        v
    };
    for p in &parents {
        entries.push(Entry::Dir(p));
    }
    entries.push(Entry::Symlink("abs", &abs2));
    entries.push(Entry::File("abs/evil", b"pwned"));
    entries.push(Entry::File("abs/secret", b"overwritten"));
    let layer = import(&b2, &raw_tar(&entries)).unwrap();
    out2.assert_untouched();
    let inside = layer.join(rel(&out2.dir));
    assert_eq!(std::fs::read(inside.join("evil")).unwrap(), b"pwned");
    assert_eq!(
        std::fs::read(inside.join("secret")).unwrap(),
        b"overwritten"
    );
}

#[test]
fn hardlinks_to_host_files_are_refused() {
    let b = Berth::new("hostile-hardlink");
    let out = Outside::new(&b);
    let secret = out.dir.join("secret");
    let abs = secret.to_str().unwrap().to_string();
    let dotdot = format!("{}{}", up(), rel(&secret));
    for target in [abs.as_str(), dotdot.as_str()] {
        let err = import(&b, &raw_tar(&[Entry::Hardlink("stolen", target)])).unwrap_err();
        assert!(err.contains("hardlink target"), "{err}");
        out.assert_untouched();
    }
    // Through a symlinked directory: the link is resolved inside the layer too.
    let tar = raw_tar(&[
        Entry::Symlink("d", out.dir.to_str().unwrap()),
        Entry::Hardlink("stolen", "d/secret"),
    ]);
    let err = import(&b, &tar).unwrap_err();
    assert!(err.contains("hardlink target"), "{err}");
    out.assert_untouched();
    // Nothing half-made is visible or left behind.
    assert_eq!(b.run(&["images", "-q"]).ok(), "");
    assert!(b.tmp_leftovers().is_empty(), "{:?}", b.tmp_leftovers());
    assert_eq!(b.entries("layers"), 0);
    assert_eq!(b.entries("blobs/sha256"), 0);
}

#[test]
fn a_symlink_replaced_by_a_directory_stays_inside() {
    let b = Berth::new("hostile-replace");
    let out = Outside::new(&b);
    let tar = raw_tar(&[
        Entry::Symlink("d", out.dir.to_str().unwrap()),
        Entry::Dir("d/"),
        Entry::File("d/evil", b"pwned"),
        Entry::File("d/secret", b"overwritten"),
    ]);
    let layer = import(&b, &tar).unwrap();
    out.assert_untouched();
    let d = std::fs::symlink_metadata(layer.join("d")).unwrap();
    assert!(d.is_dir(), "the directory replaced the symlink");
    assert_eq!(std::fs::read(layer.join("d/evil")).unwrap(), b"pwned");
}

#[test]
fn hostile_layers_in_a_loaded_archive_stay_inside() {
    // The same escapes through `load` (an OCI archive), in a lower and an upper layer:
    // the upper layer writes through a symlink the lower one planted.
    let b = Berth::new("hostile-load");
    let out = Outside::new(&b);
    let lower = raw_tar(&[Entry::Symlink("planted", out.dir.to_str().unwrap())]);
    let upper = raw_tar(&[
        Entry::File(&format!("{}{}/evil", up(), rel(&out.dir)), b"pwned"),
        Entry::File("planted/evil2", b"pwned"),
    ]);
    let archive = b.path("hostile.tar");
    oci_archive(
        &archive,
        &[
            Layer {
                tar: lower,
                compression: "gzip",
            },
            Layer {
                tar: upper,
                compression: "zstd",
            },
        ],
        Some("h/x:1"),
    );
    b.run(&["load", "-i", archive.to_str().unwrap()]).ok();
    out.assert_untouched();
    // Inside the image, the upper layer's writes are its own: the clamped path, and
    // a directory that hides the lower layer's symlink.
    let store = b.store();
    let img = store.resolve_image("h/x:1").unwrap();
    let top = store
        .layers()
        .diff_dir(img.record.top_layer.as_ref().unwrap());
    assert_eq!(
        std::fs::read(top.join(rel(&out.dir)).join("evil")).unwrap(),
        b"pwned"
    );
    assert_eq!(std::fs::read(top.join("planted/evil2")).unwrap(), b"pwned");
}

#[test]
fn a_hardlink_to_a_symlink_links_the_symlink_not_its_target() {
    let b = Berth::new("hostile-hl-symlink");
    let out = Outside::new(&b);
    let secret = out.dir.join("secret");
    let tar = raw_tar(&[
        Entry::Symlink("s", secret.to_str().unwrap()),
        Entry::Hardlink("h", "s"),
        // Writing through the linked name must not reach the host file either.
        Entry::File("h", b"overwritten"),
    ]);
    let layer = import(&b, &tar).unwrap();
    out.assert_untouched();
    assert_eq!(std::fs::read(layer.join("h")).unwrap(), b"overwritten");
    let s = std::fs::symlink_metadata(layer.join("s")).unwrap();
    assert!(s.file_type().is_symlink(), "s is still the planted symlink");
}

#[test]
fn malformed_tars_are_refused_with_clear_errors_and_leave_nothing() {
    let b = Berth::new("hostile-malformed");
    let good = raw_tar(&[
        Entry::Dir("etc/"),
        Entry::File("etc/big", &vec![7u8; 100_000]),
    ]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        ("truncated gzip", {
            let z = gzip(&good);
            z[..z.len() / 2].to_vec()
        }),
        (
            "not a tar",
            b"this is not a tar archive, just text that is long enough ".repeat(20),
        ),
    ];
    for (what, data) in cases {
        let r = b.run_stdin(&["import", "-", "bad:1"], &data);
        assert_eq!(r.code(), 1, "{what}: {}", r.stderr());
        assert!(
            r.stderr().contains("malformed layer"),
            "{what}: {}",
            r.stderr()
        );
        assert_eq!(b.run(&["images", "-q"]).ok(), "", "{what}");
        assert!(
            b.tmp_leftovers().is_empty(),
            "{what}: {:?}",
            b.tmp_leftovers()
        );
        assert_eq!(b.entries("layers"), 0, "{what}");
        assert_eq!(b.entries("blobs/sha256"), 0, "{what}");
    }
}
