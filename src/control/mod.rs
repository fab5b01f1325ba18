//! The control plane: everything that runs off the workers' threads and
//! changes what they serve. Workers never call into it; it reaches them
//! only through their mailboxes.

pub mod admin;
pub mod api;
pub mod listen;
pub mod publisher;
pub mod scrape;
pub mod state;
mod warnings;
