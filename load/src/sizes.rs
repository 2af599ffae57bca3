//! What Chatty ships, by size: the release app's `.wasm` and JavaScript raw, gzip'd and brotli'd (what a
//! browser downloads), and each Lambda's `bootstrap` binary (what a cold start loads). Artefacts that are
//! not built are reported as missing, never built here.

use std::{
    fmt,
    io::Write,
    path::{Path, PathBuf},
    process::Command,
};

use flate2::{write::GzEncoder, Compression};

/// One file and its compressed sizes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Artefact {
    pub path: PathBuf,
    pub bytes: u64,
    pub gzip: Option<u64>,
    /// `None` when the `brotli` command is not installed.
    pub brotli: Option<u64>,
}

/// The sizes found under a workspace root.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Sizes {
    /// `app/dist/*.wasm` and `*.js`; empty when the app is not built.
    pub app: Vec<Artefact>,
    /// `target/lambda/*/bootstrap` (and under `$CARGO_TARGET_DIR`); empty when none is built.
    pub lambdas: Vec<Artefact>,
}

impl Sizes {
    pub fn measure(root: &Path) -> Self {
        let app = files_in(&root.join("app/dist"), |p| {
            matches!(p.extension().and_then(|e| e.to_str()), Some("wasm" | "js"))
        })
        .into_iter()
        .map(|path| compressed(&path, root))
        .collect();
        let mut lambda_dirs = vec![root.join("target/lambda")];
        if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
            lambda_dirs.push(root.join(dir).join("lambda"));
        }
        lambda_dirs.dedup();
        let lambdas = lambda_dirs
            .iter()
            .flat_map(|dir| {
                std::fs::read_dir(dir)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|entry| entry.path().join("bootstrap"))
                    .filter(|path| path.is_file())
                    .collect::<Vec<_>>()
            })
            .map(|path| Artefact {
                bytes: std::fs::metadata(&path).map_or(0, |m| m.len()),
                path: relative(&path, root),
                gzip: None,
                brotli: None,
            })
            .collect();
        Self { app, lambdas }
    }
}

fn files_in(dir: &Path, wanted: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && wanted(path))
        .collect();
    files.sort();
    files
}

fn relative(path: &Path, root: &Path) -> PathBuf {
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

fn compressed(path: &Path, root: &Path) -> Artefact {
    let data = std::fs::read(path).unwrap_or_default();
    Artefact {
        path: relative(path, root),
        bytes: data.len() as u64,
        gzip: Some(gzip_len(&data)),
        brotli: brotli_len(path),
    }
}

/// Bytes after `gzip -9`.
pub fn gzip_len(data: &[u8]) -> u64 {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(data).expect("writing to memory");
    encoder.finish().expect("writing to memory").len() as u64
}

/// Bytes after `brotli -q 11`, using the `brotli` command (`scripts/setup test` installs it).
fn brotli_len(path: &Path) -> Option<u64> {
    let output = Command::new("brotli")
        .args(["-c", "-q", "11"])
        .arg(path)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then_some(output.stdout.len() as u64)
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

impl fmt::Display for Sizes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<48} {:>12} {:>12} {:>12}",
            "artefact", "raw", "gzip -9", "brotli -q 11"
        )?;
        if self.app.is_empty() {
            writeln!(f, "{:<48} (not built: trunk build --release)", "app/dist")?;
        }
        for a in &self.app {
            let or_dash = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), kib);
            writeln!(
                f,
                "{:<48} {:>12} {:>12} {:>12}",
                a.path.display(),
                kib(a.bytes),
                or_dash(a.gzip),
                or_dash(a.brotli)
            )?;
        }
        if self.lambdas.is_empty() {
            writeln!(
                f,
                "{:<48} (not built: cargo lambda build --release)",
                "target/lambda/*/bootstrap"
            )?;
        }
        for a in &self.lambdas {
            writeln!(f, "{:<48} {:>12}", a.path.display(), kib(a.bytes))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Repetitive data shrinks under gzip; the measure is of the compressed bytes, not the input.
    #[test]
    fn gzip_measures_the_compressed_length() {
        let data = vec![b'a'; 100_000];
        let len = gzip_len(&data);
        assert!(len > 0 && len < 1_000, "{len}");
    }

    /// A workspace with nothing built reports nothing rather than failing.
    #[test]
    fn missing_artefacts_are_reported_empty() {
        let sizes = Sizes::measure(Path::new("/nonexistent-chatty-root"));
        assert!(sizes.app.is_empty());
        let text = sizes.to_string();
        assert!(text.contains("not built"), "{text}");
    }
}
