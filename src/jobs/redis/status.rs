//! The job status hash TickStock's pages poll (`tickstock.jobs.status:{job_id}`): which fields it holds, as
//! strings, and how our statuses read in the app's vocabulary.

use serde_json::Value;

use crate::domain::JobStatus;
use crate::store::{JobProgress, JobRow};

/// What the status hash shows.
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub struct StatusView<'a> {
    /// Job id.
    pub id: &'a str,
    /// Where the job stands.
    pub status: JobStatus,
    pub message: &'a str,
    pub counts: &'a JobProgress,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub completed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// What failed (`[{what, timeframe, reason}]`), for the message of a job completed with errors.
    pub failures: Option<&'a Value>,
}

/// How many failures the status hash's message names.
const MESSAGE_FAILURES: usize = 10;

impl StatusView<'_> {
    /// The hash fields, all strings, as TickStock's UI reads them.
    /// TickStock's page knows `completed`, `failed` and `cancelled` as final: a job completed with errors is
    /// `completed` there, with `failed_symbols` set and the failures named in `message`.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let c = self.counts;
        let message = match self.status {
            JobStatus::CompletedWithErrors => self.message_with_failures(),
            _ => self.message.to_string(),
        };
        let status = self.status.for_tickstock();
        let mut f = vec![
            ("status", status.to_string()),
            ("progress", c.progress.to_string()),
            ("message", message),
            ("total_symbols", c.total_symbols.to_string()),
            ("processed_symbols", c.processed_symbols.to_string()),
            ("failed_symbols", c.failed_symbols.to_string()),
            ("current_symbol", c.current_symbol.clone().unwrap_or_default()),
            ("ohlcv_records_loaded", c.bars_loaded.to_string()),
        ];
        if let Some(t) = self.started_at {
            f.push(("started_at", t.to_rfc3339()));
        }
        if let Some(t) = self.completed_at {
            f.push(("completed_at", t.to_rfc3339()));
        }
        f
    }

    fn message_with_failures(&self) -> String {
        let list: Vec<String> = self
            .failures
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|f| {
                        let s = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                        format!("{} {}: {}", s("what"), s("timeframe"), s("reason"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if list.is_empty() {
            return format!("Completed with errors: {}", self.message);
        }
        let more = list.len().saturating_sub(MESSAGE_FAILURES);
        let mut text = format!(
            "Completed with errors: {}. Failed: {}",
            self.message,
            list.into_iter().take(MESSAGE_FAILURES).collect::<Vec<_>>().join("; ")
        );
        if more > 0 {
            text.push_str(&format!("; and {more} more"));
        }
        text
    }

    /// The view of a stored job.
    pub fn of(job: &JobRow) -> StatusView<'_> {
        StatusView {
            id: &job.id,
            status: job.status,
            message: job.message.as_deref().unwrap_or(""),
            counts: &job.counts,
            started_at: job.started_at,
            completed_at: job.completed_at,
            failures: job.failures.as_ref(),
        }
    }
}
