//! A query's rows as the plugin gets them: every value as text, read from
//! the server as a stream and bounded while it is read — at most
//! [`MAX_QUERY_ROWS`] rows and [`MAX_QUERY_BYTES`] bytes of values — so a
//! query over a huge table never fills the host's memory. Past a cap the
//! stream is dropped and the call fails whole (`rows` has no room to say
//! "truncated"), naming the cap and how to ask for less.

use futures_util::{pin_mut, TryStreamExt};
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::RowStream;

use crate::bindings::types::Error as CapError;

/// Most rows one `query` returns.
pub const MAX_QUERY_ROWS: usize = 100_000;
/// Most bytes of values (as the text the plugin gets) one `query` returns.
pub const MAX_QUERY_BYTES: usize = 16 << 20;

/// Why collecting rows stopped early.
pub(super) enum Stopped {
    /// The server (or the connection) failed.
    Server(tokio_postgres::Error),
    /// A cap was reached; the query is still running on the server.
    Capped(CapError),
}

/// Every row of `stream`, each value as text (`None` for NULL), within the caps.
pub(super) async fn collect(stream: RowStream, label: &str) -> Result<Vec<Vec<Option<String>>>, Stopped> {
    pin_mut!(stream);
    let mut rows = Vec::new();
    let mut bytes = 0usize;
    while let Some(row) = stream.try_next().await.map_err(Stopped::Server)? {
        if rows.len() == MAX_QUERY_ROWS {
            return Err(Stopped::Capped(too_many_rows(label)));
        }
        let values: Vec<Option<String>> = (0..row.len())
            .map(|i| row.try_get::<_, Option<AsText>>(i).ok().flatten().map(|t| t.0))
            .collect();
        bytes += values.iter().flatten().map(String::len).sum::<usize>();
        if bytes > MAX_QUERY_BYTES {
            return Err(Stopped::Capped(too_many_bytes(label)));
        }
        rows.push(values);
    }
    Ok(rows)
}

fn too_many_rows(label: &str) -> CapError {
    CapError::InvalidArgument(format!(
        "postgres query on `{label}`: the result has more than {MAX_QUERY_ROWS} rows, drhost's cap per query; nothing was returned: ask for fewer (LIMIT/OFFSET, a narrower WHERE, or count(*) instead of the rows)"
    ))
}

fn too_many_bytes(label: &str) -> CapError {
    CapError::InvalidArgument(format!(
        "postgres query on `{label}`: the result holds more than {} MiB of values, drhost's cap per query; nothing was returned: select fewer columns or rows (LIMIT, left(col, N), length(col)), or move bulk data with dump",
        MAX_QUERY_BYTES >> 20
    ))
}

/// Any column value as text: common types formatted, the rest as hex.
struct AsText(String);

impl<'a> FromSql<'a> for AsText {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let text = match *ty {
            Type::BOOL => bool::from_sql(ty, raw)?.to_string(),
            Type::INT2 => i16::from_sql(ty, raw)?.to_string(),
            Type::INT4 => i32::from_sql(ty, raw)?.to_string(),
            Type::INT8 => i64::from_sql(ty, raw)?.to_string(),
            Type::OID => u32::from_sql(ty, raw)?.to_string(),
            Type::FLOAT4 => f32::from_sql(ty, raw)?.to_string(),
            Type::FLOAT8 => f64::from_sql(ty, raw)?.to_string(),
            Type::JSONB if raw.first() == Some(&1) => String::from_utf8_lossy(&raw[1..]).into_owned(),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::JSON | Type::UNKNOWN | Type::XML => {
                String::from_utf8_lossy(raw).into_owned()
            }
            _ => format!("\\x{}", hex::encode(raw)),
        };
        Ok(AsText(text))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}
