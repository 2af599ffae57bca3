//! What counted calls cost: a [`Bill`] per message from a [`Usage`] (the gateway's meter between two
//! readings), a [`RedisInfo`] (Redis's counters between the same two) and the [`Sent`] messages, priced by
//! a [`Prices`] table. Pure arithmetic, tested on its own.
//!
//! The floor is API Gateway's charge for the frames the messages had to be delivered as: a message to a
//! room of N is N frames (each under 32 KB, one billed message), which any design on API Gateway pays.
//! Frames sent beyond those (a message handed out twice and delivered again) are a line of their own.
//! Every line is also given as a multiple of the floor, and the bill's ratio is its total over it.

use serde::Serialize;

use crate::{prices::Prices, servers::RedisInfo};

use lambdas::meter::{FunctionUsage, QueueUsage, Usage};

/// One billable item, per message sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub item: String,
    /// How many of the item's unit one message used.
    pub per_message: f64,
    pub unit: &'static str,
    /// Dollars per million messages sent.
    pub dollars_per_million: f64,
}

/// What a message cost, line by line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bill {
    pub messages: u64,
    /// The first line is always the floor (API Gateway's outbound frames).
    pub lines: Vec<Line>,
    /// Dollars per million messages: the floor, and everything.
    pub floor: f64,
    pub total: f64,
}

/// What was sent while the counts were taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sent {
    pub messages: u64,
    /// The frames they had to be delivered as: each message once to each member of its room.
    pub frames: u64,
}

impl Bill {
    /// Prices `usage` and `redis`, what the `sent` messages did.
    pub fn of(usage: &Usage, redis: &RedisInfo, sent: Sent, prices: &Prices) -> Self {
        let Sent { messages, frames } = sent;
        let per_message = |count: f64| {
            if messages == 0 {
                0.0
            } else {
                count / messages as f64
            }
        };
        // Each line's price is per million units; per million messages, a line costs
        // (units per message) × (dollars per million units).
        let line = |item: &str, count: f64, unit: &'static str, price_per_million: f64| {
            let quantity = per_message(count);
            Line {
                item: item.to_owned(),
                per_message: quantity,
                unit,
                dollars_per_million: quantity * price_per_million,
            }
        };
        let gb = f64::from(prices.lambda_memory_mb) / 1024.0;
        let mut lines = vec![
            line(
                "API Gateway messages out (the floor)",
                frames as f64,
                "messages",
                prices.api_messages,
            ),
            line(
                "API Gateway messages out, beyond the floor",
                usage.api.frames_out.saturating_sub(frames) as f64,
                "messages",
                prices.api_messages,
            ),
            line(
                "API Gateway messages in",
                usage.api.frames_in as f64,
                "messages",
                prices.api_messages,
            ),
            line(
                "API Gateway connection minutes",
                usage.api.connection_ms as f64 / 60_000.0,
                "minutes",
                prices.api_connection_minutes,
            ),
        ];
        let functions: [(&str, &FunctionUsage); 4] = [
            ("authorizer", &usage.authorizer),
            ("gateway", &usage.gateway),
            ("registry", &usage.registry),
            ("sender", &usage.sender),
        ];
        for (name, function) in functions {
            lines.push(line(
                &format!("Lambda {name}: invocations"),
                function.invocations as f64,
                "requests",
                prices.lambda_requests,
            ));
            lines.push(line(
                &format!("Lambda {name}: duration"),
                function.billed_ms as f64 / 1000.0 * gb,
                "GB-s",
                prices.lambda_gb_seconds,
            ));
        }
        let queues: [(&str, &QueueUsage); 2] = [
            ("command", &usage.commands),
            ("delivery", &usage.deliveries),
        ];
        for (name, queue) in queues {
            lines.push(line(
                &format!("SQS {name} queue"),
                queue.requests as f64,
                "requests",
                prices.sqs_requests,
            ));
        }
        lines.push(line(
            "ElastiCache ECPUs (estimate)",
            ecpus(redis),
            "ECPUs",
            prices.ecpus,
        ));
        let floor = lines[0].dollars_per_million;
        let total = lines.iter().map(|l| l.dollars_per_million).sum();
        Self {
            messages,
            lines,
            floor,
            total,
        }
    }

    /// Everything over the floor: 1.0 is a message that costs only its outbound frames.
    pub fn ratio(&self) -> f64 {
        if self.floor > 0.0 {
            self.total / self.floor
        } else {
            0.0
        }
    }
}

/// The ECPUs `redis` is estimated to have cost (see [`crate::prices`]): one per command run, scripts and
/// the commands they ran each counting one, plus one per KB sent or received.
pub fn ecpus(redis: &RedisInfo) -> f64 {
    redis.commands() as f64 + (redis.bytes_in + redis.bytes_out) as f64 / 1024.0
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use lambdas::meter::ApiUsage;

    use super::*;
    use crate::prices::US_EAST_1;

    /// One price of each: every line's dollars are its count per message times its price per million.
    const UNIT_PRICES: Prices = Prices {
        api_messages: 1.0,
        api_connection_minutes: 1.0,
        lambda_requests: 1.0,
        lambda_gb_seconds: 1.0,
        lambda_memory_mb: 512,
        sqs_requests: 1.0,
        ecpus: 1.0,
    };

    fn line<'a>(bill: &'a Bill, item: &str) -> &'a Line {
        bill.lines
            .iter()
            .find(|l| l.item == item)
            .unwrap_or_else(|| panic!("no line {item}"))
    }

    fn usage() -> Usage {
        Usage {
            api: ApiUsage {
                frames_in: 100,
                frames_out: 1_000,
                posts: 1_000,
                connection_ms: 6_000_000,
            },
            gateway: FunctionUsage {
                invocations: 100,
                billed_ms: 2_000,
            },
            registry: FunctionUsage {
                invocations: 50,
                billed_ms: 4_000,
            },
            commands: QueueUsage {
                requests: 300,
                ..QueueUsage::default()
            },
            deliveries: QueueUsage {
                requests: 250,
                ..QueueUsage::default()
            },
            ..Usage::default()
        }
    }

    fn redis() -> RedisInfo {
        RedisInfo {
            calls: BTreeMap::from([("evalsha".to_owned(), 200), ("hget".to_owned(), 800)]),
            bytes_in: 51_200,
            bytes_out: 51_200,
            own_reply_bytes: 0,
        }
    }

    const SENT: Sent = Sent {
        messages: 100,
        frames: 1_000,
    };

    /// 100 messages to rooms of 10: per message 10 frames out (the floor), 1 in, 1 connection minute, a
    /// gateway invocation of 20 ms, half a registry invocation of 80 ms, 5.5 SQS requests and 11 ECPUs.
    #[test]
    fn each_line_is_its_count_per_message_times_its_price() {
        let bill = Bill::of(&usage(), &redis(), SENT, &UNIT_PRICES);
        assert_eq!(bill.lines[0].item, "API Gateway messages out (the floor)");
        assert_eq!(bill.floor, 10.0);
        assert_eq!(
            line(&bill, "API Gateway messages out, beyond the floor").per_message,
            0.0
        );
        assert_eq!(line(&bill, "API Gateway messages in").per_message, 1.0);
        assert_eq!(
            line(&bill, "API Gateway connection minutes").per_message,
            1.0
        );
        assert_eq!(line(&bill, "Lambda gateway: invocations").per_message, 1.0);
        // 2,000 ms over 100 invocations at 0.5 GB: 0.01 GB-s a message.
        assert_eq!(line(&bill, "Lambda gateway: duration").per_message, 0.01);
        assert_eq!(line(&bill, "Lambda registry: invocations").per_message, 0.5);
        assert_eq!(line(&bill, "Lambda registry: duration").per_message, 0.02);
        assert_eq!(line(&bill, "Lambda sender: invocations").per_message, 0.0);
        assert_eq!(line(&bill, "SQS command queue").per_message, 3.0);
        assert_eq!(line(&bill, "SQS delivery queue").per_message, 2.5);
        // 1,000 commands and 100 KB over 100 messages.
        assert_eq!(
            line(&bill, "ElastiCache ECPUs (estimate)").per_message,
            11.0
        );
        let sum: f64 = bill.lines.iter().map(|l| l.per_message).sum();
        assert!((bill.total - sum).abs() < 1e-9, "{} vs {sum}", bill.total);
        assert!((bill.ratio() - sum / 10.0).abs() < 1e-9);
    }

    /// Frames beyond what the messages needed (a delivery handed out twice) cost on top of the floor.
    #[test]
    fn frames_sent_twice_are_priced_beyond_the_floor() {
        let mut usage = usage();
        usage.api.frames_out = 1_050;
        let bill = Bill::of(&usage, &redis(), SENT, &UNIT_PRICES);
        assert_eq!(bill.floor, 10.0);
        let beyond = line(&bill, "API Gateway messages out, beyond the floor");
        assert_eq!(beyond.dollars_per_million, 0.5);
    }

    /// With the real table: ten frames out a message are $10 per million messages, and one SQS request
    /// a message is $0.50 per million.
    #[test]
    fn the_real_table_prices_a_million_messages() {
        let bill = Bill::of(&usage(), &redis(), SENT, &US_EAST_1);
        assert!((bill.floor - 10.0).abs() < 1e-9);
        assert!((line(&bill, "SQS command queue").dollars_per_million - 1.5).abs() < 1e-9);
        // 1 invocation of 20 ms at 256 MB a message: 0.005 GB-s, $0.0000000667, $0.0667 per million.
        let duration = line(&bill, "Lambda gateway: duration").dollars_per_million;
        assert!((duration - 0.005 * 13.333_4).abs() < 1e-9, "{duration}");
        assert!(bill.ratio() > 1.0);
    }

    #[test]
    fn no_messages_cost_nothing_per_message() {
        let nothing = Sent {
            messages: 0,
            frames: 0,
        };
        let bill = Bill::of(&usage(), &redis(), nothing, &UNIT_PRICES);
        assert_eq!((bill.floor, bill.total, bill.ratio()), (0.0, 0.0, 0.0));
    }
}
