//! An experiment's table for people and for other programs: printed on the terminal
//! (comfy-table), and written as CSV (`ExperimentTable::to_csv`: one header row of column
//! keys with their units, then one record per row, as the page exports it too) or as JSON (the [`ExperimentTable`] itself, as the
//! page receives it).

use std::io::Write;

use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};
use kettle_shared::{Cell, Column, ExperimentTable};

/// The table, for the terminal.
pub fn terminal_table(t: &ExperimentTable) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(t.columns.iter().map(Column::heading));
    for row in &t.rows {
        table.add_row(row.iter().map(|c| {
            let cell = comfy_table::Cell::new(c.text());
            match c {
                Cell::Num(_) => cell.set_alignment(CellAlignment::Right),
                Cell::Text(_) => cell,
            }
        }));
    }
    table
}

/// Writes the table as CSV ([`ExperimentTable::to_csv`], the page's export too).
pub fn write_csv(t: &ExperimentTable, mut out: impl Write) -> anyhow::Result<()> {
    out.write_all(t.to_csv().as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Writes the table as JSON (pretty, as the protocol's [`ExperimentTable`]).
pub fn write_json(t: &ExperimentTable, out: impl Write) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(out, t)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> ExperimentTable {
        ExperimentTable {
            experiment: "one-conn".into(),
            short: true,
            columns: vec![
                Column { key: "model".into(), unit: None },
                Column { key: "p50_us".into(), unit: Some("µs".into()) },
            ],
            rows: vec![
                vec![Cell::Text("blocking".into()), Cell::Num(41.5)],
                vec![Cell::Text("a, \"quoted\"".into()), Cell::Num(7.0)],
            ],
            step: 2,
            steps: 2,
            finished: true,
            failed: None,
        }
    }

    #[test]
    fn csv_has_a_header_with_units_and_quotes_what_needs_quoting() {
        let mut out = Vec::new();
        write_csv(&table(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "model,p50_us (µs)\nblocking,41.5\n\"a, \"\"quoted\"\"\",7\n");
    }

    #[test]
    fn json_is_the_protocol_table_and_reads_back() {
        let mut out = Vec::new();
        write_json(&table(), &mut out).unwrap();
        let back: ExperimentTable = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, table());
    }

    #[test]
    fn the_terminal_table_shows_every_row() {
        let shown = terminal_table(&table()).to_string();
        assert!(shown.contains("p50_us (µs)") && shown.contains("41.5"), "{shown}");
        assert!(shown.contains("blocking"), "{shown}");
    }
}
