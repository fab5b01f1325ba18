//! The control plane: everything that runs off the workers' threads and
//! changes what they serve. Workers never call into it; it reaches them
//! only through their mailboxes (`dataplane::Msg`), and they reach it only
//! through the reconciler's reports channel and the access log's queue.
//!
//! Its threads, all started by the `supervisor` (`portico run`):
//! - `portico-signals` (`events`): signals into the supervisor's event
//!   loop, which reloads the file on SIGHUP (`reload`) and drains on
//!   SIGTERM/SIGINT or when a new portico took over (`listen::takeover`,
//!   whose own thread answers the hand-over).
//! - `portico-w{i}`, the workers (`workers`), on the sockets `listen`
//!   bound or took over.
//! - `portico-reconciler` and `portico-store` (`reconcile`): leases to the
//!   workers' mailboxes every tick, usage into the state directory
//!   (`state`).
//! - the access log writer and `EMF` (`crate::metrics`); EMF scrapes the
//!   workers' mailboxes (`scrape`).
//! - the admin listener and its control thread (`admin`), which serve the
//!   management API (`api`), health and metrics, and tell workers through
//!   their mailboxes (flushes, scrapes).
//! - `portico-dns` (`dns`), `portico-certs` and `portico-acme`
//!   (`certificates`).
//!
//! The admin thread, the event loop (SIGHUP), the DNS refresh and the
//! certificate threads change what is served only through the `publisher`,
//! which compiles one snapshot from the file and the deployed stages and
//! sends it to every worker's mailbox.

pub mod admin;
pub mod api;
mod certificates;
mod dns;
pub mod error;
mod events;
mod fleet;
pub mod fleet_flush;
pub mod listen;
pub mod publisher;
mod reconcile;
mod reload;
pub mod scrape;
pub mod state;
pub mod supervisor;
mod thread;
mod warnings;
mod workers;

pub use error::ServerError;
pub use supervisor::{run, run_with, Options};
