//! Antibody: runtime application self-protection for Rust web applications.
//!
//! The agent sits inside the application. A [`layer`](Agent::layer) captures each request's
//! inputs; the integrations wrap the dangerous places (the *sinks*: SQL through
//! [`sqlx`](integrations::sqlx) and [`rusqlite`](integrations::rusqlite), files through
//! [`fs`], commands through [`process`], outbound requests through
//! [`reqwest`](integrations::reqwest), scripts through [`rhai`](integrations::rhai); the layer
//! itself checks redirects) and, before an action runs, ask whether a request input changed
//! what it does. In monitor mode the agent
//! reports; in protect mode it refuses the action and the layer answers 403.
//!
//! ```no_run
//! use antibody::Agent;
//! use axum::{Router, routing::get};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let agent = Agent::builder().build()?; // ANTIBODY_* variables override the code
//! let app: Router = Router::new()
//!     .route("/healthz", get(|| async { "ok" }))
//!     .layer(agent.layer());
//! # Ok(()) }
//! ```
//!
//! See `docs/architecture.md` in the repository for the design, and [`Event`] for what the
//! agent reports.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod agent;
mod callsite;
mod command;
pub mod config;
mod context;
mod decision;
pub mod event;
mod file;
pub mod fs;
#[cfg(any(
    feature = "sqlx",
    feature = "rusqlite",
    feature = "rhai",
    feature = "reqwest"
))]
pub mod integrations;
#[cfg(feature = "axum")]
mod layer;
mod learning;
mod outbound;
pub mod process;
mod redirect;
mod script;
mod sink;
mod sql;
mod transport;

pub use agent::{Agent, Builder, Stats};
pub use antibody_detect::Source;
pub use antibody_detect::sql::Dialect;
pub use callsite::{CallSite, SiteKey};
pub use config::{Config, ConfigError, Mode, SinkKind};
pub use context::{
    ContextBuilder, MAX_INPUTS, RequestContext, RequestInput, WithContext, WithContextExt, spawn,
    spawn_blocking,
};
pub use decision::Blocked;
pub use event::{Event, EventId, EventKind};
pub use file::FileAccess;
#[cfg(feature = "axum")]
pub use layer::{AntibodyLayer, AntibodyService, EVENT_HEADER, ResponseFuture};
pub use sql::CHECK_BUDGET_BYTES;
