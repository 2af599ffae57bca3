//! `cargo xtask shrink-app`: what trunk's build leaves in the app that a first visit need not download, taken
//! out after every `trunk build` (Trunk.toml runs it as a `post_build` hook, on trunk's staging directory, so
//! every path that builds the app gets it: `scripts/dev`, the browser suite, `cargo xtask deploy`).
//!
//! wasm-bindgen names each import `__wbg_<js name>_<16-digit hash>` and writes that name twice, in the wasm's
//! import section and as a key of the JS glue's import object; the hashes are random to brotli. [`shrink`]
//! names the imports by their position instead (`a`, `b`, … `ba`, …) in both files, the same way on every run.
//! It also drops what Leptos links but the app never calls: `server_fn` always links `wasm-streams`, whose
//! three JS classes ([`UNUSED_CLASSES`]) wasm-bindgen exports with the code behind them; without the classes,
//! every wasm export the glue no longer names goes, and with it (walrus's GC) every function, import and data
//! only they reached, and the import object's entries for the imports gone. The wasm's custom sections (the
//! shims' names, the producers, Rust's split marker) go too: a browser reads none of them. The page's
//! `integrity` hashes are written for the new files; their names keep trunk's hash, which still names one
//! content (the same input always gives the same output).
//!
//! Then [`optimize`] runs binaryen's `wasm-opt` on the wasm (release builds only), with the passes of
//! [`WASM_OPT_PASSES`]: `-O1` rather than `-Os` or `-Oz`, because brotli shrinks its output most, and dead
//! argument elimination between two rounds of it. `scripts/setup app` installs binaryen [`BINARYEN_VERSION`]
//! from npm into `~/.cache/chatty/binaryen` (Debian's is too old for what rustc emits), where [`wasm_opt`]
//! finds it.
//!
//! The glue loses its indentation and comment lines ([`minify_glue`]), then (release builds) goes through
//! terser ([`minify_js`]: its local names one letter long, its statements compressed); the stylesheets lose
//! their comments and the whitespace CSS ignores ([`minify_css`]). `scripts/setup app` installs terser
//! [`TERSER_VERSION`] from npm into `~/.cache/chatty/terser`, where [`terser`] finds it.
//!
//! The JS glue is read as wasm-bindgen 0.2 writes it (an `import0` object, one entry per import); anything
//! else is an error, so a new wasm-bindgen that writes it otherwise fails the build instead of shipping a
//! glue that does not match its wasm. A wasm that imports from [`IMPORT_MODULE`] only was shrunk already.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use sha2::Digest as _;

/// `wasm-streams`' exported classes: `server_fn` links them for streaming server functions, which the app
/// has none of.
pub const UNUSED_CLASSES: &[&str] = &[
    "IntoUnderlyingByteSource",
    "IntoUnderlyingSink",
    "IntoUnderlyingSource",
];

/// The module name the wasm imports the glue's functions from (wasm-bindgen's is `./<crate>_bg.js`).
const IMPORT_MODULE: &str = "w";

/// The binaryen `scripts/setup app` installs (npm's `binaryen` package, which runs its tools in Node), pinned:
/// another version optimizes differently, and the size budget holds this one's output.
pub const BINARYEN_VERSION: &str = "132.0.0";

/// The terser `scripts/setup app` installs (npm's `terser` package), pinned like binaryen: another version
/// minifies differently.
pub const TERSER_VERSION: &str = "5.51.4";

/// How terser minifies the glue: as an ES module (its top-level names are its own, its exports kept),
/// compressed, with local names mangled. 0.9 KB less to download (brotli) than the glue [`minify_glue`]
/// leaves.
const TERSER_OPTIONS: &[&str] = &["--module", "--compress", "--mangle"];

/// What `wasm-opt` runs: `-O1`, then `--dae-optimizing` (arguments and return values no caller uses taken
/// out of every function, constants every caller passes moved into the function, each function changed
/// optimized again), then `-O1` once more over what that uncovered: 0.65 KB less to download (brotli) than
/// `-O1` alone, where `-O2`, `-Os` and `-Oz` (which run `--dae-optimizing` themselves, with inlining) are
/// larger. app/README.md, "Size".
pub const WASM_OPT_PASSES: &[&str] = &["-O1", "--dae-optimizing", "-O1"];

/// The WebAssembly features rustc 1.95 emits for wasm32-unknown-unknown (without `reference-types`, which
/// .cargo/config.toml turns off), for `wasm-opt` to accept and keep.
const WASM_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-multivalue",
];

/// What [`shrink_dist`] did, in bytes before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shrunk {
    pub wasm: (usize, usize),
    pub js: (usize, usize),
    pub css: (usize, usize),
}

/// The programs a release build's files go through after [`shrink`]: binaryen's `wasm-opt` for the wasm,
/// terser for the JS glue.
#[derive(Debug, Clone)]
pub struct ReleaseTools {
    pub wasm_opt: PathBuf,
    pub terser: PathBuf,
}

impl ReleaseTools {
    /// Both, where `scripts/setup app` installs them (or as the environment names them): an error saying how
    /// to install whichever is missing.
    pub fn find() -> Result<Self> {
        Ok(Self {
            wasm_opt: wasm_opt()?,
            terser: terser()?,
        })
    }
}

/// Shrinks the built app in `dist` (trunk's staging directory or `app/dist`): its one `*_bg.wasm` and the JS
/// glue beside it ([`shrink`], then, with `release` tools, `wasm-opt`'s [`WASM_OPT_PASSES`] and
/// [`minify_js`]), its stylesheets ([`minify_css`]), and their `integrity` in `index.html`. An app already
/// shrunk is left as it is (`None`).
pub fn shrink_dist(dist: &Path, release: Option<&ReleaseTools>) -> Result<Option<Shrunk>> {
    let mut wasm_files = Vec::new();
    let mut css_files = Vec::new();
    for entry in std::fs::read_dir(dist).with_context(|| format!("reading {}", dist.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.ends_with("_bg.wasm") {
            wasm_files.push(name);
        } else if name.ends_with(".css") {
            css_files.push(name);
        }
    }
    let [wasm_name] = &wasm_files[..] else {
        bail!(
            "{} should hold one *_bg.wasm, holds {wasm_files:?}: build the app first (`trunk build --release --offline`)",
            dist.display()
        );
    };
    let js_name = format!("{}.js", wasm_name.trim_end_matches("_bg.wasm"));
    let read = |name: &str| {
        std::fs::read(dist.join(name))
            .with_context(|| format!("reading {}", dist.join(name).display()))
    };
    let wasm = read(wasm_name)?;
    let js = String::from_utf8(read(&js_name)?).context("the JS glue is not UTF-8")?;
    let html = String::from_utf8(read("index.html")?).context("index.html is not UTF-8")?;
    if imports_renamed(&wasm)? {
        return Ok(None);
    }
    let (mut new_wasm, mut new_js) = shrink(&wasm, &js)?;
    if let Some(tools) = release {
        new_wasm = optimize(&tools.wasm_opt, &new_wasm, &dist.join(wasm_name))?;
        new_js = minify_js(&tools.terser, &new_js, &dist.join(&js_name))?;
    }
    let mut html = set_integrity(&html, wasm_name, &new_wasm)?;
    html = set_integrity(&html, &js_name, new_js.as_bytes())?;
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(dist.join(name), bytes)
            .with_context(|| format!("writing {}", dist.join(name).display()))
    };
    let mut css_sizes = (0, 0);
    for name in css_files {
        let css = String::from_utf8(read(&name)?).context("a stylesheet is not UTF-8")?;
        let minified = minify_css(&css);
        css_sizes = (css_sizes.0 + css.len(), css_sizes.1 + minified.len());
        html = set_integrity(&html, &name, minified.as_bytes())?;
        write(&name, minified.as_bytes())?;
    }
    write(wasm_name, &new_wasm)?;
    write(&js_name, new_js.as_bytes())?;
    write("index.html", html.as_bytes())?;
    Ok(Some(Shrunk {
        wasm: (wasm.len(), new_wasm.len()),
        js: (js.len(), new_js.len()),
        css: css_sizes,
    }))
}

/// Where `scripts/setup app` installs binaryen's `wasm-opt`, or `$CHATTY_WASM_OPT`; an error saying how to
/// install it when it is not there at [`BINARYEN_VERSION`].
pub fn wasm_opt() -> Result<PathBuf> {
    let major = BINARYEN_VERSION.split('.').next().unwrap_or_default();
    npm_tool(
        "CHATTY_WASM_OPT",
        ("binaryen", BINARYEN_VERSION),
        "wasm-opt",
        &format!("version {major} "),
    )
}

/// Where `scripts/setup app` installs terser, or `$CHATTY_TERSER`; an error saying how to install it when it
/// is not there at [`TERSER_VERSION`].
pub fn terser() -> Result<PathBuf> {
    npm_tool(
        "CHATTY_TERSER",
        ("terser", TERSER_VERSION),
        "terser",
        &format!("terser {TERSER_VERSION}"),
    )
}

/// The program `$var` names, else `binary` of npm's `package` as `scripts/setup app` installs it (into
/// `~/.cache/chatty/<package>`), when its `--version` says `says`.
fn npm_tool(var: &str, package: (&str, &str), binary: &str, says: &str) -> Result<PathBuf> {
    let (name, version) = package;
    let path = match std::env::var_os(var) {
        Some(path) => PathBuf::from(path),
        None => {
            let home = std::env::var_os("HOME").context("HOME is not set")?;
            Path::new(&home).join(format!(".cache/chatty/{name}/node_modules/.bin/{binary}"))
        }
    };
    let out = Command::new(&path).arg("--version").output().ok();
    if !out.is_some_and(|out| String::from_utf8_lossy(&out.stdout).contains(says)) {
        bail!(
            "{} is not {name} {version}'s {binary}: run `scripts/setup app`",
            path.display()
        );
    }
    Ok(path)
}

/// `wasm` through `wasm_opt` with [`WASM_OPT_PASSES`], by way of `scratch` (overwritten).
fn optimize(wasm_opt: &Path, wasm: &[u8], scratch: &Path) -> Result<Vec<u8>> {
    let mut command = Command::new(wasm_opt);
    command
        .args(WASM_OPT_PASSES)
        .args(WASM_FEATURES)
        .arg(scratch)
        .arg("-o")
        .arg(scratch);
    rewrite_in_place(command, wasm, scratch)
}

/// `js` through `terser` with [`TERSER_OPTIONS`], by way of `scratch` (overwritten).
fn minify_js(terser: &Path, js: &str, scratch: &Path) -> Result<String> {
    let mut command = Command::new(terser);
    command
        .arg(scratch)
        .args(TERSER_OPTIONS)
        .arg("--output")
        .arg(scratch);
    String::from_utf8(rewrite_in_place(command, js.as_bytes(), scratch)?)
        .context("terser's output is not UTF-8")
}

/// `bytes` written to `scratch`, rewritten there by `command` (which names `scratch` among its arguments),
/// and read back.
fn rewrite_in_place(mut command: Command, bytes: &[u8], scratch: &Path) -> Result<Vec<u8>> {
    std::fs::write(scratch, bytes).with_context(|| format!("writing {}", scratch.display()))?;
    let status = command
        .status()
        .with_context(|| format!("running {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed ({status})");
    }
    std::fs::read(scratch).with_context(|| format!("reading {}", scratch.display()))
}

/// Whether every import of `wasm` comes from [`IMPORT_MODULE`]: [`shrink`] renamed them already.
fn imports_renamed(wasm: &[u8]) -> Result<bool> {
    let module = walrus::Module::from_buffer(wasm).context("reading the app's wasm")?;
    let renamed = module.imports.iter().all(|i| i.module == IMPORT_MODULE);
    Ok(renamed)
}

/// The wasm and its JS glue without [`UNUSED_CLASSES`] and what only they reach, with short import names.
pub fn shrink(wasm: &[u8], js: &str) -> Result<(Vec<u8>, String)> {
    let mut js = js.to_owned();
    for class in UNUSED_CLASSES {
        js = remove_class(&js, class)?;
    }

    let mut config = walrus::ModuleConfig::new();
    config
        .generate_producers_section(false)
        .generate_name_section(false);
    let mut module = config.parse(wasm).context("reading the app's wasm")?;
    let unnamed: Vec<_> = module
        .exports
        .iter()
        .filter(|export| !names_export(&js, &export.name))
        .map(|export| export.id())
        .collect();
    for id in unnamed {
        module.exports.delete(id);
    }
    let customs: Vec<_> = module.customs.iter().map(|(id, _)| id).collect();
    for id in customs {
        module.customs.delete(id);
    }
    walrus::passes::gc::run(&mut module);

    let imports = ImportObject::find(&js)?;
    let mut renamed = HashMap::new();
    for (index, import) in module.imports.iter_mut().enumerate() {
        if import.module != imports.module {
            bail!(
                "the wasm imports {}.{}, not from the glue's module {:?}",
                import.module,
                import.name,
                imports.module
            );
        }
        let short = short_name(index);
        renamed.insert(std::mem::replace(&mut import.name, short.clone()), short);
        import.module = IMPORT_MODULE.to_owned();
    }
    let js = imports.rewrite(&js, &renamed)?;
    Ok((module.emit_wasm(), minify_glue(&js)))
}

/// Whether the glue calls the wasm export `name` (`wasm.<name>`).
fn names_export(js: &str, name: &str) -> bool {
    let needle = format!("wasm.{name}");
    js.match_indices(&needle).any(|(at, _)| {
        !js[at + needle.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
    })
}

/// `js` without the exported class `name`: its `export class` block, its `Symbol.dispose` line and its
/// `<name>Finalization` registry. Unchanged when the glue has no such class.
fn remove_class(js: &str, name: &str) -> Result<String> {
    let start_marker = format!("export class {name} {{\n");
    let Some(start) = js.find(&start_marker) else {
        return Ok(js.to_owned());
    };
    let end = start
        + js[start..]
            .find("\n}\n")
            .with_context(|| format!("the glue's class {name} has no end"))?
        + 3;
    let mut out = format!("{}{}", &js[..start], &js[end..]);
    let dispose =
        format!("if (Symbol.dispose) {name}.prototype[Symbol.dispose] = {name}.prototype.free;\n");
    out = out.replacen(&dispose, "", 1);
    let registry = format!("const {name}Finalization = ");
    if let Some(at) = out.find(&registry) {
        let end = at
            + out[at..]
                .find(");\n")
                .with_context(|| format!("{name}Finalization has no end"))?
            + 3;
        out.replace_range(at..end, "");
    }
    if out.contains(name) {
        bail!("the glue still names {name} after its class was taken out");
    }
    Ok(out)
}

/// The glue's import object, as wasm-bindgen 0.2 writes it:
///
/// ```js
/// function __wbg_get_imports() {
///     const import0 = {
///         __proto__: null,
///         <name>: function(arg0) {
///             …
///         },
///     };
///     return {
///         __proto__: null,
///         "./<crate>_bg.js": import0,
///     };
/// }
/// ```
struct ImportObject {
    /// Where its entries begin and end in the glue.
    entries: std::ops::Range<usize>,
    /// The module name the wasm imports them from.
    module: String,
    /// Where the module name's key is in the glue (quoted).
    module_key: std::ops::Range<usize>,
}

const ENTRIES_START: &str = "    const import0 = {\n        __proto__: null,\n";
const ENTRIES_END: &str = "    };\n    return {\n        __proto__: null,\n        \"";

impl ImportObject {
    fn find(js: &str) -> Result<Self> {
        let start = js
            .find(ENTRIES_START)
            .context("the JS glue has no `const import0 = {` as wasm-bindgen 0.2 writes it")?
            + ENTRIES_START.len();
        let end = start
            + js[start..]
                .find(ENTRIES_END)
                .context("the glue's import object has no end")?;
        let key_start = end + ENTRIES_END.len() - 1;
        let key_len = js[key_start + 1..]
            .find("\": import0,")
            .context("the glue's import object has no module name")?
            + 2;
        Ok(Self {
            entries: start..end,
            module: js[key_start + 1..key_start + key_len - 1].to_owned(),
            module_key: key_start..key_start + key_len,
        })
    }

    /// The glue with each entry renamed as `renamed` says, the entries it does not name dropped (the wasm
    /// no longer imports them), and the module name [`IMPORT_MODULE`].
    fn rewrite(&self, js: &str, renamed: &HashMap<String, String>) -> Result<String> {
        let mut entries = String::new();
        let mut kept = 0;
        for entry in split_entries(&js[self.entries.clone()])? {
            let (name, rest) = entry
                .trim_start()
                .split_once(':')
                .context("an import entry without a name")?;
            if let Some(new) = renamed.get(name) {
                entries.push_str(&format!("        {new}:{rest}"));
                kept += 1;
            }
        }
        if kept != renamed.len() {
            bail!(
                "the wasm has {} imports, the glue's import object {kept} of them",
                renamed.len()
            );
        }
        Ok(format!(
            "{}{entries}{}\"{IMPORT_MODULE}\"{}",
            &js[..self.entries.start],
            &js[self.entries.end..self.module_key.start],
            &js[self.module_key.end..]
        ))
    }
}

/// The import object's entries, each from its 8-space-indented `name:` line to the line before the next.
fn split_entries(entries: &str) -> Result<Vec<&str>> {
    let mut starts: Vec<usize> = Vec::new();
    let mut at = 0;
    for line in entries.split_inclusive('\n') {
        let indented = line.strip_prefix("        ");
        if indented.is_some_and(|l| !l.starts_with(' ') && !l.starts_with('}')) {
            starts.push(at);
        }
        at += line.len();
    }
    if starts.first() != Some(&0) {
        bail!("the glue's import object does not start with an entry");
    }
    starts.push(entries.len());
    Ok(starts.windows(2).map(|w| &entries[w[0]..w[1]]).collect())
}

/// `js` without its indentation, blank lines and whole-line `//` comments (wasm-bindgen's glue has many of
/// both): every line break stays, so statements end where they did. Lines inside a template literal that
/// spans lines are kept as written; a glue whose backticks do not pair up is returned as it is.
pub fn minify_glue(js: &str) -> String {
    let mut out = String::with_capacity(js.len());
    let mut in_template = false;
    for line in js.split_inclusive('\n') {
        let starts_in_template = in_template;
        let trimmed = line.trim_start();
        let comment = !starts_in_template && trimmed.starts_with("//");
        if !comment {
            let mut escaped = false;
            for c in line.chars() {
                match c {
                    '\\' => escaped = !escaped,
                    '`' if !escaped => in_template = !in_template,
                    _ => escaped = false,
                }
            }
        }
        if starts_in_template {
            out.push_str(line);
        } else if !comment && !trimmed.trim_end().is_empty() {
            out.push_str(trimmed);
        }
    }
    if in_template {
        return js.to_owned();
    }
    out
}

/// `css` without its comments and the whitespace CSS ignores: each run of whitespace becomes one space, and
/// none is left beside `{`, `}` and `;` (nor a `;` before `}`); strings are kept as written. What trunk's own
/// `--minify` would do to the stylesheet, without its HTML minifier, whose unquoted `<script type=module>`
/// the deploy's loader move does not recognise.
pub fn minify_css(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let mut chars = css.chars().peekable();
    let mut space = false;
    let punctuation = |out: &String| out.is_empty() || out.ends_with(['{', '}', ';']);
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut previous = ' ';
                for c in chars.by_ref() {
                    if previous == '*' && c == '/' {
                        break;
                    }
                    previous = c;
                }
                space = true;
            }
            c if c.is_whitespace() => space = true,
            '{' | '}' | ';' => {
                if c == '}' && out.ends_with(';') {
                    out.pop();
                }
                out.push(c);
                space = false;
            }
            _ => {
                if space && !punctuation(&out) {
                    out.push(' ');
                }
                space = false;
                out.push(c);
                if c == '"' || c == '\'' {
                    while let Some(inner) = chars.next() {
                        out.push(inner);
                        if inner == '\\' {
                            out.extend(chars.next());
                        } else if inner == c {
                            break;
                        }
                    }
                }
            }
        }
    }
    out
}

/// The `index`th short name: `a`…`z`, `A`…`Z`, then two letters and more.
fn short_name(mut index: usize) -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut name = vec![LETTERS[index % LETTERS.len()]];
    index /= LETTERS.len();
    while index > 0 {
        index -= 1;
        name.push(LETTERS[index % LETTERS.len()]);
        index /= LETTERS.len();
    }
    name.reverse();
    String::from_utf8(name).expect("ASCII")
}

/// `html` with the `integrity` of the tag whose `href` is `/<file>` set to `bytes`' SHA-384, as trunk writes
/// it. A page without such a tag is returned as it is (`--no-sri`).
fn set_integrity(html: &str, file: &str, bytes: &[u8]) -> Result<String> {
    let href = format!("href=\"/{file}\"");
    let Some(at) = html.find(&href) else {
        return Ok(html.to_owned());
    };
    // The whole tag: `integrity` may come before `href` as well as after it.
    let tag_start = html[..at].rfind('<').unwrap_or(0);
    let tag_end = tag_start
        + html[tag_start..]
            .find('>')
            .with_context(|| format!("the tag of {file} has no end"))?;
    let tag = &html[tag_start..tag_end];
    let Some(at) = tag.find("integrity=\"") else {
        return Ok(html.to_owned());
    };
    let value_start = tag_start + at + "integrity=\"".len();
    if !html[value_start..].starts_with("sha384-") {
        bail!("the integrity of {file} is not a SHA-384 (Trunk.toml or index.html changed trunk's default)");
    }
    let value_end = value_start
        + html[value_start..]
            .find('"')
            .context("an integrity without its closing quote")?;
    let digest = base64::engine::general_purpose::STANDARD.encode(sha2::Sha384::digest(bytes));
    Ok(format!(
        "{}sha384-{digest}{}",
        &html[..value_start],
        &html[value_end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A glue as wasm-bindgen 0.2 writes it, for [`app_wasm`]: one of wasm-streams' classes, two imports
    /// (one called only by the class's code) and the start function.
    const GLUE: &str = "\
export class IntoUnderlyingSource {
    pull(controller) {
        wasm.intounderlyingsource_pull(this.__wbg_ptr);
    }
}
if (Symbol.dispose) IntoUnderlyingSource.prototype[Symbol.dispose] = IntoUnderlyingSource.prototype.free;
function __wbg_get_imports() {
    const import0 = {
        __proto__: null,
        __wbg_alert_0123456789abcdef: function(arg0) {
            alert(arg0);
        },
        __wbg_enqueue_fedcba9876543210: function(arg0) {
            getObject(arg0).enqueue();
        },
    };
    return {
        __proto__: null,
        \"./app_bg.js\": import0,
    };
}
const IntoUnderlyingSourceFinalization = (typeof FinalizationRegistry === 'undefined')
    ? { register: () => {}, unregister: () => {} }
    : new FinalizationRegistry(ptr => wasm.__wbg_intounderlyingsource_free(ptr, 1));
function __wbg_finalize_init(instance) {
    wasm = instance.exports;
    wasm.__wbindgen_start();
}
";

    /// The wasm [`GLUE`] goes with: `__wbindgen_start` calls `alert`, the class's `pull` calls `enqueue`.
    fn app_wasm() -> Vec<u8> {
        let mut module = walrus::Module::default();
        let ty = module.types.add(&[walrus::ValType::I32], &[]);
        let (alert, _) = module.add_import_func("./app_bg.js", "__wbg_alert_0123456789abcdef", ty);
        let (enqueue, _) =
            module.add_import_func("./app_bg.js", "__wbg_enqueue_fedcba9876543210", ty);
        for (export, import) in [
            ("__wbindgen_start", alert),
            ("intounderlyingsource_pull", enqueue),
        ] {
            let mut body = walrus::FunctionBuilder::new(&mut module.types, &[], &[]);
            body.func_body().i32_const(0).call(import);
            let function = body.finish(vec![], &mut module.funcs);
            module.exports.add(export, function);
        }
        module.emit_wasm()
    }

    /// The class and everything only it reaches are gone from both files; the import left is named `a` in
    /// both.
    #[test]
    fn drops_the_stream_classes_and_names_imports_short() {
        let (wasm, js) = shrink(&app_wasm(), GLUE).unwrap();
        let module = walrus::Module::from_buffer(&wasm).unwrap();
        let imports: Vec<_> = module
            .imports
            .iter()
            .map(|i| (i.module.as_str(), i.name.as_str()))
            .collect();
        assert_eq!(imports, [("w", "a")]);
        let exports: Vec<_> = module.exports.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(exports, ["__wbindgen_start"]);
        assert!(!js.contains("IntoUnderlying"), "{js}");
        assert!(
            !js.contains("enqueue") && !js.contains("__wbg_alert"),
            "{js}"
        );
        assert!(
            js.contains("\na: function(arg0) {\nalert(arg0);\n},\n"),
            "{js}"
        );
        assert!(js.contains("\n\"w\": import0,\n"), "{js}");
    }

    /// The page's integrity hashes follow the rewritten files, and a second run changes nothing.
    #[test]
    fn rewrites_the_integrity_and_runs_once() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path();
        std::fs::write(dir.join("app-1f2e_bg.wasm"), app_wasm()).unwrap();
        std::fs::write(dir.join("app-1f2e.js"), GLUE).unwrap();
        std::fs::write(
            dir.join("index.html"),
            "<link rel=\"modulepreload\" href=\"/app-1f2e.js\" integrity=\"sha384-old\">\
             <link rel=\"preload\" integrity=\"sha384-old\" href=\"/app-1f2e_bg.wasm\" as=\"fetch\">",
        )
        .unwrap();
        let shrunk = shrink_dist(dir, None).unwrap().unwrap();
        assert!(shrunk.wasm.1 < shrunk.wasm.0 && shrunk.js.1 < shrunk.js.0);
        let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
        for file in ["app-1f2e.js", "app-1f2e_bg.wasm"] {
            let digest = base64::engine::general_purpose::STANDARD
                .encode(sha2::Sha384::digest(std::fs::read(dir.join(file)).unwrap()));
            assert!(
                html.contains(&format!("href=\"/{file}\" integrity=\"sha384-{digest}\""))
                    || html.contains(&format!("integrity=\"sha384-{digest}\" href=\"/{file}\"")),
                "{html}"
            );
        }
        let wasm = std::fs::read(dir.join("app-1f2e_bg.wasm")).unwrap();
        assert_eq!(shrink_dist(dir, None).unwrap(), None);
        assert_eq!(std::fs::read(dir.join("app-1f2e_bg.wasm")).unwrap(), wasm);
    }

    /// A glue wasm-bindgen wrote some other way is refused, not half rewritten.
    #[test]
    fn an_unknown_glue_is_an_error() {
        let err = shrink(&app_wasm(), "export function run() {}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("import0"), "{err}");
    }

    /// Comments and ignorable whitespace go; strings, and the spaces that separate selectors and values,
    /// stay.
    #[test]
    fn minifies_css() {
        let css = "/* colours */\n:root {\n  --font: \"Segoe UI\",  Arial;\n}\n\n.a  .b:hover,\n.c > .d { margin: 0 auto ; }\n\
                   .e::after { content: \"a  /* b */ \\\" }\"; }\n@media (min-width: 700px) { .f { color: red } }\n";
        assert_eq!(
            minify_css(css),
            ":root{--font: \"Segoe UI\", Arial}.a .b:hover, .c > .d{margin: 0 auto}\
             .e::after{content: \"a  /* b */ \\\" }\"}@media (min-width: 700px){.f{color: red}}"
        );
    }

    /// Indentation, blank lines and comment lines go; line breaks and template literals stay.
    #[test]
    fn minifies_the_glue() {
        let js = "function f(x) {\n    // why\n\n    const s = `a\n    // kept\n  b`;\n    return s; // note\n}\n";
        assert_eq!(
            minify_glue(js),
            "function f(x) {\nconst s = `a\n    // kept\n  b`;\nreturn s; // note\n}\n"
        );
        let unpaired = "const s = `a;\n    b\n";
        assert_eq!(minify_glue(unpaired), unpaired);
    }

    /// terser (as `scripts/setup app` installs it) shortens the glue's local names and keeps what the wasm and
    /// the page reach it by: the exports and the import object's keys.
    #[test]
    fn terser_keeps_the_exports_and_the_import_keys() {
        let js = "function __wbg_get_imports() {\n    const import0 = {\n        __proto__: null,\n        \
                  a: function(arg0) {\n            alert(arg0);\n        },\n    };\n    return {\n        \
                  __proto__: null,\n        \"w\": import0,\n    };\n}\n\
                  export function initSync(module) {\n    \
                  return new WebAssembly.Instance(module, __wbg_get_imports());\n}\n\
                  export default initSync;\n";
        let dir = tempfile::tempdir().unwrap();
        let out = minify_js(&terser().unwrap(), js, &dir.path().join("glue.js")).unwrap();
        assert!(out.len() < js.len() / 2, "{out}");
        for kept in ["a:function(", "alert(", "w:", "initSync", "export"] {
            assert!(out.contains(kept), "{kept} missing from {out}");
        }
        assert!(!out.contains("arg0") && !out.contains("import0"), "{out}");
    }

    #[test]
    fn short_names_count_in_letters() {
        let names: Vec<_> = [0, 25, 26, 51, 52, 53, 103, 104]
            .into_iter()
            .map(short_name)
            .collect();
        assert_eq!(names, ["a", "z", "A", "Z", "aa", "ab", "aZ", "ba"]);
    }
}
