//! Wrappers that put the agent in front of libraries' dangerous calls, each adopted by
//! changing a type.

#[cfg(feature = "reqwest")]
pub mod reqwest;
#[cfg(feature = "rhai")]
pub mod rhai;
#[cfg(feature = "rusqlite")]
pub mod rusqlite;
#[cfg(feature = "sqlx")]
pub mod sqlx;
