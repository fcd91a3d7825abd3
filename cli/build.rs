//! Embeds the web console of `axt console`: every file under `console/` becomes one entry of a
//! table of `include_bytes!` written to OUT_DIR, with its content type, so a file added to the
//! front end needs no change to the code that serves it.

use std::{
    env,
    fmt::Write as _,
    fs, io,
    path::{Path, PathBuf},
};

fn main() -> io::Result<()> {
    // A directory here makes cargo rerun this script when anything beneath it changes.
    println!("cargo:rerun-if-changed=console");
    let manifest =
        env::var_os("CARGO_MANIFEST_DIR").ok_or_else(|| missing("CARGO_MANIFEST_DIR"))?;
    let out = env::var_os("OUT_DIR").ok_or_else(|| missing("OUT_DIR"))?;
    let root = PathBuf::from(manifest).join("console");
    let mut files = Vec::new();
    if root.is_dir() {
        walk(&root, "", &mut files)?;
    }
    files.sort();
    let mut table = String::from("&[\n");
    for (path, file) in &files {
        let file = file.to_str().ok_or_else(|| invalid(file))?;
        let kind = content_type(path);
        // `{:?}` of a str is a valid Rust string literal, escapes and all.
        let _ = writeln!(
            table,
            "    ({path:?}, {kind:?}, include_bytes!({file:?}) as &[u8]),"
        );
    }
    table.push(']');
    fs::write(Path::new(&out).join("console_assets.rs"), table)
}

/// Adds every file under `dir` to `files` as (its path below `console/`, its absolute path);
/// hidden files (editor droppings, `.DS_Store`) and names that are not UTF-8 are left out.
fn walk(dir: &Path, prefix: &str, files: &mut Vec<(String, PathBuf)>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            println!("cargo:warning=console: skipping a file name that is not UTF-8");
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let relative = format!("{prefix}{name}");
        // Follows symbolic links, as include_bytes! does.
        let meta = fs::metadata(&path)?;
        if meta.is_dir() {
            walk(&path, &format!("{relative}/"), files)?;
        } else if meta.is_file() {
            files.push((relative, path));
        }
    }
    Ok(())
}

/// The Content-Type served for `path`, by its extension.
fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "wasm" => "application/wasm",
        "cast" => "application/x-asciicast",
        // Licences, VENDOR.md and the like are read as text.
        "md" | "txt" | "" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn missing(name: &str) -> io::Error {
    io::Error::other(format!("cargo did not set {name}"))
}

fn invalid(path: &Path) -> io::Error {
    io::Error::other(format!("{} is not a UTF-8 path", path.display()))
}
