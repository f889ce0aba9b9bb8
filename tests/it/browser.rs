//! The HTML report in a real browser: Chromium, headless, renders the demo's report; the
//! screenshot is not blank and shows the flagged weeks' shading, and the page's script-free
//! layout does not overflow sideways on a desktop (1280 px) or a phone (390 px).
//!
//! The tests need `KASSA_BROWSER`, the path of a Chromium binary (`.ci/run` installs Debian's
//! `chromium` and sets it). Without it they print that they were skipped, so a bare
//! `cargo test` needs only Rust. Every Chromium run has its own profile in a scratch directory
//! and a time limit; its stderr is in the failure message.
//!
//! The 1280 px screenshot of the demo's report is copied to `target/browser/demo-report.png`:
//! the README's `docs/report.png` is that file.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kassa::report::charts::{FLAGGED_SHADE, GAP_SHADE, escape};

const SKIPPED: &str = "skipped: set KASSA_BROWSER=/usr/bin/chromium to run the browser test";

/// How long one Chromium run may take (a headless screenshot takes about a second).
const CHROMIUM_LIMIT: Duration = Duration::from_secs(45);

/// How far (per channel) a screenshot's pixel may be from a colour and still be it: PNG is
/// lossless, but colour management may move an sRGB fill by a step.
const TOLERANCE: u8 = 3;

/// Fewer pixels of [`FLAGGED_SHADE`] than this is no shaded band: one flagged week on a chart
/// of half a year at 1280 px is some 30 px wide and 200 px tall.
const SHADED_PIXELS: usize = 3000;

/// The Chromium binary the tests drive, or `None` (the tests are skipped).
fn browser() -> Option<PathBuf> {
    std::env::var_os("KASSA_BROWSER")
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
}

/// Runs headless Chromium on `page` with `args` and returns what it printed on stdout. It
/// fails with Chromium's stderr when Chromium fails or outlives [`CHROMIUM_LIMIT`].
fn chromium(browser: &Path, scratch: &Path, args: &[&str], page: &Path) -> String {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let profile = scratch.join(format!("chromium-profile-{run}"));
    let stdout_path = scratch.join(format!("chromium-{run}.stdout"));
    let stderr_path = scratch.join(format!("chromium-{run}.stderr"));
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-extensions",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {} (KASSA_BROWSER): {e}", browser.display()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > CHROMIUM_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    match status {
        Some(status) if status.success() => std::fs::read_to_string(&stdout_path).unwrap(),
        Some(status) => panic!("chromium {args:?} ended with {status}; its stderr:\n{stderr}"),
        None => {
            panic!("chromium {args:?} took longer than {CHROMIUM_LIMIT:?}; its stderr:\n{stderr}")
        }
    }
}

/// A screenshot's pixels, as RGB.
struct Screenshot {
    pixels: Vec<[u8; 3]>,
}

impl Screenshot {
    /// Chromium's screenshot of `page` in a window `width` by `height`.
    fn take(browser: &Path, scratch: &Path, page: &Path, width: u32, height: u32) -> Screenshot {
        let png_path = scratch.join(format!("screenshot-{width}x{height}.png"));
        chromium(
            browser,
            scratch,
            &[
                &format!("--screenshot={}", png_path.display()),
                &format!("--window-size={width},{height}"),
            ],
            page,
        );
        let shot = Screenshot::decode(&png_path);
        assert_eq!(
            shot.pixels.len(),
            (width * height) as usize,
            "the screenshot's size"
        );
        shot
    }

    fn decode(path: &Path) -> Screenshot {
        let file = std::fs::File::open(path)
            .unwrap_or_else(|e| panic!("chromium wrote no screenshot {}: {e}", path.display()));
        let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info().unwrap();
        let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buffer).unwrap();
        let samples = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("a screenshot in {other:?}, not RGB"),
        };
        let pixels = buffer[..info.buffer_size()]
            .chunks_exact(samples)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        Screenshot { pixels }
    }

    /// How many pixels are `colour`, within [`TOLERANCE`].
    fn count(&self, (r, g, b): (u8, u8, u8)) -> usize {
        self.pixels
            .iter()
            .filter(|p| {
                p[0].abs_diff(r) <= TOLERANCE
                    && p[1].abs_diff(g) <= TOLERANCE
                    && p[2].abs_diff(b) <= TOLERANCE
            })
            .count()
    }

    /// Asserts that something was drawn: many colours, and no one colour covering the page.
    fn assert_not_blank(&self) {
        let mut counts = std::collections::HashMap::new();
        for pixel in &self.pixels {
            *counts.entry(*pixel).or_insert(0usize) += 1;
        }
        let commonest = counts.values().copied().max().unwrap_or(0);
        assert!(
            counts.len() >= 32 && commonest * 100 < self.pixels.len() * 98,
            "a blank screenshot: {} colours, the commonest on {commonest} of {} pixels",
            counts.len(),
            self.pixels.len()
        );
    }
}

/// A page's width in the browser, as a probe script measured it inside a frame `width` wide.
#[derive(Debug)]
struct Widths {
    width: u32,
    scroll: u32,
    client: u32,
}

/// Loads `report` into frames 390 and 1280 px wide and measures whether it scrolls sideways.
/// Headless Chromium keeps its window at least 500 px wide, so the widths are frames' (a frame
/// is a viewport: media queries and `vw` see its width). The report is script-free; the probe
/// page around it carries the script, which writes the measures into the DOM that
/// `--dump-dom` prints.
fn overflow(browser: &Path, scratch: &Path, report: &str) -> Vec<Widths> {
    const WIDTHS: [u32; 2] = [390, 1280];
    let mut probe = String::from("<!DOCTYPE html>\n<html><body>");
    for width in WIDTHS {
        probe.push_str(&format!(
            "<iframe id=\"w{width}\" width=\"{width}\" height=\"800\" srcdoc=\"{}\"></iframe>",
            escape(report)
        ));
    }
    probe.push_str(
        "<script>\naddEventListener('load', function () {\n  var out = [];\n  \
         document.querySelectorAll('iframe').forEach(function (frame) {\n    \
         var root = frame.contentDocument.documentElement;\n    \
         out.push([frame.width, root.scrollWidth, root.clientWidth].join(':'));\n  });\n  \
         document.body.setAttribute('data-widths', out.join(' '));\n});\n</script></body></html>\n",
    );
    let page = scratch.join("overflow-probe.html");
    std::fs::write(&page, probe).unwrap();
    let dom = chromium(
        browser,
        scratch,
        &["--dump-dom", "--window-size=1400,1000"],
        &page,
    );
    let measured = dom
        .split_once("data-widths=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(widths, _)| widths)
        .unwrap_or_else(|| panic!("the probe measured nothing:\n{dom}"));
    let widths: Vec<Widths> = measured
        .split_whitespace()
        .map(|frame| {
            let numbers: Vec<u32> = frame.split(':').map(|n| n.parse().unwrap()).collect();
            Widths {
                width: numbers[0],
                scroll: numbers[1],
                client: numbers[2],
            }
        })
        .collect();
    assert_eq!(widths.len(), WIDTHS.len(), "{measured}");
    widths
}

/// The demo's report in Chromium: drawn, its flagged weeks shaded on the charts, no sideways
/// scrolling at 1280 or 390 px.
#[test]
fn the_demo_report_renders_in_a_browser_with_its_flagged_weeks_shaded() {
    let Some(browser) = browser() else {
        println!("{SKIPPED}");
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let report = scratch.path().join("demo-report.html");
    let output = Command::new(env!("CARGO_BIN_EXE_kassa"))
        .arg("demo")
        .arg("--report")
        .arg(&report)
        .current_dir(scratch.path())
        .env_remove("KASSA_CONFIG")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "kassa demo failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let shot = Screenshot::take(&browser, scratch.path(), &report, 1280, 2400);
    // The README's screenshot, whatever the assertions below say (a failing one is looked at).
    let kept = Path::new(env!("CARGO_BIN_EXE_kassa"))
        .ancestors()
        .nth(2)
        .unwrap()
        .join("browser");
    std::fs::create_dir_all(&kept).unwrap();
    std::fs::copy(
        scratch.path().join("screenshot-1280x2400.png"),
        kept.join("demo-report.png"),
    )
    .unwrap();

    shot.assert_not_blank();
    let shaded = shot.count(FLAGGED_SHADE);
    assert!(
        shaded >= SHADED_PIXELS,
        "the flagged weeks' shading covers {shaded} pixels of the screenshot, fewer than \
         {SHADED_PIXELS} (see {})",
        kept.join("demo-report.png").display()
    );

    let page = std::fs::read_to_string(&report).unwrap();
    for widths in overflow(&browser, scratch.path(), &page) {
        assert!(
            widths.scroll <= widths.client + 1,
            "the report scrolls sideways at {} px: {widths:?}",
            widths.width
        );
    }
}

/// The shading check itself, on a page whose one band is known: it counts the band's pixels
/// (within the tolerance) and nothing of the grey gap beside it.
#[test]
fn browser_sees_a_shaded_band() {
    let Some(browser) = browser() else {
        println!("{SKIPPED}");
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let rgb = |(r, g, b): (u8, u8, u8)| format!("rgb({r}, {g}, {b})");
    let page = scratch.path().join("band.html");
    std::fs::write(
        &page,
        format!(
            "<!DOCTYPE html>\n<html><body style=\"margin: 0; background: white\">\
             <p>A flagged week and a gap</p>\
             <div style=\"display: flex\">\
             <div style=\"width: 40px; height: 200px; background: {}\"></div>\
             <div style=\"width: 40px; height: 200px; background: {}\"></div>\
             </div></body></html>\n",
            rgb(FLAGGED_SHADE),
            rgb(GAP_SHADE)
        ),
    )
    .unwrap();
    let shot = Screenshot::take(&browser, scratch.path(), &page, 640, 480);
    // Exactly the band: the grey gap beside it and the text's antialiased edges are not it.
    assert_eq!(shot.count(FLAGGED_SHADE), 40 * 200);
    assert!(shot.count(GAP_SHADE) >= 40 * 200);

    // A page that overflows is caught: the probe measures what it should.
    let wide = "<!DOCTYPE html>\n<html><body><div style=\"width: 600px\">wide</div></body></html>";
    let widths = overflow(&browser, scratch.path(), wide);
    assert!(
        widths[0].width == 390 && widths[0].scroll > widths[0].client + 1,
        "{widths:?}"
    );
    assert!(
        widths[1].width == 1280 && widths[1].scroll <= widths[1].client + 1,
        "{widths:?}"
    );
}
