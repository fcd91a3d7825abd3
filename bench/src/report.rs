//! The results tables (Markdown, so that they can go into the README as printed): the port
//! forward's with the axtlab-to-bore ratios, and the shell sessions' against the clear one.

use std::{fmt::Write as _, time::Duration};

use crate::{measure::Figures, shell};

/// One line of the table.
pub struct Row {
    /// What was measured, e.g. `bore 0.6.0`.
    pub label: String,
    pub kind: Kind,
    pub outcome: Outcome,
}

/// Which variant a row is, for the ratios.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Direct,
    Bore,
    Axt,
}

/// What came of a variant.
pub enum Outcome {
    Measured(Figures),
    /// Not measured, and why (bore not installed, its port taken…).
    Skipped(String),
}

impl Row {
    fn figures(&self) -> Option<&Figures> {
        match &self.outcome {
            Outcome::Measured(f) => Some(f),
            Outcome::Skipped(_) => None,
        }
    }
}

/// The table and, when both were measured, the axtlab/bore line.
pub fn render(rows: &[Row]) -> String {
    let direct = rows
        .iter()
        .find(|r| r.kind == Kind::Direct)
        .and_then(Row::figures);
    let mut out = String::new();
    out.push_str(
        "| variant | upload MB/s | ×direct | download MB/s | ×direct \
         | connect ms, median / p90 | ×direct (time) | tunnel CPU s/GB |\n",
    );
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for row in rows {
        let _ = match (&row.outcome, direct) {
            (Outcome::Measured(f), _) => writeln!(
                out,
                "| {} | {:.0} | {} | {:.0} | {} | {} / {} | {} | {} |",
                row.label,
                f.upload,
                direct.map_or("–".into(), |d| ratio(f.upload, d.upload)),
                f.download,
                direct.map_or("–".into(), |d| ratio(f.download, d.download)),
                ms(f.connect_median),
                ms(f.connect_p90),
                direct.map_or("–".into(), |d| {
                    ratio(secs(f.connect_median), secs(d.connect_median))
                }),
                f.cpu_per_gb.map_or("–".into(), |cpu| format!("{cpu:.2}")),
            ),
            (Outcome::Skipped(why), _) => {
                writeln!(out, "| {} | {why} | | | | | | |", row.label)
            }
        };
    }
    let find = |kind| rows.iter().find(|r| r.kind == kind).and_then(Row::figures);
    if let (Some(axt), Some(bore)) = (find(Kind::Axt), find(Kind::Bore)) {
        let _ = writeln!(
            out,
            "\naxtlab / bore: upload {}, download {}, connect time {} (above 1 is faster for \
             throughput, slower for connect time)",
            ratio(axt.upload, bore.upload),
            ratio(axt.download, bore.download),
            ratio(secs(axt.connect_median), secs(bore.connect_median)),
        );
    }
    out
}

/// The shell table: each row against the first (the clear session), if it was measured.
pub fn render_shells(rows: &[shell::Row]) -> String {
    let clear = rows.first().and_then(|r| r.outcome.as_ref().ok());
    let mut out = String::new();
    out.push_str(
        "| shell session | echo ms, median / p90 | ×clear (time) | stream MB/s | ×clear \
         | CPU s/GB (axt, gateway, agent) |\n",
    );
    out.push_str("|---|---:|---:|---:|---:|---:|\n");
    for row in rows {
        let _ = match &row.outcome {
            Ok(f) => writeln!(
                out,
                "| {} | {} / {} | {} | {:.1} | {} | {} |",
                row.mode.label(),
                ms(f.echo_median),
                ms(f.echo_p90),
                clear.map_or("–".into(), |c| ratio(
                    secs(f.echo_median),
                    secs(c.echo_median)
                )),
                f.stream,
                clear.map_or("–".into(), |c| ratio(f.stream, c.stream)),
                f.cpu_per_gb.map_or("–".into(), |cpu| format!("{cpu:.2}")),
            ),
            Err(why) => writeln!(out, "| {} | {why} | | | | |", row.mode.label()),
        };
    }
    out
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 && a.is_finite() {
        format!("{:.2}×", a / b)
    } else {
        "–".into()
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.3}")
    } else {
        format!("{ms:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: Kind, mbps: f64, connect_ms: u64) -> Row {
        let t = Duration::from_millis(connect_ms);
        Row {
            label: format!("{kind:?}"),
            kind,
            outcome: Outcome::Measured(Figures {
                upload: mbps,
                download: mbps / 2.0,
                connect_median: t,
                connect_p90: t * 2,
                cpu_per_gb: (kind != Kind::Direct).then_some(1.5),
            }),
        }
    }

    #[test]
    fn ratios_are_against_direct_and_bore() {
        let rows = [
            row(Kind::Direct, 1000.0, 1),
            row(Kind::Bore, 300.0, 2),
            row(Kind::Axt, 450.0, 6),
        ];
        let table = render(&rows);
        assert!(table.contains("| Axt | 450 | 0.45× | 225 | 0.45× | 6.000 / 12.0 | 6.00× | 1.50 |"));
        assert!(table.contains("upload 1.50×, download 1.50×, connect time 3.00×"));
        let skipped = Row {
            label: "bore".into(),
            kind: Kind::Bore,
            outcome: Outcome::Skipped("not installed".into()),
        };
        assert!(!render(&[rows.into_iter().next().unwrap(), skipped]).contains("axtlab / bore"));
    }

    #[test]
    fn shell_rows_are_against_the_clear_one() {
        let figures = |echo_ms: u64, stream: f64| shell::Figures {
            echo_median: Duration::from_millis(echo_ms),
            echo_p90: Duration::from_millis(echo_ms * 2),
            stream,
            cpu_per_gb: Some(2.0),
        };
        let rows = [
            shell::Row {
                mode: shell::Mode::Clear,
                outcome: Ok(figures(2, 100.0)),
            },
            shell::Row {
                mode: shell::Mode::Authenticated,
                outcome: Ok(figures(3, 80.0)),
            },
            shell::Row {
                mode: shell::Mode::CompatEcdhe,
                outcome: Err("failed: no".into()),
            },
        ];
        let table = render_shells(&rows);
        assert!(table.contains("| shell, clear | 2.000 / 4.000 | 1.00× | 100.0 | 1.00× | 2.00 |"));
        assert!(table.contains("(authenticated suite) | 3.000 / 6.000 | 1.50× | 80.0 | 0.80× |"));
        assert!(table.contains("--allow-compat-suite) | failed: no |"));
    }
}
