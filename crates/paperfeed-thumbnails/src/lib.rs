//! The first page of a paper's PDF as a small PNG: what cards show beside a paper.
//!
//! Pure and I/O-free: bytes in, PNG bytes out. The PDF is untrusted (whatever arXiv or an
//! operator's folder holds), so its size is capped before parsing, the page's shape is checked
//! before anything is drawn (the image is [`THUMBNAIL_WIDTH`] pixels wide and at most twice as
//! tall), and a panic inside the renderer is caught and reported as
//! [`RenderError::Renderer`]. The caller bounds the time (it runs this on a blocking thread
//! under a deadline).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_syntax::Pdf;
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::{PixmapSettings, RenderCache, RenderSettings, render};

/// Width of a thumbnail in pixels: twice the card's 112 CSS pixels, sharp on dense screens.
pub const THUMBNAIL_WIDTH: u32 = 224;

/// The largest PDF read, in bytes (arXiv's largest papers are a few tens of MiB).
pub const MAX_PDF_BYTES: usize = 64 << 20;

/// A rendered first page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// PNG bytes.
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// Why no thumbnail could be made; every message is safe to store and show.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    #[error("not a PDF (it does not start with %PDF-)")]
    NotPdf,
    #[error("the PDF has {0} bytes; at most {MAX_PDF_BYTES} are read")]
    TooLarge(usize),
    #[error("the PDF cannot be read: {0}")]
    Unreadable(String),
    #[error("the PDF has no pages")]
    NoPages,
    #[error("the first page is {0:.0} × {1:.0} points: not a paper's page")]
    OddPage(f32, f32),
    #[error("the renderer failed on this PDF")]
    Renderer,
}

/// Renders the first page of `pdf` [`THUMBNAIL_WIDTH`] pixels wide on white.
pub fn render_first_page(pdf: &[u8]) -> Result<Rendered, RenderError> {
    if pdf.len() > MAX_PDF_BYTES {
        return Err(RenderError::TooLarge(pdf.len()));
    }
    // Some PDFs carry a few bytes of junk before the header; readers accept up to 1 KiB.
    if !pdf.windows(5).take(1024).any(|w| w == b"%PDF-") {
        return Err(RenderError::NotPdf);
    }
    let data = Arc::new(pdf.to_vec());
    catch_unwind(AssertUnwindSafe(|| render_checked(data))).unwrap_or(Err(RenderError::Renderer))
}

fn render_checked(data: Arc<Vec<u8>>) -> Result<Rendered, RenderError> {
    let pdf = Pdf::new(data).map_err(|e| RenderError::Unreadable(format!("{e:?}")))?;
    let pages = pdf.pages();
    let page = pages.first().ok_or(RenderError::NoPages)?;
    let (w, h) = page.render_dimensions();
    if !(w.is_finite() && h.is_finite()) || w < 72.0 || h < 72.0 || h > 2.0 * w || w > 2.0 * h {
        return Err(RenderError::OddPage(w, h));
    }
    #[expect(clippy::cast_precision_loss, reason = "a small pixel count")]
    let scale = THUMBNAIL_WIDTH as f32 / w;
    let settings = PixmapSettings {
        x_scale: scale,
        y_scale: scale,
        bg_color: WHITE,
    };
    let cache = RenderCache::new();
    let pixmap = render(
        page,
        &cache,
        &InterpreterSettings::default(),
        &RenderSettings::default(),
        &settings,
    );
    let (width, height) = (u32::from(pixmap.width()), u32::from(pixmap.height()));
    let png = pixmap.into_png().map_err(|_| RenderError::Renderer)?;
    Ok(Rendered { png, width, height })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_not_a_pdf_is_refused_before_parsing() {
        assert_eq!(
            render_first_page(b"<html>no</html>"),
            Err(RenderError::NotPdf)
        );
        assert_eq!(render_first_page(b""), Err(RenderError::NotPdf));
    }

    #[test]
    fn a_damaged_pdf_is_an_error_never_a_panic() {
        let mut junk = b"%PDF-1.5\n".to_vec();
        junk.extend((0..5000u32).map(|i| (i * 7919 % 251) as u8));
        assert!(render_first_page(&junk).is_err());
        assert!(
            render_first_page(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF").is_err()
        );
    }
}
