//! Per-API routing: path templates and the compiled table that maps
//! (method, path) to a route, with API Gateway's precedence.

mod table;
mod template;

pub use table::{RouteError, RouteMatch, RouteTable};
pub use template::PathTemplate;
