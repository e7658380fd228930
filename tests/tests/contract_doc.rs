//! `docs/contract.md` is generated from the doc comments of the latest
//! contract (`wit/<version>/*.wit`), so the plugin author's guide never
//! drifts from the WIT: this test renders it and fails when the committed
//! file differs. `DRHOST_BLESS=1 cargo test --release -p drhost-tests --test
//! contract_doc` writes it.

use std::fmt::Write;
use std::path::Path;

use wit_parser::{Docs, Function, FunctionKind, Handle, InterfaceId, Resolve, Type, TypeDefKind, TypeId, WorldItem};

const VERSION: &str = drhost::contract_version!();

#[test]
fn docs_contract_md_is_what_the_wit_says() {
    let root = drhost_tests::cli::repo_root();
    let wit = root.join("wit").join(VERSION);
    let expected = render(&wit);
    let path = root.join("docs/contract.md");
    if std::env::var_os("DRHOST_BLESS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    if actual != expected {
        let line = actual
            .lines()
            .zip(expected.lines())
            .position(|(a, e)| a != e)
            .map_or(actual.lines().count().min(expected.lines().count()), |n| n)
            + 1;
        panic!(
            "{} differs from wit/{VERSION}/ from line {line}: run `DRHOST_BLESS=1 cargo test --release -p drhost-tests --test contract_doc` and commit it",
            path.display()
        );
    }
}

#[test]
fn every_interface_and_function_of_the_contract_is_documented() {
    let wit = drhost_tests::cli::repo_root().join("wit").join(VERSION);
    let (resolve, world) = load(&wit);
    let mut undocumented = Vec::new();
    for id in imported_interfaces(&resolve, world) {
        let interface = &resolve.interfaces[id];
        let name = interface.name.clone().unwrap_or_default();
        if text(&interface.docs).is_empty() {
            undocumented.push(name.clone());
        }
        for function in interface.functions.values() {
            if text(&function.docs).is_empty() {
                undocumented.push(format!("{name}.{}", function.name));
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "give these a /// doc comment in wit/{VERSION}/: {undocumented:?}"
    );
}

/// The package and its world `plugin`. The files are read here and parsed
/// from memory: wit-parser's own file reading needs its `std` feature, which
/// turns on `semver/std` and so rebuilds wasmtime for every test build.
fn load(wit: &Path) -> (Resolve, wit_parser::WorldId) {
    let mut files: Vec<_> = std::fs::read_dir(wit)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wit"))
        .collect();
    files.sort();
    let mut sources = wit_parser::SourceMap::new();
    for file in &files {
        sources.push_str(&file.display().to_string(), std::fs::read_to_string(file).unwrap());
    }
    let Ok(group) = sources.parse() else {
        panic!("{} does not parse: run `cargo build` for the error", wit.display())
    };
    let mut resolve = Resolve::new();
    let package = match resolve.push_group(group) {
        Ok(package) => package,
        Err(e) => panic!("{} does not resolve: {e:?}", wit.display()),
    };
    let world = resolve.select_world(&[package], Some("plugin")).unwrap();
    (resolve, world)
}

/// The interfaces the world imports, `types` first, then in the world's order.
fn imported_interfaces(resolve: &Resolve, world: wit_parser::WorldId) -> Vec<InterfaceId> {
    let mut ids: Vec<InterfaceId> = resolve.worlds[world]
        .imports
        .values()
        .filter_map(|item| match item {
            WorldItem::Interface { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    ids.sort_by_key(|id| resolve.interfaces[*id].name.as_deref() != Some("types"));
    ids
}

fn render(wit: &Path) -> String {
    let (resolve, world_id) = load(wit);
    let world = &resolve.worlds[world_id];
    let interfaces = imported_interfaces(&resolve, world_id);
    let mut out = String::new();
    let package = &resolve.packages[world.package.unwrap()].name;
    let _ = writeln!(out, "# The plugin contract: `{package}`\n");
    let _ = writeln!(
        out,
        "<!-- Generated from wit/{VERSION}/*.wit by tests/tests/contract_doc.rs: edit the WIT's doc comments, then run\n     DRHOST_BLESS=1 cargo test --release -p drhost-tests --test contract_doc -->\n"
    );
    let _ = writeln!(
        out,
        "Every interface a plugin may import, with its types and functions, as the\ndoc comments of `wit/{VERSION}/` say. How to write a plugin against it:\n[writing-plugins.md](writing-plugins.md). A function's first word\n(\"Read.\", \"Write.\", \"Admin.\") is the access its grant needs.\n"
    );
    let _ = writeln!(out, "- [world `{}`](#world-{})", world.name, world.name);
    for id in &interfaces {
        let name = resolve.interfaces[*id].name.clone().unwrap_or_default();
        let _ = writeln!(out, "- [`{name}`](#{name})");
    }

    let _ = writeln!(out, "\n## world `{}`\n", world.name);
    paragraph(&mut out, &world.docs);
    let _ = writeln!(out, "Exports (the plugin implements them):\n");
    for item in world.exports.values() {
        if let WorldItem::Function(function) = item {
            function_section(&mut out, &resolve, function, "###");
        }
    }
    let imports: Vec<String> = interfaces
        .iter()
        .map(|id| {
            let name = resolve.interfaces[*id].name.clone().unwrap_or_default();
            format!("[`{name}`](#{name})")
        })
        .collect();
    let _ = writeln!(out, "Imports (the host provides them): {}.\n", imports.join(", "));

    for id in &interfaces {
        interface_section(&mut out, &resolve, *id);
    }
    format!("{}\n", out.trim_end())
}

fn interface_section(out: &mut String, resolve: &Resolve, id: InterfaceId) {
    let interface = &resolve.interfaces[id];
    let name = interface.name.clone().unwrap_or_default();
    let _ = writeln!(out, "## `{name}`\n");
    paragraph(out, &interface.docs);
    for (type_name, type_id) in &interface.types {
        let def = &resolve.types[*type_id];
        // `use types.{error}` brings a type in by name: say where it is from.
        if let TypeDefKind::Type(Type::Id(other)) = def.kind {
            let other_def = &resolve.types[other];
            if other_def.name.as_deref() == Some(type_name.as_str()) && other_def.owner != def.owner {
                continue;
            }
        }
        type_section(out, resolve, type_name, *type_id);
        for function in interface.functions.values() {
            if function.kind.resource() == Some(*type_id) {
                function_section(out, resolve, function, "####");
            }
        }
    }
    for function in interface.functions.values() {
        if function.kind.resource().is_none() {
            function_section(out, resolve, function, "###");
        }
    }
}

fn type_section(out: &mut String, resolve: &Resolve, name: &str, id: TypeId) {
    let def = &resolve.types[id];
    let (kind, alias) = match &def.kind {
        TypeDefKind::Type(ty) => ("type", format!(" = {}", type_name(resolve, ty))),
        other => (other.as_str(), String::new()),
    };
    let _ = writeln!(out, "### {kind} `{name}`{alias}\n");
    paragraph(out, &def.docs);
    let rows: Vec<(String, String, String)> = match &def.kind {
        TypeDefKind::Record(record) => record
            .fields
            .iter()
            .map(|f| (f.name.clone(), type_name(resolve, &f.ty), one_line(&f.docs)))
            .collect(),
        TypeDefKind::Variant(variant) => variant
            .cases
            .iter()
            .map(|c| {
                let ty = c.ty.as_ref().map(|t| type_name(resolve, t)).unwrap_or_default();
                (c.name.clone(), ty, one_line(&c.docs))
            })
            .collect(),
        TypeDefKind::Enum(e) => e
            .cases
            .iter()
            .map(|c| (c.name.clone(), String::new(), one_line(&c.docs)))
            .collect(),
        TypeDefKind::Flags(flags) => flags
            .flags
            .iter()
            .map(|f| (f.name.clone(), String::new(), one_line(&f.docs)))
            .collect(),
        _ => Vec::new(),
    };
    if rows.is_empty() {
        return;
    }
    let with_types = rows.iter().any(|(_, ty, _)| !ty.is_empty());
    let what = match &def.kind {
        TypeDefKind::Record(_) => "field",
        TypeDefKind::Flags(_) => "flag",
        _ => "case",
    };
    if with_types {
        let _ = writeln!(out, "| {what} | type | meaning |\n|---|---|---|");
    } else {
        let _ = writeln!(out, "| {what} | meaning |\n|---|---|");
    }
    for (name, ty, docs) in rows {
        let ty = if ty.is_empty() {
            String::new()
        } else {
            format!("`{ty}`")
        };
        if with_types {
            let _ = writeln!(out, "| `{name}` | {} | {} |", ty.replace('|', "\\|"), docs);
        } else {
            let _ = writeln!(out, "| `{name}` | {docs} |");
        }
    }
    out.push('\n');
}

fn function_section(out: &mut String, resolve: &Resolve, function: &Function, heading: &str) {
    let params: Vec<String> = function
        .params
        .iter()
        .filter(|p| !(p.name == "self" && matches!(function.kind, FunctionKind::Method(_))))
        .map(|p| format!("{}: {}", p.name, type_name(resolve, &p.ty)))
        .collect();
    let result = function
        .result
        .as_ref()
        .map(|t| format!(" -> {}", type_name(resolve, t)))
        .unwrap_or_default();
    let prefix = match function.kind {
        FunctionKind::Method(_) => "method ",
        FunctionKind::Static(_) => "static ",
        _ => "",
    };
    let _ = writeln!(
        out,
        "{heading} {prefix}`{}`\n\n```wit\n{}: func({}){result}\n```\n",
        function.item_name(),
        function.item_name(),
        params.join(", ")
    );
    paragraph(out, &function.docs);
}

/// A type as WIT spells it.
fn type_name(resolve: &Resolve, ty: &Type) -> String {
    let name = match ty {
        Type::Bool => "bool",
        Type::U8 => "u8",
        Type::U16 => "u16",
        Type::U32 => "u32",
        Type::U64 => "u64",
        Type::S8 => "s8",
        Type::S16 => "s16",
        Type::S32 => "s32",
        Type::S64 => "s64",
        Type::F32 => "f32",
        Type::F64 => "f64",
        Type::Char => "char",
        Type::String => "string",
        Type::ErrorContext => "error-context",
        Type::Id(id) => return type_id_name(resolve, *id),
    };
    name.to_string()
}

fn type_id_name(resolve: &Resolve, id: TypeId) -> String {
    let def = &resolve.types[id];
    if let Some(name) = &def.name {
        return name.clone();
    }
    let inner = |t: &Type| type_name(resolve, t);
    let maybe = |t: &Option<Type>| t.as_ref().map_or("_".to_string(), inner);
    match &def.kind {
        TypeDefKind::Option(t) => format!("option<{}>", inner(t)),
        TypeDefKind::List(t) => format!("list<{}>", inner(t)),
        TypeDefKind::Result(r) => match (&r.ok, &r.err) {
            (None, None) => "result".to_string(),
            (ok, None) => format!("result<{}>", maybe(ok)),
            (ok, err) => format!("result<{}, {}>", maybe(ok), maybe(err)),
        },
        TypeDefKind::Tuple(t) => format!("tuple<{}>", t.types.iter().map(inner).collect::<Vec<_>>().join(", ")),
        TypeDefKind::Handle(Handle::Own(r)) => type_id_name(resolve, *r),
        TypeDefKind::Handle(Handle::Borrow(r)) => format!("borrow<{}>", type_id_name(resolve, *r)),
        TypeDefKind::Type(t) => inner(t),
        other => other.as_str().to_string(),
    }
}

fn text(docs: &Docs) -> String {
    docs.contents.as_deref().unwrap_or_default().trim().to_string()
}

/// The doc comment as a paragraph (its lines kept).
fn paragraph(out: &mut String, docs: &Docs) {
    let text = text(docs);
    if !text.is_empty() {
        let _ = writeln!(out, "{text}\n");
    }
}

/// The doc comment on one line, for a table cell.
fn one_line(docs: &Docs) -> String {
    text(docs)
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}
