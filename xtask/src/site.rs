//! Publishing the built app (`app/dist`): what each file is served with, trunk's inline loader moved into a
//! file of its own, and a brotli copy of every text and WebAssembly file.
//!
//! CloudFront sends a Content-Security-Policy whose `script-src` is `'self' 'wasm-unsafe-eval'` (template.yaml,
//! `SecurityHeadersPolicy`): no inline script runs. `trunk build` ends `index.html` with an inline
//! `<script type="module">` that imports and starts the app, so [`externalize_inline_scripts`] writes each such
//! script to `boot-<hash>.js` and points the tag at it. Same behaviour, and a policy that needs no per-build hash.
//!
//! CloudFront's own compression is quicker and weaker than brotli's best (quality 11), and the app is downloaded
//! on every first visit, so [`precompress_in_dist`] writes `<file>.br` beside each file whose extension is in
//! [`PRECOMPRESSED`], compressed once at quality 11; the deploy uploads it with `Content-Encoding: br` and the
//! original's type and caching, and the distribution's viewer-request function (template.yaml,
//! `SpaRewriteFunction`) asks S3 for that copy when the browser accepts `br`. Everything else, and every
//! browser that does not accept `br`, gets the file itself (which CloudFront may still gzip).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Extensions of the files uploaded with a brotli copy beside them. template.yaml's `SpaRewriteFunction`
/// rewrites requests for exactly these (tests/template checks the two lists agree).
pub const PRECOMPRESSED: &[&str] = &["html", "js", "css", "wasm", "json", "svg"];

/// Brotli's best: the deploy compresses each file once, so the slowest setting costs nothing per request.
pub const BROTLI_QUALITY: i32 = 11;
/// Brotli's largest standard window (16 MiB), which every browser decodes; no file of the app is larger.
pub const BROTLI_WINDOW: i32 = 24;

/// `bytes` compressed with brotli at [`BROTLI_QUALITY`]: what a browser downloads for a precompressed file.
pub fn brotli(bytes: &[u8]) -> Vec<u8> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: BROTLI_QUALITY,
        lgwin: BROTLI_WINDOW,
        size_hint: bytes.len(),
        ..Default::default()
    };
    let mut compressed = Vec::new();
    brotli::BrotliCompress(&mut &bytes[..], &mut compressed, &params)
        .expect("compressing into memory cannot fail");
    compressed
}

/// Whether the file `key` (relative to `dist`) gets a brotli copy: its extension is in [`PRECOMPRESSED`].
pub fn is_precompressed(key: &str) -> bool {
    key.rsplit_once('.')
        .is_some_and(|(_, ext)| PRECOMPRESSED.contains(&ext))
}

/// The file a key serves: `x.wasm` for its brotli copy `x.wasm.br`, else the key itself. A copy is served
/// with the original's type and caching.
pub fn served_file(key: &str) -> &str {
    match key.strip_suffix(".br") {
        Some(original) if is_precompressed(original) => original,
        _ => key,
    }
}

/// The `Content-Encoding` to upload a key with: `br` for a brotli copy, none for anything else.
pub fn content_encoding(key: &str) -> Option<&'static str> {
    (served_file(key) != key).then_some("br")
}

/// Writes `<file>.br` beside every file of `dist` that [`is_precompressed`] (replacing older copies, so a
/// second run changes nothing). Returns the copies' keys.
pub fn precompress_in_dist(dist: &Path) -> Result<Vec<String>> {
    let mut written = Vec::new();
    for file in files_in_upload_order(dist)? {
        if served_file(&file.key) != file.key || !is_precompressed(&file.key) {
            continue;
        }
        let bytes = std::fs::read(&file.path)
            .with_context(|| format!("reading {}", file.path.display()))?;
        let copy = PathBuf::from(format!("{}.br", file.path.display()));
        std::fs::write(&copy, brotli(&bytes))
            .with_context(|| format!("writing {}", copy.display()))?;
        written.push(format!("{}.br", file.key));
    }
    Ok(written)
}

/// How long a browser and CloudFront may keep a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caching {
    /// `index.html` and `config.json`: asked for again each time, so a deploy shows at once.
    Revalidate,
    /// Files whose name carries a content hash (trunk's `-<hash>` suffix, our `boot-<hash>.js`): never change.
    Immutable,
    /// Anything else: a few minutes.
    Short,
}

impl Caching {
    pub fn header(self) -> &'static str {
        match self {
            Self::Revalidate => "no-cache",
            Self::Immutable => "public, max-age=31536000, immutable",
            Self::Short => "public, max-age=300",
        }
    }

    /// Decides from the file name (relative to `dist`, with `/` separators).
    pub fn of(key: &str) -> Self {
        if key == "index.html" || key == "config.json" {
            return Self::Revalidate;
        }
        let name = key.rsplit('/').next().unwrap_or(key);
        let stem = name.split('.').next().unwrap_or(name);
        // trunk names hashed files `<name>-<hash>` (and `<name>-<hash>_bg.wasm`), the hash a u64 in hex
        // without leading zeros, so 16 digits or a few fewer.
        let hash = stem
            .trim_end_matches("_bg")
            .rsplit('-')
            .next()
            .unwrap_or("");
        let hashed = stem.contains('-')
            && (12..=16).contains(&hash.len())
            && hash.bytes().all(|b| b.is_ascii_hexdigit());
        if hashed {
            Self::Immutable
        } else {
            Self::Short
        }
    }
}

/// The `Content-Type` to upload a file with. Set explicitly: WebAssembly streaming compilation insists on
/// `application/wasm`, and not every uploader's guess table knows it.
pub fn content_type(key: &str) -> &'static str {
    match key.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("webmanifest") => "application/manifest+json",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// One file to upload: its key in the bucket and the local path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteFile {
    pub key: String,
    pub path: PathBuf,
}

/// Every file under `dist`, in upload order: content-hashed and other files first, `config.json` next,
/// `index.html` last (each with its brotli copy), so the page that names new files only appears once they are
/// there.
pub fn files_in_upload_order(dist: &Path) -> Result<Vec<SiteFile>> {
    let mut files = Vec::new();
    collect(dist, dist, &mut files)?;
    files.sort_by_key(|f| {
        let rank = match served_file(&f.key) {
            "index.html" => 2,
            "config.json" => 1,
            _ => 0,
        };
        (rank, f.key.clone())
    });
    Ok(files)
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<SiteFile>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, files)?;
        } else {
            let key = path
                .strip_prefix(root)
                .expect("under root")
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            files.push(SiteFile { key, path });
        }
    }
    Ok(())
}

/// A script moved out of `index.html`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootScript {
    pub file_name: String,
    pub source: String,
}

/// Moves every inline `<script type="module">` of `html` into a [`BootScript`] and references it by `src`.
/// Scripts that already have a `src` stay as they are, so running it twice changes nothing.
pub fn externalize_inline_scripts(html: &str) -> (String, Vec<BootScript>) {
    let mut out = String::with_capacity(html.len());
    let mut scripts = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let (before, from_tag) = rest.split_at(start);
        out.push_str(before);
        let Some(tag_end) = from_tag.find('>') else {
            rest = from_tag;
            break;
        };
        let open_tag = &from_tag[..=tag_end];
        let Some(close) = from_tag[tag_end + 1..].find("</script>") else {
            rest = from_tag;
            break;
        };
        let body = &from_tag[tag_end + 1..tag_end + 1 + close];
        let after = &from_tag[tag_end + 1 + close + "</script>".len()..];
        let is_inline_module = open_tag.contains("type=\"module\"") && !open_tag.contains("src=");
        if is_inline_module && !body.trim().is_empty() {
            let source = format!("{}\n", body.trim());
            let file_name = format!("boot-{:016x}.js", fnv1a(source.as_bytes()));
            out.push_str(&format!(
                "<script type=\"module\" src=\"/{file_name}\"></script>"
            ));
            scripts.push(BootScript { file_name, source });
        } else {
            out.push_str(&from_tag[..tag_end + 1 + close + "</script>".len()]);
        }
        rest = after;
    }
    out.push_str(rest);
    (out, scripts)
}

/// Rewrites `dist/index.html` in place and writes the boot scripts beside it. Returns their names.
pub fn externalize_in_dist(dist: &Path) -> Result<Vec<String>> {
    let index = dist.join("index.html");
    let html = std::fs::read_to_string(&index).with_context(|| {
        format!(
            "reading {} (run `trunk build --release` first)",
            index.display()
        )
    })?;
    let (html, scripts) = externalize_inline_scripts(&html);
    for script in &scripts {
        std::fs::write(dist.join(&script.file_name), &script.source)?;
    }
    std::fs::write(&index, html)?;
    Ok(scripts.into_iter().map(|s| s.file_name).collect())
}

/// FNV-1a, 64 bits: a stable content hash for a file name (not for security).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `trunk build --release` 0.21 writes at the end of `<body>` (its default initializer).
    const TRUNK_INDEX: &str = r#"<!DOCTYPE html><html><head><link rel="modulepreload" href="/chatty-app-1f2e3d4c5b6a7980.js" crossorigin="anonymous" integrity="sha384-abc"></head><body>
<script type="module">
import init, * as bindings from '/chatty-app-1f2e3d4c5b6a7980.js';
const wasm = await init({ module_or_path: '/chatty-app-1f2e3d4c5b6a7980_bg.wasm' });

window.wasmBindings = bindings;

dispatchEvent(new CustomEvent("TrunkApplicationStarted", {detail: {wasm}}));
</script></body></html>"#;

    /// The inline loader becomes a file with the same code, and the page refers to it from its own origin.
    #[test]
    fn moves_the_inline_loader_into_a_file() {
        let (html, scripts) = externalize_inline_scripts(TRUNK_INDEX);
        assert_eq!(scripts.len(), 1);
        let boot = &scripts[0];
        assert!(boot.file_name.starts_with("boot-") && boot.file_name.ends_with(".js"));
        assert!(boot.source.starts_with("import init, * as bindings"));
        assert!(boot.source.contains("TrunkApplicationStarted"));
        assert!(html.contains(&format!(
            r#"<script type="module" src="/{}"></script>"#,
            boot.file_name
        )));
        assert!(!html.contains("import init"), "no inline code is left");
        assert!(
            html.contains(r#"<link rel="modulepreload""#),
            "the rest is untouched"
        );
    }

    /// A second run finds nothing to move: the deploy can be repeated on the same dist.
    #[test]
    fn is_idempotent() {
        let (once, _) = externalize_inline_scripts(TRUNK_INDEX);
        let (twice, scripts) = externalize_inline_scripts(&once);
        assert_eq!(once, twice);
        assert!(scripts.is_empty());
    }

    /// Different code, different file name: a cached old loader is never served for a new build.
    #[test]
    fn the_name_follows_the_content() {
        let other = TRUNK_INDEX.replace("1f2e3d4c5b6a7980", "0000000000000001");
        let (_, a) = externalize_inline_scripts(TRUNK_INDEX);
        let (_, b) = externalize_inline_scripts(&other);
        assert_ne!(a[0].file_name, b[0].file_name);
        assert_eq!(Caching::of(&a[0].file_name), Caching::Immutable);
    }

    /// Entry points revalidate, trunk's hashed assets are immutable, anything else is cached briefly.
    #[test]
    fn caching_by_name() {
        assert_eq!(Caching::of("index.html"), Caching::Revalidate);
        assert_eq!(Caching::of("config.json"), Caching::Revalidate);
        assert_eq!(
            Caching::of("chatty-app-1f2e3d4c5b6a7980_bg.wasm"),
            Caching::Immutable
        );
        assert_eq!(
            Caching::of("chatty-app-1f2e3d4c5b6a7980.js"),
            Caching::Immutable
        );
        assert_eq!(
            Caching::of("style-0123456789abcdef.css"),
            Caching::Immutable
        );
        assert_eq!(
            Caching::of("favicon-71b80c5a2427cac.svg"),
            Caching::Immutable
        );
        assert_eq!(Caching::of("favicon.svg"), Caching::Short);
        assert_eq!(Caching::of("robots.txt"), Caching::Short);
    }

    /// A fresh directory with a built app's kinds of file.
    fn built() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (file, text) in [
            ("index.html", "<html></html>"),
            ("config.json", "{}"),
            ("chatty-app-1f2e3d4c5b6a7980.js", "export default 1;"),
            ("chatty-app-1f2e3d4c5b6a7980_bg.wasm", "\0asm"),
            ("favicon-71b80c5a2427cac.svg", "<svg/>"),
            ("logo.png", "PNG"),
        ] {
            std::fs::write(dir.path().join(file), text.repeat(100)).unwrap();
        }
        dir
    }

    fn unbrotli(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut &bytes[..], &mut out).unwrap();
        out
    }

    /// Every text and WebAssembly file gets a `.br` copy that decompresses to it; an image gets none; a second
    /// run rewrites the same copies and compresses no copy again.
    #[test]
    fn brotli_copies_decompress_to_their_file() {
        let built = built();
        let dir = built.path();
        let mut written = precompress_in_dist(dir).unwrap();
        written.sort();
        assert_eq!(
            written,
            [
                "chatty-app-1f2e3d4c5b6a7980.js.br",
                "chatty-app-1f2e3d4c5b6a7980_bg.wasm.br",
                "config.json.br",
                "favicon-71b80c5a2427cac.svg.br",
                "index.html.br"
            ]
        );
        for copy in &written {
            let original = std::fs::read(dir.join(served_file(copy))).unwrap();
            let compressed = std::fs::read(dir.join(copy)).unwrap();
            assert_eq!(unbrotli(&compressed), original, "{copy}");
            assert!(compressed.len() < original.len() / 4, "{copy}");
        }
        assert_eq!(precompress_in_dist(dir).unwrap().len(), written.len());
        assert!(!dir.join("index.html.br.br").exists());
        assert!(!dir.join("logo.png.br").exists());
    }

    /// A copy is uploaded with `Content-Encoding: br` and its original's type and caching; the entry points'
    /// copies go up with them, last.
    #[test]
    fn a_copy_is_served_as_its_original() {
        let copy = "chatty-app-1f2e3d4c5b6a7980_bg.wasm.br";
        assert_eq!(served_file(copy), "chatty-app-1f2e3d4c5b6a7980_bg.wasm");
        assert_eq!(content_encoding(copy), Some("br"));
        assert_eq!(content_type(served_file(copy)), "application/wasm");
        assert_eq!(Caching::of(served_file(copy)), Caching::Immutable);
        assert_eq!(
            Caching::of(served_file("index.html.br")),
            Caching::Revalidate
        );
        assert_eq!(
            content_encoding("chatty-app-1f2e3d4c5b6a7980_bg.wasm"),
            None
        );
        assert_eq!(
            served_file("notes.br"),
            "notes.br",
            "not a copy of anything"
        );

        let built = built();
        let dir = built.path();
        precompress_in_dist(dir).unwrap();
        let keys: Vec<String> = files_in_upload_order(dir)
            .unwrap()
            .into_iter()
            .map(|f| f.key)
            .collect();
        assert_eq!(
            keys[keys.len() - 4..],
            [
                "config.json",
                "config.json.br",
                "index.html",
                "index.html.br"
            ]
        );
    }

    /// Brotli at quality 11 with the largest window: smaller than a quick setting on the same bytes.
    #[test]
    fn compresses_at_brotlis_best() {
        let text: Vec<u8> = (0..2_000u32)
            .flat_map(|i| {
                format!("<li class=\"row-{}\">{}</li>", i % 97, i * 7919 % 1000).into_bytes()
            })
            .collect();
        let quick = {
            let params = brotli::enc::BrotliEncoderParams {
                quality: 4,
                ..Default::default()
            };
            let mut out = Vec::new();
            brotli::BrotliCompress(&mut &text[..], &mut out, &params).unwrap();
            out
        };
        let best = brotli(&text);
        assert_eq!(unbrotli(&best), text);
        assert!(
            best.len() < quick.len(),
            "{} vs {}",
            best.len(),
            quick.len()
        );
    }

    #[test]
    fn wasm_is_served_as_wasm() {
        assert_eq!(
            content_type("chatty-app-1f2e3d4c5b6a7980_bg.wasm"),
            "application/wasm"
        );
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
    }
}
