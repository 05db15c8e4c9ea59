//! One load run's report (a table for people, JSON for machines) and the bar it is held to.

use super::is_flow_race;
use super::pressure::Pressure;
use crate::demo::cpu::CpuUse;
use crate::demo::{group_thousands, DemoReport, ErrorKind, LatencySummary};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// What the load ran against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The exchange (a node's WebSocket API).
    Exchange,
    /// The echo server.
    Echo,
}

/// Latency percentiles, microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p99_9: u64,
    /// 99.99th percentile.
    pub p99_99: u64,
    /// Largest.
    pub max: u64,
}

impl From<LatencySummary> for Percentiles {
    fn from(l: LatencySummary) -> Self {
        Percentiles {
            count: l.count,
            p50: l.p50,
            p90: l.p90,
            p99: l.p99,
            p99_9: l.p999,
            p99_99: l.p9999,
            max: l.max,
        }
    }
}

/// The settings a run used (for the record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunSettings {
    /// What the load ran against.
    pub target: Target,
    /// The WebSocket API address.
    pub url: String,
    /// Offered requests per second.
    pub target_rate: u64,
    /// Measured seconds (after the warm-up).
    pub duration_s: u64,
    /// Warm-up seconds (sent, not counted).
    pub warmup_s: u64,
    /// Connections (one trader each).
    pub connections: usize,
    /// Distinct accounts.
    pub accounts: usize,
    /// The mix, as given.
    pub mix: String,
    /// Symbols traded.
    pub symbols: Vec<String>,
    /// `sign` (every request signed) or `logon` (`session.logon`, then unsigned).
    pub auth: String,
    /// Most requests in flight per connection.
    pub max_in_flight: usize,
    /// Threads the load generator ran on (its tokio runtime's workers).
    pub client_threads: usize,
    /// The generator's tick in microseconds (how late at most, about, a request leaves).
    pub pace_us: u64,
    /// Connections subscribed to their user data streams.
    pub user_data: bool,
}

/// A run's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// The settings.
    pub settings: RunSettings,
    /// Counted requests sent.
    pub sent: u64,
    /// Responses to them (successes and error responses).
    pub responses: u64,
    /// Responses per second that arrived in the measured time (whenever they were due).
    pub achieved_rate: u64,
    /// Measured milliseconds (from the end of the warm-up to the stop).
    pub elapsed_ms: u64,
    /// Trades (fills in responses).
    pub trades: u64,
    /// Failed requests by error code (`timeout`, `closed`, `unanswered`, `other`, or the
    /// Binance code).
    pub errors: BTreeMap<String, u64>,
    /// Failed requests other than order-flow races ([`is_flow_race`]).
    pub failures: u64,
    /// Acknowledgement latency from the intended send time.
    pub ack_latency_us: Percentiles,
    /// New orders' latency from the intended send time to their first execution report
    /// (`None` unless measured).
    pub exec_report_latency_us: Option<Percentiles>,
    /// How late requests were queued on their connection after their intended send time
    /// (the load generator's own lag, part of the ack latency).
    pub send_lag_us: Percentiles,
    /// Connections that closed during the run.
    pub disconnected: usize,
    /// `/proc/loadavg` before the run (1, 5, 15 minutes).
    pub load_before: String,
    /// `/proc/loadavg` after the run.
    pub load_after: String,
    /// How much of the run's wall time some task waited for a CPU or for I/O, this run's
    /// own threads included.
    pub pressure: Pressure,
    /// CPU time over the measured window: the client's, and the server's when the bench
    /// started it (node or echo server; `None` for one given by `--url`).
    pub cpu: Option<CpuUse>,
    /// That CPU time per response that arrived in the window, nanoseconds.
    pub cpu_ns_per_response: CpuPerResponse,
}

/// CPU nanoseconds per answered request (`None` where not measured or nothing arrived).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CpuPerResponse {
    /// The load client.
    pub client: Option<u64>,
    /// The server under load.
    pub server: Option<u64>,
}

impl CpuPerResponse {
    fn of(cpu: Option<&CpuUse>, responses: u64) -> CpuPerResponse {
        let per = |us: Option<u64>| {
            let us = us?;
            (responses > 0).then(|| us.saturating_mul(1_000) / responses)
        };
        CpuPerResponse {
            client: per(cpu.and_then(|c| c.client_us)),
            server: per(cpu.and_then(|c| c.server_us)),
        }
    }
}

/// Failed requests that are not order-flow races.
pub fn failures(errors: &BTreeMap<ErrorKind, u64>) -> u64 {
    errors
        .iter()
        .filter(|(k, _)| !matches!(k, ErrorKind::Api(code) if is_flow_race(*code)))
        .map(|(_, n)| n)
        .sum()
}

impl RunReport {
    /// Builds the report from the traders' outcome.
    pub fn new(
        settings: RunSettings,
        demo: &DemoReport,
        exec_reports: bool,
        load_before: String,
        load_after: String,
    ) -> RunReport {
        RunReport {
            settings,
            sent: demo.sent,
            responses: demo.responses,
            achieved_rate: demo.throughput(),
            elapsed_ms: u64::try_from(demo.elapsed.as_millis()).unwrap_or(u64::MAX),
            trades: demo.trades,
            errors: demo
                .errors
                .iter()
                .map(|(k, n)| (k.to_string(), *n))
                .collect(),
            failures: failures(&demo.errors),
            ack_latency_us: demo.latency.into(),
            exec_report_latency_us: exec_reports.then(|| demo.exec_report_latency.into()),
            send_lag_us: demo.send_lag.into(),
            disconnected: demo.disconnected,
            load_before,
            load_after,
            pressure: Pressure::default(),
            cpu: demo.cpu,
            cpu_ns_per_response: CpuPerResponse::of(demo.cpu.as_ref(), demo.answered_in_window),
        }
    }

    /// Whether the run met the bar: p99 acknowledgement latency at most `p99_limit_us`, no
    /// failures, no lost connection, and at least 99% of the offered rate achieved.
    pub fn verdict(&self, p99_limit_us: u64) -> Verdict {
        let offered = self.settings.target_rate;
        if self.failures > 0 || self.disconnected > 0 {
            Verdict::Failed {
                why: format!(
                    "{} failed requests, {} connections lost",
                    self.failures, self.disconnected
                ),
            }
        } else if u128::from(self.achieved_rate) * 100 < u128::from(offered) * 99 {
            Verdict::Failed {
                why: format!(
                    "achieved {} of {} requests/s offered",
                    group_thousands(self.achieved_rate),
                    group_thousands(offered)
                ),
            }
        } else if self.ack_latency_us.count == 0 {
            Verdict::Failed {
                why: "no acknowledgement measured".into(),
            }
        } else if self.ack_latency_us.p99 > p99_limit_us {
            Verdict::Failed {
                why: format!(
                    "p99 {} us is above {} us",
                    self.ack_latency_us.p99, p99_limit_us
                ),
            }
        } else {
            Verdict::Met
        }
    }
}

/// A run held to the bar.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum Verdict {
    /// Met.
    Met,
    /// Not met, and why.
    Failed {
        /// The first reason found.
        why: String,
    },
}

fn ms(us: u64) -> String {
    format!("{}.{:03}", us / 1_000, us % 1_000)
}

/// The table header of [`RunReport::row`].
pub const ROW_HEADER: &str = "   offered/s   achieved/s   p50 ms   p90 ms   p99 ms p99.9 ms p99.99 ms   max ms  failures  load(1m)  cpu stall  server us  client us";

impl RunReport {
    /// One line of a sweep table (see [`ROW_HEADER`]).
    pub fn row(&self) -> String {
        let l = &self.ack_latency_us;
        format!(
            "{:>12} {:>12} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8} {:>9}  {:>8}  {:>9}  {:>9}  {:>9}",
            group_thousands(self.settings.target_rate),
            group_thousands(self.achieved_rate),
            ms(l.p50),
            ms(l.p90),
            ms(l.p99),
            ms(l.p99_9),
            ms(l.p99_99),
            ms(l.max),
            self.failures,
            self.load_before.split_whitespace().next().unwrap_or("-"),
            self.pressure.cpu(),
            us_text(self.cpu_ns_per_response.server),
            us_text(self.cpu_ns_per_response.client)
        )
    }
}

/// CPU nanoseconds per answer as microseconds with one decimal, or `-`.
fn us_text(ns: Option<u64>) -> String {
    ns.map_or_else(
        || "-".into(),
        |ns| format!("{}.{}", ns / 1_000, ns % 1_000 / 100),
    )
}

impl RunReport {
    /// `cpu          node 17.4 us per answer (1.04 cores), client 6.6 us per answer (0.40
    /// cores) in the measured window`.
    fn cpu_line(&self) -> String {
        let server = match self.settings.target {
            Target::Exchange => "node",
            Target::Echo => "echo server",
        };
        let cores = |us: Option<u64>| {
            let wall = self.cpu.map_or(0, |c| c.wall_us);
            match us {
                Some(us) if wall > 0 => {
                    let centi = us.saturating_mul(100) / wall;
                    format!(" ({}.{:02} cores)", centi / 100, centi % 100)
                }
                _ => String::new(),
            }
        };
        let part = |who: &str, ns: Option<u64>, us: Option<u64>| match ns {
            Some(_) => format!("{who} {} us per answer{}", us_text(ns), cores(us)),
            None => format!("{who} not measured"),
        };
        let per = self.cpu_ns_per_response;
        format!(
            "cpu          {}, {} in the measured window",
            part(server, per.server, self.cpu.and_then(|c| c.server_us)),
            part("client", per.client, self.cpu.and_then(|c| c.client_us))
        )
    }
}

fn write_percentiles(f: &mut fmt::Formatter<'_>, name: &str, l: &Percentiles) -> fmt::Result {
    writeln!(
        f,
        "{name:<26} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
        ms(l.p50),
        ms(l.p90),
        ms(l.p99),
        ms(l.p99_9),
        ms(l.p99_99),
        ms(l.max),
        group_thousands(l.count)
    )
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.settings;
        let target = match s.target {
            Target::Exchange => "exchange",
            Target::Echo => "echo server",
        };
        writeln!(f, "target       {target} at {}", s.url)?;
        writeln!(
            f,
            "load         {} requests/s offered for {} s after {} s warm-up; {} connections, {} accounts, max {} in flight each; client on {} thread{}, sending every {} us",
            group_thousands(s.target_rate),
            s.duration_s,
            s.warmup_s,
            s.connections,
            s.accounts,
            s.max_in_flight,
            s.client_threads,
            if s.client_threads == 1 { "" } else { "s" },
            s.pace_us
        )?;
        writeln!(
            f,
            "flow         mix {}, symbols {}, auth {}, user data streams {}",
            s.mix,
            s.symbols.join(","),
            s.auth,
            if s.user_data { "on" } else { "off" }
        )?;
        writeln!(
            f,
            "machine load {} before, {} after (/proc/loadavg 1/5/15 min); stalled (PSI some, this run included): {}",
            self.load_before,
            self.load_after,
            self.pressure.describe()
        )?;
        writeln!(
            f,
            "achieved     {} responses/s arrived in the {} ms measured; of the {} requests due then: {} sent, {} answered; {} trades",
            group_thousands(self.achieved_rate),
            self.elapsed_ms,
            group_thousands(self.settings.target_rate * self.settings.duration_s),
            group_thousands(self.sent),
            group_thousands(self.responses),
            group_thousands(self.trades)
        )?;
        writeln!(f, "{}", self.cpu_line())?;
        if self.sent == 0 && self.achieved_rate > 0 {
            // Answers arrived, but every request sent in the window was due before it: the
            // generator never caught up with the offered rate (what `limit` offers on purpose).
            writeln!(
                f,
                "latency      none measured: every request sent in the measured window was due before it (the offered rate saturates client or server, so only the achieved rate means something)"
            )?;
        } else {
            writeln!(
                f,
                "{:<26} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
                "latency (ms)", "p50", "p90", "p99", "p99.9", "p99.99", "max", "count"
            )?;
            write_percentiles(f, "ack from intended send", &self.ack_latency_us)?;
            if let Some(e) = &self.exec_report_latency_us {
                write_percentiles(f, "exec report from intended", e)?;
            }
            write_percentiles(f, "send lag (generator)", &self.send_lag_us)?;
        }
        let errors: Vec<String> = self
            .errors
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        write!(
            f,
            "errors       {} (failures, not counting order-flow races: {}){}",
            if errors.is_empty() {
                "none".to_string()
            } else {
                errors.join(", ")
            },
            self.failures,
            if self.disconnected > 0 {
                format!("; {} connections lost", self.disconnected)
            } else {
                String::new()
            }
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn demo(responses: u64, p99: u64, errors: &[(ErrorKind, u64)]) -> DemoReport {
        DemoReport {
            elapsed: Duration::from_secs(10),
            target_rate: 1_000,
            sent: responses,
            responses,
            answered_in_window: responses,
            trades: 3,
            errors: errors.iter().copied().collect(),
            latency: LatencySummary {
                count: responses,
                p50: 100,
                p90: 200,
                p99,
                p999: p99 + 1,
                p9999: p99 + 2,
                max: p99 + 3,
            },
            send_lag: LatencySummary::default(),
            exec_report_latency: LatencySummary::default(),
            cpu: Some(CpuUse {
                wall_us: 10_000_000,
                client_us: Some(600_000),
                server_us: Some(1_745_000),
            }),
            disconnected: 0,
        }
    }

    fn settings() -> RunSettings {
        RunSettings {
            target: Target::Exchange,
            url: "ws://x/ws-api/v3".into(),
            target_rate: 1_000,
            duration_s: 10,
            warmup_s: 1,
            connections: 2,
            accounts: 2,
            mix: "exchange-core".into(),
            symbols: vec!["BTCUSDT".into()],
            auth: "sign".into(),
            max_in_flight: 64,
            client_threads: 1,
            pace_us: 100,
            user_data: false,
        }
    }

    #[test]
    fn verdicts() {
        let race = ErrorKind::Api(-2011);
        for (responses, p99, errors, met) in [
            (10_000, 10_000, vec![], true),
            (10_000, 10_001, vec![], false),
            (10_000, 500, vec![(race, 40)], true),
            (10_000, 500, vec![(ErrorKind::Api(-2010), 1)], false),
            (10_000, 500, vec![(ErrorKind::Timeout, 1)], false),
            (10_000, 500, vec![(ErrorKind::Unanswered, 1)], false),
            // 99% of 1,000/s over 10 s is 9,900 responses.
            (9_900, 500, vec![], true),
            (9_899, 500, vec![], false),
            (0, 0, vec![], false),
        ] {
            let r = RunReport::new(
                settings(),
                &demo(responses, p99, &errors),
                false,
                "0.1 0.2 0.3".into(),
                "0.4 0.5 0.6".into(),
            );
            assert_eq!(
                r.verdict(10_000) == Verdict::Met,
                met,
                "{responses} {p99} {errors:?}: {:?}",
                r.verdict(10_000)
            );
        }
    }

    #[test]
    fn json_and_table_carry_the_numbers() {
        let r = RunReport::new(
            settings(),
            &demo(10_000, 1_234, &[(ErrorKind::Api(-2011), 5)]),
            true,
            "0.1 0.2 0.3".into(),
            "0.4 0.5 0.6".into(),
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["achieved_rate"], 1_000);
        assert_eq!(v["ack_latency_us"]["p99"], 1_234);
        assert_eq!(v["ack_latency_us"]["p99_9"], 1_235);
        assert_eq!(v["errors"]["-2011"], 5);
        assert_eq!(v["failures"], 0);
        assert_eq!(v["settings"]["target"], "exchange");
        assert!(v["exec_report_latency_us"].is_object());
        let table = r.to_string();
        assert!(
            table.contains("achieved     1,000 responses/s arrived"),
            "{table}"
        );
        assert!(table.contains("ack from intended send         0.100     0.200     1.234     1.235     1.236     1.237     10,000"), "{table}");
        assert!(r.row().contains("1.234"), "{}", r.row());
        assert!(r.row().ends_with("      174.5       60.0"), "{}", r.row());
        assert_eq!(r.row().len(), ROW_HEADER.len(), "{}", r.row());
        assert!(!table.contains("none measured"), "{table}");
        // 1.745 s of node CPU and 0.6 s of client CPU over 10 s for 10,000 answers.
        assert_eq!(v["cpu_ns_per_response"]["server"], 174_500);
        assert_eq!(v["cpu_ns_per_response"]["client"], 60_000);
        assert_eq!(v["cpu"]["server_us"], 1_745_000);
        assert!(
            table.contains("cpu          node 174.5 us per answer (0.17 cores), client 60.0 us per answer (0.06 cores) in the measured window"),
            "{table}"
        );
    }

    #[test]
    fn a_saturated_window_says_it_measured_no_latency() {
        // `limit` offers far more than can be served: answers arrive in the window, but
        // every request sent in it was due earlier, so no latency belongs to the window.
        let mut r = RunReport::new(
            RunSettings {
                target: Target::Echo,
                ..settings()
            },
            &demo(0, 0, &[]),
            false,
            "0.1 0.2 0.3".into(),
            "0.4 0.5 0.6".into(),
        );
        r.achieved_rate = 475_587;
        let table = r.to_string();
        assert!(table.contains("latency      none measured"), "{table}");
        assert!(!table.contains("ack from intended send"), "{table}");
        assert!(
            table.contains("achieved     475,587 responses/s"),
            "{table}"
        );
        // No answer counted in the window: no CPU per answer either.
        assert!(
            table.contains("cpu          echo server not measured, client not measured"),
            "{table}"
        );
    }
}
