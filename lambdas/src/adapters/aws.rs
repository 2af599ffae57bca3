//! The AWS SDK configuration every AWS adapter shares: region and credentials from the environment (the
//! Lambda runtime sets them), one HTTP client on rustls with ring (the one TLS stack of the whole backend;
//! it cross-compiles to aarch64 with cargo-lambda's zig), and an optional endpoint override for emulators.

use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::{
    tls::{rustls_provider::CryptoMode, Provider},
    Builder,
};

/// Loads the SDK configuration. `endpoint` replaces every service's endpoint (an emulator such as
/// `http://127.0.0.1:5000`); `None` uses AWS's.
pub async fn sdk_config(endpoint: Option<&str>) -> SdkConfig {
    let mut loader = sdk_loader();
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// The loader [`sdk_config`] uses, for a caller that sets more (an operator's region and profile).
pub fn sdk_loader() -> ConfigLoader {
    let http_client = Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest()).http_client(http_client)
}
