//! OCI archives written by hand: two layers (gzip and zstd) with whiteouts load with
//! the config digest as image ID, and a snapshot mounted on overlayfs shows the
//! whiteouts applied. Layer content keeps every file type and its metadata, and a
//! layer stack longer than mount(2)'s option limit still mounts.

#[path = "images_support.rs"]
mod images_support;

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use berth_image::snapshot::{Overlay, Snapshotter, mount_all};
use images_support::*;

fn layer1() -> Vec<u8> {
    raw_tar(&[
        Entry::Dir("a/"),
        Entry::File("a/keep", b"keep"),
        Entry::File("a/gone", b"gone"),
        Entry::Dir("o/"),
        Entry::File("o/old", b"old"),
        Entry::Dir("o/sub/"),
        Entry::File("o/sub/deep", b"deep"),
        Entry::File("top", b"v1"),
    ])
}

fn layer2() -> Vec<u8> {
    raw_tar(&[
        Entry::Dir("a/"),
        Entry::File("a/.wh.gone", b""),
        Entry::Dir("o/"),
        Entry::File("o/.wh..wh..opq", b""),
        Entry::File("o/new", b"new"),
        Entry::File("top", b"v2"),
    ])
}

#[test]
fn hand_written_oci_archive_loads_and_its_whiteouts_apply_in_a_mounted_snapshot() {
    assert!(
        berth_tests::is_root(),
        "the image tests mount overlayfs: run them as root"
    );
    let b = Berth::new("img-oci");
    let archive = b.path("oci.tar");
    let config = oci_archive(
        &archive,
        &[
            Layer {
                tar: layer1(),
                compression: "gzip",
            },
            Layer {
                tar: layer2(),
                compression: "zstd",
            },
        ],
        Some("example.com/hand/made:v1"),
    );
    let out = b.run(&["load", "-i", archive.to_str().unwrap()]).ok();
    assert_eq!(out, "Loaded image: example.com/hand/made:v1\n");
    let id = b.run(&["images", "--no-trunc", "-q"]).ok();
    assert_eq!(id.trim(), config, "the image ID is the config digest");

    // On disk, the top layer holds overlayfs's whiteout forms.
    let store = b.store();
    let img = store.resolve_image("example.com/hand/made:v1").unwrap();
    let top = img.record.top_layer.clone().unwrap();
    let diff = store.layers().diff_dir(&top);
    let wh = std::fs::symlink_metadata(diff.join("a/gone")).unwrap();
    assert!(
        wh.file_type().is_char_device() && wh.rdev() == 0,
        "a/gone is a 0:0 char device"
    );
    assert_eq!(
        xattr(&diff.join("o"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );

    // Mounted, the image looks like layer 2 applied over layer 1.
    let snap = Overlay::new(&store);
    let mounts = snap.prepare("ctr-1", Some(&top), BTreeMap::new()).unwrap();
    let target = b.path("rootfs");
    std::fs::create_dir(&target).unwrap();
    mount_all(&mounts, &target).unwrap();
    let read = |p: &str| std::fs::read_to_string(target.join(p)).ok();
    let result = std::panic::catch_unwind(|| {
        assert_eq!(read("a/keep").as_deref(), Some("keep"));
        assert_eq!(read("a/gone"), None, "the whiteout hides a/gone");
        assert!(!target.join("a/gone").exists());
        assert_eq!(read("o/new").as_deref(), Some("new"));
        assert_eq!(read("o/old"), None, "the opaque directory hides o/old");
        assert!(!target.join("o/sub").exists());
        assert_eq!(read("top").as_deref(), Some("v2"));
        // The snapshot is writable, and writes land in its upper directory only.
        std::fs::write(target.join("a/keep"), "changed").unwrap();
        std::fs::remove_file(target.join("top")).unwrap();
    });
    berth_tests::unmount_below(&target);
    result.unwrap();
    assert_eq!(
        std::fs::read_to_string(
            diff.join("../../")
                .join(store.layers().info(&top).unwrap().parent.unwrap().hex())
                .join("diff/a/keep")
        )
        .unwrap(),
        "keep"
    );

    // rmi refuses an image a snapshot uses, unless forced; the layers stay for the
    // snapshot either way.
    let r = b.run(&["rmi", "example.com/hand/made:v1"]);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    assert!(r.stderr().contains("must force"), "{}", r.stderr());
    // Committing the snapshot makes a new layer holding exactly the changes.
    let committed = snap.commit("ctr-1").unwrap();
    assert_eq!(committed.parent.as_ref(), Some(&top));
    let cdiff = store.layers().diff_dir(&committed.chain_id);
    assert_eq!(
        std::fs::read_to_string(cdiff.join("a/keep")).unwrap(),
        "changed"
    );
    let w = std::fs::symlink_metadata(cdiff.join("top")).unwrap();
    assert!(
        w.file_type().is_char_device() && w.rdev() == 0,
        "the deletion is a whiteout again"
    );
    assert!(
        !cdiff.join("a/gone").exists(),
        "unchanged lower entries are not copied"
    );

    // A read-only view of the image.
    let view = snap.view("view-1", Some(&top)).unwrap();
    let vt = b.path("view");
    std::fs::create_dir(&vt).unwrap();
    mount_all(&view, &vt).unwrap();
    let ro = std::fs::write(vt.join("x"), "x");
    let seen = std::fs::read_to_string(vt.join("top"));
    berth_tests::unmount_below(&vt);
    assert!(ro.is_err(), "a view is read-only");
    assert_eq!(seen.unwrap(), "v2");
    snap.remove("view-1").unwrap();
    // A view of nothing shows nothing.
    let empty = snap.view("empty-1", None).unwrap();
    let et = b.path("empty");
    std::fs::create_dir(&et).unwrap();
    mount_all(&empty, &et).unwrap();
    let entries = std::fs::read_dir(&et).unwrap().count();
    berth_tests::unmount_below(&et);
    assert_eq!(entries, 0);
    snap.remove("empty-1").unwrap();

    // With no snapshot left the image goes, and the garbage with it; the committed
    // layer is not referenced by anything either.
    b.run(&["rmi", "example.com/hand/made:v1"]).ok();
    store.gc().unwrap();
    assert_eq!(b.entries("layers"), 0);
    assert!(berth_tests::mounts_below(b.dir.path()).is_empty());
}

#[test]
fn layer_content_keeps_types_owners_modes_times_and_xattrs() {
    assert!(
        berth_tests::is_root(),
        "the image tests create devices and chown: run them as root"
    );
    let b = Berth::new("img-meta");
    let cap = b"\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
    let tar = raw_tar(&[
        Entry::Dir("bin/"),
        Entry::FileMeta {
            name: "bin/ping",
            data: b"elf",
            mode: 0o4755,
            uid: 0,
            gid: 0,
            mtime: 1_234_567_890,
            xattrs: &[("security.capability", cap)],
        },
        Entry::FileMeta {
            name: "home",
            data: b"x",
            mode: 0o640,
            uid: 1000,
            gid: 2000,
            mtime: 1_000_000_000,
            xattrs: &[("user.note", b"hi")],
        },
        Entry::Hardlink("bin/ping2", "bin/ping"),
        Entry::Symlink("link", "bin/ping"),
        Entry::Char("null", 1, 3),
        Entry::Fifo("pipe"),
    ]);
    let archive = b.path("meta.tar");
    oci_archive(
        &archive,
        &[Layer {
            tar,
            compression: "",
        }],
        Some("meta:1"),
    );
    b.run(&["load", "-i", archive.to_str().unwrap()]).ok();
    let store = b.store();
    let img = store.resolve_image("meta:1").unwrap();
    let d = store
        .layers()
        .diff_dir(img.record.top_layer.as_ref().unwrap());

    let ping = std::fs::symlink_metadata(d.join("bin/ping")).unwrap();
    assert_eq!(ping.mode() & 0o7777, 0o4755, "setuid survives the chown");
    assert_eq!(ping.mtime(), 1_234_567_890);
    assert_eq!(ping.nlink(), 2);
    assert_eq!(
        ping.ino(),
        std::fs::symlink_metadata(d.join("bin/ping2"))
            .unwrap()
            .ino()
    );
    assert_eq!(
        xattr(&d.join("bin/ping"), "security.capability").as_deref(),
        Some(&cap[..])
    );
    let home = std::fs::symlink_metadata(d.join("home")).unwrap();
    assert_eq!(
        (home.uid(), home.gid(), home.mode() & 0o7777),
        (1000, 2000, 0o640)
    );
    assert_eq!(
        xattr(&d.join("home"), "user.note").as_deref(),
        Some(&b"hi"[..])
    );
    assert_eq!(
        std::fs::read_link(d.join("link")).unwrap().to_str(),
        Some("bin/ping")
    );
    let null = std::fs::symlink_metadata(d.join("null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), libc::makedev(1, 3));
    assert!(
        std::fs::symlink_metadata(d.join("pipe"))
            .unwrap()
            .file_type()
            .is_fifo()
    );

    // save writes it back out; a second root loads the same image ID and bytes.
    let saved = b.path("saved.tar");
    b.run(&["save", "-o", saved.to_str().unwrap(), "meta:1"])
        .ok();
    let b2 = Berth::new("img-meta2");
    b2.run(&["load", "-i", saved.to_str().unwrap()]).ok();
    assert_eq!(
        b2.run(&["images", "-q", "--no-trunc"]).ok(),
        b.run(&["images", "-q", "--no-trunc"]).ok()
    );
}

#[test]
fn a_stack_deeper_than_the_mount_option_limit_mounts() {
    assert!(
        berth_tests::is_root(),
        "the image tests mount overlayfs: run them as root"
    );
    let b = Berth::new("img-deep");
    let store = b.store();
    let depth = 120;
    let mut parent = None;
    for i in 0..depth {
        let name = format!("f{i}");
        let tar = raw_tar(&[
            Entry::File(&name, name.as_bytes()),
            Entry::File("top", name.as_bytes()),
        ]);
        let (info, _) = store
            .layers()
            .unpack(parent.as_ref(), None, None, &mut &tar[..])
            .unwrap();
        parent = Some(info.chain_id);
    }
    let top = parent.unwrap();
    let snap = Overlay::new(&store);
    let mounts = snap.prepare("deep", Some(&top), BTreeMap::new()).unwrap();
    let opts: usize = mounts[0].options.iter().map(|o| o.len()).sum();
    assert!(
        opts > 4096,
        "the lowerdir list ({opts} bytes) exceeds a page"
    );
    let target = b.path("rootfs");
    std::fs::create_dir(&target).unwrap();
    mount_all(&mounts, &target).unwrap();
    let first = std::fs::read_to_string(target.join("f0"));
    let last = std::fs::read_to_string(target.join(format!("f{}", depth - 1)));
    let top_file = std::fs::read_to_string(target.join("top"));
    berth_tests::unmount_below(&target);
    assert_eq!(first.unwrap(), "f0");
    assert_eq!(last.unwrap(), format!("f{}", depth - 1));
    assert_eq!(top_file.unwrap(), format!("f{}", depth - 1));
    snap.remove("deep").unwrap();
}

#[test]
fn lying_or_malformed_archives_are_refused_whole() {
    let b = Berth::new("img-lies");
    let good = Layer {
        tar: layer1(),
        compression: "gzip",
    };
    // How each case spoils the config and the manifest.
    type Spoil = Box<dyn Fn(&mut serde_json::Value, &mut serde_json::Value)>;
    let cases: Vec<(&str, Spoil)> = vec![
        (
            "digest mismatch for layer diff ID",
            Box::new(|c: &mut serde_json::Value, _: &mut serde_json::Value| {
                c["rootfs"]["diff_ids"][0] =
                    serde_json::json!(format!("sha256:{}", "1".repeat(64)));
            }),
        ),
        (
            "unsupported layer media type",
            Box::new(|_: &mut serde_json::Value, m: &mut serde_json::Value| {
                m["layers"][0]["mediaType"] = serde_json::json!("application/x-made-up");
            }),
        ),
        (
            "malformed layer",
            Box::new(|_: &mut serde_json::Value, m: &mut serde_json::Value| {
                // A gzip blob announced as zstd.
                m["layers"][0]["mediaType"] =
                    serde_json::json!("application/vnd.oci.image.layer.v1.tar+zstd");
            }),
        ),
        (
            "lists 2 layers but its manifest has 1",
            Box::new(|c: &mut serde_json::Value, _: &mut serde_json::Value| {
                let d = c["rootfs"]["diff_ids"][0].clone();
                c["rootfs"]["diff_ids"].as_array_mut().unwrap().push(d);
            }),
        ),
    ];
    for (want, edit) in cases {
        let archive = b.path("lie.tar");
        oci_archive_with(&archive, std::slice::from_ref(&good), Some("lie/x:1"), edit);
        let r = b.run(&["load", "-i", archive.to_str().unwrap()]);
        assert_eq!(r.code(), 1, "{want}: {}", r.stderr());
        assert!(r.stderr().contains(want), "want {want:?} in {}", r.stderr());
        assert_eq!(
            b.run(&["images", "-q"]).ok(),
            "",
            "{want}: no image is visible"
        );
        assert_eq!(b.entries("layers"), 0, "{want}");
        assert!(
            b.tmp_leftovers().is_empty(),
            "{want}: {:?}",
            b.tmp_leftovers()
        );
    }
}

#[test]
fn a_hardlink_to_a_lower_layer_file_copies_it_up() {
    let b = Berth::new("img-hardlink-up");
    let lower = raw_tar(&[
        Entry::Dir("bin/"),
        Entry::FileMeta {
            name: "bin/tool",
            data: b"tool",
            mode: 0o755,
            uid: 7,
            gid: 8,
            mtime: 1_500_000_000,
            xattrs: &[],
        },
    ]);
    let upper = raw_tar(&[Entry::Hardlink("bin/alias", "bin/tool")]);
    let archive = b.path("hl.tar");
    oci_archive(
        &archive,
        &[
            Layer {
                tar: lower,
                compression: "",
            },
            Layer {
                tar: upper,
                compression: "gzip",
            },
        ],
        Some("hl/x:1"),
    );
    b.run(&["load", "-i", archive.to_str().unwrap()]).ok();
    let store = b.store();
    let img = store.resolve_image("hl/x:1").unwrap();
    let top = store
        .layers()
        .diff_dir(img.record.top_layer.as_ref().unwrap());
    let alias = std::fs::symlink_metadata(top.join("bin/alias")).unwrap();
    let tool = std::fs::symlink_metadata(top.join("bin/tool")).unwrap();
    assert_eq!(alias.ino(), tool.ino(), "linked inside the upper layer");
    assert_eq!(
        (tool.uid(), tool.gid(), tool.mode() & 0o7777, tool.mtime()),
        (7, 8, 0o755, 1_500_000_000)
    );
    assert_eq!(std::fs::read(top.join("bin/alias")).unwrap(), b"tool");
    // The lower layer's file is untouched (not linked across layers).
    let lower_dir = store
        .layers()
        .stack(img.record.top_layer.as_ref().unwrap())
        .unwrap()[1]
        .clone();
    assert_eq!(
        std::fs::symlink_metadata(lower_dir.join("bin/tool"))
            .unwrap()
            .nlink(),
        1
    );
}

#[test]
fn a_multi_platform_index_loads_this_machines_image() {
    // index.json -> image index (another platform + this one) -> manifests; only
    // this platform's blobs are in the archive, as `skopeo copy` without --all leaves it.
    let arch = berth_image::store::host_arch();
    let other = if arch == "arm64" { "amd64" } else { "arm64" };
    let b = Berth::new("img-multiarch");
    let layer = layer1();
    let layer_gz = gzip(&layer);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": arch, "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [digest(&layer)]},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest(&layer_gz), "size": layer_gz.len()}],
    }))
    .unwrap();
    let missing = format!("sha256:{}", "e".repeat(64));
    let image_index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": missing, "size": 100,
             "platform": {"architecture": other, "os": "linux"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(&manifest), "size": manifest.len(),
             "platform": {"architecture": arch, "os": "linux"}},
        ],
    }))
    .unwrap();
    let top = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest(&image_index),
                       "size": image_index.len(), "annotations": {"io.containerd.image.name": "docker.io/library/multi:1"}}],
    }))
    .unwrap();
    let archive = b.path("multi.tar");
    let mut t = tar::Builder::new(std::fs::File::create(&archive).unwrap());
    for (name, data) in [
        (
            "oci-layout".to_string(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        ("index.json".to_string(), top),
        (
            format!("blobs/sha256/{}", &digest(&image_index)[7..]),
            image_index.clone(),
        ),
        (
            format!("blobs/sha256/{}", &digest(&manifest)[7..]),
            manifest.clone(),
        ),
        (
            format!("blobs/sha256/{}", &digest(&config)[7..]),
            config.clone(),
        ),
        (
            format!("blobs/sha256/{}", &digest(&layer_gz)[7..]),
            layer_gz.clone(),
        ),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, name, &data[..]).unwrap();
    }
    t.into_inner().unwrap();
    assert_eq!(
        b.run(&["load", "-i", archive.to_str().unwrap()]).ok(),
        "Loaded image: multi:1\n"
    );
    assert_eq!(
        b.run(&["images", "-q", "--no-trunc"]).ok().trim(),
        digest(&config)
    );
    let doc: serde_json::Value =
        serde_json::from_str(&b.run(&["image", "inspect", "multi:1"]).ok()).unwrap();
    assert_eq!(
        doc[0]["RepoDigests"][0],
        format!("multi@{}", digest(&manifest))
    );
}
