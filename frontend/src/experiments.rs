//! The experiments view's logic, apart from its component: what each experiment's table
//! looks like as a chart, the CSV and JSON a teacher exports, and the words for the columns
//! and the coded texts in its cells. Pure: unit-tested natively.
//!
//! The chart is drawn by a charting library — plotters, with its SVG backend, into a string
//! the component puts in the page — never by hand. Which columns it draws is chosen per
//! experiment ([`chart_spec`]): a curve per API of descriptors scanned against idle
//! connections (`scan`), bars per model (`one-conn`, `c10k`…).

use std::collections::BTreeMap;

use kettle_shared::{Cell, Column, ExperimentTable, EXPERIMENTS};
use plotters::prelude::*;

use crate::i18n::{t, Key, Lang};

/// What the page knows of the experiments: the latest table of each, and which one is shown.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Experiments {
    /// The latest table of each experiment run since the page opened (or running now).
    pub tables: BTreeMap<String, ExperimentTable>,
    /// The experiment shown; `None`: the first.
    pub chosen: Option<String>,
    /// Asked to run, not yet heard of (no table yet).
    pub starting: Option<String>,
}

/// Where an experiment is, for `data-state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// Never run since the page opened.
    Idle,
    /// Running (or asked to run).
    Running,
    /// Its last run finished (completely, or stopped early with a reason).
    Done,
}

impl RunState {
    /// The word in `data-state`.
    pub fn id(self) -> &'static str {
        match self {
            RunState::Idle => "idle",
            RunState::Running => "running",
            RunState::Done => "done",
        }
    }
}

impl Experiments {
    /// The experiment shown.
    pub fn shown(&self) -> &str {
        self.chosen.as_deref().unwrap_or(EXPERIMENTS[0])
    }

    /// Where experiment `id` is.
    pub fn state(&self, id: &str) -> RunState {
        match self.tables.get(id) {
            _ if self.starting.as_deref() == Some(id) => RunState::Running,
            Some(t) if !t.finished => RunState::Running,
            Some(_) => RunState::Done,
            None => RunState::Idle,
        }
    }

    /// Some experiment is running (one runs at a time on the server).
    pub fn busy(&self) -> bool {
        self.starting.is_some() || self.tables.values().any(|t| !t.finished)
    }

    /// A table arrived: it replaces the one of its experiment.
    pub fn update(&mut self, table: ExperimentTable) {
        if self.starting.as_deref() == Some(table.experiment.as_str()) {
            self.starting = None;
        }
        self.tables.insert(table.experiment.clone(), table);
    }

    /// The server accepted to run `id`: it is running, and shown.
    pub fn started(&mut self, id: String) {
        self.chosen = Some(id.clone());
        // Rows of an earlier run would look like this run's.
        self.tables.remove(&id);
        self.starting = Some(id);
    }

    /// The server refused to run it.
    pub fn refused(&mut self, id: &str) {
        if self.starting.as_deref() == Some(id) {
            self.starting = None;
        }
    }
}

/// The title of an experiment.
pub fn title(id: &str) -> Key {
    match id {
        "starve" => Key::XStarveTitle,
        "threads" => Key::XThreadsTitle,
        "pool" => Key::XPoolTitle,
        "busy-loop" => Key::XBusyLoopTitle,
        "one-conn" => Key::XOneConnTitle,
        "scan" => Key::XScanTitle,
        "sigio-work" => Key::XSigioWorkTitle,
        "uring-batching" => Key::XUringTitle,
        _ => Key::XC10kTitle,
    }
}

/// What the tutorial claims, and what is measured.
pub fn narration(id: &str) -> Key {
    match id {
        "starve" => Key::XStarveStory,
        "threads" => Key::XThreadsStory,
        "pool" => Key::XPoolStory,
        "busy-loop" => Key::XBusyLoopStory,
        "one-conn" => Key::XOneConnStory,
        "scan" => Key::XScanStory,
        "sigio-work" => Key::XSigioWorkStory,
        "uring-batching" => Key::XUringStory,
        _ => Key::XC10kStory,
    }
}

/// A column's heading: its words, with its unit.
pub fn heading(lang: Lang, c: &Column) -> String {
    let words = column_words(c.key.as_str()).map_or(c.key.as_str(), |k| t(lang, k));
    match &c.unit {
        Some(u) => format!("{words} ({u})"),
        None => words.to_owned(),
    }
}

/// The words of a column key the backend sends.
fn column_words(key: &str) -> Option<Key> {
    Some(match key {
        "model" => Key::XColModel,
        "client_a" => Key::XColClientA,
        "a_stayed_ms" => Key::XColAStayed,
        "b_wait_ms" => Key::XColBWait,
        "b_echoed_while_a_connected" => Key::XColBWhileA,
        "clients" => Key::XColClients,
        "model_threads" => Key::XColModelThreads,
        "process_threads_added" => Key::XColThreadsAdded,
        "threads_added" => Key::XColThreadsAdded,
        "rss_added_mib" => Key::XColRssAdded,
        "rss_per_client_kib" => Key::XColRssPerClient,
        "vm_per_client_kib" => Key::XColVmPerClient,
        "workers" => Key::XColWorkers,
        "queue_max" => Key::XColQueueMax,
        "queue_wait_max_ms" => Key::XColQueueWaitMax,
        "first_echo_p50_ms" => Key::XColFirstEchoP50,
        "first_echo_max_ms" => Key::XColFirstEchoMax,
        "served_after_another_left" => Key::XColAfterAnother,
        "cpu_percent" => Key::XColCpuPercent,
        "cpu_ms" => Key::XColCpuMs,
        "syscalls_per_s" => Key::XColSyscallsPerS,
        "eagain_per_s" => Key::XColEagainPerS,
        "lines" => Key::XColLines,
        "syscalls_per_line" => Key::XColSyscallsPerLine,
        "p50_us" => Key::XColP50,
        "p99_us" => Key::XColP99,
        "cpu_us_per_line" => Key::XColCpuPerLine,
        "api" => Key::XColApi,
        "idle_conns" => Key::XColIdleConns,
        "held" => Key::XColHeld,
        "scanned_per_wait" => Key::XColScanned,
        "ready_per_wait" => Key::XColReady,
        "note" => Key::XColNote,
        "every_ms" => Key::XColEvery,
        "work_units" => Key::XColWorkUnits,
        "work_units_per_s" => Key::XColWorkPerS,
        "conns" => Key::XColConns,
        "lines_per_s" => Key::XColLinesPerS,
        "per_wakeup" => Key::XColPerWakeup,
        "served" => Key::XColServed,
        _ => return None,
    })
}

/// The words for a coded text in a cell (`"yes"`, `"above_fd_setsize"`…); model ids and
/// API names stay as they are.
fn code_words(code: &str) -> Option<Key> {
    Some(match code {
        "yes" => Key::XYes,
        "no" => Key::XNo,
        "idle" => Key::XIdle,
        "gone" => Key::XGone,
        "alone" => Key::XAlone,
        "unavailable" => Key::XUnavailable,
        "above_fd_setsize" => Key::XAboveFdSetSize,
        "refused" => Key::XRefused,
        "events_lost" => Key::XEventsLost,
        "one_at_a_time" => Key::XOneAtATime,
        "pool_ceiling" => Key::XPoolCeiling,
        "process_per_conn" => Key::XProcessPerConn,
        "descriptor_limit" => Key::XDescriptorLimit,
        "some_failed" => Key::XSomeFailed,
        _ => return None,
    })
}

/// A cell for people: numbers with at most 3 significant decimals, coded texts in words.
pub fn cell_text(lang: Lang, c: &Cell) -> String {
    match c {
        Cell::Num(x) => format_number(*x),
        Cell::Text(s) => code_words(s).map_or_else(|| s.clone(), |k| t(lang, k).to_owned()),
    }
}

/// `12345.678` → `12346`, `41.25` → `41.3`, `0.149` → `0.149`: as precise as a person reads.
pub fn format_number(x: f64) -> String {
    let a = x.abs();
    let decimals = if a >= 1000.0 || a == a.trunc() {
        0
    } else if a >= 10.0 {
        1
    } else {
        3
    };
    let s = format!("{x:.decimals$}");
    if decimals > 0 {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// The table as CSV, as `kettle experiment --csv` writes it ([`ExperimentTable::to_csv`]).
pub fn csv_text(table: &ExperimentTable) -> String {
    table.to_csv()
}

/// The table as JSON, as the protocol carries it.
pub fn json_text(table: &ExperimentTable) -> String {
    serde_json::to_string_pretty(table).unwrap_or_default()
}

/// The file name of an export.
pub fn file_name(table: &ExperimentTable, extension: &str) -> String {
    let form = if table.short { "-short" } else { "" };
    format!("kettle-{}{form}.{extension}", table.experiment)
}

/// How an experiment's table is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartSpec {
    /// Bars per row (labelled by `x`), or curves of `y` against the number in `x`.
    pub bars: bool,
    /// The column along the x axis.
    pub x: &'static str,
    /// The column drawn.
    pub y: &'static str,
    /// For curves: one curve per value of this column.
    pub series: Option<&'static str>,
}

/// The chart of each experiment.
pub fn chart_spec(id: &str) -> ChartSpec {
    let bars = |x, y| ChartSpec { bars: true, x, y, series: None };
    let curve = |x, y, series| ChartSpec { bars: false, x, y, series };
    match id {
        "starve" => bars("model", "b_wait_ms"),
        "threads" => curve("clients", "rss_added_mib", None),
        "pool" => curve("clients", "first_echo_max_ms", None),
        "busy-loop" => bars("model", "cpu_percent"),
        "one-conn" => bars("model", "syscalls_per_line"),
        "scan" => curve("idle_conns", "scanned_per_wait", Some("api")),
        "sigio-work" => bars("model", "work_units"),
        "uring-batching" => bars("model", "syscalls_per_line"),
        _ => bars("model", "lines_per_s"),
    }
}

fn column(table: &ExperimentTable, key: &str) -> Option<usize> {
    table.columns.iter().position(|c| c.key == key)
}

fn number(c: &Cell) -> Option<f64> {
    match c {
        Cell::Num(x) if x.is_finite() => Some(*x),
        _ => None,
    }
}

/// The bars: one per row with a number in `y`, labelled by the row's `x` (and, when two rows
/// share it, the second column too: `blocking idle`, `blocking gone`).
pub fn bars(lang: Lang, table: &ExperimentTable, spec: ChartSpec) -> Vec<(String, f64)> {
    let (Some(x), Some(y)) = (column(table, spec.x), column(table, spec.y)) else {
        return Vec::new();
    };
    let label = |row: &Vec<Cell>| cell_text(lang, &row[x]);
    let repeated =
        |row: &Vec<Cell>| table.rows.iter().filter(|r| label(r) == label(row)).count() > 1;
    table
        .rows
        .iter()
        .filter_map(|row| {
            let v = number(&row[y])?;
            let name = if repeated(row) && row.len() > 1 && x == 0 {
                format!("{} {}", label(row), cell_text(lang, &row[1]))
            } else {
                label(row)
            };
            Some((name, v))
        })
        .collect()
}

/// The curves: `(series name, points in x order)`.
pub fn curves(table: &ExperimentTable, spec: ChartSpec) -> Vec<(String, Vec<(f64, f64)>)> {
    let (Some(x), Some(y)) = (column(table, spec.x), column(table, spec.y)) else {
        return Vec::new();
    };
    let series = spec.series.and_then(|s| column(table, s));
    let mut out: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for row in &table.rows {
        let (Some(px), Some(py)) = (number(&row[x]), number(&row[y])) else { continue };
        let name = series.map_or_else(String::new, |s| cell_text(Lang::En, &row[s]));
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, points)) => points.push((px, py)),
            None => out.push((name, vec![(px, py)])),
        }
    }
    for (_, points) in &mut out {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// Colours of the series, distinguishable on a projector.
const PALETTE: [RGBColor; 6] = [
    RGBColor(0x1f, 0x6f, 0xd1),
    RGBColor(0xd9, 0x5f, 0x02),
    RGBColor(0x1b, 0x9e, 0x77),
    RGBColor(0x75, 0x70, 0xb3),
    RGBColor(0xe7, 0x29, 0x8a),
    RGBColor(0x66, 0x66, 0x66),
];

/// The chart as an SVG document `width`×`height` px, drawn by plotters; `None` while the
/// table has nothing to draw.
pub fn chart_svg(lang: Lang, table: &ExperimentTable, width: u32, height: u32) -> Option<String> {
    let spec = chart_spec(&table.experiment);
    let y_label = table.columns.get(column(table, spec.y)?).map(|c| heading(lang, c))?;
    let x_label = table.columns.get(column(table, spec.x)?).map(|c| heading(lang, c))?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        // Named by the enum, never by a string: plotters lowercases a family's name, and that
        // brings Unicode's case tables into the page (see `legend`).
        let font = FontDesc::new(FontFamily::SansSerif, 16.0, FontStyle::Normal);
        let labels = Labels { x: x_label, y: y_label, font };
        if spec.bars {
            draw_bars(&root, &bars(lang, table, spec), &labels)?;
        } else {
            draw_curves(&root, &curves(table, spec), &labels)?;
        }
        root.present().ok()?;
    }
    Some(svg)
}

/// Around the plot, in pixels: the margin, and the room for the x and the y axis' labels.
const MARGIN: u32 = 12;
const X_LABEL_AREA: u32 = 48;
const Y_LABEL_AREA: u32 = 72;
/// Head room above the highest value, so its bar or point is not cut by the frame.
const HEAD_ROOM: f64 = 1.15;

/// The axes' descriptions and the font of every text.
struct Labels<'a> {
    x: String,
    y: String,
    font: FontDesc<'a>,
}

/// One bar per `(label, value)`, in the palette's colours; `None` when there are none.
fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    bars: &[(String, f64)],
    labels: &Labels<'_>,
) -> Option<()> {
    if bars.is_empty() {
        return None;
    }
    let top = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(1e-9) * HEAD_ROOM;
    let n = bars.len();
    let mut chart = ChartBuilder::on(root)
        .margin(MARGIN)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d((0..n).into_segmented(), 0.0..top)
        .ok()?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => bars.get(*i).map(|b| b.0.clone()).unwrap_or_default(),
            _ => String::new(),
        })
        .y_desc(labels.y.as_str())
        .label_style(labels.font.clone())
        .axis_desc_style(labels.font.clone())
        .draw()
        .ok()?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
            let colour = PALETTE[i % PALETTE.len()];
            let mut bar = Rectangle::new(
                [(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), *v)],
                colour.filled(),
            );
            bar.set_margin(0, 0, 8, 8);
            bar
        }))
        .ok()?;
    Some(())
}

/// One line with its points per curve, and their legend; `None` when there are none.
fn draw_curves<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    curves: &[(String, Vec<(f64, f64)>)],
    labels: &Labels<'_>,
) -> Option<()> {
    if curves.is_empty() {
        return None;
    }
    let points = curves.iter().flat_map(|(_, p)| p.iter());
    let (x_max, y_max) = points.fold((0.0f64, 0.0f64), |(mx, my), (x, y)| (mx.max(*x), my.max(*y)));
    let mut chart = ChartBuilder::on(root)
        .margin(MARGIN)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(0.0..x_max.max(1.0) * 1.05, 0.0..y_max.max(1e-9) * HEAD_ROOM)
        .ok()?;
    chart
        .configure_mesh()
        .x_desc(labels.x.as_str())
        .y_desc(labels.y.as_str())
        .label_style(labels.font.clone())
        .axis_desc_style(labels.font.clone())
        .draw()
        .ok()?;
    for (i, (_, points)) in curves.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        chart.draw_series(LineSeries::new(points.iter().copied(), colour.stroke_width(3))).ok()?;
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 5, colour.filled()))).ok()?;
    }
    let (x, y) = chart.plotting_area().get_pixel_range();
    legend(root, (x.start + 10, y.start + 10), curves, &labels.font)
}

/// The curves' legend in the plot's upper left corner, `at` in pixels: a line of each named
/// curve's colour and its name, on a white box.
///
/// Drawn from plotters' elements rather than its `configure_series_labels()`, whose default
/// font is named by a string that plotters lowercases: that alone put Unicode's case tables
/// into the page's wasm (9 KB of its 350 KB gzip).
fn legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    at: (i32, i32),
    curves: &[(String, Vec<(f64, f64)>)],
    font: &FontDesc<'_>,
) -> Option<()> {
    const ROW: i32 = 24;
    const LINE: i32 = 20;
    const PAD: i32 = 8;
    let named: Vec<(usize, &str)> = curves
        .iter()
        .enumerate()
        .filter(|(_, (name, _))| !name.is_empty())
        .map(|(i, (name, _))| (i, name.as_str()))
        .collect();
    if named.is_empty() {
        return Some(());
    }
    let style = TextStyle::from(font.clone());
    let widest = named
        .iter()
        .map(|(_, name)| root.estimate_text_size(name, &style).map_or(0, |(w, _)| w as i32))
        .max()
        .unwrap_or(0);
    let (x, y) = at;
    let corner = (x + PAD + LINE + PAD + widest + PAD, y + PAD + ROW * named.len() as i32);
    root.draw(&Rectangle::new([(x, y), corner], WHITE.mix(0.9).filled())).ok()?;
    root.draw(&Rectangle::new([(x, y), corner], BLACK.stroke_width(1))).ok()?;
    for (row, (i, name)) in named.into_iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let top = y + PAD + ROW * row as i32;
        let middle = top + ROW / 2 - 4;
        let line = vec![(x + PAD, middle), (x + PAD + LINE, middle)];
        root.draw(&PathElement::new(line, colour.stroke_width(3))).ok()?;
        root.draw(&Text::new(name, (x + PAD + LINE + PAD, top), style.clone())).ok()?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(key: &str, unit: Option<&str>) -> Column {
        Column { key: key.into(), unit: unit.map(str::to_owned) }
    }

    fn one_conn() -> ExperimentTable {
        let row = |m: &str, calls: f64, p50: f64| {
            vec![Cell::Text(m.into()), Cell::Num(calls), Cell::Num(p50)]
        };
        ExperimentTable {
            experiment: "one-conn".into(),
            short: true,
            columns: vec![
                col("model", None),
                col("syscalls_per_line", None),
                col("p50_us", Some("µs")),
            ],
            rows: vec![row("blocking", 2.0, 41.5), row("select", 3.0, 24.0)],
            step: 2,
            steps: 4,
            finished: false,
            failed: None,
        }
    }

    fn scan() -> ExperimentTable {
        let row = |api: &str, n: f64, scanned: f64| {
            vec![Cell::Text(api.into()), Cell::Num(n), Cell::Num(scanned)]
        };
        ExperimentTable {
            experiment: "scan".into(),
            short: true,
            columns: vec![col("api", None), col("idle_conns", None), col("scanned_per_wait", None)],
            rows: vec![
                row("select", 100.0, 215.0),
                row("epoll", 10.0, 1.0),
                row("select", 10.0, 35.0),
                row("epoll", 100.0, 1.0),
            ],
            step: 4,
            steps: 4,
            finished: true,
            failed: None,
        }
    }

    #[test]
    fn every_experiment_has_a_chart_of_columns_and_words_in_both_languages() {
        for id in EXPERIMENTS {
            let spec = chart_spec(id);
            for key in [Some(spec.x), Some(spec.y), spec.series].into_iter().flatten() {
                assert!(column_words(key).is_some(), "{id}: no words for column {key}");
            }
            assert_ne!(t(Lang::En, title(id)), t(Lang::Zh, title(id)));
            assert_ne!(t(Lang::En, narration(id)), t(Lang::Zh, narration(id)));
        }
        // Each experiment its own words.
        let mut titles: Vec<_> = EXPERIMENTS.iter().map(|id| t(Lang::En, title(id))).collect();
        titles.dedup();
        assert_eq!(titles.len(), EXPERIMENTS.len());
    }

    #[test]
    fn bars_are_one_per_measured_row_and_curves_one_per_api_in_x_order() {
        let t1 = one_conn();
        let b = bars(Lang::En, &t1, chart_spec("one-conn"));
        assert_eq!(b, [("blocking".to_owned(), 2.0), ("select".to_owned(), 3.0)]);
        let c = curves(&scan(), chart_spec("scan"));
        assert_eq!(
            c,
            [
                ("select".to_owned(), vec![(10.0, 35.0), (100.0, 215.0)]),
                ("epoll".to_owned(), vec![(10.0, 1.0), (100.0, 1.0)]),
            ]
        );
    }

    #[test]
    fn two_rows_of_one_model_are_told_apart_by_their_second_column() {
        let table = ExperimentTable {
            experiment: "starve".into(),
            short: true,
            columns: vec![col("model", None), col("client_a", None), col("b_wait_ms", Some("ms"))],
            rows: vec![
                vec![Cell::Text("blocking".into()), Cell::Text("idle".into()), Cell::Num(300.0)],
                vec![Cell::Text("blocking".into()), Cell::Text("gone".into()), Cell::Num(0.1)],
            ],
            step: 2,
            steps: 3,
            finished: false,
            failed: None,
        };
        let names: Vec<_> =
            bars(Lang::En, &table, chart_spec("starve")).into_iter().map(|b| b.0).collect();
        assert_eq!(names, ["blocking A connected, idle", "blocking A gone"]);
    }

    #[test]
    fn the_chart_is_an_svg_drawn_with_the_data() {
        let svg = chart_svg(Lang::En, &scan(), 640, 360).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("<polyline"), "a curve per API");
        assert!(svg.contains("epoll") && svg.contains("select"), "the legend names the APIs");
        let bars_svg = chart_svg(Lang::Zh, &one_conn(), 640, 360).unwrap();
        assert!(bars_svg.matches("<rect").count() >= 3, "a background and two bars");
        let empty = ExperimentTable { rows: vec![], ..one_conn() };
        assert_eq!(chart_svg(Lang::En, &empty, 640, 360), None);
    }

    #[test]
    fn csv_has_units_in_the_header_and_quotes_commas() {
        let mut table = one_conn();
        table.rows[0][0] = Cell::Text("a, b".into());
        assert_eq!(
            csv_text(&table),
            "model,syscalls_per_line,p50_us (µs)\n\"a, b\",2,41.5\nselect,3,24\n"
        );
        let back: ExperimentTable = serde_json::from_str(&json_text(&table)).unwrap();
        assert_eq!(back, table);
        assert_eq!(file_name(&table, "csv"), "kettle-one-conn-short.csv");
    }

    #[test]
    fn numbers_are_written_as_precisely_as_people_read_them() {
        assert_eq!(format_number(12345.678), "12346");
        assert_eq!(format_number(41.25), "41.2");
        assert_eq!(format_number(0.149), "0.149");
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(2.5), "2.5");
    }

    #[test]
    fn coded_cells_are_worded_and_ids_stay() {
        assert_eq!(cell_text(Lang::En, &Cell::Text("epoll".into())), "epoll");
        assert_ne!(cell_text(Lang::Zh, &Cell::Text("above_fd_setsize".into())), "above_fd_setsize");
    }

    #[test]
    fn an_experiment_is_idle_then_running_then_done() {
        let mut x = Experiments::default();
        assert_eq!(x.state("one-conn"), RunState::Idle);
        x.started("one-conn".into());
        assert_eq!(
            (x.state("one-conn"), x.busy(), x.shown()),
            (RunState::Running, true, "one-conn")
        );
        x.update(one_conn());
        assert_eq!(x.state("one-conn"), RunState::Running);
        x.update(ExperimentTable { finished: true, ..one_conn() });
        assert_eq!((x.state("one-conn"), x.busy()), (RunState::Done, false));
        x.started("scan".into());
        x.refused("scan");
        assert_eq!(x.state("scan"), RunState::Idle);
    }
}
