//! `drhost new`: a new plugin crate written from the templates under
//! `host/templates/<language>/`, ready to build offline against the Rust SDK
//! of the checkout this drhost was built from (or `--sdk`).
//!
//! It creates exactly one new directory and the files in it: it never
//! writes over anything that exists, and never through a symbolic link
//! (the directory and every file are created relative to an open
//! descriptor of their parent, with `O_EXCL`/`O_NOFOLLOW`). It builds and
//! runs nothing.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, CWD};
use rustix::io::Errno;

use crate::{Error, Result};

/// The languages `drhost new` knows. Only Rust has an SDK in this drhost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    /// A Rust crate against `sdk/` (drhost-sdk).
    Rust,
    /// Python (componentize-py): not yet available.
    Python,
    /// JavaScript (componentize-js): not yet available.
    Js,
}

/// What `drhost new` was asked for.
#[derive(Clone, Debug)]
pub struct NewPlugin {
    /// The plugin's language.
    pub language: Language,
    /// The plugin id (also the crate's name).
    pub id: String,
    /// The directory to create [default: `./<id>`]; it must not exist.
    pub dir: Option<PathBuf>,
    /// The SDK's directory [default: `sdk/` of the checkout drhost was built from].
    pub sdk: Option<PathBuf>,
}

/// What `drhost new` wrote.
#[derive(Clone, Debug)]
pub struct Scaffolded {
    /// The new plugin's directory.
    pub dir: PathBuf,
    /// The SDK the crate depends on (absolute).
    pub sdk: PathBuf,
    /// The files written, relative to `dir`.
    pub files: Vec<&'static str>,
    /// Where the build puts the component, relative to `dir`.
    pub component: String,
    /// The `drhost.toml` lines that grant what the plugin's `describe` declares.
    pub grants: String,
}

/// One template: where its output goes in the new crate, and its text with
/// `{{key}}` placeholders (see [`render`]).
struct Template {
    path: &'static str,
    text: &'static str,
}

/// The Rust plugin crate. The Cargo.lock pins what `plugins/Cargo.lock`
/// pins for drhost-sdk (a test keeps the two equal).
const RUST: &[Template] = &[
    Template {
        path: "Cargo.toml",
        text: include_str!("../templates/rust/Cargo.toml.tmpl"),
    },
    Template {
        path: "Cargo.lock",
        text: include_str!("../templates/rust/Cargo.lock.tmpl"),
    },
    Template {
        path: "src/lib.rs",
        text: include_str!("../templates/rust/src/lib.rs.tmpl"),
    },
    Template {
        path: "README.md",
        text: include_str!("../templates/rust/README.md.tmpl"),
    },
    Template {
        path: ".gitignore",
        text: include_str!("../templates/rust/gitignore.tmpl"),
    },
];

/// The grant lines for what the Rust template's `describe` declares.
const RUST_GRANTS: &str = include_str!("../templates/rust/grants.toml.tmpl");

/// The SDK of the checkout this binary was built from.
const BUILT_FROM_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk");

/// Writes a new plugin crate; see the module comment.
pub fn scaffold(request: &NewPlugin) -> Result<Scaffolded> {
    match request.language {
        Language::Rust => {}
        Language::Python => {
            return Err(Error::Usage(
                "not yet available: `drhost new --lang python` (this drhost has no Python SDK yet); use --lang rust, or start from examples/python-probe".into(),
            ))
        }
        Language::Js => {
            return Err(Error::Usage(
                "not yet available: `drhost new --lang js` (this drhost has no JavaScript SDK yet); use --lang rust".into(),
            ))
        }
    }
    check_id(&request.id)?;
    let sdk = find_sdk(request.sdk.as_deref())?;
    let dir = request.dir.clone().unwrap_or_else(|| PathBuf::from(&request.id));
    let mut values = Values::new(&request.id, &sdk)?;
    values.grants = render(RUST_GRANTS, &values).trim_end().to_string();
    let rendered: Vec<(&'static str, String)> = RUST.iter().map(|t| (t.path, render(t.text, &values))).collect();
    write_new_dir(&dir, &rendered)?;
    Ok(Scaffolded {
        dir,
        sdk,
        files: RUST.iter().map(|t| t.path).collect(),
        component: format!("target/wasm32-wasip2/release/{}.wasm", values.crate_name),
        grants: values.grants,
    })
}

/// The host's id rules ([`crate::plugin::is_valid_id`]): the id becomes the
/// directory, the crate and `<id>.wasm`.
fn check_id(id: &str) -> Result<()> {
    if crate::plugin::is_valid_id(id) {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "`{}` is not a plugin id: use 1-64 lowercase letters, digits and dashes, not starting with a dash (e.g. cache-check)",
        crate::console::plugin_text(id)
    )))
}

/// The SDK directory: `given`, else the one this drhost was built from;
/// it must hold the `drhost-sdk` crate.
fn find_sdk(given: Option<&Path>) -> Result<PathBuf> {
    let (path, whence) = match given {
        Some(path) => (path.to_path_buf(), "--sdk"),
        None => (PathBuf::from(BUILT_FROM_SDK), "the checkout this drhost was built from"),
    };
    let manifest = path.join("Cargo.toml");
    let is_sdk = std::fs::read_to_string(&manifest)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .is_some_and(|t| t.get("package").and_then(|p| p.get("name")).and_then(|n| n.as_str()) == Some("drhost-sdk"));
    if !is_sdk {
        return Err(Error::Usage(format!(
            "cannot find the Rust SDK: {} ({whence}) is not drhost's sdk/ directory (no Cargo.toml of drhost-sdk); pass --sdk PATH to the sdk/ of a drhost checkout",
            path.display()
        )));
    }
    std::fs::canonicalize(&path).map_err(|e| {
        Error::Usage(format!(
            "cannot find the Rust SDK at {}: {e}; pass --sdk PATH",
            path.display()
        ))
    })
}

/// The placeholders' values.
struct Values {
    id: String,
    crate_name: String,
    sdk: String,
    sdk_toml: String,
    checkout: String,
    grants: String,
}

impl Values {
    fn new(id: &str, sdk: &Path) -> Result<Values> {
        let Some(sdk_text) = sdk.to_str() else {
            return Err(Error::Usage(format!(
                "the SDK's path {} is not UTF-8, which Cargo.toml cannot hold; pass --sdk with a UTF-8 path",
                sdk.display()
            )));
        };
        let checkout = sdk.parent().unwrap_or(sdk).display().to_string();
        Ok(Values {
            id: id.to_string(),
            crate_name: id.replace('-', "_"),
            sdk: sdk_text.to_string(),
            sdk_toml: toml::Value::String(sdk_text.to_string()).to_string(),
            checkout,
            grants: String::new(),
        })
    }
}

/// `text` with every `{{key}}` replaced by its value.
fn render(text: &str, values: &Values) -> String {
    [
        ("{{id}}", values.id.as_str()),
        ("{{crate}}", &values.crate_name),
        ("{{sdk}}", &values.sdk),
        ("{{sdk-toml}}", &values.sdk_toml),
        ("{{checkout}}", &values.checkout),
        ("{{contract}}", crate::contract_version!()),
        ("{{grants}}", &values.grants),
    ]
    .iter()
    .fold(text.to_string(), |text, (key, value)| text.replace(key, value))
}

/// Creates `dir` (which must not exist; its parent must) and writes
/// `files` into it, each path relative to it and at most one directory deep.
fn write_new_dir(dir: &Path, files: &[(&str, String)]) -> Result<()> {
    let (parent, name) = split(dir)?;
    let parent_fd = rustix::fs::openat(
        CWD,
        &parent,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::NOENT | Errno::NOTDIR => Error::Usage(format!(
            "cannot create {}: {} is not a directory; create it first, or choose another --dir",
            dir.display(),
            parent.display()
        )),
        e => Error::Usage(format!("cannot create {}: {}: {e}", dir.display(), parent.display())),
    })?;
    make_dir(&parent_fd, &name).map_err(|e| match e {
        Errno::EXIST => Error::Usage(format!(
            "{} already exists: drhost new never writes over anything; choose another --dir or remove it",
            dir.display()
        )),
        e => Error::Usage(format!("cannot create {}: {e}", dir.display())),
    })?;
    let dir_fd = open_dir(&parent_fd, &name).map_err(|e| partly(dir, &name, e))?;
    for (path, text) in files {
        let (sub, file) = match path.split_once('/') {
            Some((sub, file)) => (Some(sub), file),
            None => (None, *path),
        };
        let written = match sub {
            None => write_new_file(&dir_fd, file, text),
            Some(sub) => match make_dir(&dir_fd, sub) {
                Ok(()) | Err(Errno::EXIST) => open_dir(&dir_fd, sub).and_then(|fd| write_new_file(&fd, file, text)),
                Err(e) => Err(e),
            },
        };
        written.map_err(|e| partly(dir, path, e))?;
    }
    Ok(())
}

/// The parent to open and the last component to create.
fn split(dir: &Path) -> Result<(PathBuf, String)> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| *n != "." && *n != "..");
    let Some(name) = name else {
        return Err(Error::Usage(format!(
            "cannot create {}: name a new directory (e.g. --dir plugins/cache-check)",
            dir.display()
        )));
    };
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((parent, name.to_string()))
}

fn make_dir(parent: &OwnedFd, name: &str) -> std::result::Result<(), Errno> {
    rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o755))
}

/// Opens a directory we made, refusing a link put in its place.
fn open_dir(parent: &OwnedFd, name: &str) -> std::result::Result<OwnedFd, Errno> {
    rustix::fs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Creates `name` (never an existing file or a link) and writes `text`.
fn write_new_file(dir: &OwnedFd, name: &str, text: &str) -> std::result::Result<(), Errno> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )?;
    let mut file = std::fs::File::from(fd);
    file.write_all(text.as_bytes())
        .map_err(|e| e.raw_os_error().map(Errno::from_raw_os_error).unwrap_or(Errno::IO))
}

fn partly(dir: &Path, path: &str, e: Errno) -> Error {
    Error::Usage(format!(
        "cannot write {} in {}: {e}; it is only partly written: remove it and run drhost new again",
        path,
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        let mut values = Values::new("cache-check", Path::new("/src/drhost/sdk")).unwrap();
        values.grants = "[[plugins.cache-check.http]]".into();
        values
    }

    #[test]
    fn every_placeholder_of_every_template_is_filled() {
        for template in RUST.iter().map(|t| t.text).chain([RUST_GRANTS]) {
            let text = render(template, &values());
            assert!(!text.contains("{{"), "{text}");
        }
        let cargo = render(RUST[0].text, &values());
        let parsed: toml::Table = cargo.parse().unwrap();
        assert_eq!(parsed["package"]["name"].as_str(), Some("cache-check"));
        assert_eq!(
            parsed["dependencies"]["drhost-sdk"]["path"].as_str(),
            Some("/src/drhost/sdk")
        );
    }

    #[test]
    fn a_path_with_quotes_stays_one_toml_string() {
        let values = Values::new("x", Path::new("/tmp/a\"b\\c/sdk")).unwrap();
        let parsed: toml::Table = render(RUST[0].text, &values).parse().unwrap();
        assert_eq!(
            parsed["dependencies"]["drhost-sdk"]["path"].as_str(),
            Some("/tmp/a\"b\\c/sdk")
        );
    }

    #[test]
    fn the_grants_are_the_lines_the_manifest_needs() {
        // The template's describe declares one need; its grant names that host.
        let lib = RUST[2].text;
        assert!(lib.contains(r#".need("http", "127.0.0.1:*", Access::Read"#), "{lib}");
        let grants: toml::Table = render(RUST_GRANTS, &values()).parse().unwrap();
        assert_eq!(
            grants["plugins"]["cache-check"]["http"][0]["host"].as_str(),
            Some("127.0.0.1:*")
        );
    }

    #[test]
    fn the_guide_shows_the_scaffold_as_it_is() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/writing-plugins.md");
        let guide = std::fs::read_to_string(&path).unwrap();
        let mut values = Values::new("cache-check", Path::new("/src/drhost/sdk")).unwrap();
        values.grants = render(RUST_GRANTS, &values);
        let lib = render(RUST[2].text, &values);
        assert!(
            guide.contains(&format!("```rust\n{lib}```")),
            "{} does not show src/lib.rs as `drhost new --lang rust cache-check` writes it: copy it from there",
            path.display()
        );
        assert!(guide.contains(&values.grants), "{}", values.grants);
    }

    #[test]
    fn ids_the_host_would_refuse_are_refused() {
        for bad in ["", "..", "a/b", "Upper", "-dash", "a b", "a.b", "ü"] {
            let error = check_id(bad).unwrap_err();
            assert_eq!(error.exit_code(), crate::error::EXIT_USAGE);
            assert!(!error.to_string().contains('\n'), "{error}");
        }
        check_id("cache-check").unwrap();
    }

    /// The packages of `plugins/Cargo.lock` that drhost-sdk needs, as cargo
    /// wrote them: the Cargo.lock the template must be.
    fn sdk_lock_subset() -> String {
        let lock_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/Cargo.lock");
        let text = std::fs::read_to_string(&lock_path).unwrap();
        let parsed: toml::Table = text.parse().unwrap();
        let packages = parsed["package"].as_array().unwrap();
        let key = |p: &toml::Value| format!("{} {}", p["name"].as_str().unwrap(), p["version"].as_str().unwrap());
        // A dependency is "name" or "name version" (or "name version (source)").
        let find = |dep: &str| {
            let mut words = dep.split(' ');
            let name = words.next().unwrap();
            let version = words.next();
            packages
                .iter()
                .find(|p| p["name"].as_str() == Some(name) && version.is_none_or(|v| p["version"].as_str() == Some(v)))
                .unwrap_or_else(|| panic!("{dep} is not in {}", lock_path.display()))
        };
        let mut wanted = std::collections::BTreeSet::new();
        let mut todo = vec![find("drhost-sdk")];
        while let Some(package) = todo.pop() {
            if wanted.insert(key(package)) {
                for dep in package
                    .get("dependencies")
                    .and_then(|d| d.as_array())
                    .into_iter()
                    .flatten()
                {
                    todo.push(find(dep.as_str().unwrap()));
                }
            }
        }
        let mut blocks = text.split("\n[[package]]\n");
        let mut out = blocks.next().unwrap().to_string();
        for block in blocks {
            let package: toml::Table = block.parse().unwrap();
            if wanted.contains(&key(&toml::Value::Table(package))) {
                out.push_str("\n[[package]]\n");
                out.push_str(block);
            }
        }
        format!("{}\n", out.trim_end())
    }

    /// `DRHOST_BLESS=1 cargo test -p drhost --lib scaffold` rewrites it.
    #[test]
    fn the_templates_cargo_lock_pins_what_the_plugins_pin() {
        let expected = sdk_lock_subset();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/rust/Cargo.lock.tmpl");
        if std::env::var_os("DRHOST_BLESS").is_some() {
            std::fs::write(&path, &expected).unwrap();
        }
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            actual == expected,
            "{} differs from the drhost-sdk part of plugins/Cargo.lock: run `DRHOST_BLESS=1 cargo test --release -p drhost --lib scaffold`, then rebuild",
            path.display()
        );
    }
}
