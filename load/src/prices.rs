//! The one price table: what AWS charges, in US East (N. Virginia), on demand, for each billable thing a
//! message's path does; [`crate::bill`] multiplies the counts by it. No free tier is subtracted (it is
//! per account and month, not per message), and volume tiers beyond the first are ignored (a chat reaches
//! them only past a billion messages a month).
//!
//! Read 2026-12-02 from AWS's pricing pages (the pages' rate tables render from price tokens; the
//! numbers below are the ones their text and worked examples state, checked against the sources named):
//!
//! | item | price | source |
//! |---|---|---|
//! | API Gateway WebSocket messages, sent or received | $1.00 per million (first billion a month), metered in 32 KB units: a 33 KB message is two | <https://aws.amazon.com/api-gateway/pricing/> (messages are metered in 32 KB increments) |
//! | API Gateway connection minutes | $0.25 per million | the same page |
//! | Lambda requests | $0.20 per million | <https://aws.amazon.com/lambda/pricing/> |
//! | Lambda duration, arm64 (template.yaml's `Architectures: [arm64]`) | $0.0000133334 per GB-second (first 7.5 billion GB-s a month; x86: $0.0000166667), billed by the millisecond, rounded up | the same page |
//! | SQS FIFO requests | $0.50 per million (first 100 billion a month); each 64 KB chunk of a call's payload is one request; every call counts, empty receives included | <https://aws.amazon.com/sqs/pricing/> |
//! | ElastiCache Serverless, Valkey (template.yaml's `Engine: valkey`), ECPUs | $0.0023 per million (Redis OSS: $0.0034) | <https://aws.amazon.com/elasticache/pricing/> |
//!
//! What an ECPU is (ElastiCache's pricing page): "Reads and writes require 1 ECPU for each kilobyte (KB) of
//! data transferred … Commands that require additional vCPU time or transfer more than 1 KB of data will
//! consume proportionally more ECPUs." AWS publishes no formula for scripts. [`crate::bill`] estimates from
//! what Redis itself counts: one ECPU for every command run (a script call and each command it runs
//! counting one each) plus one per KB sent or received. That is an upper bound of the rule for simple
//! commands (each the higher of 1 and its KB, never their sum); for scripts it charges their vCPU time as
//! the commands they run. At $0.0023 per million even a tenfold error moves no total in this table.
//!
//! Lambda's memory is template.yaml's `Globals.Function.MemorySize`, the same for every function (a test
//! holds the two together).

/// Prices, in US dollars, per million of each unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    /// API Gateway WebSocket messages (32 KB units), sent or received.
    pub api_messages: f64,
    /// API Gateway connection minutes.
    pub api_connection_minutes: f64,
    /// Lambda invocations.
    pub lambda_requests: f64,
    /// Lambda duration, per million GB-seconds.
    pub lambda_gb_seconds: f64,
    /// Every function's memory, in MB.
    pub lambda_memory_mb: u32,
    /// SQS FIFO requests (64 KB units).
    pub sqs_requests: f64,
    /// ElastiCache Serverless ECPUs.
    pub ecpus: f64,
}

/// us-east-1, on demand, read 2026-12-02 (see the module docs for each source).
pub const US_EAST_1: Prices = Prices {
    api_messages: 1.00,
    api_connection_minutes: 0.25,
    lambda_requests: 0.20,
    lambda_gb_seconds: 0.000_013_333_4 * 1e6,
    lambda_memory_mb: 256,
    sqs_requests: 0.50,
    ecpus: 0.0023,
};

#[cfg(test)]
mod tests {
    use super::*;

    /// The table prices what template.yaml deploys: every function's memory and arm64 (whose duration
    /// price this is), and a Valkey cache (whose ECPU price this is).
    #[test]
    fn the_prices_match_what_the_template_deploys() {
        let template =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
                .expect("template.yaml");
        let globals = template
            .split("Globals:")
            .nth(1)
            .and_then(|rest| rest.split("Resources:").next())
            .expect("a Globals section");
        assert!(
            globals.contains(&format!("MemorySize: {}", US_EAST_1.lambda_memory_mb)),
            "{globals}"
        );
        assert!(globals.contains("Architectures: [arm64]"), "{globals}");
        assert!(
            !template
                .split("Resources:")
                .nth(1)
                .unwrap()
                .contains("MemorySize:"),
            "a function sets its own memory: price it here"
        );
        assert!(template.contains("Engine: valkey"));
    }
}
