//! `drhost new`: a new plugin written from the templates under
//! `host/templates/<language>/` (a Rust crate, or a Python or JavaScript
//! app with its `build.sh`), ready to build against that language's SDK in
//! the checkout this drhost was built from (or `--sdk`).
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

/// The languages `drhost new` knows, each with an SDK in the checkout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    /// A Rust crate against `sdk/` (drhost-sdk).
    Rust,
    /// A Python app against `sdk/python` (drhost_sdk, componentize-py).
    Python,
    /// A JavaScript app against `sdk/js` (drhost-sdk, componentize-js).
    Js,
}

/// What `drhost new` was asked for.
#[derive(Clone, Debug)]
pub struct NewPlugin {
    /// The plugin's language.
    pub language: Language,
    /// The plugin id (also the crate's or package's name).
    pub id: String,
    /// The directory to create [default: `./<id>`]; it must not exist.
    pub dir: Option<PathBuf>,
    /// The language's SDK directory (`sdk/`, `sdk/python` or `sdk/js`)
    /// [default: the one of the checkout drhost was built from].
    pub sdk: Option<PathBuf>,
}

/// What `drhost new` wrote.
#[derive(Clone, Debug)]
pub struct Scaffolded {
    /// The new plugin's directory.
    pub dir: PathBuf,
    /// The SDK the plugin is built with (absolute).
    pub sdk: PathBuf,
    /// The files written, relative to `dir`.
    pub files: Vec<&'static str>,
    /// The command that builds the component, run in `dir`.
    pub build: &'static str,
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

/// The Python app: `app.py` and a `build.sh` calling the SDK's.
const PYTHON: &[Template] = &[
    Template {
        path: "app.py",
        text: include_str!("../templates/python/app.py.tmpl"),
    },
    Template {
        path: "build.sh",
        text: include_str!("../templates/python/build.sh.tmpl"),
    },
    Template {
        path: "README.md",
        text: include_str!("../templates/python/README.md.tmpl"),
    },
    Template {
        path: ".gitignore",
        text: include_str!("../templates/python/gitignore.tmpl"),
    },
];

/// The JavaScript app: `app.js`, a `build.sh` calling the SDK's, and a
/// `package.json` that links the SDK for an editor.
const JS: &[Template] = &[
    Template {
        path: "app.js",
        text: include_str!("../templates/js/app.js.tmpl"),
    },
    Template {
        path: "build.sh",
        text: include_str!("../templates/js/build.sh.tmpl"),
    },
    Template {
        path: "package.json",
        text: include_str!("../templates/js/package.json.tmpl"),
    },
    Template {
        path: "README.md",
        text: include_str!("../templates/js/README.md.tmpl"),
    },
    Template {
        path: ".gitignore",
        text: include_str!("../templates/js/gitignore.tmpl"),
    },
];

/// What `drhost new` writes for one language, where its SDK lives and how
/// the result is built.
struct Kit {
    /// The language as the operator reads it.
    name: &'static str,
    templates: &'static [Template],
    /// The grant lines for what the template's `describe` declares.
    grants: &'static str,
    /// The SDK's directory in a checkout, and the file there that names
    /// the package `drhost-sdk`.
    sdk_dir: &'static str,
    sdk_manifest: &'static str,
    /// The build command, run in the new directory.
    build: &'static str,
    /// Where the build puts the component (placeholders allowed).
    component: &'static str,
}

const RUST_KIT: Kit = Kit {
    name: "Rust",
    templates: RUST,
    grants: include_str!("../templates/rust/grants.toml.tmpl"),
    sdk_dir: "sdk",
    sdk_manifest: "Cargo.toml",
    build: "cargo build --offline --release --target wasm32-wasip2",
    component: "target/wasm32-wasip2/release/{{crate}}.wasm",
};

const PYTHON_KIT: Kit = Kit {
    name: "Python",
    templates: PYTHON,
    grants: include_str!("../templates/python/grants.toml.tmpl"),
    sdk_dir: "sdk/python",
    sdk_manifest: "pyproject.toml",
    build: "bash build.sh",
    component: "{{id}}.wasm",
};

const JS_KIT: Kit = Kit {
    name: "JavaScript",
    templates: JS,
    grants: include_str!("../templates/js/grants.toml.tmpl"),
    sdk_dir: "sdk/js",
    sdk_manifest: "package.json",
    build: "bash build.sh",
    component: "{{id}}.wasm",
};

impl Language {
    fn kit(self) -> &'static Kit {
        match self {
            Language::Rust => &RUST_KIT,
            Language::Python => &PYTHON_KIT,
            Language::Js => &JS_KIT,
        }
    }
}

/// The checkout this binary was built from.
const BUILT_FROM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Writes a new plugin; see the module comment.
pub fn scaffold(request: &NewPlugin) -> Result<Scaffolded> {
    let kit = request.language.kit();
    check_id(&request.id)?;
    let sdk = find_sdk(kit, request.sdk.as_deref())?;
    let dir = request.dir.clone().unwrap_or_else(|| PathBuf::from(&request.id));
    let mut values = Values::new(&request.id, kit, &sdk)?;
    values.grants = render(kit.grants, &values).trim_end().to_string();
    let rendered: Vec<(&'static str, String)> = kit
        .templates
        .iter()
        .map(|t| (t.path, render(t.text, &values)))
        .collect();
    write_new_dir(&dir, &rendered)?;
    Ok(Scaffolded {
        dir,
        sdk,
        files: kit.templates.iter().map(|t| t.path).collect(),
        build: kit.build,
        component: render(kit.component, &values),
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

/// The SDK directory: `given`, else the language's in the checkout this
/// drhost was built from; its manifest must name the package `drhost-sdk`.
fn find_sdk(kit: &Kit, given: Option<&Path>) -> Result<PathBuf> {
    let (path, whence) = match given {
        Some(path) => (path.to_path_buf(), "--sdk"),
        None => (
            Path::new(BUILT_FROM).join(kit.sdk_dir),
            "the checkout this drhost was built from",
        ),
    };
    let manifest = path.join(kit.sdk_manifest);
    let is_sdk = std::fs::read_to_string(&manifest)
        .ok()
        .and_then(|text| package_name(kit.sdk_manifest, &text))
        .is_some_and(|name| name == "drhost-sdk");
    if !is_sdk {
        return Err(Error::Usage(format!(
            "cannot find the {} SDK: {} ({whence}) is not drhost's {}/ directory (no {} of drhost-sdk); pass --sdk PATH to the {}/ of a drhost checkout",
            kit.name,
            path.display(),
            kit.sdk_dir,
            kit.sdk_manifest,
            kit.sdk_dir
        )));
    }
    std::fs::canonicalize(&path).map_err(|e| {
        Error::Usage(format!(
            "cannot find the {} SDK at {}: {e}; pass --sdk PATH",
            kit.name,
            path.display()
        ))
    })
}

/// The package name a manifest declares: `[package] name` (Cargo.toml),
/// `[project] name` (pyproject.toml) or `"name"` (package.json).
fn package_name(manifest: &str, text: &str) -> Option<String> {
    if manifest.ends_with(".json") {
        let parsed: serde_json::Value = serde_json::from_str(text).ok()?;
        return parsed.get("name")?.as_str().map(str::to_string);
    }
    let parsed: toml::Table = text.parse().ok()?;
    let table = parsed.get("package").or_else(|| parsed.get("project"))?;
    table.get("name")?.as_str().map(str::to_string)
}

/// The placeholders' values.
struct Values {
    id: String,
    crate_name: String,
    sdk: String,
    sdk_toml: String,
    sdk_json: String,
    sdk_build: String,
    checkout: String,
    grants: String,
}

impl Values {
    fn new(id: &str, kit: &Kit, sdk: &Path) -> Result<Values> {
        let Some(sdk_text) = sdk.to_str() else {
            return Err(Error::Usage(format!(
                "the SDK's path {} is not UTF-8, which the plugin's files cannot hold; pass --sdk with a UTF-8 path",
                sdk.display()
            )));
        };
        let depth = kit.sdk_dir.split('/').count();
        let checkout = sdk.ancestors().nth(depth).unwrap_or(sdk).display().to_string();
        Ok(Values {
            id: id.to_string(),
            crate_name: id.replace('-', "_"),
            sdk: sdk_text.to_string(),
            sdk_toml: toml::Value::String(sdk_text.to_string()).to_string(),
            sdk_json: serde_json::Value::String(format!("file:{sdk_text}")).to_string(),
            sdk_build: shell_quoted(&format!("{sdk_text}/build.sh")),
            checkout,
            grants: String::new(),
        })
    }
}

/// `text` as one shell word: in single quotes, each `'` written `'\''`.
fn shell_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// `text` with every `{{key}}` replaced by its value.
fn render(text: &str, values: &Values) -> String {
    [
        ("{{id}}", values.id.as_str()),
        ("{{crate}}", &values.crate_name),
        ("{{sdk}}", &values.sdk),
        ("{{sdk-toml}}", &values.sdk_toml),
        ("{{sdk-json}}", &values.sdk_json),
        ("{{sdk-build}}", &values.sdk_build),
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

    const KITS: [&Kit; 3] = [&RUST_KIT, &PYTHON_KIT, &JS_KIT];

    fn values() -> Values {
        values_for(&RUST_KIT, "/src/drhost/sdk")
    }

    fn values_for(kit: &Kit, sdk: &str) -> Values {
        let mut values = Values::new("cache-check", kit, Path::new(sdk)).unwrap();
        values.grants = "[[plugins.cache-check.http]]".into();
        values
    }

    #[test]
    fn every_placeholder_of_every_template_is_filled() {
        for kit in KITS {
            let values = values_for(kit, &format!("/src/drhost/{}", kit.sdk_dir));
            for template in kit.templates.iter().map(|t| t.text).chain([kit.grants, kit.component]) {
                let text = render(template, &values);
                assert!(!text.contains("{{"), "{text}");
            }
            assert_eq!(values.checkout, "/src/drhost", "{}", kit.name);
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
        let values = Values::new("x", &RUST_KIT, Path::new("/tmp/a\"b\\c/sdk")).unwrap();
        let parsed: toml::Table = render(RUST[0].text, &values).parse().unwrap();
        assert_eq!(
            parsed["dependencies"]["drhost-sdk"]["path"].as_str(),
            Some("/tmp/a\"b\\c/sdk")
        );
    }

    #[test]
    fn a_path_with_quotes_stays_one_json_string_and_one_shell_word() {
        let sdk = "/tmp/it's \"a\" $dir/sdk/js";
        let values = Values::new("x", &JS_KIT, Path::new(sdk)).unwrap();
        let package: serde_json::Value = serde_json::from_str(&render(JS[2].text, &values)).unwrap();
        assert_eq!(package["devDependencies"]["drhost-sdk"], format!("file:{sdk}"));
        let script = render(JS[1].text, &values);
        let line = script.lines().last().unwrap();
        let out = std::process::Command::new("bash")
            .args(["-c", &line.replace("exec bash", r"printf '%s\n'")])
            .output()
            .unwrap();
        let words = String::from_utf8_lossy(&out.stdout);
        assert_eq!(words.lines().next(), Some(format!("{sdk}/build.sh").as_str()), "{line}");
    }

    #[test]
    fn the_grants_are_the_lines_the_manifest_needs() {
        // Each template's describe declares one need; its grant names that host.
        for (kit, app, need) in [
            (&RUST_KIT, RUST[2].text, r#".need("http", "127.0.0.1:*", Access::Read"#),
            (
                &PYTHON_KIT,
                PYTHON[0].text,
                r#".need("http", "127.0.0.1:*", Access.READ"#,
            ),
            (&JS_KIT, JS[0].text, ".need('http', '127.0.0.1:*', Access.READ"),
        ] {
            assert!(app.contains(need), "{app}");
            let grants: toml::Table = render(kit.grants, &values()).parse().unwrap();
            assert_eq!(
                grants["plugins"]["cache-check"]["http"][0]["host"].as_str(),
                Some("127.0.0.1:*")
            );
        }
    }

    #[test]
    fn each_sdk_is_found_by_its_manifests_package_name() {
        for kit in KITS {
            let sdk = find_sdk(kit, None).unwrap();
            assert!(sdk.ends_with(kit.sdk_dir), "{}", sdk.display());
            let error = find_sdk(kit, Some(Path::new(env!("CARGO_MANIFEST_DIR")))).unwrap_err();
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("cannot find the {} SDK", kit.name)),
                "{error}"
            );
        }
    }

    #[test]
    fn the_guide_shows_the_scaffold_as_it_is() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/writing-plugins.md");
        let guide = std::fs::read_to_string(&path).unwrap();
        let mut values = Values::new("cache-check", &RUST_KIT, Path::new("/src/drhost/sdk")).unwrap();
        values.grants = render(RUST_KIT.grants, &values);
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
