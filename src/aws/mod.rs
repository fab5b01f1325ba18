//! What portico shares with AWS's wire protocols: Signature Version 4,
//! checked on management calls and made on calls to AWS Lambda.

pub mod sigv4;
