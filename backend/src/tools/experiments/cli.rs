//! `kettle experiment` from the terminal: the experiment off the runtime's workers, a
//! progress bar with the last row measured, the table, and the files asked for.

use std::path::PathBuf;

use super::{export, find, ids, run};

/// Runs experiment `id` and prints its table; writes it as JSON and CSV where asked. Fails
/// for an unknown id, or when the experiment stopped before its last measurement.
pub async fn main(
    id: String,
    short: bool,
    json: Option<PathBuf>,
    csv: Option<PathBuf>,
) -> anyhow::Result<()> {
    if find(&id).is_none() {
        anyhow::bail!("no experiment {id} (known: {})", ids().join(", "));
    }
    let handle = tokio::runtime::Handle::current();
    let table = tokio::task::spawn_blocking(move || {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {prefix} [{bar:30}] {pos}/{len} measurements, {elapsed} {msg}",
            )
            .expect("a valid progress template")
            .progress_chars("=> "),
        );
        bar.set_prefix(id.clone());
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        let table = run(&id, short, &handle, &mut |t| {
            bar.set_length(u64::from(t.steps));
            bar.set_position(u64::from(t.step));
            if let Some(last) = t.rows.last() {
                let first = last.first().map(kettle_shared::Cell::text).unwrap_or_default();
                bar.set_message(format!("last: {first}"));
            }
        });
        bar.finish_and_clear();
        table
    })
    .await?
    .expect("the id was checked");
    println!("{}", export::terminal_table(&table));
    if let Some(path) = &json {
        export::write_json(&table, std::fs::File::create(path)?)?;
        eprintln!("kettle: wrote {}", path.display());
    }
    if let Some(path) = &csv {
        export::write_csv(&table, std::fs::File::create(path)?)?;
        eprintln!("kettle: wrote {}", path.display());
    }
    if let Some(why) = &table.failed {
        anyhow::bail!(
            "the experiment stopped after {} of {} measurements: {}",
            table.step,
            table.steps,
            crate::failure::for_terminal(why)
        );
    }
    Ok(())
}
