//! The front end, built into the binary: every file of `cli/console/` (the pages, the scripts,
//! the vendored xterm.js and asciinema-player) in a table that `build.rs` generates, each with
//! its content type. Nothing is read from disk at run time and nothing comes from elsewhere.

use axum::{
    extract::Path,
    http::{header, StatusCode},
    response::{IntoResponse as _, Response},
};

use super::reply::Failure;

/// (path below `cli/console/`, content type, bytes), sorted by path.
static ASSETS: &[(&str, &str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));

/// The embedded file at `path` (below `cli/console/`): its content type and bytes.
pub fn find(path: &str) -> Option<(&'static str, &'static [u8])> {
    ASSETS
        .binary_search_by(|(name, _, _)| (*name).cmp(path))
        .ok()
        .map(|at| (ASSETS[at].1, ASSETS[at].2))
}

/// Every embedded path, for the log and tests.
pub fn paths() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|(path, _, _)| *path)
}

/// `GET /`: the app.
pub async fn index() -> Response {
    serve("index.html")
}

/// `GET /assets/<path>`.
pub async fn asset(Path(path): Path<String>) -> Response {
    serve(&path)
}

fn serve(path: &str) -> Response {
    match find(path) {
        // The binary is the version: a browser revalidates, and a new build is seen at once.
        Some((kind, bytes)) => (
            [
                (header::CONTENT_TYPE, kind),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            bytes,
        )
            .into_response(),
        None => Failure::new(
            StatusCode::NOT_FOUND,
            "Console.NotFound",
            format!("no asset {path:?} in this build of axt"),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_typed() {
        let paths: Vec<_> = paths().collect();
        let mut sorted = paths.clone();
        sorted.sort_unstable();
        assert_eq!(paths, sorted, "find() searches it by bisection");
        for path in paths {
            let (kind, _) = find(path).unwrap();
            if path.ends_with(".js") {
                assert_eq!(kind, "text/javascript; charset=utf-8", "{path}");
            }
            if path.ends_with(".html") {
                assert_eq!(kind, "text/html; charset=utf-8", "{path}");
            }
        }
        assert!(find("../Cargo.toml").is_none());
    }
}
