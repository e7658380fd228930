//! OCI: the `oci://` references `push` and `pull` take ([`OciRef::parse`])
//! and the manifest a registry sends `pull` ([`plugin_layer`]): raw bytes,
//! and manifests shaped like a plugin's with fuzzed fields.
//!
//! Invariants: a reference that parses prints back to itself, becomes a
//! URL on its own registry whose path is `/v2/REPOSITORY` (no query, no
//! fragment, nothing climbs), and so does its pinned form; the layer digest
//! a manifest yields is `sha256:` and 64 lowercase hex digits (what a blob
//! URL may carry, and all a blob's digest can equal), and `blobs/DIGEST`
//! stays under the repository's URL.
#![no_main]

use arbitrary::Arbitrary;
use drhost::fuzzing::oci_base;
use drhost::oci::{plugin_layer, OciRef, CONFIG_MEDIA_TYPE, WASM_MEDIA_TYPE};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    reference: &'a str,
    manifest: Manifest<'a>,
}

#[derive(Arbitrary, Debug)]
enum Manifest<'a> {
    Raw(&'a [u8]),
    Shaped {
        config_media_type: Option<&'a str>,
        layers: Vec<Layer<'a>>,
        annotations: Vec<(&'a str, &'a str)>,
    },
}

#[derive(Arbitrary, Debug)]
struct Layer<'a> {
    wasm: bool,
    media_type: &'a str,
    digest: Digest<'a>,
    size: i64,
}

#[derive(Arbitrary, Debug)]
enum Digest<'a> {
    Text(&'a str),
    Sha256(&'a str),
    Hex([u8; 32]),
    Number(f64),
    Missing,
}

fn shaped(config: Option<&str>, layers: &[Layer<'_>], annotations: &[(&str, &str)]) -> Vec<u8> {
    let layers: Vec<Value> = layers
        .iter()
        .map(|l| {
            let digest = match &l.digest {
                Digest::Text(t) => json!(t),
                Digest::Sha256(t) => json!(format!("sha256:{t}")),
                Digest::Hex(h) => json!(format!(
                    "sha256:{}",
                    h.iter().map(|b| format!("{b:02x}")).collect::<String>()
                )),
                Digest::Number(n) => json!(n),
                Digest::Missing => Value::Null,
            };
            json!({
                "mediaType": if l.wasm { WASM_MEDIA_TYPE } else { l.media_type },
                "digest": digest,
                "size": l.size,
            })
        })
        .collect();
    let annotations: serde_json::Map<String, Value> =
        annotations.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "config": { "mediaType": config.unwrap_or(CONFIG_MEDIA_TYPE), "digest": "sha256:00", "size": 2 },
        "layers": layers,
        "annotations": annotations,
    }))
    .unwrap()
}

/// The URL `base` (of `registry` and `repository`), when it is one: a
/// registry the URL parser refuses (`a:b:c`) fails at the request instead.
fn check_url(base: &str, registry: &str, repository: &str) -> Option<url::Url> {
    let url = url::Url::parse(base).ok()?;
    assert!(matches!(url.scheme(), "http" | "https"));
    assert!(url.query().is_none() && url.fragment().is_none(), "{base}");
    assert!(url.username().is_empty() && url.password().is_none(), "{base}");
    let own = url::Url::parse(&format!("http://{registry}/")).expect("the registry alone parses");
    assert_eq!(url.host_str(), own.host_str(), "{base}: not {registry}'s host");
    assert_eq!(url.path(), format!("/v2/{repository}"), "{base}");
    Some(url)
}

fuzz_target!(|input: Input<'_>| {
    let shown = match OciRef::parse(input.reference) {
        Ok(r) => {
            let text = r.to_string();
            assert_eq!(OciRef::parse(&text).as_ref().ok(), Some(&r), "{text}");
            let base = oci_base(&r);
            let parsed = check_url(&base, &r.registry, &r.repository);
            let pinned = r.pinned(&format!("sha256:{}", "a".repeat(64)));
            let again = OciRef::parse(&pinned).unwrap_or_else(|e| panic!("{pinned}: {e}"));
            assert_eq!((&again.registry, &again.repository), (&r.registry, &r.repository));
            Some((text, parsed.map(|_| base), r))
        }
        Err(e) => {
            let _ = e.to_string();
            None
        }
    };
    let bytes = match &input.manifest {
        Manifest::Raw(bytes) => bytes.to_vec(),
        Manifest::Shaped {
            config_media_type,
            layers,
            annotations,
        } => shaped(*config_media_type, layers, annotations),
    };
    let reference = shown
        .as_ref()
        .map_or("oci://127.0.0.1:5000/drhost/hello:1", |(t, _, _)| t.as_str());
    match plugin_layer(&bytes, reference) {
        Ok(digest) => {
            let hex = digest.strip_prefix("sha256:").expect("a layer digest is sha256:");
            assert!(
                hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "a layer digest that no blob can have goes into a URL: {digest:?}"
            );
            if let Some((_, Some(base), r)) = &shown {
                let blob = url::Url::parse(&format!("{base}/blobs/{digest}")).expect("a blob URL");
                assert_eq!(blob.path(), format!("/v2/{}/blobs/{digest}", r.repository));
                assert!(blob.query().is_none() && blob.fragment().is_none());
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
