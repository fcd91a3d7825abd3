//! What makes the end-to-end run honest: the binaries it starts are those of the build under
//! test (built here, by cargo, into the target directory and profile of this very test
//! executable), and a story this host cannot run is reported as ignored — never as passed —
//! unless `CI=true`, where it runs and fails.

use std::{
    future::Future,
    path::{Path, PathBuf},
    pin::Pin,
    process::{Command, ExitCode, Stdio},
    sync::OnceLock,
};

/// The path of workspace binary `name`, built (once per test process, and only what changed)
/// with the profile and into the target directory of this test executable.
pub fn bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BUILT.get_or_init(build) {
        Ok(dir) => dir.join(name),
        Err(why) => panic!("{why}"),
    }
}

/// `cargo build --workspace --bins` (the whole workspace: a subset would resolve features
/// differently and rebuild what the workspace build already has); returns the directory of
/// the binaries.
fn build() -> Result<PathBuf, String> {
    // This executable is <target dir>[/<triple>]/<profile dir>/deps/<test>-<hash>.
    let exe = std::env::current_exe().map_err(|e| format!("finding this test: {e}"))?;
    let bin_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("this test is not in a cargo target directory")?
        .to_owned();
    let profile = match bin_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_owned(),
        Some(other) => other.to_owned(),
        None => return Err("no profile directory".into()),
    };
    let above = bin_dir.parent().ok_or("no target directory")?;
    // Cargo marks the root of a target directory; a cross build sits one level lower.
    let (target_dir, triple) = if above.join("CACHEDIR.TAG").exists() {
        (above.to_owned(), None)
    } else {
        let triple = above
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned);
        let root = above.parent().ok_or("no target directory")?.to_owned();
        (root, triple)
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let mut cmd = Command::new(cargo);
    // The environment cargo gives a running test (its package's variables, a library path)
    // is not a build's: passed on, it would change what build scripts see and make this
    // build and the next one outside recompile each other's crates.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || [
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "OUT_DIR",
                "LD_LIBRARY_PATH",
            ]
            .contains(&&*name)
        {
            cmd.env_remove(&*name);
        }
    }
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "--quiet",
            "--workspace",
            "--bins",
            "--profile",
            &profile,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .stdin(Stdio::null());
    if let Some(triple) = triple {
        cmd.args(["--target", &triple]);
    }
    let out = cmd.output().map_err(|e| format!("running cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building the binaries under test failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(bin_dir)
}

/// Why this host cannot run stories that need root and `programs` (names on `PATH`, or
/// absolute paths); `None` when it can.
pub fn missing(programs: &[&str]) -> Option<String> {
    let mut missing: Vec<&str> = Vec::new();
    if !crate::is_root() {
        missing.push("root");
    }
    for program in programs {
        let found = if program.contains('/') {
            Path::new(program).exists()
        } else {
            std::env::var_os("PATH").is_some_and(|paths| {
                std::env::split_paths(&paths).any(|dir| dir.join(program).exists())
            })
        };
        if !found {
            missing.push(program);
        }
    }
    (!missing.is_empty()).then(|| missing.join(", "))
}

/// One story of a file that runs under [`run_stories`].
pub struct Story {
    pub name: &'static str,
    pub run: fn() -> Pin<Box<dyn Future<Output = ()> + Send>>,
}

/// The `main` of a test file whose stories need root and `programs`: each runs on a runtime
/// of its own, as libtest would run it; when the host lacks what they need, they show as
/// ignored (and say why), except under `CI=true`, where they run and fail.
pub fn run_stories(programs: &[&str], stories: Vec<Story>) -> ExitCode {
    let args = libtest_mimic::Arguments::from_args();
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let lacking = missing(programs).filter(|_| !ci);
    if let Some(what) = &lacking {
        eprintln!("these stories need {what}: ignored (as root, .ci/run installs what they need)");
    }
    let trials = stories
        .into_iter()
        .map(|story| {
            libtest_mimic::Trial::test(story.name, move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(|e| format!("a runtime: {e}"))?;
                runtime.block_on((story.run)());
                Ok(())
            })
            .with_ignored_flag(lacking.is_some())
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}

/// The `main` of a test file of stories that need root and the given programs.
#[macro_export]
macro_rules! stories {
    (needs [$($program:expr),* $(,)?]; $($story:ident),+ $(,)?) => {
        fn main() -> std::process::ExitCode {
            $crate::harness::run_stories(
                &[$($program),*],
                vec![$($crate::harness::Story {
                    name: stringify!($story),
                    run: || Box::pin($story()),
                }),+],
            )
        }
    };
}
