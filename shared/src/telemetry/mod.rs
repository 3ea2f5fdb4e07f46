//! What an operator sees of a running Tally: metrics, logs and traces.
//!
//! * **Metrics** go through the [`metrics`] facade ([`record`] names every one and is the
//!   only place that emits them) into `metrics_cloudwatch_embedded`'s recorder, which
//!   writes CloudWatch's Embedded Metric Format: one JSON document per label set, which
//!   CloudWatch Logs turns into metrics without an API call or a permission. The
//!   recorder is flushed after every HTTP response ([`crate::http::layers`]) and every
//!   job; where the documents go is the [`Sink`]: standard output in Lambda (the
//!   function's log group), `<data-dir>/metrics.jsonl` for the local server, so the
//!   same numbers can be read on a laptop. Without [`init`] (tests that build an app in
//!   process) the facade records nothing.
//! * **Logs**: [`init_lambda_logging`] formats every line as JSON when Lambda's advanced
//!   logging asks for it (`AWS_LAMBDA_LOG_FORMAT=JSON`), with the fields of the spans
//!   the line is in: a request's `request_id` (API Gateway's) is on every line of it.
//! * **Traces**: [`xray`] sends a subsegment per span of a sampled invocation to the
//!   X-Ray daemon Lambda runs beside a function with active tracing.

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

use metrics_cloudwatch_embedded::Collector;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub mod record;
pub mod xray;

/// Where flushed metric documents go.
#[derive(Clone, Debug)]
pub enum Sink {
    /// Standard output: in Lambda, the function's log group, where CloudWatch reads EMF.
    Stdout,
    /// A file the documents are appended to, one per line (the local server's
    /// `<data-dir>/metrics.jsonl`).
    File(PathBuf),
}

/// Where an installed recorder writes: the file is opened once, at [`init`], not per
/// flush (a flush follows every request).
enum Output {
    Stdout,
    File(std::sync::Mutex<std::fs::File>),
}

struct Installed {
    collector: &'static Collector,
    output: Output,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("the metrics recorder could not be installed: {0}")]
    Recorder(String),
    #[error("the metrics file could not be opened: {0}")]
    Sink(#[from] std::io::Error),
}

/// Installs the process's metrics recorder: namespace `namespace`, dimension
/// `Function` = `function` on every metric, documents to `sink`. Once per process; a
/// second call changes nothing and is not an error (a test may build twice).
pub fn init(namespace: &str, function: &str, sink: Sink) -> Result<(), TelemetryError> {
    if INSTALLED.get().is_some() {
        return Ok(());
    }
    let output = match sink {
        Sink::Stdout => Output::Stdout,
        Sink::File(path) => Output::File(std::sync::Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        )),
    };
    let collector = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(namespace.to_owned())
        .with_dimension(record::FUNCTION, function.to_owned())
        .init()
        .map_err(|err| TelemetryError::Recorder(err.to_string()))?;
    record::describe();
    let _ = INSTALLED.set(Installed { collector, output });
    Ok(())
}

/// Writes what was recorded since the last flush to the sink. A write that fails is
/// logged, never returned: metrics must not fail a request or a job.
pub fn flush() {
    let Some(installed) = INSTALLED.get() else {
        return;
    };
    let result = match &installed.output {
        Output::Stdout => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            installed
                .collector
                .flush(&mut lock)
                .and_then(|()| lock.flush())
        }
        Output::File(file) => {
            // A poisoned lock only means another flush panicked mid-write: the file
            // is still the file.
            let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
            let mut out = std::io::BufWriter::new(&mut *file);
            installed
                .collector
                .flush(&mut out)
                .and_then(|()| out.flush())
        }
    };
    if let Err(err) = result {
        tracing::warn!(error = %err, "metrics could not be written");
    }
}

/// A Lambda function's logging and tracing, set up first thing at its cold start: log
/// lines as JSON when Lambda's advanced logging controls ask for it
/// (`AWS_LAMBDA_LOG_FORMAT`), at `AWS_LAMBDA_LOG_LEVEL` (else `RUST_LOG`, else INFO),
/// and the X-Ray layer when the daemon's address is set (active tracing). Metrics
/// follow once the configuration is read ([`crate::lambda::aws_adapters`]).
pub fn init_lambda_logging() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned())
        .to_ascii_lowercase();
    // `Targets` reads the same `target=level,level` directives as `RUST_LOG` usually
    // holds, without `EnvFilter`'s span and field matching (and the regex engine it
    // links): Lambda's log level is a bare level.
    let filter = || {
        level
            .parse::<Targets>()
            .unwrap_or_else(|_| Targets::new().with_default(tracing::Level::INFO))
    };
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time();
    let fmt = if json {
        fmt.json()
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(filter())
            .boxed()
    } else {
        fmt.with_filter(filter()).boxed()
    };
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(xray::layer_from_env())
        .try_init();
}
