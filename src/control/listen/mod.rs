//! How portico comes to hold its listening sockets: bound here with a probe
//! that refuses an address someone else holds (`bind`, naming the holder
//! with `holder`), or handed over by the portico running before it
//! (`takeover`). One module because the three answer one question at
//! start-up, "whose socket is this?", and must agree on it: only a
//! hand-over may share an address, and a socket another process also holds
//! is never shut down on the way out.

pub mod bind;
mod holder;
pub mod sockets;
pub mod takeover;

pub use bind::ListenError;
pub use takeover::{TakeoverError, SOCKET as TAKEOVER_SOCKET};
