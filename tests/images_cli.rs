//! `berth` image commands end to end: import, tag, images, inspect, history, save,
//! rmi, load, prune and system df against a private root, with docker's outputs and
//! exit codes.

#[path = "images_support.rs"]
mod images_support;

use images_support::*;
use serde_json::Value;

fn inspect(b: &Berth, name: &str) -> Value {
    let out = b.run(&["image", "inspect", name]).ok();
    let v: Value = serde_json::from_str(&out).expect("inspect prints JSON");
    v[0].clone()
}

#[test]
fn import_tag_save_rmi_load_round_trip() {
    let b = Berth::new("img-roundtrip");
    let tar = rootfs_tar(b.dir.path());
    let tar_s = tar.to_str().unwrap();
    let id = b
        .run(&[
            "import",
            "-c",
            r#"CMD ["/bin/sh", "-c", "cat /etc/hello"]"#,
            "-c",
            "ENV GREETING=hi",
            "-c",
            "WORKDIR /srv",
            "-c",
            "USER 1000",
            "-c",
            "EXPOSE 8080",
            "-c",
            "LABEL team=images",
            "-m",
            "first",
            tar_s,
            "bb:1",
        ])
        .ok()
        .trim()
        .to_string();
    assert!(
        id.starts_with("sha256:") && id.len() == 71,
        "import prints the ID: {id:?}"
    );

    let doc = inspect(&b, "bb:1");
    assert_eq!(doc["Id"], id.as_str());
    assert_eq!(doc["RepoTags"], serde_json::json!(["bb:1"]));
    assert_eq!(
        doc["Config"]["Cmd"],
        serde_json::json!(["/bin/sh", "-c", "cat /etc/hello"])
    );
    assert_eq!(doc["Config"]["Env"], serde_json::json!(["GREETING=hi"]));
    assert_eq!(doc["Config"]["WorkingDir"], "/srv");
    assert_eq!(doc["Config"]["User"], "1000");
    assert_eq!(
        doc["Config"]["ExposedPorts"],
        serde_json::json!({"8080/tcp": {}})
    );
    assert_eq!(doc["Config"]["Labels"]["team"], "images");
    assert_eq!(doc["Comment"], "first");
    assert_eq!(doc["Os"], "linux");
    assert_eq!(doc["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    // The image ID is the digest of the config blob.
    let config = std::fs::read(b.root().join("blobs/sha256").join(&id[7..])).unwrap();
    assert_eq!(digest(&config), id);
    // The layer is unpacked, busybox intact.
    let upper = doc["GraphDriver"]["Data"]["UpperDir"].as_str().unwrap();
    let bb = std::fs::read(format!("{upper}/bin/busybox")).unwrap();
    assert_eq!(bb, std::fs::read(berth_tests::busybox()).unwrap());
    assert_eq!(
        std::fs::read_link(format!("{upper}/bin/sh"))
            .unwrap()
            .to_str(),
        Some("busybox")
    );

    b.run(&["tag", "bb:1", "registry.local:5000/team/bb"]).ok();
    let listed = b
        .run(&["images", "--format", "{{.Repository}}|{{.Tag}}|{{.ID}}"])
        .ok();
    let mut lines: Vec<&str> = listed.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            format!("bb|1|{}", &id[7..19]),
            format!("registry.local:5000/team/bb|latest|{}", &id[7..19])
        ]
    );

    let archive = b.path("save.tar");
    b.run(&["save", "-o", archive.to_str().unwrap(), "bb:1"])
        .ok();
    let out = b.run(&["rmi", "bb:1", "registry.local:5000/team/bb"]).ok();
    assert_eq!(
        out,
        format!("Untagged: bb:1\nUntagged: registry.local:5000/team/bb:latest\nDeleted: {id}\n")
    );
    // The last image gone, its layer and blobs are freed.
    assert_eq!(b.entries("layers"), 0);
    assert_eq!(b.entries("blobs/sha256"), 0);
    assert_eq!(b.run(&["images", "-q"]).ok(), "");

    let out = b.run(&["load", "-i", archive.to_str().unwrap()]).ok();
    assert_eq!(out, "Loaded image: bb:1\n");
    let doc2 = inspect(&b, "bb:1");
    assert_eq!(doc2["Id"], id.as_str(), "load gives back the same image ID");
    assert_eq!(doc2["Config"], doc["Config"]);
    assert_eq!(
        doc2["RepoDigests"], doc["RepoDigests"],
        "the manifest digest survives the round trip"
    );
    // Loading from stdin works the same, and is idempotent.
    let data = std::fs::read(&archive).unwrap();
    // A gzipped archive loads too (docker load accepts compressed archives).
    assert_eq!(
        b.run_stdin(&["load"], &gzip(&data)).ok(),
        "Loaded image: bb:1\n"
    );
    assert_eq!(b.run_stdin(&["load"], &data).ok(), "Loaded image: bb:1\n");
    assert!(b.tmp_leftovers().is_empty(), "{:?}", b.tmp_leftovers());
}

#[test]
fn images_flags_filters_and_formats() {
    let b = Berth::new("img-list");
    let tar = rootfs_tar(b.dir.path());
    let t = tar.to_str().unwrap();
    let a = b
        .run(&["import", "-c", "LABEL tier=one", t, "one:v1"])
        .ok()
        .trim()
        .to_string();
    // A different layer (given gzipped on stdin) so the second image has another ID.
    std::fs::write(b.path("rootfs/etc/two"), "two").unwrap();
    let tar2 = b.path("two.tar");
    let st = std::process::Command::new("tar")
        .arg("-C")
        .arg(b.path("rootfs"))
        .arg("-cf")
        .arg(&tar2)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let second = gzip(&std::fs::read(&tar2).unwrap());
    let c = b
        .run_stdin(&["import", "-", "two"], &second)
        .ok()
        .trim()
        .to_string();
    assert_ne!(a, c);
    b.run(&["tag", "two", "two:also"]).ok();
    // Untagged by moving its only name away: dangling.
    b.run(&["tag", "one:v1", "two:latest"]).ok();

    let q = b.run(&["images", "-q"]).ok();
    assert_eq!(q.lines().count(), 2, "one line per image: {q}");
    let dangling = b.run(&["images", "-q", "--filter", "dangling=true"]).ok();
    assert_eq!(dangling, "");
    let labelled = b
        .run(&[
            "images",
            "--filter",
            "label=tier=one",
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ])
        .ok();
    let mut l: Vec<&str> = labelled.lines().collect();
    l.sort();
    assert_eq!(l, ["one:v1", "two:latest"]);
    let by_ref = b
        .run(&[
            "images",
            "--filter",
            "reference=tw*:al*",
            "--format",
            "{{.Tag}} {{.ID}}",
        ])
        .ok();
    assert_eq!(by_ref, format!("also {}\n", &c[7..19]));
    let since = b
        .run(&["images", "-q", "--no-trunc", "--filter", "since=one:v1"])
        .ok();
    assert_eq!(
        since.trim(),
        c,
        "since= lists images made after the named one"
    );
    let before = b
        .run(&["images", "-q", "--no-trunc", "--filter", "before=two:also"])
        .ok();
    assert_eq!(
        before.trim(),
        a,
        "before= lists images made before the named one"
    );
    let either = b
        .run(&[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            "--filter",
            "reference=one",
            "--filter",
            "reference=two:also",
        ])
        .ok();
    let mut e: Vec<&str> = either.lines().collect();
    e.sort();
    assert_eq!(
        e,
        ["one:v1", "two:also"],
        "reference filters are alternatives"
    );
    let no_trunc = b
        .run(&["images", "--no-trunc", "--format", "{{.ID}}", "two:also"])
        .ok();
    assert_eq!(no_trunc.trim(), c);

    let table = b.run(&["images", "--digests"]).ok();
    let header = table.lines().next().unwrap();
    assert!(
        header.starts_with("REPOSITORY          TAG                 DIGEST"),
        "{header:?}"
    );
    assert!(header.contains("IMAGE ID") && header.contains("CREATED") && header.ends_with("SIZE"));
    assert_eq!(table.lines().count(), 4);
    assert!(
        table.contains("Less than a second ago") || table.contains("seconds ago"),
        "{table}"
    );

    let json_line = b.run(&["images", "--format", "json", "one"]).ok();
    let v: Value = serde_json::from_str(json_line.trim()).unwrap();
    assert_eq!(v["Repository"], "one");

    // Removing "two:latest" from image a only untags, a keeps "one:v1".
    assert_eq!(b.run(&["rmi", "two:latest"]).ok(), "Untagged: two:latest\n");
    // An image named in two repositories needs -f when removed by ID.
    b.run(&["tag", "one:v1", "three"]).ok();
    let r = b.run(&["rmi", &a[7..19]]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr().contains("must be forced") && r.stderr().contains("multiple repositories"),
        "{}",
        r.stderr()
    );
    let out = b.run(&["rmi", "-f", &a[7..19]]).ok();
    assert!(out.ends_with(&format!("Deleted: {a}\n")), "{out}");

    // prune: make c dangling by removing its names... c keeps its names, so prune -a
    // removes it (nothing uses it).
    let out = b.run(&["image", "prune", "-f"]).ok();
    assert_eq!(out, "Total reclaimed space: 0B\n");
    let out = b.run(&["image", "prune", "-a", "-f"]).ok();
    assert!(
        out.starts_with("Deleted Images:\n") && out.contains(&format!("deleted: {c}")),
        "{out}"
    );
    assert!(!out.ends_with("Total reclaimed space: 0B\n"), "{out}");
    assert_eq!(b.entries("layers"), 0);
}

#[test]
fn history_and_system_df() {
    let b = Berth::new("img-history");
    let tar = rootfs_tar(b.dir.path());
    let id = b
        .run(&["import", tar.to_str().unwrap(), "h:1"])
        .ok()
        .trim()
        .to_string();
    let h = b.run(&["history", "h:1"]).ok();
    let lines: Vec<&str> = h.lines().collect();
    assert!(
        lines[0].starts_with("IMAGE")
            && lines[0].contains("CREATED BY")
            && lines[0].contains("COMMENT")
    );
    assert!(lines[1].starts_with(&id[7..19]), "{h}");
    assert!(
        lines[1].contains(&format!("Imported from {}", tar.display())),
        "{h}"
    );
    assert_eq!(
        b.run(&["history", "-q", "--no-trunc", "h:1"]).ok().trim(),
        id
    );

    let df = b.run(&["system", "df"]).ok();
    let row = df.lines().nth(1).unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[..3], ["Images", "1", "0"], "{df}");
    assert!(cells[4].ends_with("(100%)") || cells[5] == "(100%)", "{df}");
}

#[test]
fn errors_use_docker_exit_codes() {
    let b = Berth::new("img-errors");
    let r = b.run(&["rmi", "nothere"]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr().contains("No such image: nothere:latest"),
        "{}",
        r.stderr()
    );
    let r = b.run(&["image", "inspect", "nothere"]);
    assert_eq!(r.code(), 1);
    assert_eq!(r.stdout().trim(), "[]");
    assert!(r.stderr().contains("No such image: nothere"));
    assert_eq!(b.run(&["images", "--no-such-flag"]).code(), 125);
    assert_eq!(b.run(&["tag", "only-one"]).code(), 1);
    let r = b.run(&["tag", "nothere", "x"]);
    assert_eq!(r.code(), 1);
    let r = b.run(&["import", "-c", "RUN true", "/dev/null"]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr().contains("not a valid change command"),
        "{}",
        r.stderr()
    );
    let r = b.run(&["tag", "x", "Bad:Name"]);
    assert_eq!(r.code(), 1);
    let r = b.run(&["images", "--filter", "bogus=1"]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr().contains("invalid filter 'bogus'"),
        "{}",
        r.stderr()
    );
    // A corrupt archive: a blob whose content does not match its name.
    let bad = b.path("bad.tar");
    let mut bld = tar::Builder::new(std::fs::File::create(&bad).unwrap());
    let mut h = tar::Header::new_ustar();
    h.set_size(5);
    h.set_mode(0o644);
    h.set_cksum();
    bld.append_data(
        &mut h,
        format!("blobs/sha256/{}", "0".repeat(64)),
        &b"hello"[..],
    )
    .unwrap();
    bld.into_inner().unwrap();
    let r = b.run(&["load", "-i", bad.to_str().unwrap()]);
    assert_eq!(r.code(), 1);
    assert!(r.stderr().contains("digest mismatch"), "{}", r.stderr());
    assert!(b.run(&["images", "-q"]).ok().is_empty());
    assert_eq!(b.entries("blobs/sha256"), 0);
}

#[test]
fn concurrent_imports_share_one_layer_and_lose_no_name() {
    let b = Berth::new("img-concurrent");
    let tar = rootfs_tar(b.dir.path());
    let children: Vec<_> = (0..4)
        .map(|i| {
            b.cmd(&["import", tar.to_str().unwrap(), &format!("c{i}:x")])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let names = b.run(&["images", "--format", "{{.Repository}}"]).ok();
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    assert_eq!(names, ["c0", "c1", "c2", "c3"]);
    assert_eq!(b.entries("layers"), 1, "one layer, shared");
    assert!(b.tmp_leftovers().is_empty(), "{:?}", b.tmp_leftovers());
}

#[test]
fn an_import_killed_midway_leaves_nothing_visible_and_the_next_writer_cleans_up() {
    use std::io::Write;
    let b = Berth::new("img-crash");
    let tar = std::fs::read(rootfs_tar(b.dir.path())).unwrap();
    let mut child = b
        .cmd(&["import", "-", "crash:1"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Half the tarball, then wait until the layer is being unpacked.
    stdin.write_all(&tar[..tar.len() / 2]).unwrap();
    stdin.flush().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while b.tmp_leftovers().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the import never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: kill on the pid of the child this test spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
    drop(stdin);

    assert_eq!(
        b.run(&["images", "-q"]).ok(),
        "",
        "no half-made image is visible"
    );
    assert_eq!(b.entries("layers"), 0);
    assert!(
        !b.tmp_leftovers().is_empty(),
        "the killed import left its work in tmp/"
    );
    // The next writer clears it.
    b.run(&["image", "prune", "-f"]).ok();
    assert!(b.tmp_leftovers().is_empty(), "{:?}", b.tmp_leftovers());
    assert_eq!(b.entries("blobs/sha256"), 0);
}

#[test]
fn listing_never_fails_while_another_process_removes_images() {
    let b = Berth::new("img-readers");
    let tar = rootfs_tar(b.dir.path());
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            for i in 0..6 {
                b.run(&["import", tar.to_str().unwrap(), &format!("w{i}:x")])
                    .ok();
                b.run(&["rmi", &format!("w{i}:x")]).ok();
            }
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut listed = 0;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            b.run(&["images"]).ok();
            listed += 1;
        }
        writer.join().unwrap();
        assert!(listed > 0);
    });
}

#[test]
fn save_several_images_by_name_and_id() {
    let b = Berth::new("img-save-many");
    let tar = rootfs_tar(b.dir.path());
    let a = b
        .run(&["import", "-c", "ENV X=a", tar.to_str().unwrap(), "many:a"])
        .ok()
        .trim()
        .to_string();
    b.run(&["tag", "many:a", "many:a2"]).ok();
    let c = b
        .run(&["import", "-c", "ENV X=c", tar.to_str().unwrap(), "other:c"])
        .ok()
        .trim()
        .to_string();
    let d = b
        .run(&["import", "-c", "ENV X=d", tar.to_str().unwrap()])
        .ok()
        .trim()
        .to_string();
    let archive = b.path("many.tar");
    // "many" without a tag saves both of its tags; an ID saves the image unnamed.
    b.run(&[
        "save",
        "-o",
        archive.to_str().unwrap(),
        "many",
        "other:c",
        &d[7..19],
    ])
    .ok();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::process::Command::new("tar")
            .arg("-xOf")
            .arg(&archive)
            .arg("manifest.json")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let entries = manifest.as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(
        entries[0]["RepoTags"],
        serde_json::json!(["many:a", "many:a2"])
    );
    assert_eq!(entries[1]["RepoTags"], serde_json::json!(["other:c"]));
    assert!(entries[2]["RepoTags"].is_null());
    // All three share one layer blob in the archive.
    let listing = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&archive)
        .output()
        .unwrap()
        .stdout;
    let blobs = String::from_utf8(listing)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("blobs/sha256/") && l.len() > 20)
        .count();
    assert_eq!(
        blobs,
        1 + 3 * 2,
        "one layer, and a config and a manifest per image"
    );

    let b2 = Berth::new("img-save-many2");
    let out = b2.run(&["load", "-i", archive.to_str().unwrap()]).ok();
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            format!("Loaded image ID: {d}").as_str(),
            "Loaded image: many:a",
            "Loaded image: many:a2",
            "Loaded image: other:c"
        ]
    );
    let ids = b2.run(&["images", "-q", "--no-trunc"]).ok();
    for id in [&a, &c, &d] {
        assert!(ids.contains(id.as_str()), "{id} missing from {ids}");
    }
    let r = b.run(&[
        "save",
        "-o",
        b.path("none.tar").to_str().unwrap(),
        "many:a",
        "nothere",
    ]);
    assert_eq!(r.code(), 1);
    assert!(!b.path("none.tar").exists(), "a failed save leaves no file");
}

#[test]
fn legacy_docker_archives_with_symlinked_layers_load() {
    // The format Docker wrote before 25: <id>/layer.tar, <config>.json, manifest.json,
    // repositories, and a repeated layer stored once and symlinked.
    let b = Berth::new("img-legacy");
    let base = raw_tar(&[Entry::Dir("etc/"), Entry::File("etc/base", b"base")]);
    let top = raw_tar(&[Entry::File("etc/top", b"top")]);
    let config = |diffs: &[&Vec<u8>]| {
        serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux", "created": "2020-01-01T00:00:00Z",
            "config": {"Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diffs.iter().map(|d| digest(d)).collect::<Vec<_>>()},
        }))
        .unwrap()
    };
    let c1 = config(&[&base]);
    let c2 = config(&[&base, &top]);
    let (h1, h2) = (digest(&c1)[7..].to_string(), digest(&c2)[7..].to_string());
    let manifest = serde_json::json!([
        {"Config": format!("{h1}.json"), "RepoTags": ["legacy/one:1"], "Layers": ["aaaa/layer.tar"]},
        {"Config": format!("{h2}.json"), "RepoTags": ["legacy/two:2"], "Layers": ["bbbb/layer.tar", "cccc/layer.tar"]},
    ]);
    let archive = b.path("legacy.tar");
    let mut t = tar::Builder::new(std::fs::File::create(&archive).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, name, data).unwrap();
    };
    add("aaaa/VERSION", b"1.0");
    add("aaaa/layer.tar", &base);
    add("cccc/layer.tar", &top);
    add(&format!("{h1}.json"), &c1);
    add(&format!("{h2}.json"), &c2);
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    add("repositories", br#"{"legacy/one":{"1":"aaaa"}}"#);
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    t.append_link(&mut h, "bbbb/layer.tar", "../aaaa/layer.tar")
        .unwrap();
    t.into_inner().unwrap();

    let out = b.run(&["load", "-i", archive.to_str().unwrap()]).ok();
    assert_eq!(
        out,
        "Loaded image: legacy/one:1\nLoaded image: legacy/two:2\n"
    );
    let ids = b
        .run(&[
            "images",
            "--no-trunc",
            "--format",
            "{{.Repository}} {{.ID}}",
        ])
        .ok();
    assert!(ids.contains(&format!("legacy/one sha256:{h1}")), "{ids}");
    assert!(ids.contains(&format!("legacy/two sha256:{h2}")), "{ids}");
    // The shared base layer is unpacked once, under the same chain ID for both.
    assert_eq!(b.entries("layers"), 2);
    // Removing one image keeps the base layer the other still uses.
    let b3 = Berth::new("img-legacy3");
    b3.run(&["load", "-i", archive.to_str().unwrap()]).ok();
    b3.run(&["rmi", "legacy/two:2"]).ok();
    assert_eq!(b3.entries("layers"), 1);
    let store = b3.store();
    let one = store.resolve_image("legacy/one:1").unwrap();
    let base_dir = store
        .layers()
        .diff_dir(one.record.top_layer.as_ref().unwrap());
    assert_eq!(std::fs::read(base_dir.join("etc/base")).unwrap(), b"base");
    b3.run(&["rmi", "legacy/one:1"]).ok();
    assert_eq!(b3.entries("layers"), 0);
    // Saved again, the images come out in today's format and load elsewhere unchanged.
    let resaved = b.path("resaved.tar");
    b.run(&["save", "-o", resaved.to_str().unwrap(), "legacy/two:2"])
        .ok();
    let b2 = Berth::new("img-legacy2");
    b2.run(&["load", "-i", resaved.to_str().unwrap()]).ok();
    assert_eq!(
        b2.run(&["images", "-q", "--no-trunc"]).ok().trim(),
        format!("sha256:{h2}")
    );
}

#[test]
fn a_corrupted_layer_in_a_streamed_archive_is_refused_whole() {
    // berth save puts metadata first, so load unpacks each layer while it streams;
    // a flipped byte in the layer must still fail the load and leave nothing.
    let b = Berth::new("img-corrupt-stream");
    let tar = rootfs_tar(b.dir.path());
    b.run(&["import", tar.to_str().unwrap(), "c:1"]).ok();
    let archive = b.path("c.tar");
    b.run(&["save", "-o", archive.to_str().unwrap(), "c:1"])
        .ok();
    let mut data = std::fs::read(&archive).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    let b2 = Berth::new("img-corrupt-stream2");
    let r = b2.run_stdin(&["load"], &data);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    assert!(r.stderr().contains("digest mismatch"), "{}", r.stderr());
    assert_eq!(b2.run(&["images", "-q"]).ok(), "");
    assert_eq!(b2.entries("layers"), 0);
    assert!(b2.tmp_leftovers().is_empty(), "{:?}", b2.tmp_leftovers());
    // The intact archive loads into the same root afterwards.
    b2.run(&["load", "-i", archive.to_str().unwrap()]).ok();
}

#[test]
fn progress_shows_on_a_terminal_only() {
    let b = Berth::new("img-progress");
    let tar = rootfs_tar(b.dir.path());
    b.run(&["import", tar.to_str().unwrap(), "p:1"]).ok();
    let archive = b.path("p.tar");
    b.run(&["save", "-o", archive.to_str().unwrap(), "p:1"])
        .ok();
    // Not a terminal: stdout says what was loaded, stderr stays empty.
    let quiet = Berth::new("img-progress-quiet");
    let r = quiet.run(&["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(r.ok(), "Loaded image: p:1\n");
    assert_eq!(r.stderr(), "");
    // On a terminal (script(1) gives the command a pty), the layers are reported.
    let tty = Berth::new("img-progress-tty");
    let cmd = format!(
        "{} --root {} load -i {}",
        berth_tests::bin("berth").display(),
        tty.root().display(),
        archive.display()
    );
    let out =
        berth_tests::run(std::process::Command::new("script").args(["-qec", &cmd, "/dev/null"]))
            .ok();
    assert!(out.contains("Loaded layer "), "{out:?}");
    assert!(out.contains("Loaded image: p:1"), "{out:?}");
}
