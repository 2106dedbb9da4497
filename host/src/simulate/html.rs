//! The self-contained HTML report: the text report and an SVG timeline of the run (views and
//! leaders, commits, epochs, partitions, and per validator each fault's onset and detection,
//! its isolation on chain and the loss of its power, probation and rehabilitation). No external
//! resource is loaded. A small inline script records, once the page is laid out, how many marks
//! of each kind the browser drew and how wide the timeline is (`data-drawn` on `<body>`), which
//! the headless-browser test reads.

use std::fmt::Write as _;

use super::SimulateReport;

const LEFT: f64 = 80.0;
const WIDTH: f64 = 1100.0;
const TOP: f64 = 30.0;
const COMMITS_HEIGHT: f64 = 90.0;
const LANE: f64 = 22.0;

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl SimulateReport {
    /// The report as one self-contained HTML page.
    pub fn html(&self) -> String {
        let duration = self.simulated_us.max(1) as f64;
        let x = |t: u64| LEFT + (t as f64 / duration).min(1.0) * WIDTH;
        let lanes_top = TOP + COMMITS_HEIGHT + 20.0;
        let n = self.validators.max(1);
        let height = lanes_top + n as f64 * LANE + 40.0;
        let lane_y = |v: u32| lanes_top + f64::from(v) * LANE + LANE / 2.0;
        let mut svg = String::new();
        let _ = write!(
            svg,
            r##"<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">"##,
            w = LEFT + WIDTH + 20.0,
            h = height
        );
        // Partitions: shaded spans.
        for p in &self.partitions {
            let end = p.healed_us.unwrap_or(self.simulated_us);
            let _ = write!(
                svg,
                r##"<rect class="partition" x="{:.1}" y="{TOP}" width="{:.1}" height="{:.1}" fill="#ffe9a8"><title>split seen at {} ms, healed {}</title></rect>"##,
                x(p.detected_us),
                (x(end) - x(p.detected_us)).max(1.0),
                height - TOP - 20.0,
                p.detected_us / 1_000,
                p.healed_us
                    .map_or("never".into(), |h| format!("at {} ms", h / 1_000))
            );
        }
        // Time axis.
        let seconds = (self.simulated_us / 1_000_000).max(1);
        for s in 0..=seconds {
            let t = s * 1_000_000;
            let _ = write!(
                svg,
                r##"<line x1="{0:.1}" x2="{0:.1}" y1="{TOP}" y2="{1:.1}" stroke="#eee"/><text x="{0:.1}" y="{2:.1}" font-size="10" text-anchor="middle" fill="#666">{s} s</text>"##,
                x(t),
                height - 20.0,
                height - 6.0
            );
        }
        // Epochs.
        for e in self.epochs.iter().skip(1) {
            let _ = write!(
                svg,
                r##"<line class="epoch" x1="{0:.1}" x2="{0:.1}" y1="{TOP}" y2="{1:.1}" stroke="#7a7a7a" stroke-dasharray="4 3"/><text x="{0:.1}" y="{2:.1}" font-size="10" fill="#555">epoch {3}</text>"##,
                x(e.start_us),
                height - 20.0,
                TOP - 4.0,
                e.epoch
            );
        }
        // Commits: the committed height over time.
        let max_height = self.commits.last().map_or(1, |c| c.1.max(1)) as f64;
        let points: Vec<String> = std::iter::once((0u64, 0u64))
            .chain(self.commits.iter().copied())
            .map(|(t, h)| {
                format!(
                    "{:.1},{:.1}",
                    x(t),
                    TOP + COMMITS_HEIGHT - h as f64 / max_height * COMMITS_HEIGHT
                )
            })
            .collect();
        let _ = write!(
            svg,
            r##"<text x="4" y="{:.1}" font-size="11">commits</text><polyline class="commits" fill="none" stroke="#1f77b4" stroke-width="1.5" points="{}"/><text x="{:.1}" y="{:.1}" font-size="10" fill="#1f77b4">height {}</text>"##,
            TOP + COMMITS_HEIGHT / 2.0,
            points.join(" "),
            LEFT + WIDTH - 80.0,
            TOP + 10.0,
            self.height
        );
        // Validator lanes.
        for v in 0..n as u32 {
            let y = lane_y(v);
            let faulty = self.faults.iter().any(|f| f.validator == v);
            let _ = write!(
                svg,
                r##"<text x="4" y="{:.1}" font-size="11" fill="{}">v{v}{}</text><line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/>"##,
                y + 4.0,
                if faulty { "#b00" } else { "#222" },
                if faulty { " (faulty)" } else { "" },
                LEFT + WIDTH
            );
        }
        // Leaders: a tick at each view start in the leader's lane.
        for (t, view, leader) in &self.view_starts {
            if (*leader as usize) < n {
                let y = lane_y(*leader);
                let _ = write!(
                    svg,
                    r##"<line class="leader" x1="{0:.1}" x2="{0:.1}" y1="{1:.1}" y2="{2:.1}" stroke="#9ab"><title>view {view} led by v{leader}</title></line>"##,
                    x(*t),
                    y - 5.0,
                    y + 5.0
                );
            }
        }
        // Isolation spans from the chain's records.
        for change in &self.isolation {
            if change.operator as usize >= n {
                continue;
            }
            let y = lane_y(change.operator);
            let end = self
                .isolation
                .iter()
                .find(|c| {
                    c.operator == change.operator
                        && c.at_us > change.at_us
                        && matches!(c.change.as_str(), "probation" | "rehabilitated")
                })
                .map_or(self.simulated_us, |c| c.at_us);
            let colour = match change.change.as_str() {
                "banned" => "#8b0000",
                "quarantined" => "#7b3fa0",
                "deferred" => "#c9a0dc",
                "probation" => "#e6b800",
                "rehabilitated" => "#2ca02c",
                _ => "#999",
            };
            if matches!(change.change.as_str(), "banned" | "quarantined") {
                let _ = write!(
                    svg,
                    r##"<rect class="isolated" x="{:.1}" y="{:.1}" width="{:.1}" height="8" fill="{colour}" opacity="0.8"><title>{} at {} ms (chain height {})</title></rect>"##,
                    x(change.at_us),
                    y - 4.0,
                    (x(end) - x(change.at_us)).max(2.0),
                    change.change,
                    change.at_us / 1_000,
                    change.height
                );
            } else {
                let _ = write!(
                    svg,
                    r##"<circle class="{}" cx="{:.1}" cy="{y:.1}" r="4" fill="{colour}"><title>{} at {} ms</title></circle>"##,
                    escape(&change.change),
                    x(change.at_us),
                    change.change,
                    change.at_us / 1_000
                );
            }
        }
        // Faults: onset, detection, loss of power.
        for fault in &self.faults {
            for d in &fault.detected {
                if d.operator as usize >= n {
                    continue;
                }
                let y = lane_y(d.operator);
                let ox = x(d.onset_us);
                let _ = write!(
                    svg,
                    r##"<path class="onset" d="M{:.1},{:.1} l5,-9 l5,9 z" fill="#d62728"><title>{} began at {} ms</title></path>"##,
                    ox - 5.0,
                    y - 2.0,
                    escape(&d.class),
                    d.onset_us / 1_000
                );
                if let Some(t) = d.detected_us {
                    let _ = write!(
                        svg,
                        r##"<circle class="detect" cx="{:.1}" cy="{y:.1}" r="4.5" fill="none" stroke="#ff7f0e" stroke-width="2"><title>{} detected at {} ms</title></circle>"##,
                        x(t),
                        escape(&d.class),
                        t / 1_000
                    );
                }
                if let Some(t) = d.power_lost_us {
                    let _ = write!(
                        svg,
                        r##"<path class="power" d="M{:.1},{y:.1} l4,-5 l4,5 l-4,5 z" fill="#000"><title>power taken away at {} ms (next epoch)</title></path>"##,
                        x(t) - 4.0,
                        t / 1_000
                    );
                }
            }
        }
        svg.push_str("</svg>");
        let legend = r##"<p class="legend"><span style="color:#d62728">&#9650;</span> fault onset &nbsp; <span style="color:#ff7f0e">&#9711;</span> first detection &nbsp; <span style="color:#8b0000">&#9644;</span> banned &nbsp; <span style="color:#7b3fa0">&#9644;</span> quarantined &nbsp; <span style="color:#e6b800">&#9679;</span> probation &nbsp; <span style="color:#2ca02c">&#9679;</span> rehabilitated &nbsp; &#9670; power taken away (next epoch) &nbsp; <span style="color:#9ab">|</span> leader of a view &nbsp; <span style="background:#ffe9a8">&nbsp;&nbsp;&nbsp;</span> network split &nbsp; dashed: epoch change</p>"##;
        let verdict = if self.verdicts.passed { "PASS" } else { "FAIL" };
        format!(
            r##"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Warden simulation {name} (seed {seed})</title>
<style>body{{font-family:system-ui,sans-serif;margin:24px;color:#222}} pre{{background:#f6f6f6;padding:12px;overflow:auto;font-size:12px}} .legend{{font-size:12px}} h1{{font-size:20px}}</style>
</head><body data-drawn="">
<h1>Warden simulation <code>{name}</code>, seed {seed}: {verdict}</h1>
<h2>Timeline</h2>
{svg}
{legend}
<h2>Report</h2>
<pre>{text}</pre>
<script>
window.addEventListener('load', function () {{
  var svg = document.getElementById('timeline');
  var kinds = ['onset', 'detect', 'isolated', 'power', 'leader', 'commits', 'epoch', 'partition'];
  var drawn = kinds.map(function (k) {{
    var n = 0;
    svg.querySelectorAll('.' + k).forEach(function (e) {{
      var b = e.getBBox();
      if (b.width > 0 || b.height > 0) {{ n += 1; }}
    }});
    return k + ':' + n;
  }});
  drawn.push('width:' + Math.round(svg.getBoundingClientRect().width));
  document.body.setAttribute('data-drawn', drawn.join(','));
}});
</script>
</body></html>
"##,
            name = escape(&self.scenario),
            seed = self.seed,
            text = escape(&self.text()),
        )
    }
}
