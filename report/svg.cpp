#include "report/svg.h"

#include "train/output_file.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace attnlab::report {

std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {
std::string num(double v) {
  return fmt::format("{:.2f}", v);
}
}  // namespace

Svg::Svg(double width, double height) : width_(width), height_(height) {}

void Svg::rect(double x, double y, double w, double h, const std::string& fill,
               const std::string& stroke, const std::string& title) {
  body_ += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="{}" stroke="{}")",
                       num(x), num(y), num(w), num(h), fill, stroke);
  body_ += title.empty() ? "/>\n" : fmt::format("><title>{}</title></rect>\n", xml_escape(title));
}

void Svg::line(double x1, double y1, double x2, double y2, const std::string& stroke, double width,
               const std::string& dash) {
  body_ += fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="{}"{}/>)",
                       num(x1), num(y1), num(x2), num(y2), stroke, num(width),
                       dash.empty() ? "" : fmt::format(R"( stroke-dasharray="{}")", dash)) +
           "\n";
}

void Svg::polyline(const std::vector<std::pair<double, double>>& points, const std::string& stroke,
                   double width, const std::string& dash) {
  if (points.empty()) return;
  std::string pts;
  for (const auto& [x, y] : points) pts += fmt::format("{},{} ", num(x), num(y));
  body_ +=
      fmt::format(
          R"(<polyline points="{}" fill="none" stroke="{}" stroke-width="{}" stroke-linejoin="round"{}/>)",
          pts, stroke, num(width),
          dash.empty() ? "" : fmt::format(R"( stroke-dasharray="{}")", xml_escape(dash))) +
      "\n";
}

void Svg::circle(double cx, double cy, double r, const std::string& fill) {
  body_ +=
      fmt::format(R"(<circle cx="{}" cy="{}" r="{}" fill="{}"/>)", num(cx), num(cy), num(r), fill) +
      "\n";
}

void Svg::text(double x, double y, const std::string& content, double size,
               const std::string& anchor, const std::string& fill, double rotate, bool bold) {
  body_ +=
      fmt::format(R"(<text x="{}" y="{}" font-size="{}" text-anchor="{}" fill="{}"{}{}>{}</text>)",
                  num(x), num(y), num(size), anchor, fill,
                  rotate != 0
                      ? fmt::format(" transform=\"rotate({} {} {})\"", num(rotate), num(x), num(y))
                      : "",
                  bold ? R"( font-weight="bold")" : "", xml_escape(content)) +
      "\n";
}

std::string Svg::str() const {
  return fmt::format(
             R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">)",
             num(width_), num(height_), num(width_), num(height_)) +
         "\n" +
         fmt::format(R"(<rect x="0" y="0" width="{}" height="{}" fill="white"/>)", num(width_),
                     num(height_)) +
         "\n" + body_ + "</svg>\n";
}

void Svg::save(const std::string& path) const {
  write_file_atomically(path, str());
}

std::string visible_token(const std::string& token) {
  return token == " " ? "\xE2\x90\xA3" : token;
}

double label_width(const std::string& text, double font) {
  size_t glyphs = 0;
  for (unsigned char c : text) glyphs += (c & 0xC0) != 0x80;  // UTF-8 lead bytes
  return double(glyphs) * font * 0.62;
}

const std::string& series_colour(size_t i) {
  static const std::string palette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                        "#E69F00", "#56B4E9", "#000000", "#F0E442"};
  return palette[i % 8];
}

std::vector<double> nice_ticks(double lo, double hi, int count) {
  if (!(hi > lo)) hi = lo + 1;
  const double raw = (hi - lo) / std::max(1, count);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;  // whole multiples of step, so no rounding piles up
  for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k += 1)
    ticks.push_back(k == 0 ? 0.0 : k * step);
  return ticks;
}

std::string tick_label(double v) {
  if (v != 0 && (std::abs(v) >= 1e6 || std::abs(v) < 1e-3)) return fmt::format("{:.3g}", v);
  std::string s = fmt::format("{:.4f}", v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

}  // namespace attnlab::report
