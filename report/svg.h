// A small SVG writer for attnlab's pictures (charts, attention maps): text
// is escaped, numbers are written with few digits, and the result is one
// self-contained document that browsers and rsvg-convert both read. Our own
// because the pictures need only rectangles, lines, polylines and text.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace attnlab::report {

// "&", "<", ">", quotes escaped for text and attribute values.
std::string xml_escape(const std::string& text);

class Svg {
 public:
  Svg(double width, double height);

  void rect(double x, double y, double w, double h, const std::string& fill,
            const std::string& stroke = "none", const std::string& title = "");
  void line(double x1, double y1, double x2, double y2, const std::string& stroke, double width = 1,
            const std::string& dash = "");
  void polyline(const std::vector<std::pair<double, double>>& points, const std::string& stroke,
                double width = 1.5, const std::string& dash = "");
  void circle(double cx, double cy, double r, const std::string& fill);
  // anchor: "start", "middle" or "end"; rotate: degrees about (x, y).
  void text(double x, double y, const std::string& content, double size = 12,
            const std::string& anchor = "start", const std::string& fill = "#222",
            double rotate = 0, bool bold = false);

  // The whole document.
  std::string str() const;
  // Writes str() to `path`, making its directory if needed; throws
  // std::runtime_error naming the path.
  void save(const std::string& path) const;

 private:
  double width_, height_;
  std::string body_;
};

// Colours that stay apart for colour-blind readers (Okabe and Ito's eight).
const std::string& series_colour(size_t i);

// A token as pictures and tables show it: a lone space as U+2423 (an open
// box), so that it is seen.
std::string visible_token(const std::string& token);
// Pixels a text of `font` px needs, roughly (the average advance is about
// 0.62 em), so that no label is clipped.
double label_width(const std::string& text, double font);

// About `count` round tick values covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int count = 5);
// A tick label without trailing zeros: 0.25, 1000, 1.5e-05.
std::string tick_label(double v);

}  // namespace attnlab::report
