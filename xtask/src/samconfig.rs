//! What `cargo xtask deploy` reads from `samconfig.toml`: the region `sam deploy --guided` saved, which every
//! `aws` call of the deploy uses (unless `--region` says otherwise) so the upload goes to the region the stack
//! is in, not to whatever the environment's AWS configuration defaults to; and the saved parameter overrides,
//! which the deploy must repeat when it overrides one parameter itself (SAM takes a command line's
//! `--parameter-overrides` instead of the saved ones, not on top of them).

use anyhow::{Context, Result};

/// The region saved for the `default` environment: `[default.deploy.parameters] region`, where `sam deploy
/// --guided` writes it, else `[default.global.parameters] region` (which it also writes, and people set by
/// hand). `None` before the first guided deploy.
pub fn saved_region(samconfig: &str) -> Result<Option<String>> {
    let config = parse(samconfig)?;
    let region_in = |command: &str| {
        parameter(&config, command, "region")
            .and_then(toml::Value::as_str)
            .map(str::trim)
            .filter(|region| !region.is_empty())
            .map(str::to_owned)
    };
    Ok(region_in("deploy").or_else(|| region_in("global")))
}

/// `[default.deploy.parameters] parameter_overrides`: the `Key="Value"` string `sam deploy --guided` saves
/// (or a list of them), in order.
pub fn saved_parameter_overrides(samconfig: &str) -> Result<Vec<String>> {
    let config = parse(samconfig)?;
    Ok(match parameter(&config, "deploy", "parameter_overrides") {
        Some(toml::Value::String(all)) => vec![all.clone()],
        Some(toml::Value::Array(each)) => each
            .iter()
            .filter_map(toml::Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    })
}

fn parse(samconfig: &str) -> Result<toml::Table> {
    samconfig.parse().context("samconfig.toml is not TOML")
}

fn parameter<'c>(config: &'c toml::Table, command: &str, key: &str) -> Option<&'c toml::Value> {
    config
        .get("default")?
        .get(command)?
        .get("parameters")?
        .get(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `sam deploy --guided` writes: the region in the deploy section (and the global one).
    #[test]
    fn reads_the_region_guided_deploy_saved() {
        let text = r#"
version = 0.1
[default.global.parameters]
stack_name = "chatty"
region = "eu-central-1"
[default.deploy.parameters]
region = "eu-west-1"
parameter_overrides = "GoogleClientId=\"x\""
"#;
        assert_eq!(saved_region(text).unwrap().as_deref(), Some("eu-west-1"));
        assert_eq!(
            saved_parameter_overrides(text).unwrap(),
            [r#"GoogleClientId="x""#]
        );
        let global_only = "[default.global.parameters]\nregion = \"ap-south-1\"\n";
        assert_eq!(
            saved_region(global_only).unwrap().as_deref(),
            Some("ap-south-1")
        );
    }

    /// The committed samconfig.toml has no region (a guided deploy adds it), and another environment's
    /// region is not the default one's.
    #[test]
    fn no_region_before_the_first_guided_deploy() {
        let committed = include_str!("../../samconfig.toml");
        assert_eq!(saved_region(committed).unwrap(), None);
        let other_env = "[staging.deploy.parameters]\nregion = \"us-west-2\"\n";
        assert_eq!(saved_region(other_env).unwrap(), None);
    }
}
