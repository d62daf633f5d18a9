//! The closed sets of words the audit trail and the job table store: what a run was ([`RunKind`]), how it ended
//! ([`RunStatus`]) and where a job stands ([`JobStatus`]). The stored text is unchanged — TickStock's pages and our
//! Redis messages read the same strings — but it is parsed once, where a row is read, so the code compares
//! variants, not strings, and a value nobody knows is an error at the edge instead of a silent mismatch.

/// A stored word that is not one of its type's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownValue {
    /// The type (`run status`).
    pub what: &'static str,
    /// The text found.
    pub value: String,
}

/// Defines a fieldless enum stored as text: `as_str`, `FromStr`, `TryFrom<String>` (for sqlx's `try_from`),
/// `Display`, and serde as the same text.
macro_rules! stored_words {
    ($(#[$meta:meta])* $name:ident ($what:literal) { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stored text.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue { what: $what, value: s.to_string() }),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = UnknownValue;
            fn try_from(s: String) -> Result<Self, UnknownValue> {
                s.parse()
            }
        }

        /// Compares with stored text (assertions read `assert_eq!(run.status, "applied")`); code compares variants.
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

stored_words! {
    /// What a `load_runs` row records.
    RunKind("run kind") {
        /// ETF holdings files.
        Holdings = "holdings",
        /// Index membership files.
        Universes = "universes",
        /// Sector classification files (and SIC enrichment, which writes the same groups).
        Sectors = "sectors",
        /// Theme definitions.
        Themes = "themes",
        /// Symbol metadata files.
        Symbols = "symbols",
        /// Symbol metadata from the market-data API (`symbols refresh`).
        SymbolsRefresh = "symbols-refresh",
        /// The rollback of another run.
        Rollback = "rollback",
        /// `cache_entries` universe rows built from the groups.
        Organize = "organize",
        /// A document from `universe export`.
        Import = "import",
        /// OHLCV bars, from the API or a file.
        Bars = "bars",
        /// The daily sync (`universe sync`).
        Sync = "sync",
        /// An index's dated history (seed roster and changes).
        Events = "events",
    }
}

stored_words! {
    /// How a run stands or ended.
    RunStatus("run status") {
        /// Started, not finished (a long run is visible while it works).
        Running = "running",
        /// Changed reference data (and moved the data version on).
        Applied = "applied",
        /// Found nothing to change.
        Skipped = "skipped",
        /// Reported what it would change, wrote nothing else.
        DryRun = "dry_run",
        /// Stopped by an error; nothing of it was written.
        Failed = "failed",
        /// Applied, then undone by a later rollback run.
        RolledBack = "rolled_back",
        /// Bars: every task written.
        Loaded = "loaded",
        /// Bars: written, except the tasks listed as failed.
        Partial = "partial",
        /// Bars: cancelled between tasks; what was written stays.
        Cancelled = "cancelled",
    }
}

stored_words! {
    /// Where a bar-loading job stands (TickStock's words, in its `job_status` hashes and our `jobs` table).
    JobStatus("job status") {
        /// Accepted, waiting for a worker.
        Queued = "queued",
        /// A worker is loading it.
        Running = "running",
        /// Cancel requested; the worker stops between tasks.
        Cancelling = "cancelling",
        /// Every symbol loaded.
        Completed = "completed",
        /// Loaded, with failures listed (TickStock's pages show it as `completed`).
        CompletedWithErrors = "completed_with_errors",
        /// Stopped by an error.
        Failed = "failed",
        /// Cancelled before or while running.
        Cancelled = "cancelled",
    }
}

impl RunStatus {
    /// Whether the run wrote reference data that a rollback could undo.
    pub fn applied(self) -> bool {
        self == RunStatus::Applied
    }
}

impl JobStatus {
    /// Whether the job has ended (it will not change again).
    pub fn is_final(self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::CompletedWithErrors | JobStatus::Failed | JobStatus::Cancelled)
    }

    /// The word TickStock's pages understand: `completed_with_errors` reads as `completed` there.
    pub fn for_tickstock(self) -> &'static str {
        match self {
            JobStatus::CompletedWithErrors => "completed",
            other => other.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_round_trips() {
        for k in RunKind::ALL {
            assert_eq!(k.as_str().parse::<RunKind>(), Ok(*k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        for s in RunStatus::ALL {
            assert_eq!(s.as_str().parse::<RunStatus>(), Ok(*s));
        }
        for s in JobStatus::ALL {
            assert_eq!(serde_json::from_value::<JobStatus>(serde_json::json!(s.as_str())).unwrap(), *s);
        }
        let e = "done".parse::<JobStatus>().unwrap_err();
        assert_eq!(e.to_string(), "unknown job status \"done\"");
        assert_eq!(JobStatus::CompletedWithErrors.for_tickstock(), "completed");
        assert!(JobStatus::Cancelled.is_final() && !JobStatus::Cancelling.is_final());
    }
}
