//! Interoperability with the tools of the field (Debian's skopeo and umoci): they
//! read what `berth save` writes, and berth loads what they write.

#[path = "images_support.rs"]
mod images_support;

use std::path::Path;
use std::process::Command;

use berth_tests::run;
use images_support::*;

fn tool(name: &str) -> String {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "{name} is missing: apt-get install -y skopeo umoci"
    );
    String::from_utf8(found.stdout).unwrap().trim().to_string()
}

/// Imports the test rootfs as `bb:1` and saves it; returns (image ID, archive path).
fn saved_image(b: &Berth) -> (String, std::path::PathBuf) {
    let tar = rootfs_tar(b.dir.path());
    let id = b
        .run(&[
            "import",
            "-c",
            "CMD [\"/bin/sh\"]",
            tar.to_str().unwrap(),
            "bb:1",
        ])
        .ok()
        .trim()
        .to_string();
    let archive = b.path("save.tar");
    b.run(&["save", "-o", archive.to_str().unwrap(), "bb:1"])
        .ok();
    (id, archive)
}

/// The config digest of the single image in OCI layout directory `dir`.
fn layout_config(dir: &Path) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let m = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("blobs/sha256").join(&m[7..])).unwrap())
            .unwrap();
    manifest["config"]["digest"].as_str().unwrap().to_string()
}

#[test]
fn skopeo_reads_berths_save_as_docker_and_oci_archive() {
    let skopeo = tool("skopeo");
    let b = Berth::new("interop-skopeo-read");
    let (id, archive) = saved_image(&b);
    let dir = b.path("oci-dir");
    run(Command::new(&skopeo)
        .arg("copy")
        .arg(format!("docker-archive:{}", archive.display()))
        .arg(format!("oci:{}:copied", dir.display())))
    .ok();
    assert_eq!(
        layout_config(&dir),
        id,
        "skopeo sees berth's image with the same config"
    );
    // berth's save is an OCI layout as well, as Docker 25's is.
    let inspect = run(Command::new(&skopeo)
        .arg("inspect")
        .arg(format!("oci-archive:{}", archive.display())))
    .ok();
    let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(v["Layers"].as_array().unwrap().len(), 1);
    assert_eq!(v["Os"], "linux");
}

#[test]
fn skopeo_archives_load_with_the_same_image_id() {
    let skopeo = tool("skopeo");
    let b = Berth::new("interop-skopeo-write");
    let (id, archive) = saved_image(&b);
    // skopeo's oci-archive (gzip layers re-compressed by skopeo, ref.name "bb:1").
    let oci = b.path("skopeo-oci.tar");
    run(Command::new(&skopeo)
        .arg("copy")
        .arg(format!("docker-archive:{}", archive.display()))
        .arg(format!("oci-archive:{}:bb:1", oci.display())))
    .ok();
    // skopeo's docker-archive: the older layout, no index.json.
    let docker = b.path("skopeo-docker.tar");
    run(Command::new(&skopeo)
        .arg("copy")
        .arg(format!("docker-archive:{}", archive.display()))
        .arg(format!("docker-archive:{}:other/name:2", docker.display())))
    .ok();

    // skopeo's oci-archive with zstd layers.
    let zst = b.path("skopeo-zstd.tar");
    run(Command::new(&skopeo)
        .args(["copy", "--dest-compress", "--dest-compress-format", "zstd"])
        .arg(format!("docker-archive:{}", archive.display()))
        .arg(format!("oci-archive:{}:zstd/img:3", zst.display())))
    .ok();
    let index = run(Command::new("tar").arg("-xOf").arg(&zst).arg("index.json")).ok();
    let index: serde_json::Value = serde_json::from_str(&index).unwrap();
    let m = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let manifest = run(Command::new("tar")
        .arg("-xOf")
        .arg(&zst)
        .arg(format!("blobs/sha256/{}", &m[7..])))
    .ok();
    assert!(
        manifest.contains("tar+zstd"),
        "skopeo wrote zstd layers: {manifest}"
    );

    let b2 = Berth::new("interop-skopeo-load");
    assert_eq!(
        b2.run(&["load", "-i", zst.to_str().unwrap()]).ok(),
        "Loaded image: zstd/img:3\n"
    );
    assert_eq!(
        b2.run(&["images", "-q", "--no-trunc", "zstd/img:3"])
            .ok()
            .trim(),
        id
    );
    assert_eq!(
        b2.run(&["load", "-i", oci.to_str().unwrap()]).ok(),
        "Loaded image: bb:1\n"
    );
    assert_eq!(
        b2.run(&["images", "-q", "--no-trunc", "bb:1"]).ok().trim(),
        id
    );
    assert_eq!(
        b2.run(&["load", "-i", docker.to_str().unwrap()]).ok(),
        "Loaded image: other/name:2\n"
    );
    assert_eq!(
        b2.run(&["images", "-q", "--no-trunc", "other/name:2"])
            .ok()
            .trim(),
        id
    );
    let store = b2.store();
    let img = store.resolve_image("bb:1").unwrap();
    let diff = store
        .layers()
        .diff_dir(img.record.top_layer.as_ref().unwrap());
    assert_eq!(
        std::fs::read_to_string(diff.join("etc/hello")).unwrap(),
        "hello from the image\n"
    );
}

#[test]
fn umoci_unpacks_berths_save_and_berth_loads_umocis_layout() {
    let umoci = tool("umoci");
    let b = Berth::new("interop-umoci");
    let (id, archive) = saved_image(&b);
    let layout = b.path("layout");
    std::fs::create_dir(&layout).unwrap();
    run(Command::new("tar")
        .arg("-C")
        .arg(&layout)
        .arg("-xf")
        .arg(&archive))
    .ok();
    let bundle = b.path("bundle");
    run(Command::new(&umoci)
        .arg("unpack")
        .arg("--image")
        .arg(format!("{}:1", layout.display()))
        .arg(&bundle))
    .ok();
    assert_eq!(
        std::fs::read_to_string(bundle.join("rootfs/etc/hello")).unwrap(),
        "hello from the image\n"
    );
    assert_eq!(layout_config(&layout), id);

    // umoci builds an image on top of berth's: a second layer with a deletion.
    std::fs::remove_file(bundle.join("rootfs/etc/hello")).unwrap();
    std::fs::write(bundle.join("rootfs/etc/added"), "by umoci\n").unwrap();
    run(Command::new(&umoci)
        .arg("repack")
        .arg("--image")
        .arg(format!("{}:2", layout.display()))
        .arg(&bundle))
    .ok();
    let out = b.path("umoci.tar");
    run(Command::new("tar")
        .arg("-C")
        .arg(&layout)
        .arg("-cf")
        .arg(&out)
        .arg("."))
    .ok();
    let b2 = Berth::new("interop-umoci-load");
    b2.run(&["load", "-i", out.to_str().unwrap()]).ok();
    let store = b2.store();
    let images = store.images().unwrap();
    let two = images
        .iter()
        .find(|i| i.config.rootfs.diff_ids.len() == 2)
        .expect("umoci's two-layer image loaded");
    let top = store
        .layers()
        .diff_dir(two.record.top_layer.as_ref().unwrap());
    assert_eq!(
        std::fs::read_to_string(top.join("etc/added")).unwrap(),
        "by umoci\n"
    );
    let wh = std::fs::symlink_metadata(top.join("etc/hello")).unwrap();
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    assert!(
        wh.file_type().is_char_device() && wh.rdev() == 0,
        "umoci's whiteout became an overlay whiteout"
    );
}

#[test]
fn reloading_an_image_with_other_compression_keeps_one_set_of_blobs() {
    let skopeo = tool("skopeo");
    let b = Berth::new("interop-reload");
    let (id, archive) = saved_image(&b);
    let zst = b.path("zstd.tar");
    run(Command::new(&skopeo)
        .args(["copy", "--dest-compress", "--dest-compress-format", "zstd"])
        .arg(format!("docker-archive:{}", archive.display()))
        .arg(format!("oci-archive:{}:bb:1", zst.display())))
    .ok();
    let blobs = || b.entries("blobs/sha256");
    assert_eq!(blobs(), 3, "manifest, config, layer");
    b.run(&["load", "-i", zst.to_str().unwrap()]).ok();
    assert_eq!(b.run(&["images", "-q", "--no-trunc"]).ok().trim(), id);
    assert_eq!(
        blobs(),
        3,
        "the replaced manifest and its layer blob are freed"
    );
    assert_eq!(b.entries("layers"), 1, "the unpacked layer is shared");
}
