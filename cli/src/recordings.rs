//! `axt recordings list|get`: the asciicast v2 recordings the gateway makes of shell
//! connections, through axtlab's own ECS actions ListTerminalSessionRecordings and
//! GetTerminalSessionRecording (signed like any call, so RAM decides who may list and who may
//! read). A file `get` writes plays with `asciinema play FILE`; it is written readable by its
//! owner only, as a recording may hold whatever was typed at an echoing prompt.

use std::{io::Write as _, path::PathBuf, process::ExitCode};

use anyhow::Context as _;
use axt_proto::openapi::Params;
use clap::{Args, Subcommand};
use serde_json::Value;

use crate::{
    api::{ApiClient, CallError},
    profile::Settings,
};

/// `axt recordings (list|get)`
#[derive(Args, Debug)]
pub struct RecordingsArgs {
    #[command(subcommand)]
    pub command: RecordingsCommand,
}

/// What to do with recordings.
#[derive(Subcommand, Debug)]
pub enum RecordingsCommand {
    /// List the region's recordings, newest first: session, connection, instance, size, when
    /// made and last appended, and whether complete or truncated.
    List {
        /// Only this session's recordings.
        #[arg(long, env = "AXT_RECORDINGS_SESSION_ID")]
        session_id: Option<String>,
        /// Only recordings of connections to this instance (i-… or mi-…).
        #[arg(long, short = 'i', value_name = "ID", env = "AXT_RECORDINGS_INSTANCE")]
        instance: Option<String>,
    },
    /// Print one connection's recording (asciicast v2), or write it to --output.
    Get {
        /// The session (s-…).
        #[arg(long, env = "AXT_RECORDINGS_SESSION_ID")]
        session_id: String,
        /// The connection (c-…), as `list` shows it.
        #[arg(long, env = "AXT_RECORDINGS_CONNECTION_ID")]
        connection_id: String,
        /// Write it to this file (mode 0600) instead of stdout: `asciinema play FILE`.
        #[arg(long, short = 'o', value_name = "FILE", env = "AXT_RECORDINGS_OUTPUT")]
        output: Option<PathBuf>,
    },
}

/// Most recordings one List call asks for.
const PAGE: &str = "100";

/// Runs `axt recordings`.
pub async fn run(settings: &Settings, args: &RecordingsArgs) -> anyhow::Result<ExitCode> {
    let client = ApiClient::new(settings)?;
    match &args.command {
        RecordingsCommand::List {
            session_id,
            instance,
        } => {
            let rows = list(&client, session_id.as_deref(), instance.as_deref()).await?;
            print!("{}", table(&rows));
        }
        RecordingsCommand::Get {
            session_id,
            connection_id,
            output,
        } => {
            let params = Params::from([
                ("SessionId".to_owned(), session_id.clone()),
                ("ConnectionId".to_owned(), connection_id.clone()),
            ]);
            let answer = client.call("GetTerminalSessionRecording", params).await?;
            let content = answer["Content"].as_str().ok_or(CallError::Incomplete {
                action: "GetTerminalSessionRecording",
                missing: "Content",
            })?;
            match output {
                Some(path) => axt_kit::files::write_private(path, content.as_bytes())
                    .with_context(|| format!("writing the recording to {}", path.display()))?,
                None => {
                    let mut stdout = std::io::stdout().lock();
                    stdout.write_all(content.as_bytes())?;
                    stdout.flush()?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Every recording the filters select, across pages.
async fn list(
    client: &ApiClient,
    session_id: Option<&str>,
    instance: Option<&str>,
) -> Result<Vec<Value>, CallError> {
    let mut rows = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut params = Params::from([("MaxResults".to_owned(), PAGE.to_owned())]);
        let filters = [("SessionId", session_id), ("InstanceId", instance)];
        for (name, value) in filters {
            if let Some(value) = value {
                params.insert(name.to_owned(), value.to_owned());
            }
        }
        if let Some(token) = next.take() {
            params.insert("NextToken".to_owned(), token);
        }
        let page = client.call("ListTerminalSessionRecordings", params).await?;
        if let Some(found) = page["Recordings"]["Recording"].as_array() {
            rows.extend(found.iter().cloned());
        }
        match page["NextToken"].as_str().filter(|t| !t.is_empty()) {
            Some(token) => next = Some(token.to_owned()),
            None => return Ok(rows),
        }
    }
}

/// The recordings as a table with a header, columns padded to their widest cell.
fn table(rows: &[Value]) -> String {
    let text = |row: &Value, field: &str| row[field].as_str().unwrap_or("").to_owned();
    let mut cells = vec![[
        "SESSION",
        "CONNECTION",
        "INSTANCE",
        "SIZE",
        "CREATED",
        "UPDATED",
        "STATE",
    ]
    .map(str::to_owned)];
    for row in rows {
        let state = match (row["Complete"].as_bool(), row["Truncated"].as_bool()) {
            (Some(true), Some(true)) => "complete, truncated",
            (Some(true), _) => "complete",
            (_, Some(true)) => "recording, truncated",
            _ => "recording",
        };
        cells.push([
            text(row, "SessionId"),
            text(row, "ConnectionId"),
            text(row, "InstanceId"),
            size(row["Size"].as_u64().unwrap_or(0)),
            text(row, "CreationTime"),
            text(row, "UpdateTime"),
            state.to_owned(),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|i| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &cells {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// A byte count for people: `812 B`, `4.0 KiB`, `1.5 MiB`.
fn size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_aligns_and_says_the_state() {
        let rows = [serde_json::json!({
            "SessionId": "s-1", "ConnectionId": "c-1", "InstanceId": "i-1", "Size": 2048,
            "CreationTime": "2026-11-30T21:00:00Z", "UpdateTime": "2026-11-30T21:05:00Z",
            "Truncated": true, "Complete": true,
        })];
        let text = table(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with("SESSION  CONNECTION  INSTANCE"),
            "{text}"
        );
        assert!(lines[1].contains("2.0 KiB") && lines[1].ends_with("complete, truncated"));
        assert_eq!(lines[0].find("SIZE"), lines[1].find("2.0 KiB"));
        assert_eq!(size(5), "5 B");
        assert_eq!(size(3 * 1_048_576 / 2), "1.5 MiB");
    }
}
