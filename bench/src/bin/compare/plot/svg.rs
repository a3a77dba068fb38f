//! A minimal SVG writer: a document of lines, rectangles and escaped text, coordinates in
//! pixels, one element a line.

use super::AXIS_COLOR;

pub(super) fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An SVG document written by hand, coordinates in pixels.
pub(super) struct Svg {
    out: String,
}

impl Svg {
    pub(super) fn new(width: f64, height: f64, title: &str) -> Self {
        let mut svg = Self { out: String::new() };
        svg.raw(&format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" \
             width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" \
             font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">\n\
             <title>{}</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
            xml_escape(title)
        ));
        svg
    }

    pub(super) fn raw(&mut self, text: &str) {
        self.out.push_str(text);
    }

    /// The x axis along `bottom` and the y axis along `left` of a plot area.
    pub(super) fn axes(&mut self, left: f64, right: f64, top: f64, bottom: f64) {
        let stroke = format!("stroke=\"{AXIS_COLOR}\"");
        self.line((left, bottom), (right, bottom), &stroke);
        self.line((left, top), (left, bottom), &stroke);
    }

    /// The y axis's title, rotated, centred between `top` and `bottom`.
    pub(super) fn y_axis_title(&mut self, top: f64, bottom: f64, title: &str) {
        let middle = (top + bottom) / 2.0;
        self.text(
            22.0,
            middle,
            &format!(
                "text-anchor=\"middle\" transform=\"rotate(-90 22 {middle:.1})\" fill=\"{AXIS_COLOR}\""
            ),
            title,
        );
    }

    pub(super) fn line(&mut self, from: (f64, f64), to: (f64, f64), attributes: &str) {
        self.raw(&format!(
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" {attributes}/>\n",
            from.0, from.1, to.0, to.1
        ));
    }

    pub(super) fn rect(&mut self, x: f64, y: f64, width: f64, height: f64, attributes: &str) {
        self.raw(&format!(
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{height:.1}\" {attributes}/>\n"
        ));
    }

    pub(super) fn text(&mut self, x: f64, y: f64, attributes: &str, content: &str) {
        self.raw(&format!(
            "<text x=\"{x:.1}\" y=\"{y:.1}\" {attributes}>{}</text>\n",
            xml_escape(content)
        ));
    }

    pub(super) fn finish(mut self) -> String {
        self.raw("</svg>\n");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_text_is_escaped() {
        assert_eq!(xml_escape("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
        let mut svg = Svg::new(10.0, 10.0, "t");
        svg.text(1.0, 2.0, "fill=\"red\"", "x < y");
        let document = svg.finish();
        assert!(document.contains(">x &lt; y</text>"), "{document}");
        assert!(document.ends_with("</svg>\n"));
    }
}
